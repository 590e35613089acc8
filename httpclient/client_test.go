package httpclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/retry"
	"github.com/prometheus/client_golang/prometheus"
)

// svcPipe is an in-memory listener of net.Pipe connections, so that the
// whole client chain runs inside a testing/synctest bubble. dials counts the
// connections made.
type svcPipe struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	dials     atomic.Int64
}

func (l *svcPipe) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *svcPipe) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *svcPipe) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

func (l *svcPipe) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		l.dials.Add(1)
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pipeClient serves h in memory and returns a Client for cfg (Name and
// BaseURL "http://svc.test" filled in when empty) that reaches it. The
// client and the server are closed when the test ends.
func pipeClient(t *testing.T, cfg Config, h http.Handler) (*Client, *svcPipe) {
	t.Helper()
	l := &svcPipe{conns: make(chan net.Conn), closed: make(chan struct{})}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	if cfg.Name == "" {
		cfg.Name = "svc"
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://svc.test"
	}
	cfg.Transport.DialContext = l.DialContext
	cfg.Transport.Proxy = noProxy
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		srv.Close()
		<-done
	})
	return c, l
}

// loopClient serves h on a loopback HTTP/1.1 server and returns a Client for
// cfg that reaches it, and the server's connection counter.
func loopClient(t *testing.T, cfg Config, h http.Handler) (*Client, *connCounter) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	cnt := &connCounter{}
	srv.Config.ConnState = cnt.hook
	srv.Start()
	t.Cleanup(srv.Close)
	if cfg.Name == "" {
		cfg.Name = "svc"
	}
	cfg.BaseURL = srv.URL
	cfg.Transport.Proxy = noProxy
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c, cnt
}

// call sends method to path through c and returns the status and body.
func call(c *Client, ctx context.Context, method, path string, body io.Reader, header http.Header) (int, string, error) {
	req, err := c.NewRequest(ctx, method, path, body)
	if err != nil {
		return 0, "", err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestClientBreakerOpensFailsFastAndRecovers runs a downstream that answers
// 503 for a while through the full chain: the breaker opens after its
// threshold (retries counting as attempts), callers then fail fast with
// breaker.ErrOpen without touching the network and without retrying, and
// after the open timeout half-open probes close it once the service is back.
func TestClientBreakerOpensFailsFastAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down atomic.Bool
		var hits atomic.Int64
		down.Store(true)
		c, _ := pipeClient(t, Config{
			Breaker:            breaker.Settings{ConsecutiveFailures: 5, OpenTimeout: 10 * time.Second, HalfOpenProbes: 2},
			Retry:              retry.Policy{MaxAttempts: 3},
			DisableRetryBudget: true,
		}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			if down.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok")
		}))
		ctx := t.Context()

		// Request 1: three attempts, all 503: the caller gets the last 503.
		code, _, err := call(c, ctx, http.MethodGet, "/", nil, nil)
		if err != nil || code != http.StatusServiceUnavailable {
			t.Fatalf("request 1 = %d, %v; want 503", code, err)
		}
		// Request 2: attempts 4 and 5 fail and trip the breaker; attempt 3
		// is refused by the breaker and not retried.
		_, _, err = call(c, ctx, http.MethodGet, "/", nil, nil)
		if !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("request 2: err = %v; want breaker.ErrOpen", err)
		}
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 3 {
			t.Fatalf("request 2: err = %#v; want a *retry.Error after 3 attempts", err)
		}
		if got := hits.Load(); got != 5 {
			t.Fatalf("server saw %d requests before the breaker opened; want 5", got)
		}
		if s := c.Stats(); !s.BreakerEnabled || s.Breaker != breaker.StateOpen {
			t.Fatalf("Stats().Breaker = %v; want open", s.Breaker)
		}

		// Open: every call fails at once, nothing reaches the server, no retry
		// spins on ErrOpen (no time passes).
		start := time.Now()
		var oe *breaker.OpenError
		for i := range 20 {
			_, _, err := call(c, ctx, http.MethodGet, "/", nil, nil)
			if !errors.As(err, &oe) || oe.Service != "svc" {
				t.Fatalf("call %d while open: err = %v; want *breaker.OpenError for svc", i, err)
			}
			if errors.As(err, &re) && re.Attempts != 1 {
				t.Fatalf("call %d while open made %d attempts; want 1", i, re.Attempts)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("calls while open took %v; want 0 (fail fast, no backoff)", d)
		}
		if got := hits.Load(); got != 5 {
			t.Fatalf("server saw %d requests; want still 5 while open", got)
		}

		// Still open just before the timeout, half-open after it; the
		// service has recovered, and two successful probes close it.
		time.Sleep(time.Until(oe.RetryAt))
		if _, _, err := call(c, ctx, http.MethodGet, "/", nil, nil); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("just before the open timeout: err = %v; want ErrOpen", err)
		}
		down.Store(false)
		time.Sleep(time.Nanosecond)
		for i := range 2 {
			code, body, err := call(c, ctx, http.MethodGet, "/", nil, nil)
			if err != nil || code != 200 || body != "ok" {
				t.Fatalf("probe %d = %d %q, %v; want 200 ok", i, code, body, err)
			}
		}
		if s := c.Breaker().State(); s != breaker.StateClosed {
			t.Fatalf("after 2 successful probes the breaker is %v; want closed", s)
		}
		if got := hits.Load(); got != 7 {
			t.Fatalf("server saw %d requests; want 7 (5 failures, 2 probes)", got)
		}
	})
}

