package otelpoolkit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

// TestHTTPPoolMetrics: a Kind http source reports
// http.client.open_connections per origin and state, and
// http.client.connection.duration from closed connections' age, with
// server.address, server.port (the scheme's default when the origin has
// none) and url.scheme.
func TestHTTPPoolMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pools := make(map[string]*pool.Pool[int])
		tp, err := h.tel.Pool(telemetry.Source{
			Kind: telemetry.KindHTTP,
			Name: "pay",
			Origins: func() map[string]pool.Stats {
				m := make(map[string]pool.Stats)
				for o, p := range pools {
					m[o] = p.Stats()
				}
				return m
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer tp.Close()
		for _, origin := range []string{"http://127.0.0.1:8080", "https://[::1]"} {
			p, err := pool.New(pool.Config[int]{
				Name:     "pay " + origin,
				MaxSize:  2,
				Create:   func(context.Context) (int, error) { return 1, nil },
				Observer: tp.Observer(origin),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			pools[origin] = p
		}
		a, _ := pools["http://127.0.0.1:8080"].Acquire(context.Background())
		b, _ := pools["http://127.0.0.1:8080"].Acquire(context.Background())
		c, _ := pools["https://[::1]"].Acquire(context.Background())
		a.Release()
		time.Sleep(2 * time.Second)
		c.Destroy() // 2s old

		const (
			v4 = "poolkit.pool.name=pay,server.address=127.0.0.1,server.port=8080,url.scheme=http"
			v6 = "poolkit.pool.name=pay,server.address=::1,server.port=443,url.scheme=https"
		)
		got := h.collect(t)
		equal(t, "open_connections", sum(t, got, "http.client.open_connections", "{connection}", false), map[string]int64{
			"http.connection.state=active," + v4: 1,
			"http.connection.state=idle," + v4:   1,
			"http.connection.state=active," + v6: 0,
			"http.connection.state=idle," + v6:   0,
		})
		equal(t, "connection.duration", hist(t, got, "http.client.connection.duration"), map[string]hpoint{v6: {1, 2}})
		b.Release()

		delete(pools, "https://[::1]") // an origin gone: its series go
		got = h.collect(t)
		equal(t, "open_connections after", sum(t, got, "http.client.open_connections", "{connection}", false), map[string]int64{
			"http.connection.state=active," + v4: 0,
			"http.connection.state=idle," + v4:   2,
		})
		if len(got) != 2 {
			t.Errorf("reported %v; want only the two http.client.* pool instruments", names(got))
		}
	})
}

// TestRequestDuration: Service.RoundTripper records
// http.client.request.duration with the method, status, error.type,
// server and scheme of each request, and the service's name.
func TestRequestDuration(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	// An address nobody listens on: a listener closed at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	svc, err := h.tel.Service("pay")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: svc.RoundTripper(tr)}
	for _, tt := range []struct{ method, url string }{
		{"GET", srv.URL + "/"},
		{"GET", srv.URL + "/"},
		{"POST", srv.URL + "/missing"},
		{"PURGE", srv.URL + "/"},
		{"GET", "http://" + dead + "/"},
	} {
		req, err := http.NewRequest(tt.method, tt.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}

	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	_, deadPort, _ := net.SplitHostPort(dead)
	base := "poolkit.service.name=pay,server.address=127.0.0.1,server.port=" + port + ",url.scheme=http"
	got := hist(t, h.collect(t), "http.client.request.duration")
	want := map[string]uint64{
		"http.request.method=GET,http.response.status_code=200,network.protocol.version=1.1," + base:                                                     2,
		"error.type=404,http.request.method=POST,http.response.status_code=404,network.protocol.version=1.1," + base:                                     1,
		"http.request.method=_OTHER,http.response.status_code=200,network.protocol.version=1.1," + base:                                                  1,
		"error.type=*net.OpError,http.request.method=GET,poolkit.service.name=pay,server.address=127.0.0.1,server.port=" + deadPort + ",url.scheme=http": 1,
	}
	counts := make(map[string]uint64)
	for k, p := range got {
		counts[k] = p.Count
	}
	equal(t, "request.duration counts", counts, want)
}

// TestServiceBreakerAndRetry: the breaker's state is reported once the
// service is given its breaker, and rejections, retries and budget
// refusals are counted.
func TestServiceBreakerAndRetry(t *testing.T) {
	h := newHarness(t)
	svc, err := h.tel.Service("pay")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	got := h.collect(t)
	if _, ok := got["poolkit.breaker.state"]; ok {
		t.Errorf("breaker state reported before Breaker was called")
	}

	b, err := newBreaker("pay", svc)
	if err != nil {
		t.Fatal(err)
	}
	svc.Breaker(b)
	b.Trip()
	if _, err := b.Allow(); err == nil {
		t.Fatal("Allow on a tripped breaker: nil error")
	}
	ro := svc.RetryObserver()
	ro.Attempt(1, errors.New("refused"))
	ro.Attempt(2, errors.New("refused"))
	ro.Attempt(3, nil)
	ro.BudgetExhausted()

	const pay = "poolkit.service.name=pay"
	got = h.collect(t)
	equal(t, "breaker.state", sum(t, got, "poolkit.breaker.state", "{breaker}", false), map[string]int64{
		"poolkit.breaker.state=closed," + pay:    0,
		"poolkit.breaker.state=half_open," + pay: 0,
		"poolkit.breaker.state=open," + pay:      1,
	})
	equal(t, "breaker.rejections", sum(t, got, "poolkit.breaker.rejections", "{call}", true), map[string]int64{pay: 1})
	equal(t, "retry.retries", sum(t, got, "poolkit.retry.retries", "{retry}", true), map[string]int64{pay: 2})
	equal(t, "retry.budget_exhausted", sum(t, got, "poolkit.retry.budget_exhausted", "{retry}", true), map[string]int64{pay: 1})

	svc.Close()
	if _, ok := h.collect(t)["poolkit.breaker.state"]; ok {
		t.Errorf("breaker state still reported after Close")
	}
}
