// Command postgres runs sqlpool's connector on a real PostgreSQL: a primary
// and a "replica" pool (here the same server, under another application
// name) that share one pool.Budget, so that the process never holds more
// connections to the server than the budget, whichever side is busy. It
// prints both pools and what the server sees (pg_stat_activity).
//
// It needs a PostgreSQL server: -dsn, or POOLKIT_POSTGRES_DSN, or the default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. With none there it
// says so and exits 1.
//
//	go run ./examples/postgres
//	POOLKIT_POSTGRES_DSN='postgres://app:secret@db:5432/app' go run ./examples/postgres
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/sqlpool"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// errNoServer is wrapped by run's error when no PostgreSQL answers.
var errNoServer = errors.New("no PostgreSQL server")

func main() {
	dsn := os.Getenv("POOLKIT_POSTGRES_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}
	flag.StringVar(&dsn, "dsn", dsn, "PostgreSQL DSN (env POOLKIT_POSTGRES_DSN)")
	flag.Parse()
	log.SetFlags(0)
	if err := run(context.Background(), dsn, os.Stdout); err != nil {
		log.Fatalf("postgres: %v", err)
	}
}

func run(ctx context.Context, dsn string, out io.Writer) error {
	// One budget for everything this process opens against the server:
	// the primary and the replica pools together hold at most 6
	// connections, though each may grow to 4 on its own. A pool that finds
	// the budget spent asks the other to close an idle connection.
	budget, err := pool.NewBudget(6)
	if err != nil {
		return err
	}
	primary, err := open(dsn, "primary", budget)
	if err != nil {
		return err
	}
	defer primary.Close()
	replica, err := open(dsn, "replica", budget)
	if err != nil {
		return err
	}
	defer replica.Close()
	pdb, rdb := primary.DB(), replica.DB()

	// Fail early, and clearly, when there is no server. The connect
	// breaker would make later calls fail fast anyway.
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err = pdb.PingContext(pctx)
	cancel()
	if err != nil {
		return fmt.Errorf("%w at %s (set -dsn or POOLKIT_POSTGRES_DSN): %v", errNoServer, redact(dsn), err)
	}

	if _, err := pdb.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS t (id int)`); err != nil {
		return err
	}

	// Writes go to the primary, reads to the replica: 12 goroutines each,
	// more than either pool or the budget can serve at once, so they wait
	// in line (first come, first served) rather than open more.
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	peak := 0
	var mu sync.Mutex
	for i := range 24 {
		db := pdb
		if i%2 == 1 {
			db = rdb
		}
		wg.Go(func() {
			for range 20 {
				if _, err := db.ExecContext(ctx, `SELECT pg_sleep(0.002)`); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				peak = max(peak, budget.Used())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}

	var sessions int
	if err := pdb.QueryRowContext(ctx,
		`SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'poolkit-example-%'`).Scan(&sessions); err != nil {
		return err
	}
	fmt.Fprintf(out, "480 queries from 24 goroutines; budget %d, most used at once %d; the server sees %d sessions\n",
		budget.Size(), peak, sessions)
	for _, c := range []*sqlpool.Connector{primary, replica} {
		s := c.Stats()
		fmt.Fprintf(out, "  %-8s open %d idle %d in use %d; created %d, waited %d times (%v), failed fast %d\n",
			c.Name(), s.Open, s.Idle, s.InUse, s.Created, s.WaitedAcquires, s.WaitTime.Round(time.Millisecond), s.FailedFast)
	}
	return nil
}

// open returns a connector to dsn named name, under the shared budget.
func open(dsn, name string, budget *pool.Budget) (*sqlpool.Connector, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("bad DSN: %w", err)
	}
	q := u.Query()
	q.Set("application_name", "poolkit-example-"+name) // to find our sessions in pg_stat_activity
	u.RawQuery = q.Encode()
	return sqlpool.NewConnectorDSN("pgx", u.String(), sqlpool.Config{
		Name:    name,
		MinSize: 1, // one warm connection each, so the first query does not pay for a connect
		MaxSize: 4, // each pool alone; the Budget caps the two together
		Budget:  budget,

		// Health. A connection idle for more than CheckAfterIdle is
		// checked (CheckQuery) before it is lent; idle ones are also
		// checked every HealthCheckPeriod in the background. When a check
		// finds one dead (the server restarted, a proxy cut it), every
		// idle connection as old is checked before use too, so a restart
		// costs latency, not errors.
		CheckQuery:        "SELECT 1",
		CheckAfterIdle:    time.Second,
		HealthCheckPeriod: 30 * time.Second,

		// Lifetimes. Connections are retired at MaxLifetime (minus up to
		// 10% jitter, so they do not all reconnect at once), before a NAT
		// box or PgBouncer's server_lifetime cuts them, and after
		// IdleTimeout idle, never below MinSize.
		MaxLifetime: 30 * time.Minute,
		IdleTimeout: 5 * time.Minute,

		// Waits. A caller waits at most AcquireTimeout for a connection
		// (when its ctx has no earlier deadline) and gets an error that
		// says how the pool looked; a connect gives up after
		// ConnectTimeout, and while connects keep failing the breaker
		// makes callers fail at once.
		AcquireTimeout: 2 * time.Second,
		ConnectTimeout: 3 * time.Second,

		// No ResetQuery: "DISCARD ALL" would also drop the statements pgx
		// has prepared and cached on the connection. database/sql's
		// SessionResetter (pgx's checks the connection) runs on release.
	})
}

// redact hides the password of a DSN for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}
