package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// u is the time unit of the scripted scenario: 1/8 s, so that every sum of
// durations is exact in floating point and the expected text can say 0.5.
const u = 125 * time.Millisecond

const poolHelp = `
# HELP poolkit_pool_open_connections Connections open or being opened or closed: idle + in use + creating + destroying.
# TYPE poolkit_pool_open_connections gauge
# HELP poolkit_pool_idle_connections Connections idle, ready to lend.
# TYPE poolkit_pool_idle_connections gauge
# HELP poolkit_pool_in_use_connections Connections lent to callers or being checked.
# TYPE poolkit_pool_in_use_connections gauge
# HELP poolkit_pool_creating_connections Connections being created.
# TYPE poolkit_pool_creating_connections gauge
# HELP poolkit_pool_waiting_requests Acquire calls waiting for a connection.
# TYPE poolkit_pool_waiting_requests gauge
# HELP poolkit_pool_oldest_wait_seconds How long the oldest waiting Acquire has waited; 0 when none waits.
# TYPE poolkit_pool_oldest_wait_seconds gauge
# HELP poolkit_pool_acquires_total Successful Acquire calls.
# TYPE poolkit_pool_acquires_total counter
# HELP poolkit_pool_waits_total Acquire calls that had to wait, those that timed out or were cancelled included.
# TYPE poolkit_pool_waits_total counter
# HELP poolkit_pool_wait_duration_seconds_total Total time Acquire calls waited, those that timed out or were cancelled included.
# TYPE poolkit_pool_wait_duration_seconds_total counter
# HELP poolkit_pool_timeouts_total Acquire calls that hit their deadline.
# TYPE poolkit_pool_timeouts_total counter
`

var gaugeNames = []string{
	"poolkit_pool_open_connections", "poolkit_pool_idle_connections", "poolkit_pool_in_use_connections",
	"poolkit_pool_creating_connections", "poolkit_pool_waiting_requests", "poolkit_pool_oldest_wait_seconds",
	"poolkit_pool_acquires_total", "poolkit_pool_waits_total", "poolkit_pool_wait_duration_seconds_total",
	"poolkit_pool_timeouts_total",
}

