package sqlpool_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/poolkit/poolkit/sqlpool"
)

// Printing a Connector, with fmt or slog, shows its name, never the DSN's
// password it keeps for redaction (nor a DSN a driver without
// DriverContext needs for every connect).
func TestConnectorPrintHidesPassword(t *testing.T) {
	registerEcho.Do(func() { sql.Register("poolkit-echo", echoDriver{}) })
	const secret = "hunter2hunter2"
	for _, tt := range []struct{ driver, dsn string }{
		{"poolkit-echo", "postgres://app:" + secret + "@db:5432/app"},
		{"pgx", "postgres://app:" + secret + "@127.0.0.1:1/app?sslmode=disable"},
		{"mysql", "app:" + secret + "@tcp(127.0.0.1:1)/app"},
	} {
		c, err := sqlpool.NewConnectorDSN(tt.driver, tt.dsn, sqlpool.Config{MaxSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		var b logBuffer
		slog.New(slog.NewTextHandler(&b, nil)).Info("opened", "connector", c)
		slog.New(slog.NewJSONHandler(&b, nil)).Info("opened", "connector", c)
		out := fmt.Sprintf("%v %+v %#v %s", c, c, c, c) + b.String()
		c.Close()
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s: printing the connector shows the password:\n%s", tt.driver, out)
		}
		if !strings.Contains(out, tt.driver) {
			t.Errorf("%s: printing the connector does not name it:\n%s", tt.driver, out)
		}
	}
}

// A driver connection used by hand after its Close no longer reaches the
// server session, which the pool has lent to someone else meanwhile; a
// connection closed with a statement still open (without the statement
// cache) is destroyed, and the statement no longer reaches it either.
func TestConnUnusableAfterClose(t *testing.T) {
	c, _ := newSQLite(t, sqlpool.Config{MaxSize: 1, StmtCacheSize: -1})
	ctx := context.Background()
	old, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	cur, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Created != 1 {
		t.Fatalf("created %d connections; want the same one lent twice", st.Created)
	}
	if _, err := old.(driver.ExecerContext).ExecContext(ctx, "CREATE TEMP TABLE stray (x INT)", nil); !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("exec on a closed conn: %v; want driver.ErrBadConn", err)
	}
	if err := old.(driver.Pinger).Ping(ctx); !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("ping on a closed conn: %v; want driver.ErrBadConn", err)
	}
	if _, err := old.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{}); !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("begin on a closed conn: %v; want driver.ErrBadConn", err)
	}
	if old.(driver.Validator).IsValid() {
		t.Error("a closed conn says it is valid")
	}
	// The stray table must not exist on the session cur holds.
	if _, err := cur.(driver.ExecerContext).ExecContext(ctx, "CREATE TEMP TABLE stray (x INT)", nil); err != nil {
		t.Fatalf("the closed conn ran on the session lent to another caller: %v", err)
	}

	s, err := cur.(driver.ConnPrepareContext).PrepareContext(ctx, "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	cur.Close()
	st := c.Stats()
	if st.LeftOpen != 1 || st.Destroyed.Broken != before.Destroyed.Broken+1 || st.Idle != 0 {
		t.Fatalf("closed with a statement open: LeftOpen %d, destroyed broken %d→%d, idle %d; want 1, +1, 0",
			st.LeftOpen, before.Destroyed.Broken, st.Destroyed.Broken, st.Idle)
	}
	if _, err := s.(driver.StmtQueryContext).QueryContext(ctx, nil); !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("statement used after its conn closed: %v; want driver.ErrBadConn", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("closing a statement after its conn: %v", err)
	}
}
