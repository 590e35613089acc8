package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// physConn is a connection to the server, as the pool holds it, with the
// statements kept prepared on it and the context its resets run under.
// Only its holder touches it (the pool lends it to one caller at a time,
// and checks or destroys it only while nobody holds it), so it needs no
// lock.
type physConn struct {
	dc         driver.Conn
	cache      *stmtCache // nil: statements are not kept
	rctx       deadlineCtx
	releasedAt time.Time // when it was last given back (see Connector.beforeReuse)
}

// destroy is the pool's Destroy: the statements kept prepared are closed
// first (database/sql's order: a driver may free a statement's memory
// with its connection), then the connection.
func (pc *physConn) destroy() {
	pc.cache.closeAll()
	pc.dc.Close()
	pc.rctx.stop()
}

// conn is what database/sql holds between Connector.Connect and
// conn.Close: one lending of a pooled connection. Close gives it back.
//
// database/sql never calls a driver.Conn from two goroutines at once (it
// holds its driverConn's lock around every call), so the flags below need
// no lock of their own.
//
// After Close the physical connection may already be lent to another
// caller: every method of a closed conn, and of its statements and
// transaction, returns driver.ErrBadConn (IsValid false) without touching
// it, so a wrapper kept past Close (a driver used by hand, sql.Conn.Raw)
// cannot run on someone else's session.
type conn struct {
	c   *Connector
	res *pool.Resource[*physConn]
	pc  *physConn
	dc  driver.Conn

	stmts     int  // uncached statements prepared and not yet closed
	cachedOut int  // cached statements lent to this conn's statements
	inTx      bool // a transaction was begun and has not ended
	bad       bool // the driver said the connection is broken
	unwrapped bool // Unwrap handed the driver's connection out
	closed    bool
}

// The driver interfaces database/sql uses, all forwarded; each method
// falls back to what database/sql would do on its own (driver.ErrSkip,
// nil, true) when the driver's connection lacks the interface.
var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
)

// Unwrap returns the driver's own connection, for what database/sql
// cannot reach (with pgx: CopyFrom, LISTEN/NOTIFY, batches). It is meant
// for sql.Conn.Raw:
//
//	err := sqlConn.Raw(func(dc any) error {
//		pc := dc.(interface{ Unwrap() driver.Conn }).Unwrap().(*stdlib.Conn).Conn() // *pgx.Conn
//		...
//	})
//
// Use the driver's connection only inside Raw's function. When it comes
// back, the pool treats it as after any use: a connection the caller
// closed, or left inside a transaction, is destroyed (through the driver's
// driver.Validator and driver.SessionResetter); statements this package
// keeps prepared on it are closed, since the caller may have deallocated
// them. Other session state the caller set (LISTEN, SET) stays, as it
// does with database/sql. After Close it returns nil.
func (cn *conn) Unwrap() driver.Conn {
	if cn.closed {
		return nil
	}
	cn.unwrapped = true
	return cn.dc
}

// note records err: a driver.ErrBadConn marks the connection broken, so it
// is destroyed, never reused.
func (cn *conn) note(err error) error {
	if err != nil && errors.Is(err, driver.ErrBadConn) {
		cn.bad = true
	}
	return err
}

// Close gives the connection back to the pool: destroyed when it is
// broken, still inside a transaction or still has statements open (their
// state on the session is unknown to the next user), released otherwise
// (the pool then resets it, see Connector). Calls after the first do
// nothing.
func (cn *conn) Close() error {
	if cn.closed {
		return nil
	}
	cn.closed = true
	if cache := cn.pc.cache; cache != nil {
		if cn.cachedOut > 0 {
			cache.checkInAll()
			cn.cachedOut = 0
		}
		if cn.unwrapped {
			cache.closeAll()
		}
	}
	switch {
	case cn.bad:
		cn.c.stats.broken.Add(1)
		cn.res.Destroy() // and the pool checks the other idle ones
	case cn.inTx:
		cn.c.stats.leftInTx.Add(1)
		cn.res.Destroy()
	case cn.stmts > 0:
		cn.c.stats.leftOpen.Add(1)
		cn.res.Destroy()
	default:
		cn.res.Release()
	}
	if cn.c.closing.Load() {
		cn.c.finishClose()
	}
	return nil
}

