package sqlpool

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

// Connector is a driver.Connector whose connections come from a
// [pool.Pool]: Connect acquires one, and closing the connection gives it
// back. Use it with [sql.OpenDB] through [Connector.DB], which turns
// database/sql's own idle pool off so that idle connections live only here.
//
// A Connector is safe for concurrent use. Close it (or the *sql.DB that
// uses it) to close its connections.
type Connector struct {
	drv     driver.Connector
	cfg     Config
	pool    *pool.Pool[*physConn]
	secrets []string       // redacted from every error message
	dsn     string         // the DSN given to NewConnectorDSN, for PgBouncer's admin console; never printed
	tel     telemetry.Pool // nil without Config.Telemetry

	sized     atomic.Bool            // the sizing check has run
	closing   atomic.Bool            // Close or Shutdown was called
	warned2nd atomic.Bool            // database/sql was seen pooling connections of its own (and the warning logged)
	db        atomic.Pointer[sql.DB] // the *sql.DB made by DB, if any

	checkAfterIdle time.Duration // the pool's effective CheckAfterIdle
	acquireTimeout time.Duration // the pool's AcquireTimeout (0: none)
	bouncer        atomic.Pointer[BouncerInfo]

	stats struct {
		broken, leftInTx, leftOpen, resetErrors atomic.Uint64
	}

	closeOnce sync.Once
	closeErr  error // the wrapped connector's Close error
}

var (
	_ driver.Connector = (*Connector)(nil)
	_ io.Closer        = (*Connector)(nil)
	_ fmt.Stringer     = (*Connector)(nil)
	_ fmt.GoStringer   = (*Connector)(nil)
	_ slog.LogValuer   = (*Connector)(nil)
)

// NewConnector returns a Connector that pools the connections of c.
//
// On failure it returns a *[ConfigError] (or the pool's *pool.ConfigError)
// naming the first field of cfg that cannot work. When cfg.MinSize > 0 the
// pool starts connecting in the background at once; NewConnector does not
// wait for it and does not fail when the database is down.
func NewConnector(c driver.Connector, cfg Config) (*Connector, error) {
	return newConnector(c, cfg, DefaultName, nil, "")
}

func newConnector(c driver.Connector, cfg Config, defaultName string, secrets []string, dsn string) (*Connector, error) {
	if c == nil {
		return nil, errors.New("sqlpool: NewConnector: nil driver.Connector")
	}
	name := cfg.Name
	if name == "" {
		name = defaultName
	}
	cfg, err := cfg.withDefaults(name)
	if err != nil {
		return nil, err
	}
	cn := &Connector{drv: c, cfg: cfg, secrets: secrets, dsn: dsn}
	pc := pool.Config[*physConn]{
		Name:              name,
		Create:            cn.create,
		Destroy:           (*physConn).destroy,
		Check:             cn.check,
		Reset:             cn.reset,
		MaxLifetimeJitter: cfg.MaxLifetimeJitter,
		CheckAfterIdle:    cfg.CheckAfterIdle,
		HealthCheckPeriod: cfg.HealthCheckPeriod,
		CreateTimeout:     cfg.ConnectTimeout,
		Budget:            cfg.Budget,
		Observer:          cfg.Observer,
		Logger:            cfg.Logger,
	}
	pc.SetLimits(cfg.limits())
	// With Telemetry, the pool's observer must be set before the pool
	// exists (it may create connections at once, for MinSize), so the
	// handle comes first and reads the pool once made.
	var made func(*pool.Pool[*physConn])
	if cfg.Telemetry != nil {
		var src telemetry.Source
		src, made = telemetry.PendingSource(telemetry.KindSQL, pc)
		cn.tel, err = cfg.Telemetry.Pool(src)
		if err != nil {
			return nil, &ConfigError{Connector: name, Field: "Telemetry", Err: err}
		}
		pc.Observer = telemetry.Observers(cfg.Observer, cn.tel.Observer(""))
	}
	if cn.pool, err = pool.New(pc); err != nil {
		if cn.tel != nil {
			cn.tel.Close()
		}
		return nil, err
	}
	if made != nil {
		made(cn.pool)
	}
	cn.acquireTimeout = cn.pool.Config().AcquireTimeout
	cn.checkAfterIdle = cn.pool.Config().CheckAfterIdle
	if cn.checkAfterIdle == 0 {
		cn.checkAfterIdle = pool.DefaultCheckAfterIdle
	}
	return cn, nil
}

