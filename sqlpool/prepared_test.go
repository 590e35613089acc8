package sqlpool_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/poolkit/poolkit/sqlpool"
)

// pgPrepared counts the statements with text query prepared on the
// session db's only connection is on.
func pgPrepared(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A statement from db.Prepare stays prepared on the server session across
// uses, although database/sql closes its driver connection (and its
// statements) after each one: the pool keeps it, and the next use of the
// connection finds it there instead of preparing it again.
func TestPreparedStatementStaysPreparedPostgres(t *testing.T) {
	_, db, _ := newPG(t, sqlpool.Config{MaxSize: 1})
	const q = "SELECT $1::int + 1"
	st, err := db.Prepare(q)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		var v int
		if err := st.QueryRow(i).Scan(&v); err != nil || v != i+1 {
			t.Fatalf("run %d: %d, %v", i, v, err)
		}
	}
	if n := pgPrepared(t, db, q); n != 1 {
		t.Fatalf("%d statements %q prepared on the session between uses; want 1 (kept prepared)", n, q)
	}
	// Closed by the user and prepared again: still the same one.
	st.Close()
	st2, err := db.Prepare(q)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	var v int
	if err := st2.QueryRow(41).Scan(&v); err != nil || v != 42 {
		t.Fatalf("after re-prepare: %d, %v", v, err)
	}
	if n := pgPrepared(t, db, q); n != 1 {
		t.Fatalf("%d statements %q prepared after a second db.Prepare; want 1", n, q)
	}
}

// On MariaDB the session's Com_stmt_prepare counter shows the prepares
// that reach the server: one for many uses.
func TestPreparedStatementStaysPreparedMySQL(t *testing.T) {
	_, db, _ := newMySQL(t, sqlpool.Config{MaxSize: 1}, "")
	prepares := func() int {
		var name string
		var n int
		if err := db.QueryRow("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	st, err := db.Prepare("SELECT ? + 1")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before := prepares()
	for i := range 5 {
		var v int
		if err := st.QueryRow(i).Scan(&v); err != nil || v != i+1 {
			t.Fatalf("run %d: %d, %v", i, v, err)
		}
	}
	if n := prepares() - before; n != 0 {
		t.Fatalf("%d prepares reached the server for 5 runs of a prepared statement; want 0", n)
	}
}

// A kept statement whose plan the server invalidates (the table it reads
// changed shape) fails once, as with database/sql, and is then prepared
// anew instead of failing on every use; the same for one deallocated by
// hand (DEALLOCATE ALL).
func TestPreparedStatementInvalidatedIsReprepared(t *testing.T) {
	_, db, _ := newPG(t, sqlpool.Config{MaxSize: 1})
	table := unique("prep")
	mustExec(t, db, "CREATE TABLE "+table+" (id int, v text)")
	t.Cleanup(func() { db.Exec("DROP TABLE " + table) })
	mustExec(t, db, "INSERT INTO "+table+" VALUES (1, 'a')")
	st, err := db.Prepare("SELECT * FROM " + table + " WHERE id = $1")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scan := func() error {
		rows, err := st.Query(1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
		}
		return rows.Err()
	}
	if err := scan(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "ALTER TABLE "+table+" ADD COLUMN w int")
	fails := 0
	for range 3 {
		if err := scan(); err != nil {
			fails++
			t.Logf("after ALTER TABLE: %v", err)
		}
	}
	if fails > 1 {
		t.Fatalf("%d of 3 runs failed after the table changed; want at most 1 (the statement prepared again)", fails)
	}
	mustExec(t, db, "DEALLOCATE ALL")
	fails = 0
	for range 3 {
		if err := scan(); err != nil {
			fails++
			t.Logf("after DEALLOCATE ALL: %v", err)
		}
	}
	if fails > 1 {
		t.Fatalf("%d of 3 runs failed after DEALLOCATE ALL; want at most 1", fails)
	}
}

// Beyond StmtCacheSize the least recently used statement is closed on the
// server.
func TestPreparedStatementCacheBounded(t *testing.T) {
	_, db, _ := newPG(t, sqlpool.Config{MaxSize: 1, StmtCacheSize: 2})
	qs := []string{"SELECT $1::int + 1", "SELECT $1::int + 2", "SELECT $1::int + 3"}
	for _, q := range qs {
		st, err := db.Prepare(q)
		if err != nil {
			t.Fatal(err)
		}
		var v int
		if err := st.QueryRow(1).Scan(&v); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1::int + %'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d statements kept on the session with StmtCacheSize 2; want 2", n)
	}
	if pgPrepared(t, db, qs[0]) != 0 {
		t.Fatal("the least recently used statement was kept")
	}
}

// Many goroutines share prepared statements over a few connections, in
// and out of transactions, on every backend: every result is right (run
// with -race), and statements prepared twice on one connection at once
// (a transaction's and the DB's) both work.
func TestPreparedStatementsConcurrent(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			_, db := be.open(t, sqlpool.Config{MaxSize: 3, AcquireTimeout: 20 * time.Second})
			q := "SELECT " + be.ph(1) + " + 1"
			if be.name == "postgres" {
				q = "SELECT " + be.ph(1) + "::int + 1"
			}
			st, err := db.Prepare(q)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for g := range 8 {
				wg.Go(func() {
					for i := range 25 {
						var v int64
						if g%2 == 0 {
							tx, err := db.BeginTx(ctx, nil)
							if err != nil {
								errs <- err
								return
							}
							tst := tx.Stmt(st)
							own, err := tx.Prepare(q) // the same text, on the same connection
							if err == nil {
								err = own.QueryRow(i).Scan(&v)
								own.Close()
							}
							if err == nil && v == int64(i+1) {
								err = tst.QueryRow(i).Scan(&v)
							}
							tx.Rollback()
							if err != nil {
								errs <- err
								return
							}
						} else if err := st.QueryRow(i).Scan(&v); err != nil {
							errs <- err
							return
						}
						if v != int64(i+1) {
							errs <- fmt.Errorf("got %d for %d", v, i)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
