package metrics_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A pool reported on its own registry: its observer feeds the histograms,
// and PoolSource lets each scrape read its Stats.
func Example() {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{})
	if err != nil {
		panic(err)
	}
	p, err := pool.New(pool.Config[int]{
		Name:     "workers",
		MaxSize:  4,
		Create:   func(context.Context) (int, error) { return 42, nil },
		Observer: m.PoolObserver(metrics.KindPool, "workers"),
	})
	if err != nil {
		panic(err)
	}
	defer p.Close(context.Background())
	if err := m.Add(metrics.PoolSource(metrics.KindPool, p)); err != nil {
		panic(err)
	}

	r, _ := p.Acquire(context.Background())
	r.Release()

	want := `
# HELP poolkit_pool_acquires_total Successful Acquire calls.
# TYPE poolkit_pool_acquires_total counter
poolkit_pool_acquires_total{kind="pool",origin="",pool="workers"} 1
# HELP poolkit_pool_max_connections The most connections the pool may open (MaxSize).
# TYPE poolkit_pool_max_connections gauge
poolkit_pool_max_connections{kind="pool",origin="",pool="workers"} 4
`
	fmt.Println(testutil.GatherAndCompare(reg, strings.NewReader(want),
		"poolkit_pool_acquires_total", "poolkit_pool_max_connections"))
	fmt.Println(testutil.CollectAndCount(m, "poolkit_pool_use_time_seconds"), "use-time histogram")
	// Output:
	// <nil>
	// 1 use-time histogram
}
