// Package sqlbench compares a sqlpool-backed *sql.DB with plain
// database/sql over pgx's stdlib (the baseline), pgx's
// stdlib.OpenDBFromPool, native pgxpool and a connection per query, on
// PostgreSQL: 64 goroutines sharing 16 connections; and a statement from
// db.Prepare run by 16 goroutines over 8 connections (pgxpool runs the
// same SQL through its statement cache). Each case reports
// throughput (ns/op), p50/p95/p99 latency and the peak number of server
// sessions, sampled from pg_stat_activity by application_name. The cases
// skip when PostgreSQL does not answer (POOLKIT_POSTGRES_DSN, default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
package sqlbench

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/poolkit/poolkit/benchmarks/bench"
	"github.com/poolkit/poolkit/sqlpool"
)

const (
	goroutines = 64
	conns      = 16

	// The prepared-statement case: fewer goroutines and connections, so
	// that the cost of preparing per use, not waiting, shows.
	prepGoroutines = 16
	prepConns      = 8
	kvRows         = 10000
	kvTable        = "poolkit_sqlbench_kv"
)

func dsn() string {
	if d := os.Getenv("POOLKIT_POSTGRES_DSN"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func withApp(app string) string {
	d := dsn()
	if strings.Contains(d, "?") {
		return d + "&application_name=" + app
	}
	return d + "?application_name=" + app
}

func uniqueApp() string {
	var b [4]byte
	cryptoRead(b[:])
	return "sqlbench_" + hex.EncodeToString(b[:])
}

var cryptoRead = func(b []byte) { _, _ = crand.Read(b) }

// query is what one operation does, on any of the contenders.
type query struct {
	name string
	sql  string
	arg  bool // takes a random id
}

var (
	selectOne = query{"SELECT 1", "SELECT 1", false}
	kvRead    = query{"indexed read", "SELECT v FROM " + kvTable + " WHERE id = $1", true}
)

// Cases returns the SQL suite.
func Cases() []bench.Case {
	var cs []bench.Case
	for _, q := range []query{selectOne, kvRead} {
		g := fmt.Sprintf("%s, %d goroutines / %d conns (PostgreSQL)", q.name, goroutines, conns)
		add := func(name string, base bool, fn func(b *testing.B, q query)) {
			cs = append(cs, bench.Case{Group: g, Name: name, Baseline: base, Fn: func(b *testing.B) { fn(b, q) }})
		}
		add("database/sql+pgx", true, benchPlainSQL)
		add("sqlpool", false, benchSQLPool)
		add("stdlib.OpenDBFromPool", false, benchOpenDBFromPool)
		add("pgxpool (native)", false, benchPgxpool)
		add("connect per query", false, benchConnectPerQuery)
	}
	g := fmt.Sprintf("prepared statement (db.Prepare, indexed read), %d goroutines / %d conns (PostgreSQL)", prepGoroutines, prepConns)
	prep := func(name string, base bool, fn func(b *testing.B)) {
		cs = append(cs, bench.Case{Group: g, Name: name, Baseline: base, Fn: fn})
	}
	prep("database/sql+pgx", true, func(b *testing.B) {
		admin := setup(b)
		app := uniqueApp()
		db, err := sql.Open("pgx", withApp(app))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(prepConns)
		db.SetMaxIdleConns(prepConns)
		benchPrepared(b, admin, app, db)
	})
	prep("sqlpool", false, func(b *testing.B) {
		admin := setup(b)
		app := uniqueApp()
		db, err := sqlpool.Open("pgx", withApp(app), sqlpool.Config{MinSize: prepConns, MaxSize: prepConns})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		benchPrepared(b, admin, app, db)
	})
	prep("stdlib.OpenDBFromPool", false, func(b *testing.B) {
		admin := setup(b)
		app := uniqueApp()
		p := newPgxpoolN(b, app, prepConns)
		defer p.Close()
		db := stdlib.OpenDBFromPool(p)
		defer db.Close()
		benchPrepared(b, admin, app, db)
	})
	prep("pgxpool (native)", false, func(b *testing.B) {
		admin := setup(b)
		app := uniqueApp()
		p := newPgxpoolN(b, app, prepConns)
		defer p.Close()
		runN(b, admin, app, prepGoroutines, func(ctx context.Context, id int) error {
			var v any
			return p.QueryRow(ctx, kvRead.sql, id).Scan(&v)
		})
	})
	return cs
}

// benchPrepared runs a statement prepared once with db.Prepare.
func benchPrepared(b *testing.B, admin *sql.DB, app string, db *sql.DB) {
	st, err := db.Prepare(kvRead.sql)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	runN(b, admin, app, prepGoroutines, func(ctx context.Context, id int) error {
		var v any
		return st.QueryRowContext(ctx, id).Scan(&v)
	})
}

// setup skips b when PostgreSQL is absent and creates the read table.
func setup(b *testing.B) *sql.DB {
	b.Helper()
	admin, err := sql.Open("pgx", dsn())
	if err != nil {
		b.Skipf("PostgreSQL: %v", err)
	}
	b.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		b.Skipf("PostgreSQL not reachable at %s (set POOLKIT_POSTGRES_DSN): %v", dsn(), err)
	}
	var n int
	if admin.QueryRow("SELECT count(*) FROM "+kvTable).Scan(&n) != nil || n != kvRows {
		for _, s := range []string{
			"DROP TABLE IF EXISTS " + kvTable,
			"CREATE TABLE " + kvTable + " (id int PRIMARY KEY, v text NOT NULL)",
			fmt.Sprintf("INSERT INTO %s SELECT i, md5(i::text) FROM generate_series(1, %d) i", kvTable, kvRows),
			"ANALYZE " + kvTable,
		} {
			if _, err := admin.Exec(s); err != nil {
				b.Fatal(err)
			}
		}
	}
	return admin
}

// run does b.N operations over 64 goroutines, recording latencies and
// the peak of server sessions with application name app.
func run(b *testing.B, admin *sql.DB, app string, op func(ctx context.Context, id int) error) {
	b.Helper()
	runN(b, admin, app, goroutines, op)
}

// runN is run with n goroutines.
func runN(b *testing.B, admin *sql.DB, app string, n int, op func(ctx context.Context, id int) error) {
	b.Helper()
	ctx := context.Background()
	var peak atomic.Int64
	sample := func() {
		var n int64
		if admin.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n) == nil && n > peak.Load() {
			peak.Store(n)
		}
	}
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			sample()
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	var lat bench.Latencies
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range n {
		wg.Go(func() {
			ds := make([]time.Duration, 0, b.N/n+1)
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				if err := op(ctx, 1+rand.IntN(kvRows)); err != nil {
					b.Error(err)
					return
				}
				ds = append(ds, time.Since(start))
			}
			lat.Add(ds)
		})
	}
	wg.Wait()
	b.StopTimer()
	close(stop)
	<-sampled
	// The 10ms sampler may miss a peak (warm-up, a short run): the pools
	// close nothing when the run ends, so a sample now sees every session
	// they still hold.
	sample()
	lat.Report(b)
	b.ReportMetric(float64(peak.Load()), "peak-server-conns")
}

