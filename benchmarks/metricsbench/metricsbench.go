// Package metricsbench measures what metrics costs on the pool's hot path:
// Acquire+Release with metrics.PoolObserver against the same pool without
// an observer (the baseline), with pool.NopObserver (what the pool's own
// clock reads cost, which any observer pays), and with an observer over
// client_golang's HistogramVec (the straightforward design metrics
// replaced with its own histogram); and one histogram observation, own
// against client_golang's with classic and native buckets and exemplars
// (histogram.go).
package metricsbench

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/poolkit/poolkit/benchmarks/bench"
	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
	"github.com/prometheus/client_golang/prometheus"
)

type conn struct{ n int }

// Cases returns the metrics suite.
func Cases() []bench.Case {
	var cs []bench.Case
	add := func(group, name string, base bool, fn func(b *testing.B)) {
		cs = append(cs, bench.Case{Group: group, Name: name, Baseline: base, Fn: fn})
	}
	for _, g := range []struct {
		name string
		run  func(b *testing.B, obs pool.Observer)
	}{
		{"acquire+release, uncontended", serial},
		{"acquire+release, GOMAXPROCS goroutines, no waits", parallel},
	} {
		add(g.name, "metrics off (no Observer)", true, func(b *testing.B) { g.run(b, nil) })
		add(g.name, "pool.NopObserver (clock reads only)", false, func(b *testing.B) { g.run(b, pool.NopObserver{}) })
		add(g.name, "metrics.PoolObserver", false, func(b *testing.B) { g.run(b, newMetricsObserver(b)) })
		add(g.name, "client_golang HistogramVec observer", false, func(b *testing.B) { g.run(b, newPromObserver(b)) })
		add(g.name, "client_golang native HistogramVec observer", false, func(b *testing.B) { g.run(b, newNativePromObserver(b)) })
	}

	// The products' pools read the clock anyway: httpclient sets a
	// MaxLifetime and an IdleTimeout by default, sqlpool a health check.
	// There the observer adds only its own cost.
	g := "acquire+release, uncontended, MaxLifetime+IdleTimeout set (clock read anyway)"
	add(g, "metrics off (no Observer)", true, func(b *testing.B) { serialCfg(b, nil, true) })
	add(g, "metrics.PoolObserver", false, func(b *testing.B) { serialCfg(b, newMetricsObserver(b), true) })

	g = "observer alone: Acquired(0)+Released(d)"
	add(g, "pool.NopObserver", true, func(b *testing.B) { events(b, pool.NopObserver{}) })
	add(g, "metrics.PoolObserver", false, func(b *testing.B) { events(b, newMetricsObserver(b)) })
	add(g, "client_golang HistogramVec observer", false, func(b *testing.B) { events(b, newPromObserver(b)) })
	add(g, "client_golang native HistogramVec observer", false, func(b *testing.B) { events(b, newNativePromObserver(b)) })
	return append(cs, histogramCases()...)
}

func newMetricsObserver(b *testing.B) pool.Observer {
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return m.PoolObserver(metrics.KindPool, "bench")
}

// promObserver is the observer metrics would be with client_golang's
// histograms, labels curried once.
type promObserver struct {
	pool.NopObserver
	wait, use prometheus.Observer
}

func (o *promObserver) Acquired(_ context.Context, e pool.AcquireEvent) {
	o.wait.Observe(e.Wait.Seconds())
}
func (o *promObserver) Released(e pool.ReleaseEvent) { o.use.Observe(e.Held.Seconds()) }

func newPromObserver(b *testing.B) pool.Observer { return newPromObserverOpts(b, false) }

// newNativePromObserver is newPromObserver with native buckets (factor
// 1.1) beside the classic ones, as a migration would keep them.
func newNativePromObserver(b *testing.B) pool.Observer { return newPromObserverOpts(b, true) }

func newPromObserverOpts(_ *testing.B, native bool) pool.Observer {
	reg := prometheus.NewRegistry()
	vec := func(name string, buckets []float64) *prometheus.HistogramVec {
		opts := prometheus.HistogramOpts{Name: name, Help: name, Buckets: buckets}
		if native {
			opts = nativeOpts(buckets)
			opts.Name, opts.Help = name, name
		}
		v := prometheus.NewHistogramVec(opts, []string{"kind", "pool", "origin"})
		reg.MustRegister(v)
		return v
	}
	return &promObserver{
		wait: vec("wait_seconds", metrics.DefaultWaitBuckets()).WithLabelValues("pool", "bench", ""),
		use:  vec("use_seconds", metrics.DefaultUseBuckets()).WithLabelValues("pool", "bench", ""),
	}
}

func newPool(b *testing.B, size int, obs pool.Observer, timed bool) *pool.Pool[*conn] {
	n := 0
	cfg := pool.Config[*conn]{
		MaxSize:  size,
		Create:   func(context.Context) (*conn, error) { n++; return &conn{n: n}, nil },
		Observer: obs,
	}
	if timed {
		cfg.MaxLifetime, cfg.IdleTimeout = time.Hour, time.Hour
	}
	p, err := pool.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func serial(b *testing.B, obs pool.Observer) { serialCfg(b, obs, false) }

func serialCfg(b *testing.B, obs pool.Observer, timed bool) {
	p := newPool(b, 8, obs, timed)
	ctx := context.Background()
	r, _ := p.Acquire(ctx) // warm
	r.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := p.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		r.Release()
	}
}

// parallel runs one goroutine per P on a pool big enough that none waits:
// the observer's shared counters are then the only extra contention.
func parallel(b *testing.B, obs pool.Observer) {
	procs := runtime.GOMAXPROCS(0)
	p := newPool(b, 2*procs, obs, false)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := p.Acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			r.Release()
		}
	})
}

func events(b *testing.B, obs pool.Observer) {
	b.ReportAllocs()
	held := 3 * time.Millisecond
	ctx := context.Background()
	for b.Loop() {
		obs.Acquired(ctx, pool.AcquireEvent{Pool: "bench"})
		obs.Released(pool.ReleaseEvent{Pool: "bench", Held: held})
	}
}
