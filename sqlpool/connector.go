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

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
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
	br      *breaker.Breaker // nil: disabled
	secrets []string         // redacted from every error message
	metrics *metrics.Metrics // nil without Config.Registerer

	brOpen atomic.Bool // the breaker was last seen open
	sized  atomic.Bool // the sizing check has run

	stats struct {
		broken, leftInTx, leftOpen, failedFast, resetErrors atomic.Uint64
	}

	closeOnce sync.Once
	closeErr  error
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
	return newConnector(c, cfg, DefaultName, nil)
}

func newConnector(c driver.Connector, cfg Config, defaultName string, secrets []string) (*Connector, error) {
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
	cn := &Connector{drv: c, cfg: cfg, secrets: secrets}
	var m *metrics.Metrics
	if cfg.Registerer != nil {
		if m, err = metrics.Shared(cfg.Registerer); err != nil {
			return nil, &ConfigError{Connector: name, Field: "Registerer", Err: err}
		}
	}
	if !cfg.DisableBreaker {
		s := cfg.Breaker
		w := breakerWatch{cn: cn, next: s.Observer}
		if m != nil {
			w.metrics = m.BreakerObserver()
		}
		s.Observer = w
		if cn.br, err = breaker.New(name, s); err != nil {
			return nil, &ConfigError{Connector: name, Field: "Breaker", Err: err}
		}
	}
	pc := pool.Config[*physConn]{
		Name:              name,
		Create:            cn.create,
		Destroy:           func(pc *physConn) { pc.dc.Close() },
		Check:             cn.check,
		Reset:             cn.reset,
		MinSize:           cfg.MinSize,
		MaxSize:           cfg.MaxSize,
		MaxIdle:           cfg.MaxIdle,
		IdleTimeout:       cfg.IdleTimeout,
		MaxLifetime:       cfg.MaxLifetime,
		MaxLifetimeJitter: cfg.MaxLifetimeJitter,
		AcquireTimeout:    cfg.AcquireTimeout,
		CheckAfterIdle:    cfg.CheckAfterIdle,
		HealthCheckPeriod: cfg.HealthCheckPeriod,
		CreateTimeout:     cfg.ConnectTimeout,
		LeakThreshold:     cfg.LeakThreshold,
		Budget:            cfg.Budget,
		Observer:          cfg.Observer,
		Logger:            cfg.Logger,
	}
	if m != nil {
		pc.Observer = metrics.Observers(cfg.Observer, m.PoolObserver(metrics.KindSQL, name))
	}
	if cn.pool, err = pool.New(pc); err != nil {
		return nil, err
	}
	if m != nil {
		if err := m.Add(metrics.PoolSource(metrics.KindSQL, cn.pool)); err != nil {
			cn.pool.Close(context.Background())
			return nil, &ConfigError{Connector: name, Field: "Registerer", Err: err}
		}
		if cn.br != nil {
			if err := m.AddBreaker(cn.br); err != nil {
				m.Remove(metrics.KindSQL, name)
				cn.pool.Close(context.Background())
				return nil, &ConfigError{Connector: name, Field: "Registerer", Err: err}
			}
		}
		cn.metrics = m
	}
	return cn, nil
}

// breakerWatch keeps Connector.brOpen up to date and forwards to the
// user's observer.
type breakerWatch struct {
	cn      *Connector
	next    breaker.Observer
	metrics breaker.Observer // nil without a Registerer
}

func (w breakerWatch) StateChange(name string, from, to breaker.State) {
	w.cn.brOpen.Store(to == breaker.StateOpen)
	if to == breaker.StateOpen {
		w.cn.cfg.Logger.Warn("sqlpool: connects keep failing; connect breaker open, callers without an idle connection fail fast",
			"connector", name)
	}
	if w.metrics != nil {
		w.metrics.StateChange(name, from, to)
	}
	if w.next != nil {
		w.next.StateChange(name, from, to)
	}
}

