package httpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/retry"
)

// memClient is a Client for cfg (Name "payment" unless set) on a memNet
// serving sleepHandler over p, for a synctest bubble: the caller closes
// both before the bubble ends.
func memClient(t *testing.T, p proto, cfg Config) (*Client, *memNet) {
	t.Helper()
	n, tc := startMemNet(p, http.HandlerFunc(sleepHandler))
	cfg.Transport.DialContext, cfg.Transport.Proxy, cfg.Transport.Protocols = tc.DialContext, tc.Proxy, tc.Protocols
	if cfg.Name == "" {
		cfg.Name = "payment"
	}
	cfg.BaseURL = memURL
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, n
}

// calls runs k requests answered after d at once through c and returns
// their errors.
func calls(c *Client, k int, d time.Duration) []error {
	errs := make([]error, k)
	var wg sync.WaitGroup
	for i := range k {
		wg.Go(func() {
			_, _, errs[i] = call(c, context.Background(), http.MethodGet, "/?sleep="+d.String(), nil, nil)
		})
	}
	wg.Wait()
	return errs
}

// TestSynctestClientAcquireTimeout: inside a Client, whose Timeout always
// gives requests a deadline, AcquireTimeout still bounds the wait for a
// connection: min(request deadline, AcquireTimeout). 40 calls of 100ms on
// 8 connections with AcquireTimeout 250ms: those that would wait 300ms or
// more fail fast with ErrAcquireTimeout, naming the service.
func TestSynctestClientAcquireTimeout(t *testing.T) {
	for _, p := range []proto{h1} {
		t.Run(p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, n := memClient(t, p, Config{
					Transport:      TransportConfig{MaxSize: 8, AcquireTimeout: 250 * time.Millisecond},
					DisableRetry:   true,
					DisableBreaker: true,
				})
				errs := calls(c, 40, 100*time.Millisecond)
				timeouts := 0
				for _, err := range errs {
					switch {
					case err == nil:
					case errors.Is(err, pool.ErrAcquireTimeout):
						timeouts++
						if !strings.Contains(err.Error(), `"payment http://mem.test:80"`) {
							t.Errorf("error %q does not name the service's pool", err)
						}
					default:
						t.Errorf("unexpected error: %v", err)
					}
				}
				if p == h1 && timeouts != 16 {
					t.Errorf("%d of 40 calls timed out waiting for a connection, want 16", timeouts)
				}
				if timeouts == 0 {
					t.Error("no call timed out waiting: AcquireTimeout did not apply under the client's Timeout")
				}
				c.Close()
				n.close()
			})
		})
	}
}

// TestSynctestClientWaitNotBreakerFailure: callers waiting in vain for the
// client's own connections (MaxSize 1, 20 callers, AcquireTimeout 50ms)
// say nothing about the downstream: the breaker stays closed.
func TestSynctestClientWaitNotBreakerFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, n := memClient(t, h1, Config{
			Transport:    TransportConfig{MaxSize: 1, AcquireTimeout: 50 * time.Millisecond},
			Breaker:      breaker.Settings{ConsecutiveFailures: 3, MinRequests: 3, FailureRatio: 0.1},
			DisableRetry: true,
		})
		timeouts := 0
		for _, err := range calls(c, 20, 100*time.Millisecond) {
			if errors.Is(err, pool.ErrAcquireTimeout) {
				timeouts++
			} else if err != nil {
				t.Errorf("unexpected error: %v", err)
			}
		}
		if timeouts == 0 {
			t.Fatal("no wait timed out: the test proves nothing")
		}
		if st := c.Breaker().State(); st != breaker.StateClosed {
			t.Errorf("breaker %v after %d waits for the client's own connection timed out", st, timeouts)
		}
		c.Close()
		n.close()
	})
}

