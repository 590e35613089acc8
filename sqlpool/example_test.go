package sqlpool_test

import (
	"fmt"
	"log"

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
