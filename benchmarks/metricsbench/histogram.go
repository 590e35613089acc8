package metricsbench

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/poolkit/poolkit/benchmarks/bench"
	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
	"github.com/prometheus/client_golang/prometheus"
)

// histogramCases measure one histogram observation: metrics' own
// histogram (reached through PoolObserver's Released, which is one
// Observe of the time held) against client_golang's histogram, with
// classic buckets (the same ones), native buckets (factor 1.1), both, and
// with an exemplar per observation. Each contender is called through the
// same pool.Observer interface, so the figures differ by the histogram
// alone.
func histogramCases() []bench.Case {
	var cs []bench.Case
	type contender struct {
		name string
		base bool
		make func(b *testing.B) pool.Observer
	}
	contenders := []contender{
		{"poolkit metrics (own histogram)", true, newMetricsObserver},
		{"client_golang classic buckets", false, func(b *testing.B) pool.Observer {
			return newHistObserver(b, prometheus.HistogramOpts{Buckets: metrics.DefaultUseBuckets()}, false)
		}},
		{"client_golang native (factor 1.1)", false, func(b *testing.B) pool.Observer {
			return newHistObserver(b, nativeOpts(nil), false)
		}},
		{"client_golang native + classic", false, func(b *testing.B) pool.Observer {
			return newHistObserver(b, nativeOpts(metrics.DefaultUseBuckets()), false)
		}},
		{"client_golang classic + exemplar", false, func(b *testing.B) pool.Observer {
			return newHistObserver(b, prometheus.HistogramOpts{Buckets: metrics.DefaultUseBuckets()}, true)
		}},
		{"client_golang native + exemplar", false, func(b *testing.B) pool.Observer {
			return newHistObserver(b, nativeOpts(nil), true)
		}},
	}
	for _, g := range []struct {
		name string
		run  func(b *testing.B, obs pool.Observer, ds []time.Duration)
	}{
		{"histogram Observe, one goroutine", observeSerial},
		{"histogram Observe, GOMAXPROCS goroutines, one series", observeParallel},
	} {
		for _, dist := range []struct {
			name string
			ds   []time.Duration
		}{
			{"spread 50µs-5s", spread()},
			{"all zero (Acquire found an idle conn)", []time.Duration{0}},
		} {
			group := g.name + ", " + dist.name
			for _, c := range contenders {
				cs = append(cs, bench.Case{Group: group, Name: c.name, Baseline: c.base, Fn: func(b *testing.B) {
					g.run(b, c.make(b), dist.ds)
				}})
			}
		}
	}
	return cs
}

// spread returns 1024 durations, log-uniform over 50µs to 5s: the range
// of DefaultUseBuckets, so every bucket is hit.
func spread() []time.Duration {
	r := rand.New(rand.NewPCG(1, 2))
	ds := make([]time.Duration, 1024)
	for i := range ds {
		ds[i] = time.Duration(50e3 * math.Pow(10, 5*r.Float64())) // 50µs × 10^[0,5)
	}
	return ds
}

func nativeOpts(classic []float64) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{
		Buckets:                         classic,
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  160,
		NativeHistogramMinResetDuration: time.Hour,
	}
}

// histObserver is the Released half of an observer on a client_golang
// histogram, optionally with an exemplar (a trace ID) per observation.
type histObserver struct {
	pool.NopObserver
	h        prometheus.Observer
	ex       prometheus.ExemplarObserver
	exemplar prometheus.Labels
}

func (o *histObserver) Released(e pool.ReleaseEvent) {
	if o.ex != nil {
		o.ex.ObserveWithExemplar(e.Held.Seconds(), o.exemplar)
		return
	}
	o.h.Observe(e.Held.Seconds())
}

func newHistObserver(_ *testing.B, opts prometheus.HistogramOpts, exemplar bool) pool.Observer {
	opts.Name, opts.Help = "use_seconds", "time held"
	vec := prometheus.NewHistogramVec(opts, []string{"kind", "pool", "origin"})
	prometheus.NewRegistry().MustRegister(vec)
	o := &histObserver{h: vec.WithLabelValues("pool", "bench", "")}
	if exemplar {
		o.ex = o.h.(prometheus.ExemplarObserver)
		o.exemplar = prometheus.Labels{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
	}
	return o
}

func observeSerial(b *testing.B, obs pool.Observer, ds []time.Duration) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		obs.Released(pool.ReleaseEvent{Pool: "bench", Held: ds[i&(len(ds)-1)]})
		i++
	}
}

func observeParallel(b *testing.B, obs pool.Observer, ds []time.Duration) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(ds))
		for pb.Next() {
			obs.Released(pool.ReleaseEvent{Pool: "bench", Held: ds[i&(len(ds)-1)]})
			i++
		}
	})
}