// TestClientHalfOpenProbeFails shows a failed probe reopens the breaker for
// another full open timeout.
func TestClientHalfOpenProbeFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits atomic.Int64
		c, _ := pipeClient(t, Config{
			Breaker:      breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: 5 * time.Second, HalfOpenProbes: 1},
			DisableRetry: true,
		}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}))
		for range 2 {
			call(c, t.Context(), http.MethodGet, "/", nil, nil)
		}
		if s := c.Breaker().State(); s != breaker.StateOpen {
			t.Fatalf("state = %v; want open", s)
		}
		time.Sleep(5*time.Second + time.Nanosecond)
		if code, _, err := call(c, t.Context(), http.MethodGet, "/", nil, nil); err != nil || code != 500 {
			t.Fatalf("probe = %d, %v; want the 500", code, err)
		}
		_, _, err := call(c, t.Context(), http.MethodGet, "/", nil, nil)
		var oe *breaker.OpenError
		if !errors.As(err, &oe) || oe.State != breaker.StateOpen || !oe.RetryAt.Equal(time.Now().Add(5*time.Second)) {
			t.Fatalf("after a failed probe: err = %v; want open until %v", err, time.Now().Add(5*time.Second))
		}
		if got := hits.Load(); got != 3 {
			t.Fatalf("server saw %d requests; want 3", got)
		}
	})
}

// TestClientBackoffTiming checks the waits between attempts through the
// chain: full jitter within [0, bound], bounds growing from
// InitialBackoff by Multiplier up to MaxBackoff.
func TestClientBackoffTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var at []time.Duration
		start := time.Now()
		c, _ := pipeClient(t, Config{
			Retry:          retry.Policy{MaxAttempts: 5, InitialBackoff: time.Second, MaxBackoff: 3 * time.Second, Multiplier: 2},
			DisableBreaker: true, Timeout: time.Hour,
		}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			at = append(at, time.Since(start))
			w.WriteHeader(http.StatusBadGateway)
		}))
		code, _, err := call(c, t.Context(), http.MethodGet, "/", nil, nil)
		if err != nil || code != http.StatusBadGateway {
			t.Fatalf("call = %d, %v; want the last 502", code, err)
		}
		if len(at) != 5 {
			t.Fatalf("%d attempts; want 5", len(at))
		}
		bounds := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
		var total time.Duration
		for i, b := range bounds {
			wait := at[i+1] - at[i]
			if wait < 0 || wait > b {
				t.Errorf("wait before retry %d = %v; want within [0, %v]", i+1, wait, b)
			}
			total += wait
		}
		if total == 0 {
			t.Errorf("no wait at all between 5 attempts: backoff not applied")
		}
	})
}

