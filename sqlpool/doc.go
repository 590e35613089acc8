// Package sqlpool is a database/sql connector whose connections live in a
// [pool.Pool]: kept warm (MinSize), checked after idling and in the
// background, retired by age with jitter, capped per connector and, with a
// shared [pool.Budget], per process; failing callers fast while the
// database is down, and errors that tell a
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
// gives it back to the pool, which validates it (driver.Validator,
// Config.ResetQuery) and keeps it for the next caller. Before a connection
// is used again the driver's ResetSession runs, as database/sql runs it
// right before a reuse: drivers check there that the connection is still
// alive (go-sql-driver/mysql sees a connection the server closed, pgx
// pings one unused for a second), and one found dead is destroyed and
// another taken.
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
// pgxpool's DSN parameters (pool_max_conns and the others) are mapped
// onto Config; see [Open].
//
// Do not call SetMaxIdleConns or SetMaxOpenConns on such a DB (GORM's
// usual tuning snippet does), nor use sql.OpenDB(c) without the settings
// of [Connector.DB]: both bring back the second pool. The connector sees
// it (database/sql then reuses connections it kept itself, calling their
// ResetSession), warns once through Config.Logger, naming the fix (leave
// database/sql's settings alone and size the pool with Config), and undoes
// it: from then on database/sql gives every connection back when done
// with it, and a DB made by [Connector.DB] closes the idle ones it kept.
//
// # Prepared statements
//
// Because database/sql closes its driver connection after every use, it
// also closes the statements prepared on it; a statement from db.Prepare
// would be prepared again on every use. The connector keeps the driver's
// statements prepared on each physical connection, by query text, up to
// Config.StmtCacheSize (least recently used closed first): the next
// Prepare of the same text on that connection costs nothing. They are
// closed with the connection. One the server no longer knows (DEALLOCATE,
// a schema change that invalidates its plan) fails once, as it would with
// database/sql, and is prepared again on the next use. Kept statements
// are off with Config.ResetQuery (a reset such as DISCARD ALL drops
// them).
//
// # The driver's own connection
//
// sql.Conn.Raw hands out the connector's wrapper, not the driver's
// connection; its Unwrap method returns the driver's. With pgx, for
// CopyFrom, LISTEN/NOTIFY, batches:
//
//	conn, err := db.Conn(ctx)
//	...
//	defer conn.Close()
//	err = conn.Raw(func(dc any) error {
//		pgxConn := dc.(interface{ Unwrap() driver.Conn }).Unwrap().(*stdlib.Conn).Conn()
//		_, err := pgxConn.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"id"}, pgx.CopyFromRows(rows))
//		return err
//	})
//
// A connection the caller closed or left inside a transaction is destroyed
// when it comes back, and the statements kept on it are closed.
//
// # Closing
//
// db.Close (which calls [Connector.Close]) behaves as database/sql's: it
// returns at once; a connection still held by a *sql.Rows, *sql.Tx or
// *sql.Conn is closed when it is given back. [Connector.Shutdown] is the
// graceful form, waiting until its ctx ends for those connections.
//
// # PgBouncer
//
// Behind PgBouncer in transaction pooling mode, pgx's default exec mode
// fails (PgBouncer 1.18 keeps no prepared statement between
// transactions): use a DSN with default_query_exec_mode=cache_describe
// (or exec, or simple_protocol), e.g.
//
//	postgres://app@bouncer:6432/app?default_query_exec_mode=cache_describe
//
// and do not use db.Prepare there. The first connect detects PgBouncer
// (see [Connector.Bouncer]), warns when the exec mode will break, and
// compares MaxSize × Config.Instances with PgBouncer's max_client_conn,
// read from its admin console (SHOW CONFIG, for users in admin_users or
// stats_users) when the connector was opened from a DSN; otherwise it
// says which limit applies and that it could not be read.
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
