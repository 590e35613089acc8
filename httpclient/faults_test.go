package httpclient

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestServerClosesIdleConnections: a server that drops connections idle
// for a millisecond must cost callers nothing.
func TestServerClosesIdleConnections(t *testing.T) {
	srv, cnt, cfg := startServer(t, h1, http.HandlerFunc(okHandler), func(s *http.Server) {
		s.IdleTimeout = time.Millisecond
	})
	cfg.MaxSize = 4
	tr := newTransport(t, cfg)
	for i := range 200 {
		if _, _, err := get(tr, srv.URL); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if i%4 == 0 {
			time.Sleep(2 * time.Millisecond) // let the server's idle timer fire
		}
	}
	failures, err := hammer(tr, srv.URL, 2000, 16, nil)
	if failures > 0 {
		t.Fatalf("%d requests failed; first: %v", failures, err)
	}
	_, accepted := cnt.get()
	st := tr.Stats()[originOf(srv.URL)]
	if accepted <= 4 {
		t.Errorf("server accepted %d connections; the idle closes did not happen", accepted)
	}
	t.Logf("server accepted %d connections; replays %d; destroyed %+v", accepted, st.Replays, st.Pool.Destroyed)
}

// TestConnectionCloseEveryN: a server that answers "Connection: close"
// every 5th request; the connection is retired after that response and
// nothing fails.
func TestConnectionCloseEveryN(t *testing.T) {
	var n atomic.Int64
	srv, cnt, cfg := startServer(t, h1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			w.Header().Set("Connection", "close")
		}
		okHandler(w, r)
	}))
	cfg.MaxSize = 8
	tr := newTransport(t, cfg)
	failures, err := hammer(tr, srv.URL, 3000, 32, nil)
	if failures > 0 {
		t.Fatalf("%d requests failed; first: %v", failures, err)
	}
	maxOpen, accepted := cnt.get()
	if accepted < 3000/5 {
		t.Errorf("server accepted %d connections, want >= %d (one per Connection: close)", accepted, 3000/5)
	}
	// A retired connection may still be closing on the server's side
	// while its successor is accepted.
	if maxOpen > 2*8 {
		t.Errorf("server saw %d connections at once, want about MaxSize 8", maxOpen)
	}
	st := tr.Stats()[originOf(srv.URL)]
	if st.Pool.Open > 8 {
		t.Errorf("pool open %d > MaxSize", st.Pool.Open)
	}
}

// TestResponseHeaderTimeout: a stalled server trips ResponseHeaderTimeout,
// the error says so, the request is not replayed, and the next request is
// served.
func TestResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	var stalled atomic.Int64
	srv, _, cfg := startServer(t, h1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			stalled.Add(1)
			<-release
		}
		okHandler(w, r)
	}))
	defer close(release)
	cfg.ResponseHeaderTimeout = 50 * time.Millisecond
	tr := newTransport(t, cfg)
	if _, _, err := get(tr, srv.URL); err != nil { // a reused connection next
		t.Fatal(err)
	}
	_, _, err := get(tr, srv.URL+"/stall")
	if err == nil || !strings.Contains(err.Error(), "timeout awaiting response headers") {
		t.Fatalf("got %v, want a response header timeout", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v is not a net.Error timeout", err)
	}
	if n := stalled.Load(); n != 1 {
		t.Errorf("stalled request reached the server %d times, want 1 (timeouts are not replayed)", n)
	}
	if _, body, err := get(tr, srv.URL); err != nil || !strings.HasPrefix(body, "hello") {
		t.Fatalf("after the timeout: %q, %v", body, err)
	}
	st := tr.Stats()[originOf(srv.URL)]
	if st.Pool.Destroyed.Broken != 1 || st.Failures != 1 {
		t.Errorf("destroyed broken %d, failures %d; want 1, 1", st.Pool.Destroyed.Broken, st.Failures)
	}
}

// TestResetMidBody: the server resets the connection halfway through a
// body; the caller's read fails, the connection is destroyed, the next
// request works.
func TestResetMidBody(t *testing.T) {
	srv, _, cfg := startServer(t, h1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/reset" {
			okHandler(w, r)
			return
		}
		nc, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n%s", strings.Repeat("x", 1000))
		bw.Flush()
		nc.(*net.TCPConn).SetLinger(0)
		nc.Close()
	}))
	cfg.MaxSize = 1
	tr := newTransport(t, cfg)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/reset", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("headers should arrive: %v", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n >= 100000 {
		t.Fatalf("read %d bytes, err %v; want an error before the end", n, err)
	}
	// MaxSize 1: the next request gets a connection only if the broken one
	// was given back.
	if _, body, err := get(tr, srv.URL); err != nil || !strings.HasPrefix(body, "hello") {
		t.Fatalf("after the reset: %q, %v", body, err)
	}
	st := tr.Stats()[originOf(srv.URL)]
	if st.Pool.Destroyed.Total() != 1 || st.Pool.Created != 2 {
		t.Errorf("destroyed %+v, created %d; want one destroyed, two created", st.Pool.Destroyed, st.Pool.Created)
	}
}
