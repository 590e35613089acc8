package retry_test

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

	"github.com/poolkit/poolkit/internal/memnet"
	"github.com/poolkit/poolkit/retry"
)

// fastPolicy retries with waits of at most a microsecond, so loopback tests
// do not sleep.
var fastPolicy = retry.Policy{InitialBackoff: time.Microsecond, MaxBackoff: time.Microsecond, RetryAfterCap: time.Microsecond}

// server is a loopback test server that fails the first `fail` requests
// with status `code` and counts requests, new connections and bodies.
type server struct {
	*httptest.Server
	fail     atomic.Int64
	code     int
	header   http.Header
	failBody string

	requests atomic.Int64
	conns    atomic.Int64
	mu       sync.Mutex
	bodies   []string
}

func newServer(t *testing.T, code int, fail int64) *server {
	s := &server{code: code, header: http.Header{}}
	s.fail.Store(fail)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(body))
		s.mu.Unlock()
		if s.fail.Add(-1) >= 0 {
			for k, v := range s.header {
				w.Header()[k] = v
			}
			w.WriteHeader(s.code)
			io.WriteString(w, s.failBody)
			return
		}
		io.WriteString(w, "ok")
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func client(t *testing.T, p retry.Policy, opts ...retry.TransportOption) *http.Client {
	t.Helper()
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	tr, err := retry.NewTransport(base, p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: tr}
}

func do(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestTransportRetriesAndReusesConnection(t *testing.T) {
	s := newServer(t, http.StatusServiceUnavailable, 2)
	s.failBody = strings.Repeat("x", 16<<10) // drained before the retry
	c := client(t, fastPolicy)
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	code, body := do(t, c, req)
	if code != http.StatusOK || body != "ok" {
		t.Fatalf("GET = %d %q; want 200 ok", code, body)
	}
	if s.requests.Load() != 3 || s.conns.Load() != 1 {
		t.Fatalf("server saw %d requests on %d connections; want 3 on 1", s.requests.Load(), s.conns.Load())
	}
}

func TestTransportDrainIsBounded(t *testing.T) {
	s := newServer(t, http.StatusServiceUnavailable, 1)
	s.failBody = strings.Repeat("x", 4*retry.MaxDrainBytes)
	c := client(t, fastPolicy)
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	if code, _ := do(t, c, req); code != http.StatusOK {
		t.Fatalf("GET = %d; want 200", code)
	}
	// The oversized body was closed unread, which costs the connection.
	if s.requests.Load() != 2 || s.conns.Load() != 2 {
		t.Fatalf("server saw %d requests on %d connections; want 2 on 2", s.requests.Load(), s.conns.Load())
	}
}

func TestTransportReturnsLastResponse(t *testing.T) {
	s := newServer(t, http.StatusBadGateway, 100)
	s.failBody = "bad gateway"
	c := client(t, fastPolicy)
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	code, body := do(t, c, req)
	if code != http.StatusBadGateway || body != "bad gateway" || s.requests.Load() != retry.DefaultMaxAttempts {
		t.Fatalf("GET = %d %q after %d requests; want the last 502 with its body after %d", code, body, s.requests.Load(), retry.DefaultMaxAttempts)
	}
}

func TestTransportStatusesNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusNotFound, http.StatusBadRequest} {
		s := newServer(t, code, 1)
		c := client(t, fastPolicy)
		req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		if got, _ := do(t, c, req); got != code || s.requests.Load() != 1 {
			t.Errorf("status %d: got %d after %d requests; want no retry", code, got, s.requests.Load())
		}
	}
	s := newServer(t, http.StatusInternalServerError, 1)
	c := client(t, fastPolicy, retry.WithRetryStatuses(http.StatusInternalServerError))
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	if got, _ := do(t, c, req); got != http.StatusOK || s.requests.Load() != 2 {
		t.Errorf("WithRetryStatuses(500): got %d after %d requests; want 200 after 2", got, s.requests.Load())
	}
}

func TestTransportPOST(t *testing.T) {
	const payload = `{"amount": 42}`
	t.Run("without Idempotency-Key sent once", func(t *testing.T) {
		s := newServer(t, http.StatusServiceUnavailable, 1)
		c := client(t, fastPolicy)
		req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(payload))
		if code, _ := do(t, c, req); code != http.StatusServiceUnavailable || s.requests.Load() != 1 {
			t.Fatalf("POST = %d after %d requests; want the 503 after 1", code, s.requests.Load())
		}
	})
	t.Run("with Idempotency-Key retried with the whole body", func(t *testing.T) {
		s := newServer(t, http.StatusServiceUnavailable, 2)
		c := client(t, fastPolicy)
		req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(payload))
		req.Header.Set("Idempotency-Key", "order-17")
		if code, _ := do(t, c, req); code != http.StatusOK || s.requests.Load() != 3 {
			t.Fatalf("POST = %d after %d requests; want 200 after 3", code, s.requests.Load())
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, b := range s.bodies {
			if b != payload {
				t.Errorf("attempt %d body %q; want %q", i+1, b, payload)
			}
		}
	})
	t.Run("body that cannot be rewound sent once", func(t *testing.T) {
		s := newServer(t, http.StatusServiceUnavailable, 1)
		c := client(t, fastPolicy)
		req, _ := http.NewRequest(http.MethodPut, s.URL, io.NopCloser(strings.NewReader(payload)))
		req.GetBody = nil
		if code, _ := do(t, c, req); code != http.StatusServiceUnavailable || s.requests.Load() != 1 {
			t.Fatalf("PUT = %d after %d requests; want the 503 after 1", code, s.requests.Load())
		}
	})
}

