package sqlpool_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/sqlpool"
)

// While PostgreSQL is down, callers fail fast with the connect error
// instead of waiting out AcquireTimeout; the pool sends few connects to
// the dead server (≤ 10 a second); once the server is back, a caller is
// served within about a second.
func TestFailFastWhileDatabaseDown(t *testing.T) {
	pg := startTempPostgres(t)
	const acquireTimeout = 2 * time.Second
	c, err := sqlpool.NewConnectorDSN("pgx", pg.dsn(), sqlpool.Config{
		Name: "failfast", MinSize: 2, MaxSize: 8, AcquireTimeout: acquireTimeout, ConnectTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	waitFor(t, func() bool { return c.Stats().Idle == 2 }, "MinSize connections")

	pg.ctl("stop", "-m", "fast")
	// The first callers find the idle connections dead (checked and
	// destroyed); then the pool has none and its connects fail.
	ctx := context.Background()
	var one int
	for range 3 {
		db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	}
	startErrs := c.Stats().CreateErrors
	start := time.Now()
	const outage = 2 * time.Second
	var durs []time.Duration
	var connectErrs, others int
	var firstOther error
	for time.Since(start) < outage {
		t0 := time.Now()
		err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		durs = append(durs, time.Since(t0))
		var ce *sqlpool.ConnectError
		var pce *pool.CreateError
		switch {
		case err == nil:
			t.Fatal("a query succeeded with the server down")
		case errors.As(err, &ce) || errors.As(err, &pce):
			connectErrs++
		default:
			others++
			if firstOther == nil {
				firstOther = err
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	connects := c.Stats().CreateErrors - startErrs
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	p50, p95 := durs[len(durs)/2], durs[len(durs)*95/100]
	t.Logf("down: %d calls, %d with the connect error, %d other; p50 %v p95 %v; %d connects in %v",
		len(durs), connectErrs, others, p50, p95, connects, elapsed.Round(time.Millisecond))
	if others > 0 {
		t.Errorf("%d calls failed without the connect error; first: %v", others, firstOther)
	}
	// Failing fast: far below AcquireTimeout (the target is 50ms; the
	// bound leaves room for a loaded machine).
	if p95 > acquireTimeout/4 {
		t.Errorf("failing calls took p95 %v with AcquireTimeout %v: callers wait instead of failing fast", p95, acquireTimeout)
	}
	if rate := float64(connects) / elapsed.Seconds(); rate > 12 {
		t.Errorf("%d connects in %v (%.1f/s) to a dead server; want at most 10/s", connects, elapsed, rate)
	}

	pg.start() // returns once the server accepts connections
	back := time.Now()
	for {
		err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		if err == nil {
			break
		}
		if time.Since(back) > 10*time.Second {
			t.Fatalf("still failing %v after the server came back: %v", time.Since(back), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	recovered := time.Since(back)
	t.Logf("first success %v after the server was ready", recovered)
	if recovered > 2*time.Second {
		t.Errorf("first success %v after the server was ready; want within about 1s", recovered)
	}
}