// String names the connector. It, GoString and LogValue exist so that
// printing a Connector (fmt's %v, %+v, %#v, or a slog attribute) shows its
// name only, never the fields that hold the DSN or its password.
func (c *Connector) String() string { return fmt.Sprintf("sqlpool.Connector(%q)", c.cfg.Name) }

// GoString is String, for %#v.
func (c *Connector) GoString() string { return c.String() }

// LogValue is String, for log/slog.
func (c *Connector) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Name returns the connector's name: Config.Name or its default.
func (c *Connector) Name() string { return c.cfg.Name }

// Config returns the Config with this package's defaults applied and the
// limits in force (after SetMaxSize and SetMinSize).
func (c *Connector) Config() Config {
	cfg := c.cfg
	pc := c.pool.Config()
	cfg.MaxSize, cfg.MinSize, cfg.MaxIdle = pc.MaxSize, pc.MinSize, pc.MaxIdle
	return cfg
}

// SetMaxSize changes MaxSize at run time, as db.SetMaxOpenConns does for
// database/sql's own pool (which a *sql.DB from this package must not
// use, see the package doc). n must be > 0 and >= MinSize; otherwise it
// returns the pool's *pool.ConfigError naming n and changes nothing.
// Raising it serves waiting callers at once; lowering it never takes a
// connection from its holder: the extra ones are closed as they come back.
func (c *Connector) SetMaxSize(n int) error { return c.pool.SetMaxSize(n) }

// SetMinSize changes MinSize at run time: n must be >= 0 and <= MaxSize
// (and MaxIdle, when set); otherwise it returns the pool's
// *pool.ConfigError naming n and changes nothing. Raising it opens the
// missing connections in the background.
func (c *Connector) SetMinSize(n int) error { return c.pool.SetMinSize(n) }

// Driver returns the driver of the wrapped connector.
func (c *Connector) Driver() driver.Driver { return c.drv.Driver() }

// Connect lends a pooled connection; closing it gives it back. It is what
// database/sql calls; call it directly only to use the driver by hand.
//
// ctx bounds the wait (Config.AcquireTimeout applies when it has no
// deadline). On failure it returns:
//   - a *[TimeoutError] (errors.Is pool.ErrAcquireTimeout and
//     context.DeadlineExceeded) when no connection came in time;
//   - a *[ConnectError] wrapping the pool's *pool.CreateError and the
//     driver's error when connecting failed: at once, while the database
//     is down (the pool has no connection open and its last connect
//     failed: it fails callers fast rather than have each wait out
//     AcquireTimeout, and tries the database at most a few times a
//     second, serving callers within a second of its return);
//   - an error wrapping pool.ErrClosed after Close, or ctx's cause when
//     ctx is cancelled.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	// A connection found broken (a failed check, or a Destroy of one that
	// failed in use) makes the pool check every other idle one before it
	// is lent: after a server restart, callers do not meet the dead
	// connections one failure at a time.
	//
	// One clock read: the reuse check's idle clock, and where the
	// AcquireTimeout shared by all tries starts.
	start := time.Now()
	for tries := 1; ; tries++ {
		res, err := c.pool.Acquire(ctx)
		if err != nil {
			return nil, c.acquireError(err)
		}
		pc := res.Value()
		err = c.beforeReuse(ctx, res, start)
		if err == nil {
			return &conn{c: c, res: res, pc: pc, dc: pc.dc}, nil
		}
		if ctx.Err() != nil {
			// The caller gave up during the check: not the connection's
			// fault. Given back, the pool's reset on release still drops
			// it if the driver closed it.
			res.Release()
			return nil, context.Cause(ctx)
		}
		// Dead since its last use (the driver's check said so): destroyed,
		// which has the pool check the other idle ones before lending
		// them; another is taken.
		c.stats.resetErrors.Add(1)
		res.Destroy()
		if tries == maxReuseTries {
			return nil, driver.ErrBadConn // database/sql tries again
		}
		if _, ok := ctx.Deadline(); !ok && tries == 1 && c.acquireTimeout > 0 {
			// AcquireTimeout bounds all tries together, not each.
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, start.Add(c.acquireTimeout))
			defer cancel()
		}
	}
}

