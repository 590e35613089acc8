package httpclient

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A request whose handler aborts the connection on a FRESH connection must
// not be replayed (doc.go: "a request on a fresh connection is never replayed").
func TestAbortOnFreshConnNotReplayed(t *testing.T) {
	for _, p := range []proto{h1, h2TLS} {
		t.Run(p.String(), func(t *testing.T) {
			var hits atomic.Int32
			srv, _, cfg := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				panic(http.ErrAbortHandler)
			}))
			srv.Config.ErrorLog = nil
			tr := newTransport(t, cfg)
			_, _, err := get(tr, srv.URL)
			if err == nil {
				t.Fatal("want error")
			}
			if n := hits.Load(); n != 1 {
				t.Fatalf("server saw the GET %d times (err %v)", n, err)
			}
		})
	}
}

// Close must not wait closeTimeout (10s) because a caller still holds an
// HTTP/2 response body: Close says requests in flight fail.
func TestCloseWithOpenH2BodyDoesNotWait(t *testing.T) {
	srv, _, cfg := startServer(t, h2TLS, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	tr, err := NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	err = tr.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v, err %v", d, err)
	}
}

// AcquireTimeout bounds each request's wait; the first-connection gate
// makes concurrent first requests wait one after another.
func TestFirstConnGateBoundedByAcquireTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks TLS
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	tr := newTransport(t, TransportConfig{Proxy: noProxy, AcquireTimeout: 200 * time.Millisecond, TLSHandshakeTimeout: 5 * time.Second})
	var wg sync.WaitGroup
	var worst atomic.Int64
	for range 5 {
		wg.Go(func() {
			start := time.Now()
			req, _ := http.NewRequest("GET", "https://"+ln.Addr().String(), nil)
			_, err := tr.RoundTrip(req)
			if err == nil {
				t.Error("want error")
			}
			d := time.Since(start)
			for {
				w := worst.Load()
				if int64(d) <= w || worst.CompareAndSwap(w, int64(d)) {
					break
				}
			}
		})
	}
	wg.Wait()
	if d := time.Duration(worst.Load()); d > 600*time.Millisecond {
		t.Fatalf("AcquireTimeout 200ms, but a request waited %v", d)
	}
}

// A request that fails on a connection that stays usable (net/http rejects
// an invalid header before sending) races with the next holder of that
// connection: endLease reads c.res after the state hook gave it back.
func TestEndLeaseAfterHandBackNoRace(t *testing.T) {
	srv, _, cfg := startServer(t, h1, http.HandlerFunc(okHandler))
	cfg.MaxSize = 1
	cfg.AcquireTimeout = 2 * time.Second
	tr := newTransport(t, cfg)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := get(tr, srv.URL); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 3000 {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("x"))
		req.Header.Set("X-Bad", "a\nb")
		if resp, err := tr.RoundTrip(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	close(stop)
	wg.Wait()
}

// Plain GETs, MaxSize 1, contended: the state hook that gives a connection
// back hands it to a waiter; if the waiter's whole request ends while that
// hook still runs, net/http's debounced hook never fires for it, and the
// connection stays leased forever.
func TestStateHookHandOffNoLeak(t *testing.T) {
	srv, _, cfg := startServer(t, h1, http.HandlerFunc(okHandler))
	cfg.MaxSize = 1
	cfg.AcquireTimeout = 3 * time.Second
	tr := newTransport(t, cfg)
	_, err := hammer(tr, srv.URL, 20000, 16, nil)
	if err != nil {
		t.Fatalf("%v; stats %+v", err, tr.Stats())
	}
}

// Reused HTTP/2 connection, handler aborts (RST_STREAM INTERNAL_ERROR):
// the GET is sent again and again.
func TestH2AbortOnReusedConnReplayBounded(t *testing.T) {
	var hits atomic.Int32
	srv, _, cfg := startServer(t, h2TLS, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			hits.Add(1)
			panic(http.ErrAbortHandler)
		}
	}))
	tr := newTransport(t, cfg)
	if _, _, err := get(tr, srv.URL); err != nil {
		t.Fatal(err)
	}
	_, _, err := get(tr, srv.URL+"/abort")
	if n := hits.Load(); n != 1 {
		t.Fatalf("server saw the GET %d times (err %v)", n, err)
	}
}
