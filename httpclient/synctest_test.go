package httpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// memNet is an in-memory network for tests in a synctest bubble: a
// listener whose connections are net.Pipe ends handed over by dial, and an
// http.Server serving them that records every connection's life.
type memNet struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	srv   *http.Server
	serve sync.WaitGroup

	mu    sync.Mutex
	lives map[net.Conn]*connLife
	order []*connLife
}

// connLife is one server-side connection: when it was accepted and closed,
// and how many requests it served.
type connLife struct {
	opened, closed time.Time
	requests       int
}

func (l *connLife) age() time.Duration { return l.closed.Sub(l.opened) }

// memAddr is the address of a memNet listener.
type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

// startMemNet serves h over an in-memory network; p is h1 or h2c. It
// returns the network and a TransportConfig that dials it. Call close
// before the bubble ends.
func startMemNet(p proto, h http.Handler) (*memNet, TransportConfig) {
	n := &memNet{
		conns: make(chan net.Conn),
		done:  make(chan struct{}),
		lives: map[net.Conn]*connLife{},
	}
	n.srv = &http.Server{Handler: h, ConnState: n.connState}
	cfg := TransportConfig{Proxy: noProxy, DialContext: n.dial, ResponseHeaderTimeout: -1}
	if p == h2c {
		ps := new(http.Protocols)
		ps.SetUnencryptedHTTP2(true)
		n.srv.Protocols = ps
		pc := new(http.Protocols)
		pc.SetUnencryptedHTTP2(true)
		cfg.Protocols = pc
	}
	n.serve.Go(func() { n.srv.Serve(n) })
	return n, cfg
}

func (n *memNet) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.done:
		return nil, net.ErrClosed
	}
}

func (n *memNet) Close() error {
	n.once.Do(func() { close(n.done) })
	return nil
}

func (n *memNet) Addr() net.Addr { return memAddr{} }

func (n *memNet) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case n.conns <- s:
		return c, nil
	case <-n.done:
	case <-ctx.Done():
	}
	c.Close()
	s.Close()
	return nil, errors.New("memNet: dial refused")
}

func (n *memNet) connState(c net.Conn, s http.ConnState) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch s {
	case http.StateNew:
		l := &connLife{opened: time.Now()}
		n.lives[c] = l
		n.order = append(n.order, l)
	case http.StateActive:
		n.lives[c].requests++
	case http.StateClosed, http.StateHijacked:
		n.lives[c].closed = time.Now()
		delete(n.lives, c)
	}
}

// open returns how many connections the server has open now.
func (n *memNet) open() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.lives)
}

// history returns every connection the server accepted, oldest first.
func (n *memNet) history() []connLife {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := make([]connLife, len(n.order))
	for i, l := range n.order {
		h[i] = *l
	}
	return h
}

// close stops the server and closes its connections.
func (n *memNet) close() {
	n.srv.Close()
	n.Close()
	n.serve.Wait()
}

// memURL is the origin every memNet test talks to; dial ignores it.
const memURL = "http://mem.test"

// sleepHandler answers after sleeping for the "sleep" query parameter (a
// duration, in the bubble's fake time), then writes "ok".
func sleepHandler(w http.ResponseWriter, r *http.Request) {
	if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil && d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done(): // the connection closed
			return
		}
	}
	io.WriteString(w, "ok")
}