func sqlOp(db *sql.DB, q query) func(ctx context.Context, id int) error {
	return func(ctx context.Context, id int) error {
		var v any
		if q.arg {
			return db.QueryRowContext(ctx, q.sql, id).Scan(&v)
		}
		return db.QueryRowContext(ctx, q.sql).Scan(&v)
	}
}

func benchPlainSQL(b *testing.B, q query) {
	admin := setup(b)
	app := uniqueApp()
	db, err := sql.Open("pgx", withApp(app))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	run(b, admin, app, sqlOp(db, q))
}

func benchSQLPool(b *testing.B, q query) {
	admin := setup(b)
	app := uniqueApp()
	db, err := sqlpool.Open("pgx", withApp(app), sqlpool.Config{MinSize: conns, MaxSize: conns})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	run(b, admin, app, sqlOp(db, q))
}

func newPgxpool(b *testing.B, app string) *pgxpool.Pool { return newPgxpoolN(b, app, conns) }

func newPgxpoolN(b *testing.B, app string, n int32) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(withApp(app))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = n
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchOpenDBFromPool(b *testing.B, q query) {
	admin := setup(b)
	app := uniqueApp()
	p := newPgxpool(b, app)
	defer p.Close()
	db := stdlib.OpenDBFromPool(p)
	defer db.Close()
	run(b, admin, app, sqlOp(db, q))
}

func benchPgxpool(b *testing.B, q query) {
	admin := setup(b)
	app := uniqueApp()
	p := newPgxpool(b, app)
	defer p.Close()
	run(b, admin, app, func(ctx context.Context, id int) error {
		var v any
		if q.arg {
			return p.QueryRow(ctx, q.sql, id).Scan(&v)
		}
		return p.QueryRow(ctx, q.sql).Scan(&v)
	})
}

// benchConnectPerQuery opens a connection for every query, at most 16 at
// a time (as many as the pools may hold).
func benchConnectPerQuery(b *testing.B, q query) {
	admin := setup(b)
	app := uniqueApp()
	sem := make(chan struct{}, conns)
	cfg, err := pgx.ParseConfig(withApp(app))
	if err != nil {
		b.Fatal(err)
	}
	run(b, admin, app, func(ctx context.Context, id int) error {
		sem <- struct{}{}
		defer func() { <-sem }()
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		var v any
		if q.arg {
			return c.QueryRow(ctx, q.sql, id).Scan(&v)
		}
		return c.QueryRow(ctx, q.sql).Scan(&v)
	})
}