// TestSynctestClientClosedNotRetried: a call on a closed Client fails with
// ErrClosed at once, without retries or backoff.
func TestSynctestClientClosedNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts atomic.Int32
		c, n := memClient(t, h1, Config{
			Retry: retry.Policy{MaxAttempts: 5, InitialBackoff: time.Second, MaxBackoff: time.Second},
		})
		c.Close()
		tr := c.http.Transport
		c.http.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			attempts.Add(1)
			return tr.RoundTrip(r)
		})
		start := time.Now()
		_, _, err := call(c, context.Background(), http.MethodGet, "/", nil, nil)
		if !errors.Is(err, ErrClosed) {
			t.Errorf("err = %v, want ErrClosed", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("the call took %v: it was retried with backoff", d)
		}
		n.close()
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSynctestLeakReport: with LeakThreshold set, a response body neither
// read nor closed is reported through Logger with the stack that made the
// request.
func TestSynctestLeakReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		var mu sync.Mutex
		logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
		n, cfg := startMemNet(h1, http.HandlerFunc(sleepHandler))
		cfg.LeakThreshold = time.Second
		cfg.Logger = logger
		tr := mustTransport(t, cfg)
		req, _ := http.NewRequest(http.MethodGet, memURL+"/leaky", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		var rec struct {
			Msg   string   `json:"msg"`
			Pool  string   `json:"pool"`
			Stack []string `json:"stack"` // one "function file:line" per frame
		}
		if err := json.Unmarshal([]byte(out), &rec); err != nil {
			t.Fatalf("log is not one JSON record with a list as stack: %v\n%s", err, out)
		}
		if !strings.Contains(rec.Msg, "neither read to EOF nor closed") || !strings.Contains(rec.Pool, "mem.test") {
			t.Errorf("leak report msg %q, pool %q; want the body warning and the origin's pool", rec.Msg, rec.Pool)
		}
		found := false
		for _, f := range rec.Stack {
			fn, at, ok := strings.Cut(f, " ")
			if !ok || strings.ContainsAny(f, "\n\t") || !strings.Contains(at, ":") {
				t.Errorf("stack frame %q; want \"function file:line\"", f)
			}
			found = found || strings.HasSuffix(fn, ".TestSynctestLeakReport.func1")
		}
		if !found {
			t.Errorf("no frame of the request's caller in %q", rec.Stack)
		}
		resp.Body.Close()
		closeAll(t, tr, n)
	})
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestSynctestMaxWaiters: with MaxWaiters set, a request that would wait
// behind that many others fails at once with ErrWaitQueueFull (HTTP/1:
// waiting for a connection; HTTP/2: for a stream).
func TestSynctestMaxWaiters(t *testing.T) {
	for _, p := range protos {
		t.Run(p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n, cfg := startMemNet(p, http.HandlerFunc(sleepHandler))
				if p == h2c {
					n.srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1}
				}
				cfg.MaxSize, cfg.MaxWaiters = 1, 1
				tr := mustTransport(t, cfg)
				if err := sleepGet(tr, 0); err != nil { // the connection, and its protocol, known
					t.Fatal(err)
				}
				errs := make(chan error, 3)
				for range 3 {
					go func() { errs <- sleepGet(tr, time.Second) }()
					synctest.Wait()
				}
				full := 0
				for range 3 {
					if err := <-errs; errors.Is(err, pool.ErrWaitQueueFull) {
						full++
					} else if err != nil {
						t.Errorf("unexpected error: %v", err)
					}
				}
				if full != 1 {
					t.Errorf("%d requests refused with ErrWaitQueueFull, want 1", full)
				}
				closeAll(t, tr, n)
			})
		})
	}
}

// TestStatusShowsEffectiveLimits: what the status page shows of an
// origin's pool is what is in effect, the pool's defaults applied.
func TestStatusShowsEffectiveLimits(t *testing.T) {
	tr := newTransport(t, TransportConfig{MaxSize: 6, MaxLifetime: time.Minute, LeakThreshold: time.Second})
	st := tr.poolStatus()
	if st.MaxSize != 6 || st.MaxIdle != 6 || st.MaxLifetimeJitter == 0 || st.CheckAfterIdle != pool.DefaultCheckAfterIdle ||
		st.LeakThreshold != time.Second || st.MaxConcurrentCreates == 0 {
		t.Errorf("status shows %+v; want the values in effect", st)
	}
}