// sleepGet sends a GET that the server answers after d and checks the
// body.
func sleepGet(rt http.RoundTripper, d time.Duration) error {
	resp, body, err := get(rt, memURL+"/?sleep="+d.String())
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || body != "ok" {
		return fmt.Errorf("got %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
	return nil
}

// mustTransport is newTransport for a bubble, where t.Cleanup runs too
// late: the caller closes the transport (closeAll) before the bubble ends.
func mustTransport(t *testing.T, cfg TransportConfig) *Transport {
	t.Helper()
	tr, err := NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// closeAll closes the transport, then the server.
func closeAll(t *testing.T, tr *Transport, n *memNet) {
	t.Helper()
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	n.close()
}

// concurrently runs k requests answered after d at once and returns the
// first error.
func concurrently(rt http.RoundTripper, k int, d time.Duration) error {
	errs := make(chan error, k)
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() { errs <- sleepGet(rt, d) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

var protos = []proto{h1, h2c}

// warmN opens k connections to memURL at once, whatever MinSize is.
func warmN(tr *Transport, k int) error {
	o, err := tr.originFor(&url.URL{Scheme: "http", Host: "mem.test"})
	if err != nil {
		return err
	}
	return o.warm(context.Background(), k)
}

// TestSynctestIdleTimeout: connections idle for IdleTimeout are closed,
// never taking the origin below MinSize, and not before.
func TestSynctestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, cfg := startMemNet(h1, http.HandlerFunc(sleepHandler))
		cfg.MinSize = 2
		cfg.MaxSize = 8
		cfg.IdleTimeout = 30 * time.Second
		cfg.MaxLifetime = 0
		tr := mustTransport(t, cfg)
		defer closeAll(t, tr, n)

		// Six requests at once hold six connections for a second.
		if err := concurrently(tr, 6, time.Second); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := n.open(); got != 6 {
			t.Fatalf("server has %d connections open after 6 concurrent requests, want 6", got)
		}
		time.Sleep(cfg.IdleTimeout - time.Second)
		synctest.Wait()
		if got := n.open(); got != 6 {
			t.Fatalf("server has %d connections open just before IdleTimeout, want 6", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := n.open(); got != cfg.MinSize {
			t.Fatalf("server has %d connections open after IdleTimeout, want MinSize %d", got, cfg.MinSize)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		st := tr.Stats()[originOf(memURL)]
		if got := n.open(); got != cfg.MinSize || st.Pool.Open != cfg.MinSize {
			t.Fatalf("ten minutes later: server has %d open, pool %d; want MinSize %d", got, st.Pool.Open, cfg.MinSize)
		}
		if st.Pool.Destroyed.Idle != 4 || st.Pool.Created != 6 {
			t.Errorf("created %d, destroyed idle %d; want 6, 4", st.Pool.Created, st.Pool.Destroyed.Idle)
		}
		// The survivors still serve.
		if err := sleepGet(tr, 0); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSynctestMaxLifetime: a connection is retired between MaxLifetime -
// MaxLifetimeJitter and MaxLifetime when idle, and never while a request
// is in flight on it: then it goes when the request is done, and the
// request succeeds.
func TestSynctestMaxLifetime(t *testing.T) {
	for _, p := range protos {
		t.Run(p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const (
					lifetime = 10 * time.Minute
					jitter   = time.Minute
					long     = 15 * time.Minute
				)
				n, cfg := startMemNet(p, http.HandlerFunc(sleepHandler))
				cfg.MaxSize = 8
				cfg.IdleTimeout = 0
				cfg.MaxLifetime = lifetime
				cfg.MaxLifetimeJitter = jitter
				tr := mustTransport(t, cfg)
				defer closeAll(t, tr, n)

				// Four connections, opened together.
				start := time.Now()
				if err := warmN(tr, 4); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if got := n.open(); got != 4 {
					t.Fatalf("%d connections open, want 4", got)
				}
				// A long request on one of them outlives its lifetime.
				longDone := make(chan error, 1)
				go func() { longDone <- sleepGet(tr, long) }()
				synctest.Wait()
				time.Sleep(lifetime + time.Minute)
				synctest.Wait()
				// The idle ones are gone, each within its jittered
				// lifetime; the busy one is still open.
				if got := n.open(); got != 1 {
					t.Fatalf("%v after start: %d connections open, want only the busy one; history %+v; stats %+v", time.Since(start), got, n.history(), tr.Stats())
				}
				select {
				case err := <-longDone:
					t.Fatalf("the long request ended before its time: %v", err)
				default:
				}
				if err := <-longDone; err != nil {
					t.Fatalf("long request across MaxLifetime: %v", err)
				}
				synctest.Wait()
				if got := n.open(); got != 0 {
					t.Fatalf("%d connections open after the long request, want 0 (expired)", got)
				}
				h := n.history()
				ages := map[time.Duration]bool{}
				busy := 0
				for _, l := range h {
					switch age := l.age(); {
					case age >= lifetime-jitter && age <= lifetime:
						ages[age] = true
					case age >= long && l.closed.Sub(start) >= long:
						busy++ // the long request's: closed at its end
					default:
						t.Errorf("connection closed at age %v; want within [%v, %v] or after the long request", age, lifetime-jitter, lifetime)
					}
				}
				if busy != 1 {
					t.Errorf("%d connections outlived MaxLifetime, want exactly the busy one; history %+v", busy, h)
				}
				if len(ages) < 2 {
					t.Errorf("idle connections all retired at the same age %v: no jitter", ages)
				}
				st := tr.Stats()[originOf(memURL)]
				if st.Failures != 0 || st.Pool.Destroyed.Lifetime != uint64(len(h)) {
					t.Errorf("failures %d, lifetime retirements %d; want 0, %d", st.Failures, st.Pool.Destroyed.Lifetime, len(h))
				}
			})
		})
	}
}

// TestSynctestMinSize: MinSize connections are opened in the background
// when an origin is first used, and Warm opens them before any request, so
// that the requests that follow dial nothing.
func TestSynctestMinSize(t *testing.T) {
	for _, p := range protos {
		t.Run(p.String()+"/first-use", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n, cfg := startMemNet(p, http.HandlerFunc(sleepHandler))
				cfg.MinSize = 3
				tr := mustTransport(t, cfg)
				defer closeAll(t, tr, n)
				if err := sleepGet(tr, 0); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				st := tr.Stats()[originOf(memURL)]
				if got := n.open(); got != 3 || st.Pool.Open != 3 || st.Pool.Created != 3 {
					t.Fatalf("after the first request: server has %d open, pool open %d, created %d; want MinSize 3",
						got, st.Pool.Open, st.Pool.Created)
				}
			})
		})
		t.Run(p.String()+"/Warm", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n, cfg := startMemNet(p, http.HandlerFunc(sleepHandler))
				cfg.MinSize = 4
				cfg.MaxSize = 4
				tr := mustTransport(t, cfg)
				defer closeAll(t, tr, n)
				if err := tr.Warm(t.Context(), memURL+"/ignored/path"); err != nil {
					t.Fatal(err)
				}
				// Warm has waited for them: no synctest.Wait before
				// looking at the pool. (The server may not have
				// recorded them yet: HTTP/1 has no handshake.)
				st := tr.Stats()[originOf(memURL)]
				if st.Pool.Open != 4 || st.Pool.Idle != 4 || st.Pool.Created != 4 {
					t.Fatalf("after Warm: pool open %d, idle %d, created %d; want 4, 4, 4", st.Pool.Open, st.Pool.Idle, st.Pool.Created)
				}
				synctest.Wait()
				if got := n.open(); got != 4 {
					t.Fatalf("after Warm: %d connections open at the server, want 4", got)
				}
				// HTTP/1: four requests at once take the four warm
				// connections; HTTP/2: they share one. Neither dials.
				if err := concurrently(tr, 4, time.Second); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if got := len(n.history()); got != 4 {
					t.Errorf("the server accepted %d connections in all, want the 4 warm ones", got)
				}
				// Warming again opens nothing more.
				if err := tr.Warm(t.Context(), memURL); err != nil {
					t.Fatal(err)
				}
				if got := len(n.history()); got != 4 {
					t.Errorf("a second Warm: the server accepted %d connections in all, want 4", got)
				}
			})
		})
	}
}