// TestPoolScripted runs acquires, waits, a timeout, a Destroy and a Close on
// a real pool in a synctest bubble, and compares every pool series with
// values worked out by hand from the script.
func TestPoolScripted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, err := metrics.New(reg, metrics.Options{
			WaitBuckets:     []float64{0.1, 0.2, 0.3},
			UseBuckets:      []float64{0.5, 0.9, 1},
			CreateBuckets:   []float64{0.1, 0.2},
			LifetimeBuckets: []float64{1, 2},
		})
		if err != nil {
			t.Fatal(err)
		}
		reg.MustRegister(m.GoSQLCollector())
		p, err := pool.New(pool.Config[int]{
			Name:    "orders",
			MaxSize: 2,
			Create: func(ctx context.Context) (int, error) {
				time.Sleep(u) // every Create takes 1u
				return 1, nil
			},
			Observer: m.PoolObserver(metrics.KindSQL, "orders"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Add(metrics.PoolSource(metrics.KindSQL, p)); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()

		// t=0: r1 waits 1u for its Create; t=1u: r2 waits 1u for its own.
		r1, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// t=2u: pool full; this Acquire times out after 4u, at t=6u (its 4u
		// count in the wait duration, as in database/sql's WaitDuration).
		tctx, cancel := context.WithTimeout(ctx, 4*u)
		if _, err := p.Acquire(tctx); !errors.Is(err, pool.ErrAcquireTimeout) {
			t.Fatalf("Acquire on a full pool: err = %v, want ErrAcquireTimeout", err)
		}
		cancel()

		// t=6u: a waiter queues; it gets r1 at 8u, holds it 2u and
		// destroys it at 10u.
		done := make(chan struct{})
		go func() {
			defer close(done)
			r3, err := p.Acquire(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(2 * u)
			r3.Destroy()
		}()
		time.Sleep(u)
		synctest.Wait()

		// t=7u: two in use, one waiting for 1u.
		want := poolHelp + `
poolkit_pool_open_connections{kind="sql",origin="",pool="orders"} 2
poolkit_pool_idle_connections{kind="sql",origin="",pool="orders"} 0
poolkit_pool_in_use_connections{kind="sql",origin="",pool="orders"} 2
poolkit_pool_creating_connections{kind="sql",origin="",pool="orders"} 0
poolkit_pool_waiting_requests{kind="sql",origin="",pool="orders"} 1
poolkit_pool_oldest_wait_seconds{kind="sql",origin="",pool="orders"} 0.125
poolkit_pool_acquires_total{kind="sql",origin="",pool="orders"} 2
poolkit_pool_waits_total{kind="sql",origin="",pool="orders"} 3
poolkit_pool_wait_duration_seconds_total{kind="sql",origin="",pool="orders"} 0.75
poolkit_pool_timeouts_total{kind="sql",origin="",pool="orders"} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), gaugeNames...); err != nil {
			t.Errorf("at t=7u:\n%v", err)
		}

		time.Sleep(u)
		r1.Release() // t=8u: held 7u, handed to the waiter after 2u
		<-done       // t=10u
		r2.Release() // t=10u: held 8u
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()

		// Waits: 1u, 1u, 2u. Holds: 7u, 2u, 8u. Creates: 1u, 1u.
		// Destroyed: r1 broken at age 9u, r2 closed at age 8u.
		want = `
# HELP poolkit_pool_acquires_total Successful Acquire calls.
# TYPE poolkit_pool_acquires_total counter
poolkit_pool_acquires_total{kind="sql",origin="",pool="orders"} 3
# HELP poolkit_pool_canceled_total Acquire calls whose context was cancelled while they waited.
# TYPE poolkit_pool_canceled_total counter
poolkit_pool_canceled_total{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_check_failures_total Health checks that failed (each destroyed a connection).
# TYPE poolkit_pool_check_failures_total counter
poolkit_pool_check_failures_total{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_connection_duration_seconds Age of a connection when it was destroyed, for any reason.
# TYPE poolkit_pool_connection_duration_seconds histogram
poolkit_pool_connection_duration_seconds_bucket{kind="sql",origin="",pool="orders",le="1"} 1
poolkit_pool_connection_duration_seconds_bucket{kind="sql",origin="",pool="orders",le="2"} 2
poolkit_pool_connection_duration_seconds_bucket{kind="sql",origin="",pool="orders",le="+Inf"} 2
poolkit_pool_connection_duration_seconds_sum{kind="sql",origin="",pool="orders"} 2.125
poolkit_pool_connection_duration_seconds_count{kind="sql",origin="",pool="orders"} 2
# HELP poolkit_pool_create_errors_total Failed attempts to create a connection.
# TYPE poolkit_pool_create_errors_total counter
poolkit_pool_create_errors_total{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_failed_fast_total Acquire calls failed at once with the last create error while the backend was down.
# TYPE poolkit_pool_failed_fast_total counter
poolkit_pool_failed_fast_total{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_create_time_seconds Time a successful Create of a connection took.
# TYPE poolkit_pool_create_time_seconds histogram
poolkit_pool_create_time_seconds_bucket{kind="sql",origin="",pool="orders",le="0.1"} 0
poolkit_pool_create_time_seconds_bucket{kind="sql",origin="",pool="orders",le="0.2"} 2
poolkit_pool_create_time_seconds_bucket{kind="sql",origin="",pool="orders",le="+Inf"} 2
poolkit_pool_create_time_seconds_sum{kind="sql",origin="",pool="orders"} 0.25
poolkit_pool_create_time_seconds_count{kind="sql",origin="",pool="orders"} 2
# HELP poolkit_pool_created_total Connections created.
# TYPE poolkit_pool_created_total counter
poolkit_pool_created_total{kind="sql",origin="",pool="orders"} 2
# HELP poolkit_pool_creating_connections Connections being created.
# TYPE poolkit_pool_creating_connections gauge
poolkit_pool_creating_connections{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_destroyed_total Connections destroyed, by reason: idle, lifetime, check_failed, broken, closed, max_uses.
# TYPE poolkit_pool_destroyed_total counter
poolkit_pool_destroyed_total{kind="sql",origin="",pool="orders",reason="broken"} 1
poolkit_pool_destroyed_total{kind="sql",origin="",pool="orders",reason="check_failed"} 0
poolkit_pool_destroyed_total{kind="sql",origin="",pool="orders",reason="closed"} 1
poolkit_pool_destroyed_total{kind="sql",origin="",pool="orders",reason="idle"} 0
poolkit_pool_destroyed_total{kind="sql",origin="",pool="orders",reason="lifetime"} 0
poolkit_pool_destroyed_total{kind="sql",origin="",pool="orders",reason="max_uses"} 0
# HELP poolkit_pool_destroying_connections Connections being closed; they still count toward MaxSize.
# TYPE poolkit_pool_destroying_connections gauge
poolkit_pool_destroying_connections{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_idle_connections Connections idle, ready to lend.
# TYPE poolkit_pool_idle_connections gauge
poolkit_pool_idle_connections{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_in_use_connections Connections lent to callers or being checked.
# TYPE poolkit_pool_in_use_connections gauge
poolkit_pool_in_use_connections{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_leaks_total Connections reported held longer than LeakThreshold.
# TYPE poolkit_pool_leaks_total counter
poolkit_pool_leaks_total{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_max_connections The most connections the pool may open (MaxSize).
# TYPE poolkit_pool_max_connections gauge
poolkit_pool_max_connections{kind="sql",origin="",pool="orders"} 2
# HELP poolkit_pool_max_idle_connections The most idle connections the pool keeps (MaxIdle); reported when the pool's config is known.
# TYPE poolkit_pool_max_idle_connections gauge
poolkit_pool_max_idle_connections{kind="sql",origin="",pool="orders"} 2
# HELP poolkit_pool_min_connections The connections the pool keeps open (MinSize).
# TYPE poolkit_pool_min_connections gauge
poolkit_pool_min_connections{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_oldest_wait_seconds How long the oldest waiting Acquire has waited; 0 when none waits.
# TYPE poolkit_pool_oldest_wait_seconds gauge
poolkit_pool_oldest_wait_seconds{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_open_connections Connections open or being opened or closed: idle + in use + creating + destroying.
# TYPE poolkit_pool_open_connections gauge
poolkit_pool_open_connections{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_rejected_total Acquire calls refused at once because MaxWaiters were waiting.
# TYPE poolkit_pool_rejected_total counter
poolkit_pool_rejected_total{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_timeouts_total Acquire calls that hit their deadline.
# TYPE poolkit_pool_timeouts_total counter
poolkit_pool_timeouts_total{kind="sql",origin="",pool="orders"} 1
# HELP poolkit_pool_use_time_seconds Time a connection was held between Acquire and Release or Destroy.
# TYPE poolkit_pool_use_time_seconds histogram
poolkit_pool_use_time_seconds_bucket{kind="sql",origin="",pool="orders",le="0.5"} 1
poolkit_pool_use_time_seconds_bucket{kind="sql",origin="",pool="orders",le="0.9"} 2
poolkit_pool_use_time_seconds_bucket{kind="sql",origin="",pool="orders",le="1"} 3
poolkit_pool_use_time_seconds_bucket{kind="sql",origin="",pool="orders",le="+Inf"} 3
poolkit_pool_use_time_seconds_sum{kind="sql",origin="",pool="orders"} 2.125
poolkit_pool_use_time_seconds_count{kind="sql",origin="",pool="orders"} 3
# HELP poolkit_pool_wait_duration_seconds_total Total time Acquire calls waited, those that timed out or were cancelled included.
# TYPE poolkit_pool_wait_duration_seconds_total counter
poolkit_pool_wait_duration_seconds_total{kind="sql",origin="",pool="orders"} 1
# HELP poolkit_pool_wait_time_seconds Time a successful Acquire waited for a connection (zero when one was idle).
# TYPE poolkit_pool_wait_time_seconds histogram
poolkit_pool_wait_time_seconds_bucket{kind="sql",origin="",pool="orders",le="0.1"} 0
poolkit_pool_wait_time_seconds_bucket{kind="sql",origin="",pool="orders",le="0.2"} 2
poolkit_pool_wait_time_seconds_bucket{kind="sql",origin="",pool="orders",le="0.3"} 3
poolkit_pool_wait_time_seconds_bucket{kind="sql",origin="",pool="orders",le="+Inf"} 3
poolkit_pool_wait_time_seconds_sum{kind="sql",origin="",pool="orders"} 0.5
poolkit_pool_wait_time_seconds_count{kind="sql",origin="",pool="orders"} 3
# HELP poolkit_pool_waiting_requests Acquire calls waiting for a connection.
# TYPE poolkit_pool_waiting_requests gauge
poolkit_pool_waiting_requests{kind="sql",origin="",pool="orders"} 0
# HELP poolkit_pool_waits_total Acquire calls that had to wait, those that timed out or were cancelled included.
# TYPE poolkit_pool_waits_total counter
poolkit_pool_waits_total{kind="sql",origin="",pool="orders"} 4
# HELP go_sql_idle_connections The number of idle connections.
# TYPE go_sql_idle_connections gauge
go_sql_idle_connections{db_name="orders"} 0
# HELP go_sql_in_use_connections The number of connections currently in use.
# TYPE go_sql_in_use_connections gauge
go_sql_in_use_connections{db_name="orders"} 0
# HELP go_sql_max_idle_closed_total The total number of connections closed while idle (beyond MaxIdle or past IdleTimeout).
# TYPE go_sql_max_idle_closed_total counter
go_sql_max_idle_closed_total{db_name="orders"} 0
# HELP go_sql_max_lifetime_closed_total The total number of connections closed due to MaxLifetime.
# TYPE go_sql_max_lifetime_closed_total counter
go_sql_max_lifetime_closed_total{db_name="orders"} 0
# HELP go_sql_max_open_connections Maximum number of open connections to the database.
# TYPE go_sql_max_open_connections gauge
go_sql_max_open_connections{db_name="orders"} 2
# HELP go_sql_open_connections The number of established connections both in use and idle.
# TYPE go_sql_open_connections gauge
go_sql_open_connections{db_name="orders"} 0
# HELP go_sql_wait_count_total The total number of connections waited for.
# TYPE go_sql_wait_count_total counter
go_sql_wait_count_total{db_name="orders"} 4
# HELP go_sql_wait_duration_seconds_total The total time blocked waiting for a new connection.
# TYPE go_sql_wait_duration_seconds_total counter
go_sql_wait_duration_seconds_total{db_name="orders"} 1
`
		// No name filter: every series the registry has must be listed
		// above, so nothing extra (HTTP, breaker, retry) appears.
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
			t.Errorf("after Close:\n%v", err)
		}
	})
}

// A pool with a budget reports the budget's size and use, and the status
// page shows it; the limits shown are the pool's current ones.
func TestPoolBudgetAndLiveLimits(t *testing.T) {
	budget, _ := pool.NewBudget(3)
	p, err := pool.New(pool.Config[int]{Name: "orders", MaxSize: 2, Budget: budget,
		Create: func(context.Context) (int, error) { return 1, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	r, _ := p.Acquire(context.Background())
	defer r.Release()
	if err := p.SetMaxSize(5); err != nil {
		t.Fatal(err)
	}
	m, _ := metrics.New(nil, metrics.Options{})
	if err := m.Add(metrics.PoolSource(metrics.KindSQL, p)); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP poolkit_pool_budget_max_connections The size of the connection budget the pool shares with others; reported when it has one.
# TYPE poolkit_pool_budget_max_connections gauge
poolkit_pool_budget_max_connections{kind="sql",origin="",pool="orders"} 3
# HELP poolkit_pool_budget_used_connections Connections holding a share of the pool's budget, across every pool sharing it; reported when it has one.
# TYPE poolkit_pool_budget_used_connections gauge
poolkit_pool_budget_used_connections{kind="sql",origin="",pool="orders"} 1
# HELP poolkit_pool_max_connections The most connections the pool may open (MaxSize).
# TYPE poolkit_pool_max_connections gauge
poolkit_pool_max_connections{kind="sql",origin="",pool="orders"} 5
# HELP poolkit_pool_max_idle_connections The most idle connections the pool keeps (MaxIdle); reported when the pool's config is known.
# TYPE poolkit_pool_max_idle_connections gauge
poolkit_pool_max_idle_connections{kind="sql",origin="",pool="orders"} 5
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "poolkit_pool_budget_max_connections",
		"poolkit_pool_budget_used_connections", "poolkit_pool_max_connections", "poolkit_pool_max_idle_connections"); err != nil {
		t.Error(err)
	}
	rec := httptest.NewRecorder()
	m.StatusHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pools", nil))
	var page struct {
		Pools []struct {
			Stats struct{ Budget *pool.BudgetStats }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if b := page.Pools[0].Stats.Budget; b == nil || b.Size != 3 || b.Used != 1 {
		t.Errorf("status page budget = %+v, want 1/3", b)
	}
}

// TestPoolDestroyingGauge: a connection whose Destroy has not returned
// shows in poolkit_pool_destroying_connections (and still in open) until
// it does.
func TestPoolDestroyingGauge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		unblock := make(chan struct{})
		p, err := pool.New(pool.Config[int]{Name: "orders", MaxSize: 2,
			Create:  func(context.Context) (int, error) { return 1, nil },
			Destroy: func(int) { <-unblock }})
		if err != nil {
			t.Fatal(err)
		}
		m, _ := metrics.New(nil, metrics.Options{})
		if err := m.Add(metrics.PoolSource(metrics.KindSQL, p)); err != nil {
			t.Fatal(err)
		}
		gauges := func(destroying, open int) string {
			return fmt.Sprintf(`
# HELP poolkit_pool_destroying_connections Connections being closed; they still count toward MaxSize.
# TYPE poolkit_pool_destroying_connections gauge
poolkit_pool_destroying_connections{kind="sql",origin="",pool="orders"} %d
# HELP poolkit_pool_open_connections Connections open or being opened or closed: idle + in use + creating + destroying.
# TYPE poolkit_pool_open_connections gauge
poolkit_pool_open_connections{kind="sql",origin="",pool="orders"} %d
`, destroying, open)
		}
		r, err := p.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		go r.Destroy()
		synctest.Wait()
		if err := testutil.CollectAndCompare(m, strings.NewReader(gauges(1, 1)), "poolkit_pool_destroying_connections", "poolkit_pool_open_connections"); err != nil {
			t.Errorf("while Destroy runs:\n%v", err)
		}
		close(unblock)
		synctest.Wait()
		if err := testutil.CollectAndCompare(m, strings.NewReader(gauges(0, 0)), "poolkit_pool_destroying_connections", "poolkit_pool_open_connections"); err != nil {
			t.Errorf("after Destroy returned:\n%v", err)
		}
		p.Close(context.Background())
	})
}