func (w breakerWatch) Rejected(name string) {
	if w.metrics != nil {
		w.metrics.Rejected(name)
	}
	if w.next != nil {
		w.next.Rejected(name)
	}
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

// Config returns the Config with this package's defaults applied.
func (c *Connector) Config() Config { return c.cfg }

// Driver returns the driver of the wrapped connector.
func (c *Connector) Driver() driver.Driver { return c.drv.Driver() }

// Connect lends a pooled connection; closing it gives it back. It is what
// database/sql calls; call it directly only to use the driver by hand.
//
// ctx bounds the wait (Config.AcquireTimeout applies when it has no
// deadline). On failure it returns:
//   - a *[TimeoutError] (errors.Is pool.ErrAcquireTimeout and
//     context.DeadlineExceeded) when no connection came in time;
//   - a *[ConnectError] when the connect made for this caller failed, or
//     at once, matching breaker.ErrOpen, when the connect breaker is open
//     and no connection is idle;
//   - an error wrapping pool.ErrClosed after Close, or ctx's cause when
//     ctx is cancelled.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.brOpen.Load() {
		if err := c.failFast(); err != nil {
			return nil, err
		}
	}
	// A connection found broken (a failed check, or a Destroy of one that
	// failed in use) makes the pool check every other idle one before it
	// is lent: after a server restart, callers do not meet the dead
	// connections one failure at a time.
	res, err := c.pool.Acquire(ctx)
	if err != nil {
		return nil, c.acquireError(err)
	}
	return &conn{c: c, res: res, dc: res.Value().dc}, nil
}

// failFast returns an error matching breaker.ErrOpen when the breaker is
// open and no connection is idle, so that the caller does not wait for a
// connect bound to fail.
func (c *Connector) failFast() error {
	if c.br.State() != breaker.StateOpen {
		return nil
	}
	if c.pool.Stats().Idle > 0 {
		return nil
	}
	done, err := c.br.Allow()
	if err == nil {
		done(context.Canceled) // not a connect: counted as neither
		return nil
	}
	c.stats.failedFast.Add(1)
	return &ConnectError{Connector: c.cfg.Name, Err: err}
}

func (c *Connector) acquireError(err error) error {
	var te *pool.TimeoutError
	var ce *pool.CreateError
	switch {
	case errors.As(err, &te):
		st := breaker.StateClosed
		if c.br != nil {
			st = c.br.State()
		}
		return &TimeoutError{Connector: c.cfg.Name, Breaker: st, Err: te}
	case errors.As(err, &ce):
		return &ConnectError{Connector: c.cfg.Name, Err: ce}
	}
	return fmt.Errorf("sqlpool %q: %w", c.cfg.Name, err)
}

// create is the pool's Create: one connect through the breaker.
func (c *Connector) create(ctx context.Context) (*physConn, error) {
	var done func(error)
	if c.br != nil {
		d, err := c.br.Allow()
		if err != nil {
			return nil, err
		}
		done = d
	}
	dc, err := c.drv.Connect(ctx)
	if done != nil {
		done(err)
	}
	if err != nil {
		return nil, c.redactErr(err)
	}
	if !c.sized.Load() && c.sized.CompareAndSwap(false, true) {
		c.checkSizing(ctx, dc)
	}
	return &physConn{dc: dc}, nil
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
	ctx, cancel := context.WithTimeout(ctx, DefaultResetTimeout)
	defer cancel()
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

	// Breaker is the connect breaker's state (StateClosed when disabled).
	Breaker breaker.State

	// Counters, cumulative since NewConnector.
	Broken      uint64 // connections destroyed because the driver reported them broken
	LeftInTx    uint64 // connections destroyed because they came back inside a transaction
	LeftOpen    uint64 // connections destroyed because they came back with statements still open
	ResetErrors uint64 // connections destroyed because their reset failed
	FailedFast  uint64 // Connect calls failed at once by the open breaker
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
		FailedFast:  c.stats.failedFast.Load(),
	}
	if c.br != nil {
		s.Breaker = c.br.State()
	}
	return s
}

// Close closes the pool: idle connections at once, connections in use as
// they come back, waiting up to DefaultCloseTimeout for them; then the
// wrapped connector, when it is an io.Closer. *sql.DB.Close calls it. It
// returns an error when connections were still in use after the wait.
// Calls after the first return the first call's result.
func (c *Connector) Close() error {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), DefaultCloseTimeout)
		defer cancel()
		c.closeErr = c.pool.Close(ctx)
		if c.metrics != nil {
			c.metrics.Remove(metrics.KindSQL, c.cfg.Name)
			if c.br != nil {
				c.metrics.RemoveBreaker(c.br.Name())
			}
		}
		if cl, ok := c.drv.(io.Closer); ok {
			c.closeErr = errors.Join(c.closeErr, cl.Close())
		}
	})
	return c.closeErr
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
	cn, err := newConnector(dc, cfg, driverName, secrets)
	if err != nil {
		if cl, ok := dc.(io.Closer); ok {
			cl.Close()
		}
		return nil, err
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
