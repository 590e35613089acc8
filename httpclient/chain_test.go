package httpclient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/retry"
)

// rtFunc makes a function an http.RoundTripper.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// attemptWrapper is a user's own round-tripper for Config.Wrap: it counts
// its calls and stamps each request with an auth header and its attempt
// number, on a clone as the RoundTripper contract asks.
type attemptWrapper struct{ calls atomic.Int64 }

func (w *attemptWrapper) wrap(next http.RoundTripper) http.RoundTripper {
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		n := w.calls.Add(1)
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer token-"+strconv.FormatInt(n, 10))
		return next.RoundTrip(r)
	})
}

// failingServer answers 503 to the first fail requests and 200 after,
// recording each request's Authorization header.
type failingServer struct {
	fail  int64
	n     atomic.Int64
	mu    sync.Mutex
	auths []string
}

func (s *failingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.auths = append(s.auths, r.Header.Get("Authorization"))
	s.mu.Unlock()
	if s.n.Add(1) <= s.fail {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok")
}

func (s *failingServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

// fastRetry retries at once (the test servers answer at once), without a
// budget, so a test's retries are exactly MaxAttempts-1.
func fastRetry(attempts int) retry.Policy {
	return retry.Policy{MaxAttempts: attempts, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
}

func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func getBody(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestWrapPerAttempt: Wrap's round-tripper sits under retry, so it is
// called once per attempt and can stamp every attempt; a round-tripper
// wrapped around Client.HTTP().Transport sits outside and sees the request
// once.
func TestWrapPerAttempt(t *testing.T) {
	srv := &failingServer{fail: 2}
	ts, _, tc := startServer(t, h1, srv)
	inner := &attemptWrapper{}
	c := newTestClient(t, Config{
		Name: "pay", Transport: tc, DisableRetryBudget: true,
		Retry: fastRetry(3),
		Wrap:  inner.wrap,
	})
	var outer atomic.Int64
	hc := &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		outer.Add(1)
		return c.HTTP().Transport.RoundTrip(r)
	})}

	code, body, err := getBody(hc, ts.URL)
	if err != nil || code != 200 || body != "ok" {
		t.Fatalf("GET = %d %q, %v; want 200 ok after two retries", code, body, err)
	}
	if got := inner.calls.Load(); got != 3 {
		t.Errorf("Wrap's round-tripper called %d times; want 3 (one per attempt)", got)
	}
	if got := outer.Load(); got != 1 {
		t.Errorf("outer round-tripper called %d times; want 1 (one per request)", got)
	}
	want := []string{"Bearer token-1", "Bearer token-2", "Bearer token-3"}
	if got := srv.seen(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("server saw Authorization %q; want %q", got, want)
	}
}

// TestWrapUnderBreaker: the breaker refuses calls before they reach Wrap's
// round-tripper, and what that round-tripper returns is what the breaker
// counts.
func TestWrapUnderBreaker(t *testing.T) {
	srv := &failingServer{fail: 1 << 30}
	ts, _, tc := startServer(t, h1, srv)
	inner := &attemptWrapper{}
	c := newTestClient(t, Config{
		Name: "pay", Transport: tc, DisableRetry: true,
		Breaker: breaker.Settings{ConsecutiveFailures: 3, MinRequests: 100, OpenTimeout: time.Hour},
		Wrap:    inner.wrap,
	})
	for i := range 3 {
		code, _, err := getBody(c.HTTP(), ts.URL)
		if err != nil || code != http.StatusServiceUnavailable {
			t.Fatalf("GET %d = %d, %v; want 503", i, code, err)
		}
	}
	for i := range 5 {
		if _, _, err := getBody(c.HTTP(), ts.URL); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("GET %d after 3 failures: err = %v; want breaker.ErrOpen", i, err)
		}
	}
	if got := inner.calls.Load(); got != 3 {
		t.Errorf("Wrap's round-tripper called %d times; want 3 (the breaker's refusals never reach it)", got)
	}
	if got := srv.n.Load(); got != 3 {
		t.Errorf("server got %d requests; want 3", got)
	}
}