// TestClientRetryAfterCapped: a 503 with Retry-After: 3600 is retried after
// RetryAfterCap, not an hour.
func TestClientRetryAfterCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var at []time.Duration
		start := time.Now()
		c, _ := pipeClient(t, Config{Timeout: 2 * time.Hour}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			at = append(at, time.Since(start))
			if len(at) == 1 {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok")
		}))
		code, body, err := call(c, t.Context(), http.MethodGet, "/", nil, nil)
		if err != nil || code != 200 || body != "ok" {
			t.Fatalf("call = %d %q, %v; want 200 ok", code, body, err)
		}
		if len(at) != 2 || at[1] != retry.DefaultRetryAfterCap {
			t.Fatalf("attempts at %v; want the second at the cap, %v", at, retry.DefaultRetryAfterCap)
		}
	})
}

// TestClientTimeout: Config.Timeout bounds the whole request, waiting for
// headers and reading the body alike.
func TestClientTimeout(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		readErr bool // the timeout hits while reading the body
	}{
		{"headers", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, false},
		{"body", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, _ := pipeClient(t, Config{Timeout: 2 * time.Second, DisableBreaker: true}, tt.handler)
				start := time.Now()
				req, _ := c.NewRequest(t.Context(), http.MethodGet, "/", nil)
				resp, err := c.Do(req)
				if tt.readErr {
					if err != nil {
						t.Fatalf("Do: %v", err)
					}
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				} else if err == nil {
					resp.Body.Close()
					t.Fatalf("Do = %d; want a timeout", resp.StatusCode)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v; want context.DeadlineExceeded", err)
				}
				if d := time.Since(start); d != 2*time.Second {
					t.Fatalf("gave up after %v; want the 2s timeout", d)
				}
			})
		})
	}
}

// TestClientTimeoutBoundsRetries: retries stop before the whole-request
// timeout; the caller gets the last response rather than a wait past it.
func TestClientTimeoutBoundsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits atomic.Int64
		c, _ := pipeClient(t, Config{
			Timeout:        10 * time.Second,
			Retry:          retry.Policy{MaxAttempts: 100, InitialBackoff: 3 * time.Second, MaxBackoff: 3 * time.Second, Multiplier: 1},
			DisableBreaker: true, DisableRetryBudget: true,
		}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.Header().Set("Retry-After", "3") // makes the waits exact
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		start := time.Now()
		code, _, err := call(c, t.Context(), http.MethodGet, "/", nil, nil)
		if err != nil || code != 503 {
			t.Fatalf("call = %d, %v; want the last 503", code, err)
		}
		// Attempts at 0s, 3s, 6s, 9s; the next wait would pass 10s.
		if d, n := time.Since(start), hits.Load(); d != 9*time.Second || n != 4 {
			t.Fatalf("%d attempts over %v; want 4 over 9s", n, d)
		}
	})
}

// TestClientCallerDeadlineSooner: a request context with a deadline sooner
// than Config.Timeout keeps it.
func TestClientCallerDeadlineSooner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := pipeClient(t, Config{Timeout: time.Minute, DisableRetry: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, _, err := call(c, ctx, http.MethodGet, "/", nil, nil)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("err = %v after %v; want DeadlineExceeded after 1s", err, time.Since(start))
		}
	})
}