// maxReuseTries bounds how many connections the driver's ResetSession may
// refuse in one Connect.
const maxReuseTries = 4

// beforeReuse calls the driver's ResetSession again before a connection
// is used again, as database/sql does right before a reuse, when the
// pool did not check it on the way out (it was idle less than
// CheckAfterIdle): drivers check there that the connection is still alive
// (go-sql-driver/mysql's non-blocking read sees a connection the server
// closed since). One idle longer was checked by the pool (a ping), and a
// new one needs nothing (a millisecond of margin: the pool's idle clock
// starts just after releasedAt; now, read before the Acquire, can only
// make the idle time look shorter, so the check runs). The ResetSession on release (see reset) stays:
// it finds a connection left inside a transaction before it idles with
// its locks held.
func (c *Connector) beforeReuse(ctx context.Context, res *pool.Resource[*physConn], now time.Time) error {
	pc := res.Value()
	if res.Uses() <= 1 || c.checkAfterIdle < 0 || now.Sub(pc.releasedAt) > c.checkAfterIdle+time.Millisecond {
		return nil
	}
	if r, ok := pc.dc.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *Connector) acquireError(err error) error {
	var te *pool.TimeoutError
	var ce *pool.CreateError
	switch {
	case errors.As(err, &te):
		return &TimeoutError{Connector: c.cfg.Name, Err: te}
	case errors.As(err, &ce):
		return &ConnectError{Connector: c.cfg.Name, Err: ce}
	}
	return fmt.Errorf("sqlpool %q: %w", c.cfg.Name, err)
}

// create is the pool's Create: one connect. There is no connect breaker:
// the pool's fail-fast does its job (see Config.Breaker).
func (c *Connector) create(ctx context.Context) (*physConn, error) {
	dc, err := c.drv.Connect(ctx)
	if err != nil {
		return nil, c.redactErr(err)
	}
	if !c.sized.Load() && c.sized.CompareAndSwap(false, true) {
		c.checkSizing(ctx, dc)
	}
	pc := &physConn{dc: dc}
	if c.cfg.StmtCacheSize > 0 && c.cfg.ResetQuery == "" {
		pc.cache = newStmtCache(c.cfg.StmtCacheSize)
	}
	return pc, nil
}

var errInvalid = errors.New("sqlpool: driver reports the connection invalid")

