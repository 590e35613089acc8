// Command sqlpool opens a *sql.DB through sqlpool, with no driver linked
// (the user's would be), for the binary-size test of package lean.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/poolkit/poolkit/sqlpool"
)

func main() {
	c, err := sqlpool.NewConnectorDSN(os.Args[1], os.Args[2], sqlpool.Config{MaxSize: 8})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	db := c.DB()
	defer db.Close()
	var now string
	if err := db.QueryRowContext(context.Background(), "SELECT now()").Scan(&now); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(now)
}
