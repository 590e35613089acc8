package sqlpool_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/sqlpool"
)

// The *sql.DB keeps no idle connection of its own: idle ones live in the
// pool only, and 1000 queries are served by the connections already open.
func TestSinglePooling(t *testing.T) {
	c, db, app := newPG(t, sqlpool.Config{MinSize: 2, MaxSize: 4})
	admin := plainDB(t, "pgx", postgresDSN())
	waitFor(t, func() bool { return c.Stats().Idle == 2 }, "MinSize connections")
	created := c.Stats().Created
	pids := map[int]bool{}
	for range 1000 {
		var pid int
		if err := db.QueryRow("SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids[pid] = true
	}
	ds, st := db.Stats(), c.Stats()
	if ds.Idle != 0 {
		t.Errorf("database/sql keeps %d idle connections; want 0", ds.Idle)
	}
	if st.Idle == 0 {
		t.Errorf("the pool keeps no idle connection: %+v", st.Stats)
	}
	if st.Created != created {
		t.Errorf("1000 sequential queries opened %d new connections; want 0", st.Created-created)
	}
	if len(pids) > 2 {
		t.Errorf("1000 sequential queries ran on %d server sessions; want at most 2", len(pids))
	}
	if n := pgSessions(t, admin, app); n != 2 {
		t.Errorf("server sees %d sessions; want 2", n)
	}
	if st.Acquires < 1000 {
		t.Errorf("pool lent %d connections for 1000 queries: database/sql pooled them itself", st.Acquires)
	}
}

// loadCase is one server's way to count the pool's sessions.
type loadCase struct {
	name string
	open func(t *testing.T, cfg sqlpool.Config) (*sqlpool.Connector, *sql.DB, func() int)
}

func loadCases() []loadCase {
	return []loadCase{
		{"postgres", func(t *testing.T, cfg sqlpool.Config) (*sqlpool.Connector, *sql.DB, func() int) {
			c, db, app := newPG(t, cfg)
			admin := plainDB(t, "pgx", postgresDSN())
			return c, db, func() int { return pgSessions(t, admin, app) }
		}},
		{"mysql", func(t *testing.T, cfg sqlpool.Config) (*sqlpool.Connector, *sql.DB, func() int) {
			c, db, name := newMySQL(t, cfg, "")
			admin := plainDB(t, "mysql", mysqlDSN())
			return c, db, func() int { return mysqlSessions(t, admin, name) }
		}},
	}
}

// 64 goroutines, MaxSize 8: the server never sees more than 8 sessions.
func TestMaxSizeUnderLoad(t *testing.T) {
	for _, lc := range loadCases() {
		t.Run(lc.name, func(t *testing.T) {
			c, db, count := lc.open(t, sqlpool.Config{MaxSize: 8, AcquireTimeout: 20 * time.Second})
			s := startSampler(count)
			var wg sync.WaitGroup
			var fails atomic.Int64
			for range 64 {
				wg.Go(func() {
					for range 60 {
						var n int
						if err := db.QueryRow("SELECT 1").Scan(&n); err != nil {
							fails.Add(1)
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			peak, samples := s.Stop()
			// The sampler may miss a short peak: no session is closed
			// during the run, so the sessions open after it are all the
			// pool ever opened. A Create started for a waiter that was
			// then served by a release is still finishing: wait for it.
			waitFor(t, func() bool { return c.Stats().Creating == 0 }, "the pool's Creates to finish")
			after := count()
			if st := c.Stats(); st.Destroyed != (pool.DestroyCounts{}) || after != st.Open {
				t.Errorf("sessions after the run %d, pool open %d, destroyed %+v: want equal and none destroyed", after, st.Open, st.Destroyed)
			}
			peak = max(peak, after)
			if peak > 8 {
				t.Errorf("server saw %d sessions of the pool; MaxSize is 8", peak)
			}
			if peak == 0 || samples < 2 {
				t.Errorf("sampler saw peak %d in %d samples: it did not observe the load", peak, samples)
			}
			// database/sql hands a connection straight to a waiting caller
			// (no Acquire), so Acquires only has a lower bound.
			if st := c.Stats(); st.Open > 8 || st.Acquires < 8 {
				t.Errorf("pool stats %+v", st.Stats)
			}
			t.Logf("peak server sessions %d over %d samples; pool %+v", peak, samples, c.Stats().Stats)
		})
	}
}

// Two connectors sharing a Budget of 5 never hold more than 5 server
// sessions together, though each may open 4.
func TestSharedBudget(t *testing.T) {
	needServer(t, "pgx", postgresDSN(), "POOLKIT_POSTGRES_DSN")
	budget, err := pool.NewBudget(5)
	if err != nil {
		t.Fatal(err)
	}
	app := unique("budget")
	var dbs []*sql.DB
	for _, name := range []string{"primary", "replica"} {
		c, err := sqlpool.NewConnectorDSN("pgx", pgDSNWith("application_name="+app),
			sqlpool.Config{Name: name, MaxSize: 4, Budget: budget, AcquireTimeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		db := c.DB()
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	admin := plainDB(t, "pgx", postgresDSN())
	s := startSampler(func() int { return pgSessions(t, admin, app) })
	var wg sync.WaitGroup
	for i := range 32 {
		db := dbs[i%2]
		wg.Go(func() {
			for range 20 {
				if _, err := db.Exec("SELECT pg_sleep(0.002)"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	peak, _ := s.Stop()
	if peak > 5 {
		t.Errorf("two connectors sharing a budget of 5 held %d server sessions", peak)
	}
	if peak < 2 {
		t.Errorf("peak %d sessions: the load did not reach the server", peak)
	}
	if budget.Used() > 5 {
		t.Errorf("budget used %d > 5", budget.Used())
	}
}

// Backends killed while idle: callers see no error. Killed under load:
// each in-flight query fails at most once, and the pool recovers.
func TestTerminatedBackends(t *testing.T) {
	c, db, app := newPG(t, sqlpool.Config{MinSize: 4, MaxSize: 4, AcquireTimeout: 10 * time.Second,
		CheckAfterIdle: 100 * time.Millisecond})
	admin := plainDB(t, "pgx", postgresDSN())
	kill := func() int {
		var n int
		err := admin.QueryRow("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// useAll runs a query on each of the 4 connections at once.
	useAll := func() {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { db.Exec("SELECT pg_sleep(0.05)") })
		}
		wg.Wait()
	}
	killAll := func() {
		t.Helper()
		if n := kill(); n != 4 {
			t.Fatalf("terminated %d backends, want 4", n)
		}
		waitFor(t, func() bool { return pgSessions(t, admin, app) == 0 }, "killed backends to exit")
	}

	t.Run("idle", func(t *testing.T) {
		waitFor(t, func() bool { return c.Stats().Idle == 4 }, "4 idle connections")
		useAll()
		killAll()
		// Idle longer than CheckAfterIdle: checked before use, and the
		// first failed check makes the older ones suspect.
		time.Sleep(300 * time.Millisecond)
		for i := range 50 {
			var one int
			if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
				t.Fatalf("query %d after idle backends were killed: %v", i, err)
			}
		}
		if st := c.Stats(); st.CheckFailures == 0 {
			t.Errorf("no check failed: the dead connections were not found by the check (%+v)", st.Stats)
		}
	})

	t.Run("just used", func(t *testing.T) {
		// Used within CheckAfterIdle, so the pool does not check them: the
		// first caller meets a dead connection, and the connector then
		// checks every connection as old before its next use.
		waitFor(t, func() bool { return c.Stats().Idle == 4 }, "4 idle connections")
		useAll()
		killAll()
		failed := 0
		for range 50 {
			var one int
			if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
				failed++
			}
		}
		if failed > 1 {
			t.Errorf("%d of 50 queries failed after the kill; want at most 1", failed)
		}
	})

	t.Run("just used, oldest first", func(t *testing.T) {
		// Deterministic order: four connections created one after the
		// other, given back newest first, so the oldest is lent first.
		// The first failure must make every connection open at that
		// moment suspect, not only those as old as the one that failed.
		c, db, app := newPG(t, sqlpool.Config{MaxSize: 4, AcquireTimeout: 10 * time.Second,
			CheckAfterIdle: time.Hour, HealthCheckPeriod: -1})
		ctx := context.Background()
		var conns []*sql.Conn
		for range 4 {
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := conn.PingContext(ctx); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
		}
		for i := len(conns) - 1; i >= 0; i-- {
			conns[i].Close()
		}
		if st := c.Stats(); st.Idle != 4 || st.Created != 4 {
			t.Fatalf("want 4 idle connections, have %+v", st.Stats)
		}
		var n int
		if err := admin.QueryRow("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil || n != 4 {
			t.Fatalf("terminated %d backends (%v), want 4", n, err)
		}
		waitFor(t, func() bool { return pgSessions(t, admin, app) == 0 }, "killed backends to exit")
		failed := 0
		for range 20 {
			var one int
			if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
				failed++
			}
		}
		if failed > 1 {
			t.Errorf("%d of 20 queries failed after the kill; want at most 1 (stats %+v)", failed, c.Stats())
		}
	})

	t.Run("under load", func(t *testing.T) {
		var wg sync.WaitGroup
		var failures atomic.Int64
		stop := make(chan struct{})
		for range 16 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := db.Exec("SELECT pg_sleep(0.01)"); err != nil {
						failures.Add(1)
					}
				}
			})
		}
		time.Sleep(200 * time.Millisecond)
		killed := kill()
		time.Sleep(500 * time.Millisecond)
		close(stop)
		wg.Wait()
		if f := failures.Load(); f > int64(killed) {
			t.Errorf("%d queries failed after %d backends were killed: more than one per backend", f, killed)
		}
		for i := range 50 {
			if err := db.Ping(); err != nil {
				t.Fatalf("ping %d after the kill: %v", i, err)
			}
		}
		t.Logf("killed %d in-flight backends, %d queries failed; stats %+v", killed, failures.Load(), c.Stats())
	})
}

// A pool timeout says it is one, with the pool's state, and still matches
// pool.ErrAcquireTimeout and context.DeadlineExceeded.
func TestPoolTimeoutError(t *testing.T) {
	// The connection opens before the test: AcquireTimeout bounds
	// connecting too, and a connect may take longer on a loaded machine.
	c, db := newSQLite(t, sqlpool.Config{Name: "orders", MinSize: 1, MaxSize: 1, AcquireTimeout: 50 * time.Millisecond})
	waitFor(t, func() bool { return c.Stats().Idle == 1 }, "the MinSize connection")
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = c.Connect(context.Background())
	var te *sqlpool.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, pool.ErrAcquireTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want a *sqlpool.TimeoutError matching pool.ErrAcquireTimeout and context.DeadlineExceeded", err)
	}
	const want = `sqlpool: timeout waiting for a connection from pool "orders" after`
	if msg := err.Error(); len(msg) < len(want) || msg[:len(want)] != want {
		t.Fatalf("message %q; want it to start with %q", msg, want)
	}
	if te.Err.State.InUse != 1 || te.Err.State.MaxSize != 1 {
		t.Fatalf("timeout state %+v", te.Err.State)
	}
	// Through database/sql too, with a ctx deadline instead of AcquireTimeout.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := db.PingContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PingContext with every connection taken: %v; want a deadline error", err)
	}
}
