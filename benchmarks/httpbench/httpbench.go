// Package httpbench compares httpclient.Transport with a clone of
// http.DefaultTransport and the tuned plain http.Transport of
// httpclient.NewStdTransport (the baseline), with 256 concurrent callers
// on one origin on loopback, over HTTP/1.1 and HTTP/2 with TLS.
package httpbench

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolkit/poolkit/benchmarks/bench"
	"github.com/poolkit/poolkit/httpclient"
)

const (
	callers = 256 // concurrent requests
	maxSize = 16  // connections per origin for the pooled and tuned transports
)

// Cases returns the http suite.
func Cases() []bench.Case {
	var cs []bench.Case
	for _, p := range []struct {
		group string
		h2    bool
	}{{"HTTP/1.1, 256 callers, 1 origin", false}, {"HTTP/2 TLS, 256 callers, 1 origin", true}} {
		cs = append(cs,
			bench.Case{Group: p.group, Name: "tuned http.Transport", Baseline: true, Fn: func(b *testing.B) { run(b, p.h2, tuned) }},
			bench.Case{Group: p.group, Name: "http.DefaultTransport", Fn: func(b *testing.B) { run(b, p.h2, defaultTransport) }},
			bench.Case{Group: p.group, Name: "poolkit httpclient", Fn: func(b *testing.B) { run(b, p.h2, poolkit) }},
		)
	}
	return cs
}

type maker func(b *testing.B, tlsConf *tls.Config) (http.RoundTripper, func())

func tuned(b *testing.B, tc *tls.Config) (http.RoundTripper, func()) {
	t, err := httpclient.NewStdTransport(httpclient.TransportConfig{MaxSize: maxSize, TLSClientConfig: tc, Proxy: noProxy})
	if err != nil {
		b.Fatal(err)
	}
	return t, t.CloseIdleConnections
}

func defaultTransport(b *testing.B, tc *tls.Config) (http.RoundTripper, func()) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	t.Proxy = noProxy
	return t, t.CloseIdleConnections
}

func poolkit(b *testing.B, tc *tls.Config) (http.RoundTripper, func()) {
	t, err := httpclient.NewTransport(httpclient.TransportConfig{MaxSize: maxSize, TLSClientConfig: tc, Proxy: noProxy})
	if err != nil {
		b.Fatal(err)
	}
	return t, func() { t.Close() }
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// run measures GETs from 256 goroutines against a fresh server and
// transport, reporting latency percentiles and the connections the server
// accepted.
func run(b *testing.B, h2 bool, mk maker) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	var tc *tls.Config
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
		roots := x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		tc = &tls.Config{RootCAs: roots}
	} else {
		srv.Start()
	}
	defer srv.Close()
	rt, closeRT := mk(b, tc)
	defer closeRT()
	var lat bench.Latencies
	var failed atomic.Int64
	target := srv.URL + "/"
	b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		samples := make([]time.Duration, 0, 1024)
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		for pb.Next() {
			start := time.Now()
			resp, err := rt.RoundTrip(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			samples = append(samples, time.Since(start))
		}
		lat.Add(samples)
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
	lat.Report(b)
	b.ReportMetric(float64(opened.Load()), "conns-opened")
}
