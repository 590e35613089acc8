package sqlpool_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/poolkit/poolkit/sqlpool"
)

// rawPgx runs f with the *pgx.Conn under one of db's connections: the
// pattern documented on Unwrap.
func rawPgx(ctx context.Context, db *sql.DB, f func(*pgx.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		return f(dc.(interface{ Unwrap() driver.Conn }).Unwrap().(*stdlib.Conn).Conn())
	})
}

// pgx's CopyFrom, out of database/sql's reach, through sql.Conn.Raw and
// Unwrap.
func TestRawCopyFrom(t *testing.T) {
	_, db, _ := newPG(t, sqlpool.Config{MaxSize: 2})
	ctx := context.Background()
	table := unique("copy")
	mustExec(t, db, "CREATE TABLE "+table+" (id int, v text)")
	t.Cleanup(func() { db.Exec("DROP TABLE " + table) })
	var n int64
	err := rawPgx(ctx, db, func(pc *pgx.Conn) error {
		var err error
		n, err = pc.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "v"},
			pgx.CopyFromRows([][]any{{1, "a"}, {2, "b"}, {3, "c"}}))
		return err
	})
	if err != nil || n != 3 {
		t.Fatalf("CopyFrom: %d rows, %v", n, err)
	}
	var count int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&count); err != nil || count != 3 {
		t.Fatalf("rows after CopyFrom: %d, %v", count, err)
	}
}

// LISTEN/NOTIFY through the raw pgx connection.
func TestRawListenNotify(t *testing.T) {
	_, db, _ := newPG(t, sqlpool.Config{MaxSize: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	channel := unique("chan")
	err := rawPgx(ctx, db, func(pc *pgx.Conn) error {
		if _, err := pc.Exec(ctx, "LISTEN "+channel); err != nil {
			return err
		}
		defer pc.Exec(ctx, "UNLISTEN "+channel)
		if _, err := db.ExecContext(ctx, "SELECT pg_notify($1, 'hello')", channel); err != nil {
			return err
		}
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Channel != channel || n.Payload != "hello" {
			t.Errorf("notification %+v", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// What a caller does to the raw connection cannot hurt the next user: one
// it closed, or left inside a transaction, is destroyed on its way back,
// never lent again; Unwrap after Close gives nothing.
func TestRawMisuseContained(t *testing.T) {
	c, db, _ := newPG(t, sqlpool.Config{MaxSize: 1})
	ctx := context.Background()
	for name, misuse := range map[string]func(*pgx.Conn) error{
		"closed":   func(pc *pgx.Conn) error { return pc.Close(ctx) },
		"left-txn": func(pc *pgx.Conn) error { _, err := pc.Exec(ctx, "BEGIN"); return err },
	} {
		before := c.Stats()
		if err := rawPgx(ctx, db, misuse); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st := c.Stats()
		if st.Idle != 0 || st.Destroyed.Total() != before.Destroyed.Total()+1 {
			t.Fatalf("%s: idle %d, destroyed %d→%d; want the connection destroyed", name, st.Idle, before.Destroyed.Total(), st.Destroyed.Total())
		}
		// SAVEPOINT works only inside a transaction block.
		if _, err := db.Exec("SAVEPOINT sp"); err == nil {
			t.Fatalf("%s: the next query ran inside the transaction left open", name)
		}
	}
	dc, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dc.Close()
	if got := dc.(interface{ Unwrap() driver.Conn }).Unwrap(); got != nil {
		t.Fatalf("Unwrap after Close: %T; want nil", got)
	}
}

// Statements kept prepared on a connection a caller used raw are closed:
// the caller may have deallocated them (DEALLOCATE ALL), and the next user
// must not meet a stale one.
func TestRawUseClearsKeptStatements(t *testing.T) {
	_, db, _ := newPG(t, sqlpool.Config{MaxSize: 1})
	ctx := context.Background()
	st, err := db.Prepare("SELECT $1::int * 2")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var v int
	if err := st.QueryRow(2).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if err := rawPgx(ctx, db, func(pc *pgx.Conn) error { _, err := pc.Exec(ctx, "DEALLOCATE ALL"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := st.QueryRow(21).Scan(&v); err != nil || v != 42 {
		t.Fatalf("prepared statement after a raw DEALLOCATE ALL: %d, %v", v, err)
	}
}
