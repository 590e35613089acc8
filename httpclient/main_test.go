package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// connCounter counts the connections a server sees: open now, the most
// open at once, and accepted in all.
type connCounter struct {
	mu       sync.Mutex
	open     int
	maxOpen  int
	accepted int
}

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch s {
	case http.StateNew:
		c.open++
		c.accepted++
		c.maxOpen = max(c.maxOpen, c.open)
	case http.StateClosed, http.StateHijacked:
		c.open--
	}
}

func (c *connCounter) get() (maxOpen, accepted int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxOpen, c.accepted
}

type proto int

const (
	h1 proto = iota
	h2TLS
	h2c
)

func (p proto) String() string { return [...]string{"HTTP1", "HTTP2-TLS", "H2C"}[p] }

// startServer starts an httptest server speaking p, counting connections.
// It returns the server and a TransportConfig that reaches it.
// Each setup function runs before the server starts.
func startServer(t testing.TB, p proto, h http.Handler, setup ...func(*http.Server)) (*httptest.Server, *connCounter, TransportConfig) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	for _, f := range setup {
		f(srv.Config)
	}
	cnt := &connCounter{}
	srv.Config.ConnState = cnt.hook
	var cfg TransportConfig
	cfg.Proxy = noProxy
	switch p {
	case h1:
		srv.Start()
	case h2TLS:
		srv.EnableHTTP2 = true
		srv.StartTLS()
		cfg.TLSClientConfig = trust(srv)
	case h2c:
		ps := new(http.Protocols)
		ps.SetHTTP1(true)
		ps.SetUnencryptedHTTP2(true)
		srv.Config.Protocols = ps
		srv.Start()
		pc := new(http.Protocols)
		pc.SetUnencryptedHTTP2(true)
		cfg.Protocols = pc
	}
	t.Cleanup(srv.Close)
	return srv, cnt, cfg
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// trust returns a TLS config that trusts srv's certificate.
func trust(srv *httptest.Server) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return &tls.Config{RootCAs: roots}
}

func newTransport(t testing.TB, cfg TransportConfig) *Transport {
	t.Helper()
	tr, err := NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tr
}

// get sends a GET and reads the whole body.
func get(rt http.RoundTripper, url string) (*http.Response, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// hammer sends n GETs to url from workers goroutines and returns the
// first error and the number of failures.
func hammer(rt http.RoundTripper, url string, n, workers int, check func(*http.Response, string) error) (int64, error) {
	var (
		next     atomic.Int64
		failures atomic.Int64
		mu       sync.Mutex
		first    error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				resp, body, err := get(rt, url)
				if err == nil && check != nil {
					err = check(resp, body)
				}
				if err != nil {
					failures.Add(1)
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return failures.Load(), first
}
