package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx", for -postgres
	_ "modernc.org/sqlite"             // driver "sqlite", the embedded default

	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/sqlpool"
	"github.com/prometheus/client_golang/prometheus"
)

// database is the SQL side of the demo: an orders table behind a pooled
// *sql.DB and, for the baseline, one that connects for every query.
type database struct {
	driver, dsn string
	conn        *sqlpool.Connector
	db          *sql.DB // pooled: backed by conn
	unpooled    *sql.DB // a new connection per query
	orders      int64   // rows seeded
}

// sqlMaxSize caps the pooled connections.
const sqlMaxSize = 8

// sqlPoolName names the SQL pool in metrics and on screen.
const sqlPoolName = "orders"

// openDatabase opens the database: PostgreSQL when pgDSN is set, otherwise a
// SQLite file in dir. One line (Telemetry) puts its pool and connect
// breaker in reg's metrics. It also seeds the table.
func openDatabase(ctx context.Context, pgDSN, dir string, reg prometheus.Registerer, logger *slog.Logger) (*database, error) {
	d := &database{driver: "sqlite", dsn: "file:" + filepath.Join(dir, "demo.db") + "?_pragma=busy_timeout(5000)"}
	if pgDSN != "" {
		d.driver, d.dsn = "pgx", pgDSN
	} else if err := setWAL(d.dsn); err != nil {
		return nil, err
	}
	conn, err := sqlpool.NewConnectorDSN(d.driver, d.dsn, sqlpool.Config{
		Name:           sqlPoolName,
		MinSize:        2,
		MaxSize:        sqlMaxSize,
		IdleTimeout:    time.Minute,
		MaxLifetime:    30 * time.Minute,
		AcquireTimeout: 2 * time.Second,
		ConnectTimeout: 5 * time.Second,
		Telemetry:      metrics.For(reg),
		Logger:         logger,
	})
	if err != nil {
		return nil, err
	}
	d.conn = conn
	d.db = conn.DB()

	// The baseline: database/sql with no idle connections and no cap
	// closes every connection after its query, so each query connects.
	d.unpooled, err = sql.Open(d.driver, d.dsn)
	if err != nil {
		d.db.Close()
		return nil, err
	}
	d.unpooled.SetMaxIdleConns(0)

	if err := d.seed(ctx); err != nil {
		d.close()
		if pgDSN != "" {
			return nil, fmt.Errorf("PostgreSQL at -postgres: %w", err)
		}
		return nil, err
	}
	return d, nil
}

// setWAL puts the SQLite file in WAL mode (readers do not block the writer),
// once, before any pool opens it: WAL mode is persistent, and switching it
// in every new connection's DSN makes concurrent connects fail with
// SQLITE_BUSY, which busy_timeout does not cover.
func setWAL(dsn string) error {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`PRAGMA journal_mode=WAL`)
	return err
}

func (d *database) seed(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stmts := []string{
		`DROP TABLE IF EXISTS poolkit_demo_orders`,
		`CREATE TABLE poolkit_demo_orders (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, amount_cents BIGINT NOT NULL, status TEXT NOT NULL)`,
	}
	for _, s := range stmts {
		if _, err := d.db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const n = 1000
	for i := range int64(n) {
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO poolkit_demo_orders VALUES (?, ?, ?, 'paid')`), i, fmt.Sprintf("customer-%d", i%97), 1000+i); err != nil {
			return err
		}
	}
	d.orders = n
	return tx.Commit()
}

// q rewrites ? placeholders as $1, $2... for PostgreSQL.
func (d *database) q(query string) string {
	if d.driver != "pgx" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// query is one unit of the SQL load: mostly point reads, some updates.
func (d *database) query(ctx context.Context, db *sql.DB, seq *atomic.Uint64) error {
	id := int64(seq.Add(1)) % d.orders
	if rand.N(10) == 0 {
		_, err := db.ExecContext(ctx, d.q(`UPDATE poolkit_demo_orders SET status = ? WHERE id = ?`), "shipped", id)
		return err
	}
	var customer, status string
	var amount int64
	return db.QueryRowContext(ctx, d.q(`SELECT customer, amount_cents, status FROM poolkit_demo_orders WHERE id = ?`), id).Scan(&customer, &amount, &status)
}

func (d *database) close() {
	if d.unpooled != nil {
		d.unpooled.Close()
	}
	d.db.Close()
}
