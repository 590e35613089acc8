package breaker_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/internal/memnet"
)

// flakyHandler answers 503 while down is true, 200 otherwise, and counts the
// requests that reach it.
type flakyHandler struct {
	down     atomic.Bool
	requests atomic.Int64
}

func (h *flakyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if r.URL.Path == "/missing" {
		http.Error(w, "no such thing", http.StatusNotFound)
		return
	}
	if h.down.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok")
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, string(body), nil
}

func TestTransportOpensAndStopsTouchingNetwork(t *testing.T) {
	h := &flakyHandler{}
	h.down.Store(true)
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()

	b := mustNew(t, "inventory", breaker.Settings{ConsecutiveFailures: 3, OpenTimeout: time.Hour})
	c := &http.Client{Transport: breaker.NewTransport(tr, b, nil)}

	// 4xx responses are excluded: they neither trip nor reset the breaker.
	for range 5 {
		resp, _, err := get(t, c, srv.URL+"/missing")
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET /missing = %v, %v", resp, err)
		}
	}
	for i := range 3 {
		resp, body, err := get(t, c, srv.URL)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		// A 5xx is a failure for the breaker but still reaches the caller.
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "maintenance") {
			t.Fatalf("request %d: %d %q; want the 503 response", i, resp.StatusCode, body)
		}
	}
	if b.State() != breaker.StateOpen {
		t.Fatalf("after 3 503s: state %v; want open", b.State())
	}
	reached := h.requests.Load()
	for range 10 {
		_, _, err := get(t, c, srv.URL)
		var oe *breaker.OpenError
		if !errors.As(err, &oe) || !errors.Is(err, breaker.ErrOpen) || oe.Service != "inventory" {
			t.Fatalf("GET while open: err = %v; want *OpenError for inventory", err)
		}
	}
	if got := h.requests.Load(); got != reached {
		t.Fatalf("server saw %d new requests while the breaker was open; want 0", got-reached)
	}
}

func TestTransportCallerCancellationExcluded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()

	b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 1})
	c := &http.Client{Transport: breaker.NewTransport(tr, b, nil)}
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		go cancel()
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Fatal("want an error from a cancelled request")
		}
	}
	if b.State() != breaker.StateClosed || b.Counts().TotalFailures != 0 {
		t.Fatalf("after cancellations: state %v counts %+v; want closed, no failures", b.State(), b.Counts())
	}
}

func TestTransportHalfOpenRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &flakyHandler{}
		h.down.Store(true)
		tr := memnet.Serve(t, h)
		const timeout = 30 * time.Second
		b := mustNew(t, "payment", breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: timeout, HalfOpenProbes: 2})
		c := &http.Client{Transport: breaker.NewTransport(tr, b, nil)}
		const url = "http://payment.test/"

		for range 2 {
			if _, _, err := get(t, c, url); err != nil {
				t.Fatal(err)
			}
		}
		if b.State() != breaker.StateOpen {
			t.Fatalf("state %v; want open", b.State())
		}
		h.down.Store(false) // the downstream recovers, but nobody knows yet
		reached := h.requests.Load()
		time.Sleep(timeout / 2)
		if _, _, err := get(t, c, url); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("halfway through the open timeout: err = %v; want ErrOpen", err)
		}
		if h.requests.Load() != reached {
			t.Fatal("a request reached the server while open")
		}

		time.Sleep(timeout / 2)
		time.Sleep(time.Nanosecond) // past RetryAt
		for i := range 2 {
			resp, body, err := get(t, c, url)
			if err != nil || resp.StatusCode != http.StatusOK || body != "ok" {
				t.Fatalf("probe %d: %v %q %v", i, resp, body, err)
			}
		}
		if b.State() != breaker.StateClosed {
			t.Fatalf("after 2 good probes: state %v; want closed", b.State())
		}
		if got := h.requests.Load() - reached; got != 2 {
			t.Fatalf("server saw %d probes; want 2", got)
		}
	})
}

type panicTransport struct{}

func (panicTransport) RoundTrip(*http.Request) (*http.Response, error) { panic("transport bug") }

func TestTransportPanicFreesProbe(t *testing.T) {
	b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 1})
	tr := breaker.NewTransport(panicTransport{}, b, nil)
	req := httptest.NewRequest(http.MethodGet, "http://x.test/", nil)
	func() {
		defer func() { recover() }()
		tr.RoundTrip(req)
	}()
	if b.State() != breaker.StateOpen {
		t.Fatalf("panicking transport: state %v; want open (counted as failure)", b.State())
	}
}

type bodyCloseRecorder struct {
	io.Reader
	closed bool
}

func (b *bodyCloseRecorder) Close() error { b.closed = true; return nil }

func TestTransportClosesBodyWhenRejecting(t *testing.T) {
	b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 1})
	call(b, errBoom)
	body := &bodyCloseRecorder{Reader: strings.NewReader("payload")}
	req := httptest.NewRequest(http.MethodPost, "http://x.test/", body)
	tr := breaker.NewTransport(panicTransport{}, b, nil) // must not be called
	if _, err := tr.RoundTrip(req); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("err = %v; want ErrOpen", err)
	}
	if !body.closed {
		t.Error("request body not closed on rejection")
	}
}