func (cn *conn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

func (cn *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if cn.closed {
		return nil, driver.ErrBadConn
	}
	cache := cn.pc.cache
	if cache != nil {
		if e := cache.get(query); e != nil {
			if !e.out {
				e.out = true
				cn.cachedOut++
				return cn.newStmt(e.s, e), nil
			}
			cache = nil // in use by another statement of this conn: prepare one more, uncached
		}
	}
	var (
		s   driver.Stmt
		err error
	)
	if p, ok := cn.dc.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else {
		s, err = cn.dc.Prepare(query)
		if err == nil && ctx.Err() != nil {
			s.Close()
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, cn.note(err)
	}
	if cache != nil {
		if e := cache.add(query, s); e != nil {
			e.out = true
			cn.cachedOut++
			return cn.newStmt(s, e), nil
		}
	}
	cn.stmts++
	return cn.newStmt(s, nil), nil
}

func (cn *conn) newStmt(s driver.Stmt, e *cachedStmt) driver.Stmt {
	//lint:ignore SA1019 forwarded for drivers that use it
	if _, ok := s.(driver.ColumnConverter); ok {
		return &stmtCC{stmt{cn: cn, s: s, e: e}}
	}
	return &stmt{cn: cn, s: s, e: e}
}

func (cn *conn) Begin() (driver.Tx, error) {
	return cn.BeginTx(context.Background(), driver.TxOptions{})
}

func (cn *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if cn.closed {
		return nil, driver.ErrBadConn
	}
	var (
		t   driver.Tx
		err error
	)
	if b, ok := cn.dc.(driver.ConnBeginTx); ok {
		t, err = b.BeginTx(ctx, opts)
	} else {
		// What database/sql does for a driver without ConnBeginTx.
		if opts.Isolation != driver.IsolationLevel(0) {
			return nil, errors.New("sql: driver does not support non-default isolation level")
		}
		if opts.ReadOnly {
			return nil, errors.New("sql: driver does not support read-only transactions")
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		//lint:ignore SA1019 the fallback database/sql itself uses
		t, err = cn.dc.Begin()
	}
	if err != nil {
		return nil, cn.note(err)
	}
	cn.inTx = true
	return &tx{cn: cn, t: t}, nil
}

func (cn *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if cn.closed {
		return nil, driver.ErrBadConn
	}
	if e, ok := cn.dc.(driver.ExecerContext); ok {
		r, err := e.ExecContext(ctx, query, args)
		return r, cn.note(err)
	}
	//lint:ignore SA1019 legacy drivers
	if e, ok := cn.dc.(driver.Execer); ok {
		vals, err := namedToValues(args)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := e.Exec(query, vals)
		return r, cn.note(err)
	}
	return nil, driver.ErrSkip
}

func (cn *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if cn.closed {
		return nil, driver.ErrBadConn
	}
	if q, ok := cn.dc.(driver.QueryerContext); ok {
		r, err := q.QueryContext(ctx, query, args)
		return r, cn.note(err)
	}
	//lint:ignore SA1019 legacy drivers
	if q, ok := cn.dc.(driver.Queryer); ok {
		vals, err := namedToValues(args)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := q.Query(query, vals)
		return r, cn.note(err)
	}
	return nil, driver.ErrSkip
}

// CheckNamedValue forwards to the driver's checker; driver.ErrSkip makes
// database/sql use its default conversion, as it would without one.
func (cn *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if cn.closed {
		return driver.ErrBadConn
	}
	if c, ok := cn.dc.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (cn *conn) Ping(ctx context.Context) error {
	if cn.closed {
		return driver.ErrBadConn
	}
	if p, ok := cn.dc.(driver.Pinger); ok {
		return cn.note(p.Ping(ctx))
	}
	return nil
}

// ResetSession is called by database/sql when it reuses the connection
// without closing it: it kept it in an idle pool of its own, or handed it
// to a caller waiting under its own cap. Either means a second pool in
// front of this one (SetMaxIdleConns or SetMaxOpenConns called on the
// *sql.DB), which the Connector warns about once.
func (cn *conn) ResetSession(ctx context.Context) error {
	if cn.bad || cn.closed {
		return driver.ErrBadConn
	}
	cn.c.secondPool()
	if r, ok := cn.dc.(driver.SessionResetter); ok {
		return cn.note(r.ResetSession(ctx))
	}
	return nil
}

// IsValid is called by database/sql when it is done with the connection.
// Once database/sql has been seen keeping connections of its own (see
// Connector.secondPool), it returns false, so that database/sql closes the
// conn, which gives the connection back to the pool, instead of keeping
// it idle.
func (cn *conn) IsValid() bool {
	if cn.bad || cn.closed {
		return false
	}
	if cn.c.warned2nd.Load() {
		return false
	}
	if v, ok := cn.dc.(driver.Validator); ok && !v.IsValid() {
		cn.bad = true
		return false
	}
	return true
}

func namedToValues(args []driver.NamedValue) ([]driver.Value, error) {
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("sql: driver does not support the use of Named Parameters")
		}
		vals[i] = a.Value
	}
	return vals, nil
}

// tx tracks the end of a transaction. A Commit or Rollback that fails
// leaves the connection in a state we cannot know, so it is destroyed.
type tx struct {
	cn *conn
	t  driver.Tx
}

func (t *tx) Commit() error {
	if t.cn.closed {
		return driver.ErrBadConn
	}
	return t.end(t.t.Commit())
}

func (t *tx) Rollback() error {
	if t.cn.closed {
		return driver.ErrBadConn
	}
	return t.end(t.t.Rollback())
}

func (t *tx) end(err error) error {
	t.cn.inTx = false
	if err != nil {
		t.cn.bad = true
	}
	return err
}

// stmt forwards a prepared statement, watching for driver.ErrBadConn.
// Once its conn is closed it no longer reaches the driver (see conn).
type stmt struct {
	cn     *conn
	s      driver.Stmt
	e      *cachedStmt // the cache entry s belongs to; nil when uncached
	closed bool
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
	//lint:ignore SA1019 forwarded for drivers that use it
	_ driver.ColumnConverter = (*stmtCC)(nil)
)

// Close closes the driver's statement, unless its conn was closed first:
// the session may be someone else's by now, and the conn was destroyed
// for the statement left open.
func (s *stmt) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.cn.closed {
		return nil
	}
	if s.e != nil {
		// Kept prepared on the connection for the next user, unless it
		// was found unusable.
		s.e.out = false
		s.cn.cachedOut--
		if s.e.stale {
			return s.cn.pc.cache.drop(s.e)
		}
		return nil
	}
	s.cn.stmts--
	return s.s.Close()
}

// noteStmt is conn.note for a statement's errors; an error saying the
// statement is gone on the server (deallocated, or its plan invalidated by
// a schema change) also takes it out of the cache.
func (s *stmt) noteStmt(err error) error {
	if err != nil && s.e != nil && stmtGone(err) {
		s.e.stale = true
	}
	return s.cn.note(err)
}

func (s *stmt) NumInput() int { return s.s.NumInput() }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	if s.cn.closed {
		return nil, driver.ErrBadConn
	}
	//lint:ignore SA1019 legacy path, called only by legacy callers
	r, err := s.s.Exec(args)
	return r, s.noteStmt(err)
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	if s.cn.closed {
		return nil, driver.ErrBadConn
	}
	//lint:ignore SA1019 legacy path, called only by legacy callers
	r, err := s.s.Query(args)
	return r, s.noteStmt(err)
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.cn.closed {
		return nil, driver.ErrBadConn
	}
	if e, ok := s.s.(driver.StmtExecContext); ok {
		r, err := e.ExecContext(ctx, args)
		return r, s.noteStmt(err)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Exec(vals)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.cn.closed {
		return nil, driver.ErrBadConn
	}
	if q, ok := s.s.(driver.StmtQueryContext); ok {
		r, err := q.QueryContext(ctx, args)
		return r, s.noteStmt(err)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Query(vals)
}

// CheckNamedValue forwards to the statement's checker, then the
// connection's; driver.ErrSkip makes database/sql fall back to its default.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.s.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return s.cn.CheckNamedValue(nv)
}

// stmtCC is a stmt whose driver statement is a driver.ColumnConverter. It
// is a type of its own because database/sql treats a ColumnConverter
// differently from its default conversion: only the statements that have
// one may appear to.
type stmtCC struct{ stmt }

func (s *stmtCC) ColumnConverter(idx int) driver.ValueConverter {
	//lint:ignore SA1019 forwarded
	return s.s.(driver.ColumnConverter).ColumnConverter(idx)
}
