package metrics

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestDurationHistogramBuckets(t *testing.T) {
	v, err := newDurationHistogramVec("h_seconds", "help.", []float64{0, 0.001, 0.25}, []string{"l"})
	if err != nil {
		t.Fatal(err)
	}
	h := v.with("x")
	for _, d := range []time.Duration{
		0,                        // le 0
		1,                        // le 0.001
		time.Millisecond,         // le 0.001: bounds are inclusive
		time.Millisecond + 1,     // le 0.25
		250 * time.Millisecond,   // le 0.25
		250*time.Millisecond + 1, // +Inf
		time.Hour,                // +Inf
		time.Duration(0),         // 0 again: le 0
	} {
		h.Observe(d)
	}
	want := `
# HELP h_seconds help.
# TYPE h_seconds histogram
h_seconds_bucket{l="x",le="0"} 2
h_seconds_bucket{l="x",le="0.001"} 4
h_seconds_bucket{l="x",le="0.25"} 6
h_seconds_bucket{l="x",le="+Inf"} 8
h_seconds_sum{l="x"} 3600.502000003
h_seconds_count{l="x"} 8
`
	if err := testutil.CollectAndCompare(v, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestDurationHistogramConcurrent observes from many goroutines (run with
// -race) and checks that no observation is lost from the count or the sum.
func TestDurationHistogramConcurrent(t *testing.T) {
	v, err := newDurationHistogramVec("h_seconds", "help.", []float64{0.1}, []string{"l"})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 10000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			h := v.with("x") // the same series for all
			for i := range each {
				if (g+i)%2 == 0 {
					h.Observe(0)
				} else {
					h.Observe(time.Second / 4) // exact in binary
				}
			}
		})
	}
	wg.Wait()
	want := `
# HELP h_seconds help.
# TYPE h_seconds histogram
h_seconds_bucket{l="x",le="0.1"} 40000
h_seconds_bucket{l="x",le="+Inf"} 80000
h_seconds_sum{l="x"} 10000
h_seconds_count{l="x"} 80000
`
	if err := testutil.CollectAndCompare(v, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestDurationHistogramDeletePrefix(t *testing.T) {
	v, err := newDurationHistogramVec("h_seconds", "help.", []float64{1}, []string{"kind", "pool", "origin"})
	if err != nil {
		t.Fatal(err)
	}
	v.with("http", "a", "https://x:443").Observe(time.Second)
	v.with("http", "a", "https://y:443").Observe(time.Second)
	v.with("http", "ab", "").Observe(time.Second)
	v.with("sql", "a", "").Observe(time.Second)
	v.deletePrefix("http", "a")
	if n := testutil.CollectAndCount(v); n != 2 {
		t.Errorf("after deletePrefix(http, a): %d series, want 2 (http/ab and sql/a)", n)
	}
}

func TestPoolObserverAllocs(t *testing.T) {
	m, err := New(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := m.PoolObserver(KindSQL, "db")
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() {
		o.Acquired(ctx, pool.AcquireEvent{Pool: "db"})
		o.Acquired(ctx, pool.AcquireEvent{Pool: "db", Wait: time.Millisecond, Waited: true})
		o.Released(pool.ReleaseEvent{Pool: "db", Held: 3 * time.Millisecond})
		o.Created(ctx, pool.CreateEvent{Pool: "db", Duration: time.Millisecond})
		o.Destroyed(pool.DestroyEvent{Pool: "db", Age: time.Minute})
	}); n != 0 {
		t.Errorf("pool observer: %v allocs per event set, want 0", n)
	}
	r := m.RetryObserver("api")
	if n := testing.AllocsPerRun(1000, func() { r.Attempt(2, nil); r.BudgetExhausted() }); n != 0 {
		t.Errorf("retry observer: %v allocs, want 0", n)
	}
}