func TestTransportRetryAfterCappedLoopback(t *testing.T) {
	s := newServer(t, http.StatusTooManyRequests, 1)
	s.header.Set("Retry-After", "3600")
	p := fastPolicy
	p.RetryAfterCap = time.Millisecond
	c := client(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	// Uncapped, the wait would cross the deadline and the 429 would come back.
	if code, _ := do(t, c, req); code != http.StatusOK || s.requests.Load() != 2 {
		t.Fatalf("GET = %d after %d requests; want 200 after 2", code, s.requests.Load())
	}
}

func TestTransportBudgetLoopback(t *testing.T) {
	s := newServer(t, http.StatusServiceUnavailable, 1<<30)
	cfg := retry.BudgetConfig{Ratio: 0.2, MinRetriesPerSecond: 5.0 / 3600, Window: time.Hour}
	budget, err := retry.NewBudget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := &obs{}
	p := fastPolicy
	p.MaxAttempts, p.Budget, p.Observer = 5, budget, o
	c := client(t, p)
	const n = 40
	for range n {
		req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		if code, _ := do(t, c, req); code != http.StatusServiceUnavailable {
			t.Fatalf("GET = %d; want 503", code)
		}
	}
	attempts := float64(s.requests.Load())
	if limit := n + cfg.Ratio*n + cfg.MinRetriesPerSecond*cfg.Window.Seconds(); attempts > limit || attempts <= n {
		t.Fatalf("server saw %v attempts for %d requests; want more than %d, at most %v", attempts, n, n, limit)
	}
	if o.exhausted == 0 {
		t.Error("observer heard of no budget refusal")
	}
	if s.conns.Load() != 1 {
		t.Errorf("%d connections; want 1 (drained responses reuse the connection)", s.conns.Load())
	}
}

// idleRecorder is a transport whose CloseIdleConnections must never be
// called.
type idleRecorder struct {
	http.RoundTripper
	closed atomic.Bool
}

func (r *idleRecorder) CloseIdleConnections() { r.closed.Store(true) }

func TestTransportConnectionErrorsRetriedNeverClosesIdle(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close() // hang up without answering
		}
	}()
	defer func() { l.Close(); <-done }()

	base := &http.Transport{}
	defer base.CloseIdleConnections()
	rec := &idleRecorder{RoundTripper: base}
	tr, _ := retry.NewTransport(rec, fastPolicy)
	req, _ := http.NewRequest(http.MethodGet, "http://"+l.Addr().String(), nil)
	resp, err := tr.RoundTrip(req)
	var re *retry.Error
	if resp != nil || !errors.As(err, &re) || re.Attempts != retry.DefaultMaxAttempts {
		t.Fatalf("RoundTrip = %v, %v; want *Error after %d attempts", resp, err, retry.DefaultMaxAttempts)
	}
	if accepted.Load() < retry.DefaultMaxAttempts {
		t.Errorf("server accepted %d connections; want >= %d", accepted.Load(), retry.DefaultMaxAttempts)
	}
	if rec.closed.Load() {
		t.Error("Transport called CloseIdleConnections")
	}
}

func TestTransportRetryAfterTiming(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter func(now time.Time) string
		want       time.Duration
	}{
		{name: "delta seconds", retryAfter: func(time.Time) string { return "4" }, want: 4 * time.Second},
		{name: "delta seconds capped", retryAfter: func(time.Time) string { return "3600" }, want: 10 * time.Second},
		{name: "HTTP date", retryAfter: func(now time.Time) string { return now.Add(7 * time.Second).UTC().Format(http.TimeFormat) }, want: 7 * time.Second},
		{name: "HTTP date capped", retryAfter: func(now time.Time) string { return now.Add(time.Hour).UTC().Format(http.TimeFormat) }, want: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var first atomic.Bool
				var at []time.Duration
				start := time.Now()
				tr := memnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					at = append(at, time.Since(start))
					if !first.Swap(true) {
						w.Header().Set("Retry-After", tt.retryAfter(time.Now()))
						w.WriteHeader(http.StatusServiceUnavailable)
						return
					}
					io.WriteString(w, "ok")
				}))
				rt, _ := retry.NewTransport(tr, retry.Policy{RetryAfterCap: 10 * time.Second})
				req, _ := http.NewRequest(http.MethodGet, "http://svc.test/", nil)
				resp, err := rt.RoundTrip(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("RoundTrip = %v, %v", resp, err)
				}
				resp.Body.Close()
				if len(at) != 2 || at[1] != tt.want {
					t.Fatalf("attempts at %v; want the second after %v", at, tt.want)
				}
			})
		})
	}
}

func TestTransportCanceledWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var requests atomic.Int64
		tr := memnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		rt, _ := retry.NewTransport(tr, retry.Policy{})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc.test/", nil)
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if resp != nil || !errors.Is(err, context.Canceled) || time.Since(start) != time.Second {
			t.Fatalf("RoundTrip = %v, %v after %v; want Canceled after 1s", resp, err, time.Since(start))
		}
		if requests.Load() != 1 {
			t.Errorf("server saw %d requests; want 1", requests.Load())
		}
	})
}

func TestTransportAttemptTimeoutCoversBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var requests atomic.Int64
		tr := memnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if requests.Add(1) == 1 {
				<-r.Context().Done() // hang until the attempt times out
				return
			}
			io.WriteString(w, "slow body")
		}))
		rt, _ := retry.NewTransport(tr, retry.Policy{AttemptTimeout: time.Second})
		req, _ := http.NewRequest(http.MethodGet, "http://svc.test/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(body, []byte("slow body")) || requests.Load() != 2 {
			t.Fatalf("body %q, %v after %d requests; want the second attempt's body", body, err, requests.Load())
		}
	})
}