// TestSynctestWarmZeroMinSize: with MinSize zero, Warm opens one
// connection.
func TestSynctestWarmZeroMinSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, cfg := startMemNet(h1, http.HandlerFunc(sleepHandler))
		tr := mustTransport(t, cfg)
		defer closeAll(t, tr, n)
		if err := tr.Warm(t.Context(), memURL); err != nil {
			t.Fatal(err)
		}
		if st := tr.Stats()[originOf(memURL)]; st.Pool.Open != 1 || st.Pool.Idle != 1 {
			t.Fatalf("Warm with MinSize 0: pool open %d, idle %d; want 1, 1", st.Pool.Open, st.Pool.Idle)
		}
		synctest.Wait()
		if got := n.open(); got != 1 {
			t.Fatalf("Warm with MinSize 0: %d connections open, want 1", got)
		}
	})
}

// TestSynctestLifetimeRotationUnderLoad: under steady load, connections
// are rotated as they reach MaxLifetime: none lives longer than
// MaxLifetime plus one request's time (the request in flight when it
// expired), and no request fails.
func TestSynctestLifetimeRotationUnderLoad(t *testing.T) {
	for _, p := range protos {
		t.Run(p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const (
					lifetime = time.Minute
					jitter   = 10 * time.Second
					reqTime  = time.Second
					run      = 10 * time.Minute
					workers  = 4
				)
				n, cfg := startMemNet(p, http.HandlerFunc(sleepHandler))
				cfg.MaxSize = workers
				cfg.MaxLifetime = lifetime
				cfg.MaxLifetimeJitter = jitter
				tr := mustTransport(t, cfg)
				defer closeAll(t, tr, n)

				start := time.Now()
				var (
					wg       sync.WaitGroup
					mu       sync.Mutex
					sent     int
					failures []error
				)
				for range workers {
					wg.Go(func() {
						for time.Since(start) < run {
							err := sleepGet(tr, reqTime)
							mu.Lock()
							sent++
							if err != nil {
								failures = append(failures, err)
							}
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				synctest.Wait()
				if len(failures) > 0 {
					t.Fatalf("%d of %d requests failed; first: %v", len(failures), sent, failures[0])
				}
				now := time.Now()
				h := n.history()
				var oldest time.Duration
				for _, l := range h {
					age := l.age()
					if l.closed.IsZero() {
						age = now.Sub(l.opened) // still open
					}
					oldest = max(oldest, age)
					if age > lifetime+reqTime {
						t.Errorf("a connection lived %v (served %d requests), want <= MaxLifetime + one request = %v",
							age, l.requests, lifetime+reqTime)
					}
				}
				st := tr.Stats()[originOf(memURL)]
				// Ten lifetimes went by: each connection slot was
				// rotated at least nine times.
				slots := workers
				if p == h2c {
					slots = 1 // HTTP/2 packs the four workers on one connection
				}
				if len(h) < 9*slots || st.Pool.Destroyed.Lifetime < uint64(9*slots) {
					t.Errorf("%d connections in all, %d retired for lifetime; want >= %d each", len(h), st.Pool.Destroyed.Lifetime, 9*slots)
				}
				if st.Failures != 0 || st.Replays != 0 {
					t.Errorf("stats: %d failures, %d replays; want 0, 0", st.Failures, st.Replays)
				}
				t.Logf("%d requests, %d connections, oldest %v, destroyed %+v", sent, len(h), oldest, st.Pool.Destroyed)
			})
		})
	}
}

// gatedHandler sends its response headers once headers is closed and its
// body once body is closed, or gives up when the connection goes.
func gatedHandler(headers, body <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-headers:
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-body:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "ok")
	}
}

