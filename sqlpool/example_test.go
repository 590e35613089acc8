package sqlpool_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/poolkit/poolkit/sqlpool"
)

// Open a *sql.DB whose connections live in the pool only.
func ExampleOpen() {
	db, err := sqlpool.Open("sqlite", "file:example?mode=memory&cache=shared", sqlpool.Config{MinSize: 1, MaxSize: 4})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE fruit (name TEXT)"); err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO fruit VALUES ('apple'), ('pear')"); err != nil {
		log.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM fruit").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println("fruit:", n)
	fmt.Println("idle in database/sql:", db.Stats().Idle)
	// Output:
	// fruit: 2
	// idle in database/sql: 0
}

// Keep the Connector for its stats.
func ExampleConnector_Stats() {
	c, err := sqlpool.NewConnectorDSN("sqlite", "file:stats?mode=memory&cache=shared", sqlpool.Config{Name: "app", MaxSize: 2})
	if err != nil {
		log.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	for range 10 {
		if err := db.Ping(); err != nil {
			log.Fatal(err)
		}
	}
	st := c.Stats()
	fmt.Printf("open %d, idle %d, created %d, acquires %d\n", st.Open, st.Idle, st.Created, st.Acquires)
	// Output:
	// open 1, idle 1, created 1, acquires 10
}

// pgx's CopyFrom through database/sql: sql.Conn.Raw, then Unwrap for the
// driver's own connection. (TestRawCopyFrom runs the same code.)
func Example_pgxCopyFrom() {
	ctx := context.Background()
	db, err := sqlpool.Open("pgx", "postgres://app@127.0.0.1/app", sqlpool.Config{MaxSize: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pgxConn := dc.(interface{ Unwrap() driver.Conn }).Unwrap().(*stdlib.Conn).Conn()
		_, err := pgxConn.CopyFrom(ctx, pgx.Identifier{"fruit"}, []string{"name"},
			pgx.CopyFromRows([][]any{{"apple"}, {"pear"}}))
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
}

// LISTEN/NOTIFY with pgx through database/sql. (TestRawListenNotify runs
// the same code.)
func Example_pgxListenNotify() {
	ctx := context.Background()
	db, err := sqlpool.Open("pgx", "postgres://app@127.0.0.1/app", sqlpool.Config{MaxSize: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pgxConn := dc.(interface{ Unwrap() driver.Conn }).Unwrap().(*stdlib.Conn).Conn()
		if _, err := pgxConn.Exec(ctx, "LISTEN events"); err != nil {
			return err
		}
		defer pgxConn.Exec(ctx, "UNLISTEN events")
		n, err := pgxConn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fmt.Println(n.Channel, n.Payload)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
