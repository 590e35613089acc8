package sqlpool_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/poolkit/poolkit/sqlpool"
)

// With CheckAfterIdle < 0 (check on every use), a query waiting for the
// only connection is never handed that connection with its backend killed
// while it was held: the hand-off checks it too, and the waiter gets a
// fresh one.
func TestCheckOnEveryUseCoversHandOff(t *testing.T) {
	needServer(t, "pgx", postgresDSN(), "POOLKIT_POSTGRES_DSN")
	app := unique("handoff")
	pcfg, err := pgx.ParseConfig(pgDSNWith("application_name=" + app))
	if err != nil {
		t.Fatal(err)
	}
	// pgx's ResetSession pings a connection idle for over a second, which
	// would find the dead backend on release, before any hand-off: turn
	// that off so that the hand-off's check is what is tested.
	noPing := stdlib.OptionShouldPing(func(context.Context, stdlib.ShouldPingParams) bool { return false })
	c, err := sqlpool.NewConnector(stdlib.GetConnector(*pcfg, noPing),
		sqlpool.Config{MaxSize: 1, CheckAfterIdle: -1, AcquireTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	admin := plainDB(t, "pgx", postgresDSN())
	ctx := context.Background()
	held, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := held.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		var one int
		got <- db.QueryRow("SELECT 1").Scan(&one)
	}()
	waitFor(t, func() bool { return c.Stats().Waiting == 1 }, "the query to wait for the held connection")
	if _, err := admin.Exec("SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return pgSessions(t, admin, app) == 0 }, "the backend to be gone")
	before := c.Stats()
	held.Close() // handed straight to the waiter
	if err := <-got; err != nil {
		t.Fatalf("the waiting query got the connection whose backend was killed: %v", err)
	}
	// database/sql may hide a dead connection by retrying on
	// driver.ErrBadConn; the stats tell whether the query met it.
	st := c.Stats()
	if st.Broken != before.Broken {
		t.Errorf("the waiting query was handed the dead connection (found broken in use: %d → %d)", before.Broken, st.Broken)
	}
	if st.ResetErrors != before.ResetErrors {
		t.Errorf("the release's reset found the dead backend (reset errors %d → %d): the hand-off was not what was tested", before.ResetErrors, st.ResetErrors)
	}
	if st.CheckFailures <= before.CheckFailures {
		t.Errorf("check failures %d → %d: the hand-off was not checked", before.CheckFailures, st.CheckFailures)
	}
}