// TestWrapErrorCountsInBreaker: an error from Wrap's round-tripper (an
// auth token that cannot be fetched) counts as a failure, and the breaker
// then keeps calls from it.
func TestWrapErrorCountsInBreaker(t *testing.T) {
	ts, _, tc := startServer(t, h1, &failingServer{})
	var calls atomic.Int64
	errToken := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("token service unreachable")}
	c := newTestClient(t, Config{
		Name: "pay", Transport: tc, DisableRetry: true,
		Breaker: breaker.Settings{ConsecutiveFailures: 2, MinRequests: 100, OpenTimeout: time.Hour},
		Wrap: func(http.RoundTripper) http.RoundTripper {
			return rtFunc(func(*http.Request) (*http.Response, error) {
				calls.Add(1)
				return nil, errToken
			})
		},
	})
	for range 2 {
		if _, _, err := getBody(c.HTTP(), ts.URL); !errors.Is(err, errToken) {
			t.Fatalf("err = %v; want the wrapper's", err)
		}
	}
	if _, _, err := getBody(c.HTTP(), ts.URL); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("third call: err = %v; want breaker.ErrOpen", err)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("wrapper called %d times; want 2", got)
	}
}

func TestWrapNil(t *testing.T) {
	for name, wrap := range map[string]func(http.RoundTripper) http.RoundTripper{
		"nil":       func(http.RoundTripper) http.RoundTripper { return nil },
		"typed nil": func(http.RoundTripper) http.RoundTripper { return (*http.Transport)(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(Config{Name: "pay", Wrap: wrap})
			if err == nil {
				c.Close()
				t.Fatal("NewClient: no error")
			}
			var ce *ClientConfigError
			if !errors.As(err, &ce) || ce.Field != "Wrap" || ce.Service != "pay" {
				t.Fatalf("err = %v; want a *ClientConfigError for Wrap", err)
			}
			if !strings.Contains(err.Error(), `service "pay": Wrap = `) || !strings.Contains(err.Error(), "must return a round-tripper") {
				t.Errorf("message %q does not say what is wrong", err)
			}
		})
	}
}

// userTransport is the transport of a user's own *http.Client, counting
// the connections it dials.
func userTransport(t *testing.T) (*http.Transport, *atomic.Int64) {
	var dials atomic.Int64
	d := &net.Dialer{}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr, &dials
}

// sdkClient is an SDK constructor that takes its user's *http.Client and
// layers poolkit's retries and breaker over its transport.
func sdkClient(t *testing.T, user *http.Client, b breaker.Settings) *Client {
	base := user.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return newTestClient(t, Config{
		Name: "weather", Base: base, DisableRetryBudget: true,
		Retry: fastRetry(3), Breaker: b,
	})
}

// TestBaseRetry: with Base, retries replay a GET through the user's
// transport, which makes the connections; there is no pooled Transport.
func TestBaseRetry(t *testing.T) {
	srv := &failingServer{fail: 1}
	ts, cnt, _ := startServer(t, h1, srv)
	tr, dials := userTransport(t)
	c := sdkClient(t, &http.Client{Transport: tr}, breaker.Settings{})

	code, body, err := getBody(c.HTTP(), ts.URL)
	if err != nil || code != 200 || body != "ok" {
		t.Fatalf("GET = %d %q, %v; want 200 ok after a retry", code, body, err)
	}
	if got := srv.n.Load(); got != 2 {
		t.Errorf("server got %d requests; want 2 (the GET replayed once)", got)
	}
	_, accepted := cnt.get()
	if d := dials.Load(); d == 0 || d != int64(accepted) {
		t.Errorf("user's transport dialed %d connections, server accepted %d; want the user's transport to make every one", d, accepted)
	}
	if c.Transport() != nil {
		t.Error("Client.Transport() is not nil with Base set")
	}
	if s := c.Stats(); s.Origins != nil || !s.BreakerEnabled {
		t.Errorf("Stats = %+v; want no Origins and a breaker", s)
	}
}

// TestBaseBreaker: with Base, the breaker opens after failures against a
// failing server and then keeps calls from the user's transport.
func TestBaseBreaker(t *testing.T) {
	srv := &failingServer{fail: 1 << 30}
	ts, _, _ := startServer(t, h1, srv)
	tr, dials := userTransport(t)
	var rts atomic.Int64
	user := &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		rts.Add(1)
		return tr.RoundTrip(r)
	})}
	c := sdkClient(t, user, breaker.Settings{ConsecutiveFailures: 4, MinRequests: 100, OpenTimeout: time.Hour})

	// Two requests of three attempts each: the fourth failure opens the
	// breaker, which refuses the fifth attempt and is not retried.
	for i := range 2 {
		resp, err := c.HTTP().Get(ts.URL)
		if err == nil {
			resp.Body.Close()
		}
		if i == 1 && !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("second GET: err = %v; want breaker.ErrOpen", err)
		}
	}
	if got := c.Breaker().State(); got != breaker.StateOpen {
		t.Fatalf("breaker %v; want open", got)
	}
	before := srv.n.Load()
	if _, _, err := getBody(c.HTTP(), ts.URL); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("GET with the breaker open: err = %v; want breaker.ErrOpen", err)
	}
	if got := srv.n.Load(); got != before || got != 4 {
		t.Errorf("server got %d requests (%d before the last GET); want 4", got, before)
	}
	if got := rts.Load(); got != 4 {
		t.Errorf("user's transport called %d times; want 4", got)
	}
	if dials.Load() == 0 {
		t.Error("user's transport dialed nothing")
	}
}

