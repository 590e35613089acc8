package sqlpool_test

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolkit/poolkit/sqlpool"
)

// Config.ResetQuery runs on every release: session state does not reach
// the next user, and a connection left inside a transaction begun with a
// plain BEGIN (which database/sql cannot see) fails it and is destroyed.
// DISCARD ALL drops the statements pgx caches, so pgx must not cache
// (default_query_exec_mode=exec), as Config.ResetQuery says.
func TestResetQuery(t *testing.T) {
	needServer(t, "pgx", postgresDSN(), "POOLKIT_POSTGRES_DSN")
	c, err := sqlpool.NewConnectorDSN("pgx", pgDSNWith("default_query_exec_mode=exec"),
		sqlpool.Config{MaxSize: 1, ResetQuery: "DISCARD ALL"})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	if _, err := db.Exec("SET statement_timeout = 4321"); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRow("SHOW statement_timeout").Scan(&v); err != nil || v != "0" {
		t.Fatalf("statement_timeout after reset: %q, %v; want 0 (the session was not reset)", v, err)
	}
	if c.Stats().Created != 1 {
		t.Fatalf("created %d connections; want the same one reused", c.Stats().Created)
	}
	if _, err := db.Exec("BEGIN"); err != nil {
		t.Fatal(err)
	}
	// Outside a transaction block each statement runs in a transaction of
	// its own: two txid_current() differ. Inside the leftover one they
	// would not.
	var x1, x2 int64
	if err := db.QueryRow("SELECT txid_current()").Scan(&x1); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT txid_current()").Scan(&x2); err != nil {
		t.Fatal(err)
	}
	if x1 == x2 {
		t.Fatalf("queries ran inside the leftover transaction; stats %+v", c.Stats())
	}
	st := c.Stats()
	if st.ResetErrors != 1 || st.Created != 2 {
		t.Fatalf("connection left in a transaction: reset errors %d, created %d; want 1 and 2", st.ResetErrors, st.Created)
	}
}

// Idle connections are checked in the background with Config.CheckQuery:
// backends killed while idle are found and replaced (MinSize) without any
// caller asking for a connection.
func TestBackgroundCheckQuery(t *testing.T) {
	const check = "SELECT 1 AS poolkit_check"
	c, _, app := newPG(t, sqlpool.Config{MinSize: 2, MaxSize: 2, CheckQuery: check,
		CheckAfterIdle: 10 * time.Millisecond, HealthCheckPeriod: 20 * time.Millisecond})
	admin := plainDB(t, "pgx", postgresDSN())
	waitFor(t, func() bool { return c.Stats().Idle == 2 }, "MinSize connections")
	// pg_stat_activity shows an idle session's last query: the check.
	waitFor(t, func() bool {
		var n int
		err := admin.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query = $2", app, check).Scan(&n)
		return err == nil && n == 2
	}, "both idle sessions to run Config.CheckQuery in the background")
	var n int
	if err := admin.QueryRow("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil || n != 2 {
		t.Fatalf("terminated %d backends (%v), want 2", n, err)
	}
	waitFor(t, func() bool { st := c.Stats(); return st.CheckFailures >= 2 && st.Idle == 2 && st.Created >= 4 },
		"the background check to find both dead connections and MinSize to be refilled")
	if st := c.Stats(); st.Acquires != 0 {
		t.Fatalf("%d acquires: the dead connections were not found in the background", st.Acquires)
	}
}

// fakeDriver's connections are driver.SessionResetter and driver.Validator
// and count their calls.
type fakeDriver struct {
	opened, resets atomic.Int64
	invalid        atomic.Bool // every connection says it is invalid
}

type fakeConn struct{ d *fakeDriver }

func (d *fakeDriver) Open(string) (driver.Conn, error) { d.opened.Add(1); return fakeConn{d}, nil }
func (c fakeConn) Prepare(string) (driver.Stmt, error) { return nil, driver.ErrSkip }
func (c fakeConn) Close() error                        { return nil }
func (c fakeConn) Begin() (driver.Tx, error)           { return nil, driver.ErrSkip }
func (c fakeConn) ResetSession(context.Context) error  { c.d.resets.Add(1); return nil }
func (c fakeConn) IsValid() bool                       { return !c.d.invalid.Load() }

type fakeConnector struct{ d *fakeDriver }

func (c fakeConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open("") }
func (c fakeConnector) Driver() driver.Driver                        { return c.d }

// On release the driver's SessionResetter runs, and a connection its
// Validator calls invalid is destroyed, not kept.
func TestReleaseResetsAndValidates(t *testing.T) {
	d := &fakeDriver{}
	c, err := sqlpool.NewConnector(fakeConnector{d}, sqlpool.Config{MaxSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	for range 3 {
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
	}
	if d.resets.Load() < 3 || d.opened.Load() != 1 {
		t.Fatalf("3 pings: %d resets, %d opened; want >= 3 and 1", d.resets.Load(), d.opened.Load())
	}
	d.invalid.Store(true)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Idle != 0 || st.Open != 0 {
		t.Fatalf("an invalid connection was kept: %+v", st.Stats)
	}
}
