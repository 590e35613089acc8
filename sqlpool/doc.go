// Package sqlpool is a database/sql connector whose connections live in a
// [pool.Pool]: kept warm (MinSize), checked after idling and in the
// background, retired by age with jitter, capped per connector and, with a
// shared [pool.Budget], per process; with a connect breaker that makes
// callers fail fast while the database is down, and errors that tell a
// pool timeout from a query or connect timeout.
//
// # Single pooling
//
// A *sql.DB pools connections itself. Two pools stacked on the same
// connections fight: database/sql keeps idle connections the connector
// cannot see, check or retire, and opens new ones the connector must
// refuse. So the *sql.DB this package hands out keeps no idle connection
// of its own (SetMaxIdleConns(0)): when database/sql is done with a
// connection it closes it, and closing a connection from a [Connector]
// gives it back to the pool, which resets it (driver.SessionResetter,
// driver.Validator, Config.ResetQuery) and keeps it for the next caller.
// It also gets no cap of its own (SetMaxOpenConns(0)): with a cap,
// database/sql would queue callers in front of the pool, in random order,
// with no AcquireTimeout and out of sight of the pool's waiting gauge and
// wait-time metrics. Without one, every caller that needs a connection
// asks the pool, which caps at MaxSize and serves waiters first come,
// first served. Nor does it get a connection lifetime of its own (the
// pool's MaxLifetime rules).
//
// # Opening a *sql.DB
//
// By driver name and DSN (the driver's DriverContext is used when it has
// one; the DSN's password never appears in errors):
//
//	db, err := sqlpool.Open("pgx", "postgres://app@db/app", sqlpool.Config{MaxSize: 16, MinSize: 2})
//
// From a driver.Connector, keeping the [Connector] for its [Connector.Stats]:
//
//	c, err := sqlpool.NewConnector(pgxConnector, sqlpool.Config{MaxSize: 16})
//	db := c.DB() // or sqlpool.OpenDB(pgxConnector, cfg)
//	defer db.Close() // closes c too
//
// Do not call SetMaxIdleConns with a positive value on such a DB, nor use
// sql.OpenDB(c) without the settings of [Connector.DB]: both bring back the
// second pool.
//
// # Broken connections
//
// A connection is destroyed, never reused, when the driver returned
// driver.ErrBadConn from any call on it or its statements, when its
// Validator says it is invalid, when its reset fails, when it comes back
// inside a transaction begun through database/sql (Begin/BeginTx without
// Commit or Rollback), or when Commit or Rollback failed. database/sql's
// own retry on driver.ErrBadConn is kept: it gets another connection. Once
// a connection is found broken in use, every idle connection at least as
// old is checked before its next use, so that after a server restart
// callers do not meet the dead connections one failure at a time. A
// transaction begun with a plain "BEGIN" statement is not seen; use
// database/sql's transactions (or a ResetQuery that fails inside one).
package sqlpool
