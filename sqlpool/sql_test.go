package sqlpool_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/poolkit/poolkit/sqlpool"
)

// backend is one of the three servers every behaviour is tested against.
type backend struct {
	name  string
	open  func(t *testing.T, cfg sqlpool.Config) (*sqlpool.Connector, *sql.DB)
	ph    func(i int) string // the i-th (1-based) placeholder
	sleep string             // a query that runs for about ten seconds or more
	temp  string             // CREATE TEMPORARY TABLE
}

func backends() []backend {
	q := func(int) string { return "?" }
	return []backend{
		{
			name: "sqlite",
			open: func(t *testing.T, cfg sqlpool.Config) (*sqlpool.Connector, *sql.DB) {
				return newSQLite(t, cfg)
			},
			ph:    q,
			sleep: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c",
			temp:  "CREATE TEMP TABLE",
		},
		{
			name: "postgres",
			open: func(t *testing.T, cfg sqlpool.Config) (*sqlpool.Connector, *sql.DB) {
				c, db, _ := newPG(t, cfg)
				return c, db
			},
			ph:    func(i int) string { return fmt.Sprintf("$%d", i) },
			sleep: "SELECT pg_sleep(10)",
			temp:  "CREATE TEMP TABLE",
		},
		{
			name: "mysql",
			open: func(t *testing.T, cfg sqlpool.Config) (*sqlpool.Connector, *sql.DB) {
				c, db, _ := newMySQL(t, cfg, "")
				return c, db
			},
			ph:    q,
			sleep: "SELECT SLEEP(10)",
			temp:  "CREATE TEMPORARY TABLE",
		},
	}
}