// TestClientIdempotency: a POST without an Idempotency-Key is sent once; with
// one it is retried, its body sent whole each time, on the same connection.
func TestClientIdempotency(t *testing.T) {
	const payload = `{"amount": 1200, "currency": "EUR"}`
	tests := []struct {
		name      string
		method    string
		header    http.Header
		wantCalls int
		wantCode  int
	}{
		{"POST without key", http.MethodPost, nil, 1, 503},
		{"POST with Idempotency-Key", http.MethodPost, http.Header{"Idempotency-Key": {"k-1"}}, 3, 200},
		{"PATCH without key", http.MethodPatch, nil, 1, 503},
		{"PUT", http.MethodPut, nil, 3, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var bodies []string
			c, cnt := loopClient(t, Config{
				Retry:          retry.Policy{MaxAttempts: 3, InitialBackoff: time.Microsecond, MaxBackoff: time.Microsecond},
				DisableBreaker: true,
			}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(b))
				n := len(bodies)
				mu.Unlock()
				if n < 3 {
					w.WriteHeader(http.StatusServiceUnavailable)
					io.WriteString(w, strings.Repeat("x", 4096)) // drained before the retry
					return
				}
				io.WriteString(w, "done")
			}))
			code, _, err := call(c, t.Context(), tt.method, "/charge", strings.NewReader(payload), tt.header)
			if err != nil || code != tt.wantCode {
				t.Fatalf("call = %d, %v; want %d", code, err, tt.wantCode)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(bodies) != tt.wantCalls {
				t.Fatalf("server saw %d attempts; want %d", len(bodies), tt.wantCalls)
			}
			for i, b := range bodies {
				if b != payload {
					t.Errorf("attempt %d sent body %q; want %q", i+1, b, payload)
				}
			}
			if _, accepted := cnt.get(); accepted != 1 {
				t.Errorf("server accepted %d connections; want 1 (reused across retries)", accepted)
			}
		})
	}
}

// TestClientRetryDrainIsBounded: a retried response with a huge body is not
// read to the end (the connection is closed instead), and the retry works.
func TestClientRetryDrainIsBounded(t *testing.T) {
	var calls atomic.Int64
	var written atomic.Int64
	c, cnt := loopClient(t, Config{
		Retry:          retry.Policy{InitialBackoff: time.Microsecond, MaxBackoff: time.Microsecond},
		DisableBreaker: true,
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			chunk := bytes.Repeat([]byte("x"), 32<<10)
			for range 1024 { // 32 MiB, far beyond retry.MaxDrainBytes
				n, err := w.Write(chunk)
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
			return
		}
		io.WriteString(w, "ok")
	}))
	code, body, err := call(c, t.Context(), http.MethodGet, "/", nil, nil)
	if err != nil || code != 200 || body != "ok" {
		t.Fatalf("call = %d %q, %v; want 200 ok", code, body, err)
	}
	if _, accepted := cnt.get(); accepted != 2 {
		t.Errorf("server accepted %d connections; want 2 (the one with the unread body closed)", accepted)
	}
	if w := written.Load(); w >= 32<<20 {
		t.Errorf("the server wrote the whole %d-byte body: the client read it all", w)
	}
}

