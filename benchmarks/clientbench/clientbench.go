// Package clientbench measures what a per-service httpclient.Client costs
// over the bare pool-backed Transport it is built on: the whole chain
// (timeout, retry with a budget, breaker) on requests that all succeed, over
// loopback HTTP/1.1.
package clientbench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/poolkit/poolkit/benchmarks/bench"
	"github.com/poolkit/poolkit/httpclient"
	"github.com/poolkit/poolkit/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// callers is the number of goroutines sending requests at once; the pool
// has as many connections, so no request waits for one.
const callers = 32

// Cases returns the client suite.
func Cases() []bench.Case {
	var cs []bench.Case
	add := func(group, name string, base bool, fn func(b *testing.B)) {
		cs = append(cs, bench.Case{Group: group, Name: name, Baseline: base, Fn: fn})
	}
	for _, n := range []int{callers, 1} {
		g := "GET, HTTP/1.1 loopback, 32 callers"
		if n == 1 {
			g = "GET, HTTP/1.1 loopback, 1 caller"
		}
		add(g, "pool Transport (bare)", true, func(b *testing.B) { run(b, n, bare) })
		add(g, "pool Transport + http.Client.Timeout", false, func(b *testing.B) { run(b, n, bareTimeout) })
		add(g, "Client: timeout+retry+breaker", false, func(b *testing.B) { run(b, n, full) })
		add(g, "Client: retry+breaker (no timeout)", false, func(b *testing.B) { run(b, n, noTimeout) })
		add(g, "Client: metrics+timeout+retry+breaker", false, func(b *testing.B) { run(b, n, withMetrics) })
		add(g, "std http.Transport (tuned)", false, func(b *testing.B) { run(b, n, std) })
	}
	return cs
}

type setup func(b *testing.B, base string) *http.Client

func bare(b *testing.B, _ string) *http.Client {
	tr, err := httpclient.NewTransport(httpclient.TransportConfig{MaxSize: callers, Proxy: noProxy})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	return &http.Client{Transport: tr}
}

// bareTimeout is bare with the whole-request timeout net/http offers, for
// the cost of a per-request deadline alone.
func bareTimeout(b *testing.B, base string) *http.Client {
	c := bare(b, base)
	c.Timeout = httpclient.DefaultTimeout
	return c
}

func client(b *testing.B, base string, timeout bool, reg prometheus.Registerer) *http.Client {
	cfg := httpclient.Config{
		Name:      "bench",
		BaseURL:   base,
		Transport: httpclient.TransportConfig{MaxSize: callers, Proxy: noProxy},
	}
	if !timeout {
		cfg.Timeout = -1
	}
	cfg.Telemetry = metrics.For(reg)
	c, err := httpclient.NewClient(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c.HTTP()
}

func full(b *testing.B, base string) *http.Client      { return client(b, base, true, nil) }
func noTimeout(b *testing.B, base string) *http.Client { return client(b, base, false, nil) }
func withMetrics(b *testing.B, base string) *http.Client {
	return client(b, base, true, prometheus.NewRegistry())
}

func std(b *testing.B, _ string) *http.Client {
	tr, err := httpclient.NewStdTransport(httpclient.TransportConfig{MaxSize: callers, Proxy: noProxy})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// run sends b.N GETs from n goroutines and reads each body to the end.
func run(b *testing.B, n int, mk setup) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c := mk(b, srv.URL)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	if err != nil {
		b.Fatal(err)
	}
	do := func() error {
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	// Warm up: open the connections outside the timed loop.
	for range n {
		if err := do(); err != nil {
			b.Fatal(err)
		}
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		first atomic.Pointer[error]
	)
	b.ResetTimer()
	for range n {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := do(); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := first.Load(); err != nil {
		b.Fatal(*err)
	}
}
