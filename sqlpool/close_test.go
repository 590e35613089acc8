package sqlpool_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/sqlpool"
)

// db.Close with a *sql.Rows and a *sql.Tx still open returns at once and
// without error, as database/sql's own does; each connection is closed
// when its holder gives it back, and nothing is left on the server.
func TestDBCloseWithRowsAndTxOpen(t *testing.T) {
	c, db, app := newPG(t, sqlpool.Config{MaxSize: 4})
	admin := plainDB(t, "pgx", postgresDSN())
	rows, err := db.Query("SELECT generate_series(1, 3)")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("db.Close with a Rows and a Tx open: %v; want nil, as database/sql", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("db.Close waits for the open Rows and Tx; database/sql's returns at once")
	}
	// Still usable by their holders.
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil || n != 3 {
		t.Fatalf("rows after db.Close: %d, %v", n, err)
	}
	if _, err := tx.Exec("SELECT 1"); err != nil {
		t.Fatalf("tx after db.Close: %v", err)
	}
	rows.Close()
	tx.Rollback()
	waitFor(t, func() bool { return pgSessions(t, admin, app) == 0 }, "the sessions to close after their holders gave them back")
	if st := c.Stats(); st.Open != 0 {
		t.Fatalf("open %d after close; want 0", st.Open)
	}
	if _, err := c.Connect(context.Background()); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("Connect after Close: %v; want pool.ErrClosed", err)
	}
}

// Shutdown is the graceful close: it waits for connections in use until
// its ctx ends and says how many were still out; once they are back it
// returns nil.
func TestShutdownWaitsForConnectionsInUse(t *testing.T) {
	c, db, _ := newPG(t, sqlpool.Config{MaxSize: 2})
	rows, err := db.Query("SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = c.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a Rows open: %v; want an error wrapping context.DeadlineExceeded", err)
	}
	rows.Close()
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after the Rows closed: %v", err)
	}
	if st := c.Stats(); st.Open != 0 {
		t.Fatalf("open %d after Shutdown; want 0", st.Open)
	}
}