// check is the pool's Check: the driver's Validator, then Config.CheckQuery
// or the driver's Pinger.
func (c *Connector) check(ctx context.Context, pc *physConn) error {
	if v, ok := pc.dc.(driver.Validator); ok && !v.IsValid() {
		return errInvalid
	}
	if c.cfg.CheckQuery != "" {
		return execDirect(ctx, pc.dc, c.cfg.CheckQuery)
	}
	if p, ok := pc.dc.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// reset is the pool's Reset, run on every release of a connection that
// is neither broken nor inside a transaction.
func (c *Connector) reset(ctx context.Context, pc *physConn) error {
	err := c.resetConn(ctx, pc)
	if err != nil {
		c.stats.resetErrors.Add(1)
	}
	pc.releasedAt = time.Now() // after the reset, as the pool's idle clock starts
	return err
}

func (c *Connector) resetConn(ctx context.Context, pc *physConn) error {
	if v, ok := pc.dc.(driver.Validator); ok && !v.IsValid() {
		return errInvalid
	}
	r, isResetter := pc.dc.(driver.SessionResetter)
	if !isResetter && c.cfg.ResetQuery == "" {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		// The pool gives no deadline; the connection's own reusable one
		// bounds the reset without allocating.
		ctx = pc.rctx.start(DefaultResetTimeout)
		defer pc.rctx.end()
	}
	if isResetter {
		if err := r.ResetSession(ctx); err != nil {
			return err
		}
	}
	if c.cfg.ResetQuery != "" {
		return execDirect(ctx, pc.dc, c.cfg.ResetQuery)
	}
	return nil
}

// Stats is a snapshot of a Connector: the pool's gauges and counters and
// the connector's own.
type Stats struct {
	pool.Stats

	// Breaker is always breaker.StateClosed.
	//
	// Deprecated: there is no connect breaker any more (see
	// Config.Breaker); the field is kept so that code reading it still
	// compiles. Stats.FailedFast counts the callers failed fast
	// while the database was down.
	Breaker breaker.State

	// Counters, cumulative since NewConnector.
	Broken      uint64 // connections destroyed because the driver reported them broken
	LeftInTx    uint64 // connections destroyed because they came back inside a transaction
	LeftOpen    uint64 // connections destroyed because they came back with statements still open
	ResetErrors uint64 // connections destroyed because their reset failed
}

// Stats returns a snapshot of the pool and the connector. It is cheap and
// does not touch the network.
func (c *Connector) Stats() Stats {
	s := Stats{
		Stats:       c.pool.Stats(),
		Broken:      c.stats.broken.Load(),
		LeftInTx:    c.stats.leftInTx.Load(),
		LeftOpen:    c.stats.leftOpen.Load(),
		ResetErrors: c.stats.resetErrors.Load(),
	}
	return s
}

// Close closes the connector as database/sql's own DB.Close does, and
// *sql.DB.Close calls it: it returns at once; idle connections are closed
// now and connections still in use (a *sql.Rows or *sql.Tx left open) are
// closed when they are given back; new Connect calls fail with an error
// wrapping pool.ErrClosed. Then it closes the wrapped connector, when it
// is an io.Closer. It returns that connector's error, if any. To wait for
// the connections in use, call [Connector.Shutdown] first. Calls after the
// first return the first call's result.
func (c *Connector) Close() error {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		done, cancel := context.WithCancel(context.Background())
		cancel()
		// Stops lending and closes the idle connections; does not wait.
		c.pool.Close(done)
		c.finishClose()
		if c.tel != nil {
			c.tel.Close()
		}
		if cl, ok := c.drv.(io.Closer); ok {
			c.closeErr = cl.Close()
		}
	})
	return c.closeErr
}

// Shutdown is the graceful close: it stops lending at once (new Connect
// calls fail with an error wrapping pool.ErrClosed, callers waiting for a
// connection get it too), closes idle connections, waits until ctx ends
// for the connections in use to come back, then does what [Connector.Close]
// does. It returns nil when every connection was closed in time, or an
// error wrapping ctx's error that says how many were still out (they are
// closed as they come back).
func (c *Connector) Shutdown(ctx context.Context) error {
	c.closing.Store(true)
	err := c.pool.Close(ctx)
	if err != nil {
		err = fmt.Errorf("sqlpool %q: shutdown: %w", c.cfg.Name, err)
	}
	return errors.Join(err, c.Close())
}

// finishClose completes the pool's Close once no connection is in use
// any more, so that it gives its budget share back and its goroutines
// end; Close returns before that when connections are still in use, and
// the last one given back calls it.
func (c *Connector) finishClose() {
	if c.closing.Load() && c.pool.Stats().InUse == 0 {
		c.pool.Close(context.Background())
	}
}

// secondPool warns, once, that database/sql pools connections of its own
// in front of this connector, and undoes it: from then on every
// connection database/sql is done with is given back to the pool (see
// conn.IsValid), and the idle ones it kept in a *sql.DB made by DB are
// closed now. Two pools over the same connections strand callers: those
// waiting in this pool are never handed a connection idle in
// database/sql's, and connections idle there look held here (false leak
// reports).
func (c *Connector) secondPool() {
	if c.warned2nd.Load() || !c.warned2nd.CompareAndSwap(false, true) {
		return
	}
	c.cfg.Logger.Warn("sqlpool: database/sql keeps idle connections of its own (SetMaxIdleConns or SetMaxOpenConns was called on the *sql.DB): "+
		"two pools would hold the same connections (callers stuck waiting in one while connections sit idle in the other, false leak reports); "+
		"sqlpool now has database/sql give every connection back on release and closes the idle ones it kept; "+
		"fix: db.SetMaxIdleConns(0) and db.SetMaxOpenConns(0) (or do not call them), and size the pool with sqlpool.Config (MaxSize, MinSize, MaxIdle)",
		"pool", c.cfg.Name)
	if db := c.db.Load(); db != nil {
		// Not under the caller's driverConn lock: SetMaxIdleConns closes
		// other driverConns.
		go db.SetMaxIdleConns(0)
	}
}