func TestCRUDTxPreparedConnCancel(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			c, db := be.open(t, sqlpool.Config{MaxSize: 4, AcquireTimeout: 10 * time.Second})
			ctx := context.Background()
			table := unique("crud")
			p1, p2 := be.ph(1), be.ph(2)
			mustExec(t, db, "CREATE TABLE "+table+" (id INT PRIMARY KEY, name VARCHAR(50))")
			t.Cleanup(func() { db.Exec("DROP TABLE " + table) })

			t.Run("crud", func(t *testing.T) {
				mustExec(t, db, "INSERT INTO "+table+" (id, name) VALUES ("+p1+", "+p2+")", 1, "one")
				mustExec(t, db, "UPDATE "+table+" SET name = "+p1+" WHERE id = "+p2, "uno", 1)
				var name string
				if err := db.QueryRow("SELECT name FROM "+table+" WHERE id = "+p1, 1).Scan(&name); err != nil || name != "uno" {
					t.Fatalf("read back: %q, %v; want uno", name, err)
				}
				res := mustExec(t, db, "DELETE FROM "+table+" WHERE id = "+p1, 1)
				if n, _ := res.RowsAffected(); n != 1 {
					t.Fatalf("deleted %d rows, want 1", n)
				}
			})

			t.Run("tx", func(t *testing.T) {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec("INSERT INTO "+table+" (id, name) VALUES ("+p1+", "+p2+")", 10, "kept"); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				tx, err = db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec("INSERT INTO "+table+" (id, name) VALUES ("+p1+", "+p2+")", 11, "dropped"); err != nil {
					t.Fatal(err)
				}
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
				var n int
				if err := db.QueryRow("SELECT count(*) FROM " + table + " WHERE id IN (10, 11)").Scan(&n); err != nil || n != 1 {
					t.Fatalf("rows after commit+rollback: %d, %v; want 1", n, err)
				}
				if st := c.Stats(); st.LeftInTx != 0 || st.Broken != 0 {
					t.Fatalf("transactions that ended left connections destroyed: %+v", st)
				}
			})

			t.Run("prepared", func(t *testing.T) {
				ins, err := db.PrepareContext(ctx, "INSERT INTO "+table+" (id, name) VALUES ("+p1+", "+p2+")")
				if err != nil {
					t.Fatal(err)
				}
				defer ins.Close()
				for i := 100; i < 120; i++ {
					if _, err := ins.Exec(i, fmt.Sprint("n", i)); err != nil {
						t.Fatal(err)
					}
				}
				sel, err := db.Prepare("SELECT name FROM " + table + " WHERE id = " + p1)
				if err != nil {
					t.Fatal(err)
				}
				defer sel.Close()
				var name string
				if err := sel.QueryRow(117).Scan(&name); err != nil || name != "n117" {
					t.Fatalf("prepared select: %q, %v", name, err)
				}
			})

			t.Run("conn pinning", func(t *testing.T) {
				conn, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				tmp := unique("tmp")
				// A temporary table exists on one session only: using it
				// again proves the same server connection is kept.
				if _, err := conn.ExecContext(ctx, be.temp+" "+tmp+" (x INT)"); err != nil {
					t.Fatal(err)
				}
				for i := range 5 {
					if _, err := conn.ExecContext(ctx, "INSERT INTO "+tmp+" (x) VALUES ("+p1+")", i); err != nil {
						t.Fatal(err)
					}
				}
				var n int
				if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+tmp).Scan(&n); err != nil || n != 5 {
					t.Fatalf("pinned session: %d rows, %v", n, err)
				}
				conn.ExecContext(ctx, "DROP TABLE "+tmp)
				if st := c.Stats(); st.InUse != 1 {
					t.Fatalf("pinned: in use %d, want 1", st.InUse)
				}
				if err := conn.Close(); err != nil {
					t.Fatal(err)
				}
				if st := c.Stats(); st.InUse != 0 {
					t.Fatalf("after sql.Conn.Close: in use %d, want 0", st.InUse)
				}
			})

			t.Run("cancel mid-query", func(t *testing.T) {
				qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				start := time.Now()
				var v any
				err := db.QueryRowContext(qctx, be.sleep).Scan(&v)
				if err == nil {
					t.Fatal("a ten-second query under a 300ms deadline returned no error")
				}
				var te *sqlpool.TimeoutError
				if errors.As(err, &te) {
					t.Fatalf("a query timeout reported as a pool timeout: %v", err)
				}
				if took := time.Since(start); took > 8*time.Second {
					t.Fatalf("cancelled query took %v: the deadline was not honoured", took)
				}
				// The pool still serves, with no connection leaked.
				for range 5 {
					if err := db.PingContext(ctx); err != nil {
						t.Fatalf("after cancel: %v", err)
					}
				}
				waitFor(t, func() bool { return c.Stats().InUse == 0 }, "connections in use after cancel")
			})
		})
	}
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) sql.Result {
	t.Helper()
	r, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

// waitFor polls cond for up to ten seconds.
func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A connection given back inside a transaction, or after the driver
// reported it broken, is destroyed, never reused.
func TestLeftInTxAndBadConnDestroyed(t *testing.T) {
	c, db := newSQLite(t, sqlpool.Config{MaxSize: 2})
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dc, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{}); err != nil {
		t.Fatal(err)
	}
	before := c.Stats()
	dc.Close()
	st := c.Stats()
	if st.LeftInTx != 1 || st.Destroyed.Broken != before.Destroyed.Broken+1 {
		t.Fatalf("connection closed inside a transaction: LeftInTx %d, destroyed broken %d→%d; want 1 and +1",
			st.LeftInTx, before.Destroyed.Broken, st.Destroyed.Broken)
	}

	// A committed transaction leaves a reusable connection.
	dc, err = c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := dc.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	dc.Close()
	if st2 := c.Stats(); st2.LeftInTx != 1 || st2.Idle != 1 {
		t.Fatalf("after commit: LeftInTx %d idle %d; want 1 and 1", st2.LeftInTx, st2.Idle)
	}
	if !errors.Is(db.Ping(), nil) {
		t.Fatal("ping")
	}
}
