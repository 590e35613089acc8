package bench

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Latencies collects per-operation durations from many goroutines and
// reports percentiles as benchmark metrics (p50-µs, p95-µs, p99-µs).
type Latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

// Add records one batch (call it once per goroutine, with that goroutine's
// samples, to keep the lock off the measured path).
func (l *Latencies) Add(ds []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, ds...)
	l.mu.Unlock()
}

// Report sorts the samples and reports p50, p95 and p99 in microseconds.
func (l *Latencies) Report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return
	}
	slices.Sort(l.all)
	q := func(p float64) float64 {
		i := int(float64(len(l.all)-1) * p)
		return float64(l.all[i].Nanoseconds()) / 1e3
	}
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.95), "p95-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}