// TestClientRetryBudget: a downstream failing every request sees at most the
// budgeted extra attempts, not MaxAttempts times the requests.
func TestClientRetryBudget(t *testing.T) {
	var hits atomic.Int64
	const requests = 200
	c, _ := loopClient(t, Config{
		Retry:          retry.Policy{MaxAttempts: 3, InitialBackoff: time.Microsecond, MaxBackoff: time.Microsecond},
		RetryBudget:    retry.BudgetConfig{Ratio: 0.1, MinRetriesPerSecond: -1, Window: time.Hour},
		DisableBreaker: true,
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	for range requests {
		code, _, err := call(c, t.Context(), http.MethodGet, "/", nil, nil)
		if err != nil || code != 503 {
			t.Fatalf("call = %d, %v; want 503", code, err)
		}
	}
	extra := hits.Load() - requests
	if extra > requests/10+1 {
		t.Fatalf("server saw %d extra attempts for %d requests; want at most %d (10%% budget)", extra, requests, requests/10+1)
	}
	if extra < requests/10-1 {
		t.Fatalf("server saw %d extra attempts; want about %d: the budget should allow them", extra, requests/10)
	}
}

// TestClientNoTimeoutAndDisabledLayers: Timeout < 0, DisableRetry and
// DisableBreaker leave the pooled Transport alone in the chain.
func TestClientNoTimeoutAndDisabledLayers(t *testing.T) {
	var hits atomic.Int64
	c, _ := loopClient(t, Config{Timeout: -1, DisableRetry: true, DisableBreaker: true},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			if _, ok := r.Context().Deadline(); ok {
				t.Error("server-side deadline?")
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
	if c.HTTP().Transport != c.Transport() {
		t.Fatalf("chain = %T; want the bare *Transport", c.HTTP().Transport)
	}
	if c.Breaker() != nil || c.Stats().BreakerEnabled {
		t.Fatal("breaker present though disabled")
	}
	for range 30 {
		if code, _, err := call(c, t.Context(), http.MethodGet, "/", nil, nil); err != nil || code != 503 {
			t.Fatalf("call = %d, %v", code, err)
		}
	}
	if hits.Load() != 30 {
		t.Fatalf("server saw %d requests; want 30 (no retries, no breaker)", hits.Load())
	}
}

func TestClientStatsAndClose(t *testing.T) {
	c, _ := loopClient(t, Config{Name: "stats"}, http.HandlerFunc(okHandler))
	for range 3 {
		if _, _, err := call(c, t.Context(), http.MethodGet, "/", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := c.Stats()
	if s.Name != "stats" || len(s.Origins) != 1 || s.Breaker != breaker.StateClosed || s.BreakerCounts.TotalSuccesses != 3 {
		t.Fatalf("Stats = %+v", s)
	}
	for _, o := range s.Origins {
		if o.Requests != 3 || o.Pool.Open != 1 {
			t.Fatalf("origin stats = %+v; want 3 requests on 1 connection", o)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v; want nil", err)
	}
	if _, _, err := call(c, t.Context(), http.MethodGet, "/", nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: err = %v; want ErrClosed", err)
	}
}

func TestClientNewRequest(t *testing.T) {
	tests := []struct {
		base, give, want string
		wantErr          bool
	}{
		{"https://pay.internal", "orders", "https://pay.internal/orders", false},
		{"https://pay.internal", "/orders?full=1", "https://pay.internal/orders?full=1", false},
		{"https://pay.internal/v1", "orders/42", "https://pay.internal/v1/orders/42", false},
		{"https://pay.internal/v1/", "/orders/42", "https://pay.internal/v1/orders/42", false},
		{"https://pay.internal/v1", "", "https://pay.internal/v1", false},
		{"https://pay.internal/v1", "?page=2", "https://pay.internal/v1?page=2", false},
		{"https://pay.internal/v1", "a%2Fb", "https://pay.internal/v1/a%2Fb", false},
		{"https://pay.internal", "https://evil.example/", "", true},
		{"https://pay.internal", "//evil.example/x", "", true},
		{"", "https://any.example/x", "https://any.example/x", false},
	}
	for _, tt := range tests {
		c, err := NewClient(Config{Name: "pay", BaseURL: tt.base})
		if err != nil {
			t.Fatal(err)
		}
		req, err := c.NewRequest(t.Context(), http.MethodGet, tt.give, nil)
		c.Close()
		if tt.wantErr {
			if err == nil {
				t.Errorf("base %q, NewRequest(%q) = %s; want an error", tt.base, tt.give, req.URL)
			}
			continue
		}
		if err != nil {
			t.Errorf("base %q, NewRequest(%q): %v", tt.base, tt.give, err)
			continue
		}
		if got := req.URL.String(); got != tt.want {
			t.Errorf("base %q, NewRequest(%q) = %s; want %s", tt.base, tt.give, got, tt.want)
		}
	}
}

func TestClientConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		give Config
		want []string // each error message, in order; nil: valid
	}{
		{"zero but named", Config{Name: "p"}, nil},
		{"all disabled", Config{Name: "p", DisableBreaker: true, DisableRetry: true, Timeout: -1}, nil},
		{"no name", Config{}, []string{`httpclient: service "": Name = "": required`}},
		{"relative base", Config{Name: "p", BaseURL: "payment/v1"}, []string{`service "p": BaseURL = payment/v1: must be an absolute "http" or "https" URL`}},
		{"ftp base", Config{Name: "p", BaseURL: "ftp://h"}, []string{`BaseURL = ftp://h: must be an absolute`}},
		{"base with query", Config{Name: "p", BaseURL: "http://h/?a=1"}, []string{`BaseURL = http://h/?a=1: must have no query or fragment`}},
		{"base with user", Config{Name: "p", BaseURL: "http://u:pw@h/"}, []string{`BaseURL = http://u:pw@h/: must carry no credentials`}},
		{"max size", Config{Name: "p", Transport: TransportConfig{MaxSize: -1}}, []string{`service "p": Transport.MaxSize = -1: must be >= 0`}},
		{"min over max", Config{Name: "p", Transport: TransportConfig{MinSize: 5, MaxSize: 2}}, []string{`Transport.MinSize = 5: must be <= MaxSize (2)`}},
		{"failure ratio", Config{Name: "p", Breaker: breaker.Settings{FailureRatio: 2}}, []string{`service "p": Breaker.FailureRatio = 2: must be in (0, 1]`}},
		{"open timeout", Config{Name: "p", Breaker: breaker.Settings{OpenTimeout: -time.Second}}, []string{`Breaker.OpenTimeout = -1s: must be >= 0`}},
		{"breaker disabled: not checked", Config{Name: "p", DisableBreaker: true, Breaker: breaker.Settings{FailureRatio: 2}}, nil},
		{"max attempts", Config{Name: "payment", Retry: retry.Policy{MaxAttempts: -1}}, []string{`httpclient: service "payment": Retry.MaxAttempts = -1: must be >= 0`}},
		{"multiplier", Config{Name: "p", Retry: retry.Policy{Multiplier: 0.5}}, []string{`Retry.Multiplier = 0.5: must be >= 1`}},
		{"backoffs", Config{Name: "p", Retry: retry.Policy{InitialBackoff: time.Second, MaxBackoff: time.Millisecond}}, []string{`Retry.MaxBackoff = 1ms: must be >= InitialBackoff (1s)`}},
		{"budget window", Config{Name: "p", RetryBudget: retry.BudgetConfig{Window: time.Nanosecond}}, []string{`service "p": RetryBudget.Window = 1ns`}},
		{"budget disabled: not checked", Config{Name: "p", DisableRetryBudget: true, RetryBudget: retry.BudgetConfig{Window: time.Nanosecond}}, nil},
		{"retry disabled: not checked", Config{Name: "p", DisableRetry: true, Retry: retry.Policy{MaxAttempts: -1}}, nil},
		{"several", Config{Name: "p", BaseURL: "x", Transport: TransportConfig{MaxSize: -1}, Breaker: breaker.Settings{MinRequests: -1}, Retry: retry.Policy{MaxAttempts: -1}},
			[]string{"BaseURL = x", "Transport.MaxSize = -1", "Breaker.MinRequests = -1", "Retry.MaxAttempts = -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.Validate()
			_, newErr := NewClient(tt.give)
			if tt.want == nil {
				if err != nil || newErr != nil {
					t.Fatalf("Validate = %v, NewClient = %v; want nil", err, newErr)
				}
				// NewClient succeeded: close what it opened.
				c, _ := NewClient(tt.give)
				c.Close()
				return
			}
			if err == nil || newErr == nil || err.Error() != newErr.Error() {
				t.Fatalf("Validate = %v, NewClient = %v; want the same error", err, newErr)
			}
			var ce *ClientConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate = %T; want a *ClientConfigError inside", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("Validate =\n%v\nwant %d errors", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("error %d = %q; want it to contain %q", i, lines[i], w)
				}
			}
		})
	}
}

// gathered returns the value of every series of reg as "name{l=v,...}" →
// value (histograms: their sample count).
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				if l.GetName() == "origin" {
					continue // a loopback port
				}
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.Histogram != nil:
				out[key] += float64(m.Histogram.GetSampleCount())
			case m.Counter != nil:
				out[key] += m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] += m.Gauge.GetValue()
			}
		}
	}
	return out
}

