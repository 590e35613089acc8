package sqlpool_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/poolkit/poolkit/sqlpool"
)

// legacyDriver implements only the required driver interfaces: no
// ExecerContext, QueryerContext, ConnBeginTx, Pinger, SessionResetter,
// Validator. database/sql must fall back to prepared statements through
// the wrapper. A connection whose first statement execution is made to
// fail returns driver.ErrBadConn from it.
type legacyDriver struct {
	opened  atomic.Int64
	failNth int64 // the connection (1-based) whose first Exec fails with ErrBadConn
}

type legacyConn struct {
	d      *legacyDriver
	n      int64
	failed bool
}

type legacyStmt struct {
	c *legacyConn
	q string
}

type legacyRows struct{ done bool }

func (d *legacyDriver) Open(string) (driver.Conn, error) {
	return &legacyConn{d: d, n: d.opened.Add(1)}, nil
}
func (c *legacyConn) Prepare(q string) (driver.Stmt, error) { return &legacyStmt{c: c, q: q}, nil }
func (c *legacyConn) Close() error                          { return nil }
func (c *legacyConn) Begin() (driver.Tx, error)             { return legacyTx{}, nil }

type legacyTx struct{}

func (legacyTx) Commit() error   { return nil }
func (legacyTx) Rollback() error { return nil }

func (s *legacyStmt) Close() error  { return nil }
func (s *legacyStmt) NumInput() int { return -1 }
func (s *legacyStmt) Exec([]driver.Value) (driver.Result, error) {
	if s.c.n == s.c.d.failNth && !s.c.failed {
		s.c.failed = true
		return nil, driver.ErrBadConn
	}
	return driver.RowsAffected(1), nil
}
func (s *legacyStmt) Query([]driver.Value) (driver.Rows, error) { return &legacyRows{}, nil }
func (r *legacyRows) Columns() []string                         { return []string{"v"} }
func (r *legacyRows) Close() error                              { return nil }
func (r *legacyRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = int64(42)
	return nil
}

type legacyConnector struct{ d *legacyDriver }

func (c legacyConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open("") }
func (c legacyConnector) Driver() driver.Driver                        { return c.d }

func TestLegacyDriverFallbacksAndBadConn(t *testing.T) {
	d := &legacyDriver{failNth: 1}
	c, err := sqlpool.NewConnector(legacyConnector{d}, sqlpool.Config{MaxSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	// No ExecerContext: the wrapper says driver.ErrSkip and database/sql
	// prepares; the first connection's Exec fails with ErrBadConn and
	// database/sql retries on another connection.
	if _, err := db.Exec("UPDATE t SET x = 1"); err != nil {
		t.Fatalf("exec: %v", err)
	}
	var v int
	if err := db.QueryRow("SELECT v").Scan(&v); err != nil || v != 42 {
		t.Fatalf("query: %d, %v", v, err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true}); err == nil {
		t.Fatal("a driver without ConnBeginTx accepted a read-only transaction")
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Broken != 1 || st.Destroyed.Broken != 1 || d.opened.Load() != 2 {
		t.Fatalf("after one ErrBadConn: broken %d, destroyed %d, opened %d; want 1, 1, 2", st.Broken, st.Destroyed.Broken, d.opened.Load())
	}
}

// echoDriver fails every connect with an error that quotes its DSN, as a
// careless driver might.
type echoDriver struct{}

func (echoDriver) Open(dsn string) (driver.Conn, error) {
	return nil, fmt.Errorf("echo: cannot connect with %q", dsn)
}

var registerEcho sync.Once

func TestRedactionOfCarelessDriver(t *testing.T) {
	registerEcho.Do(func() { sql.Register("poolkit-echo", echoDriver{}) })
	const secret = "hunter2hunter2"
	for _, dsn := range []string{
		"postgres://app:" + secret + "@db:5432/app",
		"postgres://app@db:5432/app?password=" + secret,
		"host=db user=app password=" + secret + " dbname=app",
		"host=db user=app password='" + secret + "' dbname=app",
		"app:" + secret + "@tcp(db:3306)/app",
	} {
		c, err := sqlpool.NewConnectorDSN("poolkit-echo", dsn, sqlpool.Config{MaxSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Connect(context.Background())
		c.Close()
		if err == nil || !strings.Contains(err.Error(), "echo: cannot connect") {
			t.Fatalf("connect error %v; want the driver's", err)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("password in error: %v", err)
		}
		var ce *sqlpool.ConnectError
		if !errors.As(err, &ce) {
			t.Errorf("%T is not a *sqlpool.ConnectError", err)
		}
	}
}