// TestSynctestInFlightStats: InFlight counts requests from the wait for
// headers to the end of the body, Requests counts responses returned, and
// for HTTP/2 the requests share one connection (Shared, Pool.InUse 1)
// which goes back to the pool when they are done.
func TestSynctestInFlightStats(t *testing.T) {
	for _, p := range protos {
		t.Run(p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const k = 10
				headers, body := make(chan struct{}), make(chan struct{})
				n, cfg := startMemNet(p, gatedHandler(headers, body))
				cfg.MaxSize = k
				tr := mustTransport(t, cfg)
				defer closeAll(t, tr, n)
				stats := func() OriginStats { return tr.Stats()[originOf(memURL)] }

				var wg sync.WaitGroup
				errs := make(chan error, k)
				for range k {
					wg.Go(func() {
						req, _ := http.NewRequest(http.MethodGet, memURL, nil)
						resp, err := tr.RoundTrip(req)
						if err != nil {
							errs <- err
							return
						}
						defer resp.Body.Close()
						b, err := io.ReadAll(resp.Body)
						if err == nil && string(b) != "ok" {
							err = fmt.Errorf("body %q, want ok", b)
						}
						errs <- err
					})
				}
				synctest.Wait()
				// Waiting for headers.
				wantInUse, wantShared := k, 0
				if p == h2c {
					wantInUse, wantShared = 1, 1
				}
				st := stats()
				if st.InFlight != k || st.Requests != 0 || st.Shared != wantShared || st.Pool.InUse != wantInUse || st.Pool.Open != wantInUse {
					t.Fatalf("awaiting headers: InFlight %d, Requests %d, Shared %d, InUse %d, Open %d; want %d, 0, %d, %d, %d",
						st.InFlight, st.Requests, st.Shared, st.Pool.InUse, st.Pool.Open, k, wantShared, wantInUse, wantInUse)
				}
				// Responses returned, bodies not yet read.
				close(headers)
				synctest.Wait()
				st = stats()
				if st.InFlight != k || st.Requests != k || st.Shared != wantShared || st.Pool.InUse != wantInUse {
					t.Fatalf("reading bodies: InFlight %d, Requests %d, Shared %d, InUse %d; want %d, %d, %d, %d",
						st.InFlight, st.Requests, st.Shared, st.Pool.InUse, k, k, wantShared, wantInUse)
				}
				// Bodies read and closed.
				close(body)
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				synctest.Wait()
				st = stats()
				if st.InFlight != 0 || st.Requests != k || st.Failures != 0 || st.Shared != 0 || st.Pool.InUse != 0 || st.Pool.Idle != wantInUse {
					t.Fatalf("done: InFlight %d, Requests %d, Failures %d, Shared %d, InUse %d, Idle %d; want 0, %d, 0, 0, 0, %d",
						st.InFlight, st.Requests, st.Failures, st.Shared, st.Pool.InUse, st.Pool.Idle, k, wantInUse)
				}
				wantProto := map[proto]string{h1: "HTTP/1.1", h2c: "HTTP/2"}[p]
				if st.Protocol != wantProto {
					t.Errorf("Protocol = %q, want %q", st.Protocol, wantProto)
				}
			})
		})
	}
}

