// Command databasesql is testdata/sqlpool on database/sql's own pool: the
// baseline of the binary-size test of package lean.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
)

func main() {
	db, err := sql.Open(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	db.SetMaxOpenConns(8)
	defer db.Close()
	var now string
	if err := db.QueryRowContext(context.Background(), "SELECT now()").Scan(&now); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(now)
}