// DB returns a *sql.DB over c set up for single pooling: database/sql
// keeps no idle connection of its own (SetMaxIdleConns(0), so every
// connection it is done with is closed, which gives it back to c), has no
// cap of its own (SetMaxOpenConns(0): callers wait in c's pool, first come
// first served, bounded by AcquireTimeout and counted in its stats), and
// retires nothing by age (lifetimes are c's job). Closing the *sql.DB
// closes c.
func (c *Connector) DB() *sql.DB {
	db := sql.OpenDB(c)
	c.db.CompareAndSwap(nil, db)
	db.SetMaxIdleConns(0)
	db.SetMaxOpenConns(0)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db
}

// OpenDB returns a *sql.DB backed by a new Connector over c, set up as
// [Connector.DB] describes. It fails only when cfg cannot work.
func OpenDB(c driver.Connector, cfg Config) (*sql.DB, error) {
	cn, err := NewConnector(c, cfg)
	if err != nil {
		return nil, err
	}
	return cn.DB(), nil
}

// Open is [OpenDB] for a driver registered with database/sql under
// driverName and a data source name in that driver's format. It uses the
// driver's driver.DriverContext when it has one. The password in dsn never
// appears in the errors the connector returns. Config.Name defaults to
// driverName.
//
// pgxpool's DSN parameters are understood, so that a DSN moved from
// pgxpool keeps working: pool_max_conns (MaxSize), pool_min_conns
// (MinSize), pool_max_conn_lifetime (MaxLifetime), pool_max_conn_idle_time
// (IdleTimeout), pool_health_check_period (HealthCheckPeriod) and
// pool_max_conn_lifetime_jitter (MaxLifetimeJitter; pgxpool adds its
// jitter to the lifetime, this package takes it off). They are taken out
// of the DSN before the driver sees it (the server would refuse them as
// unknown settings) and fill the Config fields left zero: a field set in
// cfg wins, with a warning through Config.Logger when the two differ, as
// code overriding a parsed pgxpool.Config wins. A bad value, another
// pool_* parameter, or pool_min_idle_conns (no counterpart here) is
// refused with a *[DSNParamError] naming it: nothing fails at first use.
// This holds for any driver's DSN with a query string (MySQL's too) and
// for PostgreSQL's keyword/value form.
func Open(driverName, dsn string, cfg Config) (*sql.DB, error) {
	cn, err := NewConnectorDSN(driverName, dsn, cfg)
	if err != nil {
		return nil, err
	}
	return cn.DB(), nil
}

// NewConnectorDSN is [NewConnector] for a driver registered with
// database/sql under driverName and a data source name; see [Open].
func NewConnectorDSN(driverName, dsn string, cfg Config) (*Connector, error) {
	secrets := dsnSecrets(dsn)
	dsn, ignored, params, err := takePoolParams(dsn, &cfg)
	if err != nil {
		return nil, err
	}
	if len(ignored) > 0 {
		log := cfg.Logger
		if log == nil {
			log = slog.Default()
		}
		name := cfg.Name
		if name == "" {
			name = driverName // newConnector's default
		}
		log.Warn("sqlpool: the DSN's pool_* parameters differ from Config fields set in code; Config wins",
			"pool", name, "driver", driverName, "fields", ignored)
	}
	// database/sql has no lookup of a driver by name but through a DB.
	probe, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlpool: %w", redact(err, secrets))
	}
	drv := probe.Driver()
	probe.Close()
	var dc driver.Connector
	if d, ok := drv.(driver.DriverContext); ok {
		if dc, err = d.OpenConnector(dsn); err != nil {
			return nil, fmt.Errorf("sqlpool: driver %q: %w", driverName, redact(err, secrets))
		}
	} else {
		dc = dsnConnector{dsn: dsn, drv: drv}
	}
	cn, err := newConnector(dc, cfg, driverName, secrets, dsn)
	if err != nil {
		if cl, ok := dc.(io.Closer); ok {
			cl.Close()
		}
		return nil, fromParam(err, params)
	}
	return cn, nil
}

// dsnConnector is a driver.Connector for a driver without DriverContext.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (d dsnConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d.drv.Open(d.dsn)
}

func (d dsnConnector) Driver() driver.Driver { return d.drv }