// TestSynctestCloseInFlight: Close with a request reading its body, one
// awaiting headers and (HTTP/1) one waiting for a connection: Close
// returns, every request ends with an error (the waiting one with
// ErrClosed), later calls get ErrClosed, and no goroutine is left behind
// (the bubble could not end otherwise).
func TestSynctestCloseInFlight(t *testing.T) {
	for _, p := range protos {
		t.Run(p.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// "/body" sends its headers and then stalls; anything
				// else stalls before its headers. Both until the
				// connection goes.
				n, cfg := startMemNet(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/body" {
						w.WriteHeader(http.StatusOK)
						w.(http.Flusher).Flush()
					}
					<-r.Context().Done()
				}))
				defer n.close()
				cfg.MaxSize = 2
				tr := mustTransport(t, cfg)

				req, _ := http.NewRequest(http.MethodGet, memURL+"/body", nil)
				reading, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				const hanging = 2 // HTTP/1: one on the second connection, one waiting
				errs := make(chan error, hanging)
				for range hanging {
					go func() {
						_, _, err := get(tr, memURL+"/hang")
						errs <- err
					}()
				}
				synctest.Wait()
				st := tr.Stats()[originOf(memURL)]
				if st.InFlight != 1+hanging-st.Pool.Waiting || (p == h1 && st.Pool.Waiting != 1) {
					t.Fatalf("before Close: InFlight %d, Waiting %d; want 3 in all, HTTP/1 1 waiting", st.InFlight, st.Pool.Waiting)
				}

				if err := tr.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if _, err := io.ReadAll(reading.Body); err == nil {
					t.Error("reading a body after Close: no error")
				}
				reading.Body.Close()
				closedErrs := 0
				for range hanging {
					err := <-errs
					if err == nil {
						t.Error("a request in flight at Close succeeded")
					}
					if errors.Is(err, ErrClosed) {
						closedErrs++
					}
				}
				if p == h1 && closedErrs < 1 {
					t.Errorf("%d requests failed with ErrClosed, want the one waiting for a connection", closedErrs)
				}
				if _, _, err := get(tr, memURL+"/after"); !errors.Is(err, ErrClosed) {
					t.Errorf("RoundTrip after Close: %v, want ErrClosed", err)
				}
				if err := tr.Warm(t.Context(), memURL); !errors.Is(err, ErrClosed) {
					t.Errorf("Warm after Close: %v, want ErrClosed", err)
				}
				if err := tr.Close(); err != nil {
					t.Errorf("second Close: %v", err)
				}
				synctest.Wait()
				if got := n.open(); got != 0 {
					t.Errorf("the server still has %d connections open after Close", got)
				}
			})
		})
	}
}

// TestWarmErrors: Warm reports each origin it could not warm, by name, and
// warms the others.
func TestWarmErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, cfg := startMemNet(h1, http.HandlerFunc(sleepHandler))
		defer n.close()
		cfg.MinSize = 2
		dial := cfg.DialContext
		cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == "down.test:80" {
				return nil, errors.New("connection refused")
			}
			return dial(ctx, network, addr)
		}
		tr := mustTransport(t, cfg)
		defer tr.Close()
		err := tr.Warm(t.Context(), memURL, "http://down.test", "ftp://x", "%zz")
		for _, want := range []string{"http://down.test:80", "connection refused", `unsupported protocol scheme "ftp"`, `"%zz"`} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Warm error %v does not mention %q", err, want)
			}
		}
		// The dial's own error, as net/http gives it, not a
		// *pool.CreateError.
		var ce *pool.CreateError
		if errors.As(err, &ce) {
			t.Errorf("Warm error %v wraps a *pool.CreateError", err)
		}
		synctest.Wait()
		if got := n.open(); got != 2 {
			t.Errorf("the reachable origin has %d connections open, want MinSize 2", got)
		}
	})
}
