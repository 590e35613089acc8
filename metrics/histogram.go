package metrics

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// durationHistogram is a Prometheus histogram of durations for the pool's
// hot path (Acquired and Released run on every Acquire and Release).
//
// client_golang's histogram keeps a hot and a cold copy of its counts so
// that a scrape sees count, sum and buckets from one instant; that costs
// four atomic operations per Observe. Here an observation is one atomic add
// to its bucket and one compare-and-swap on the sum (skipped for zero, the
// common wait of an Acquire that found an idle connection); the count is
// the sum of the buckets, so _count and the +Inf bucket always agree, and
// a scrape racing with observations may see a sum a few observations off
// from the buckets, which rate() over a scrape interval does not notice.
type durationHistogram struct {
	bounds []time.Duration // upper bounds, inclusive (Prometheus "le")
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomic.Uint64   // float64 bits, seconds
	labels []string
}

// Observe records d.
func (h *durationHistogram) Observe(d time.Duration) {
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	if d == 0 {
		return
	}
	v := d.Seconds()
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// durationHistogramVec is a family of durationHistograms with the same
// buckets and label names.
type durationHistogramVec struct {
	desc    *prometheus.Desc
	buckets []float64 // seconds, as given
	bounds  []time.Duration

	mu     sync.Mutex
	series map[string]*durationHistogram // key: label values joined by \xff
}

// newDurationHistogramVec returns a vec, or an error when buckets are not
// strictly increasing, finite and positive or zero.
func newDurationHistogramVec(name, help string, buckets []float64, labels []string) (*durationHistogramVec, error) {
	if err := checkBuckets(name, buckets); err != nil {
		return nil, err
	}
	bounds := make([]time.Duration, len(buckets))
	for i, b := range buckets {
		bounds[i] = time.Duration(math.Round(b * 1e9))
	}
	return &durationHistogramVec{
		desc:    prometheus.NewDesc(name, help, labels, nil),
		buckets: slices.Clone(buckets),
		bounds:  bounds,
		series:  map[string]*durationHistogram{},
	}, nil
}

// checkBuckets reports buckets that are not finite, >= 0 and strictly
// increasing.
func checkBuckets(name string, buckets []float64) error {
	for i, b := range buckets {
		if math.IsNaN(b) || math.IsInf(b, 0) || b < 0 || (i > 0 && b <= buckets[i-1]) {
			return fmt.Errorf("metrics: %s: buckets must be finite, >= 0 and strictly increasing, got %v", name, buckets)
		}
	}
	return nil
}

func joinLabels(lv []string) string {
	n := 0
	for _, v := range lv {
		n += len(v) + 1
	}
	b := make([]byte, 0, n)
	for _, v := range lv {
		b = append(b, v...)
		b = append(b, 0xff) // not valid UTF-8: cannot occur in a label value
	}
	return string(b)
}

// with returns the histogram of those label values, creating it.
func (v *durationHistogramVec) with(lv ...string) *durationHistogram {
	k := joinLabels(lv)
	v.mu.Lock()
	defer v.mu.Unlock()
	if h, ok := v.series[k]; ok {
		return h
	}
	h := &durationHistogram{
		bounds: v.bounds,
		counts: make([]atomic.Uint64, len(v.bounds)+1),
		labels: slices.Clone(lv),
	}
	v.series[k] = h
	return h
}

// deletePrefix deletes the series whose first label values are lv.
func (v *durationHistogramVec) deletePrefix(lv ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for k, h := range v.series {
		if len(h.labels) >= len(lv) && slices.Equal(h.labels[:len(lv)], lv) {
			delete(v.series, k)
		}
	}
}

func (v *durationHistogramVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

func (v *durationHistogramVec) Collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	hs := make([]*durationHistogram, 0, len(v.series))
	for _, h := range v.series {
		hs = append(hs, h)
	}
	v.mu.Unlock()
	for _, h := range hs {
		cum := make(map[float64]uint64, len(v.buckets))
		var n uint64
		for i, b := range v.buckets {
			n += h.counts[i].Load()
			cum[b] = n
		}
		n += h.counts[len(v.buckets)].Load()
		sum := math.Float64frombits(h.sum.Load())
		ch <- prometheus.MustNewConstHistogram(v.desc, n, sum, cum, h.labels...)
	}
}