// TestClientMetrics: with metrics.For as Telemetry, every layer of the chain reports,
// clients on one registry share it, a duplicate name is refused, and Close
// removes the client's series.
func TestClientMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	var fail atomic.Int64
	fail.Store(1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	fast := retry.Policy{InitialBackoff: time.Microsecond, MaxBackoff: time.Microsecond}
	pay, _ := loopClient(t, Config{Name: "payment", Telemetry: metrics.For(reg), Retry: fast}, h)
	inv, _ := loopClient(t, Config{Name: "inventory", Telemetry: metrics.For(reg), Retry: fast, DisableBreaker: true}, h)
	for range 3 {
		if code, _, err := call(pay, t.Context(), http.MethodGet, "/", nil, nil); err != nil || code != 200 {
			t.Fatalf("payment call = %d, %v", code, err)
		}
	}
	if _, _, err := call(inv, t.Context(), http.MethodPost, "/", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}

	got := gathered(t, reg)
	want := map[string]float64{
		// one observation per call, retries inside it
		`poolkit_http_client_request_duration_seconds{method=GET,service=payment,status_class=2xx}`:    3,
		`poolkit_http_client_request_duration_seconds{method=POST,service=inventory,status_class=2xx}`: 1,
		`poolkit_retry_attempts_total{attempt=first,result=error,service=payment}`:                     1,
		`poolkit_retry_attempts_total{attempt=retry,result=success,service=payment}`:                   1,
		`poolkit_retry_attempts_total{attempt=first,result=success,service=payment}`:                   2,
		`poolkit_breaker_state{service=payment,state=closed}`:                                          1,
		`poolkit_pool_acquires_total{kind=http,pool=payment}`:                                          4,
		`poolkit_pool_open_connections{kind=http,pool=payment}`:                                        1,
		`poolkit_pool_max_connections{kind=http,pool=inventory}`:                                       DefaultMaxSize,
		`poolkit_pool_wait_time_seconds{kind=http,pool=payment}`:                                       4,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v; want %v", k, got[k], w)
		}
	}
	if _, ok := got[`poolkit_breaker_state{service=inventory,state=closed}`]; ok {
		t.Error("inventory reports a breaker state though its breaker is disabled")
	}

	// A second client named payment on the same registry is refused, and
	// leaves the first one's series alone.
	if _, err := NewClient(Config{Name: "payment", Telemetry: metrics.For(reg)}); err == nil || !errors.Is(err, metrics.ErrDuplicate) {
		t.Fatalf("duplicate NewClient = %v; want metrics.ErrDuplicate", err)
	}
	if got := gathered(t, reg); got[`poolkit_pool_acquires_total{kind=http,pool=payment}`] != 4 {
		t.Fatal("a refused duplicate removed the first client's series")
	}

	// Close removes the series; the name can be used again.
	pay.Close()
	for k := range gathered(t, reg) {
		if strings.Contains(k, "payment") {
			t.Errorf("after Close: %s still reported", k)
		}
	}
	again, err := NewClient(Config{Name: "payment", Telemetry: metrics.For(reg)})
	if err != nil {
		t.Fatalf("NewClient after Close: %v", err)
	}
	again.Close()
}

// countingObserver counts a pool's acquires, for a user's own observer.
type countingObserver struct {
	pool.NopObserver
	acquired atomic.Int64
}

func (o *countingObserver) Acquired(context.Context, pool.AcquireEvent) { o.acquired.Add(1) }

func TestClientMetricsKeepUsersObserver(t *testing.T) {
	reg := prometheus.NewRegistry()
	own := &countingObserver{}
	var origins atomic.Int64
	cfg := Config{Name: "search", Telemetry: metrics.For(reg), Transport: TransportConfig{
		Observer: func(string) pool.Observer { origins.Add(1); return own },
	}}
	c, _ := loopClient(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	for range 5 {
		if code, _, err := call(c, t.Context(), http.MethodGet, "/", nil, nil); err != nil || code != 200 {
			t.Fatalf("call = %d, %v", code, err)
		}
	}
	if n := own.acquired.Load(); n != 5 || origins.Load() != 1 {
		t.Errorf("user's observer saw %d acquires on %d origins; want 5 on 1", n, origins.Load())
	}
	if got := gathered(t, reg)[`poolkit_pool_wait_time_seconds{kind=http,pool=search}`]; got != 5 {
		t.Errorf("metrics saw %v acquires; want 5", got)
	}
}