// TestBaseDefaultTransport: http.DefaultTransport works as Base.
func TestBaseDefaultTransport(t *testing.T) {
	ts, _, _ := startServer(t, h1, &failingServer{})
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
	c := sdkClient(t, &http.Client{}, breaker.Settings{})
	if code, body, err := getBody(c.HTTP(), ts.URL); err != nil || code != 200 || body != "ok" {
		t.Fatalf("GET = %d %q, %v; want 200 ok", code, body, err)
	}
}

// TestBaseClose: Close leaves the user's transport usable and makes later
// requests through the client fail with ErrClosed, unretried.
func TestBaseClose(t *testing.T) {
	srv := &failingServer{}
	ts, _, _ := startServer(t, h1, srv)
	tr, _ := userTransport(t)
	c := sdkClient(t, &http.Client{Transport: tr}, breaker.Settings{})
	if _, _, err := getBody(c.HTTP(), ts.URL); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, _, err := getBody(c.HTTP(), ts.URL); !errors.Is(err, ErrClosed) {
		t.Fatalf("GET after Close: err = %v; want ErrClosed", err)
	}
	if _, _, err := getBody(&http.Client{Transport: tr}, ts.URL); err != nil {
		t.Fatalf("user's transport after Close: %v", err)
	}
	if got := srv.n.Load(); got != 2 {
		t.Errorf("server got %d requests; want 2", got)
	}
}

// TestBaseWrapOrder: Wrap wraps Base, under retry.
func TestBaseWrapOrder(t *testing.T) {
	srv := &failingServer{fail: 1}
	ts, _, _ := startServer(t, h1, srv)
	tr, _ := userTransport(t)
	inner := &attemptWrapper{}
	c := newTestClient(t, Config{Name: "pay", Base: tr, Wrap: inner.wrap, Retry: fastRetry(2), DisableRetryBudget: true})
	if code, _, err := getBody(c.HTTP(), ts.URL); err != nil || code != 200 {
		t.Fatalf("GET = %d, %v", code, err)
	}
	if got := srv.seen(); len(got) != 2 || got[1] != "Bearer token-2" {
		t.Errorf("server saw %q; want two attempts, the second stamped token-2", got)
	}
}

func TestBaseRefusesTransportSettings(t *testing.T) {
	preset, err := PresetSteady.Config("pay", "")
	if err != nil {
		t.Fatal(err)
	}
	preset.Base = http.DefaultTransport
	for _, tt := range []struct {
		name  string
		cfg   Config
		field string
		value string
	}{
		{"MaxSize", Config{Name: "pay", Base: http.DefaultTransport, Transport: TransportConfig{MaxSize: 4}}, "Transport.MaxSize", "4"},
		{"duration", Config{Name: "pay", Base: http.DefaultTransport, Transport: TransportConfig{DialTimeout: time.Second}}, "Transport.DialTimeout", "1s"},
		{"func", Config{Name: "pay", Base: http.DefaultTransport, Transport: TransportConfig{Proxy: noProxy}}, "Transport.Proxy", "set"},
		{"Name", Config{Name: "pay", Base: http.DefaultTransport, Transport: TransportConfig{Name: "x"}}, "Transport.Name", "x"},
		{"preset", preset, "Transport.", ""},
		{"nil pointer", Config{Name: "pay", Base: (*http.Transport)(nil)}, "Base", "(*http.Transport)(nil)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			var ce *ClientConfigError
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Field, tt.field) {
				t.Fatalf("Validate = %v; want a *ClientConfigError for %s", err, tt.field)
			}
			if tt.value != "" && ce.Value != nil && !strings.Contains(err.Error(), tt.field+" = "+tt.value+":") {
				t.Errorf("message %q lacks %q", err, tt.field+" = "+tt.value)
			}
			if ce.Field != "Base" && !strings.Contains(ce.Reason, "must be zero when Base is set") {
				t.Errorf("reason %q does not say why", ce.Reason)
			}
			if c, err := NewClient(tt.cfg); err == nil {
				c.Close()
				t.Error("NewClient: no error")
			}
		})
	}
	// With Base, a zero Transport is valid.
	if err := (Config{Name: "pay", Base: http.DefaultTransport}).Validate(); err != nil {
		t.Errorf("Validate with Base and a zero Transport: %v", err)
	}
}
