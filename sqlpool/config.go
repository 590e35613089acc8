package sqlpool

import (
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

// Defaults for the zero values of [Config]. They are applied in one place,
// [NewConnector]; the pool's own defaults (pool.DefaultCheckAfterIdle and
// the others) apply to the knobs passed through to it.
const (
	// DefaultName names a connector whose Config.Name is empty and that
	// was not opened by driver name: currently "sql".
	DefaultName = "sql"

	// DefaultMaxSize caps the open connections when Config.MaxSize is
	// zero: currently 10.
	DefaultMaxSize = 10

	// DefaultResetTimeout bounds Config.ResetQuery, run on every
	// release: currently 5s.
	DefaultResetTimeout = 5 * time.Second

	// DefaultCloseTimeout is how long [Connector.Close] waits for
	// connections still in use to come back: currently 5s.
	DefaultCloseTimeout = 5 * time.Second

	// DefaultStmtCacheSize is how many prepared statements each connection
	// keeps when Config.StmtCacheSize is zero: currently 64.
	DefaultStmtCacheSize = 64

	// DefaultInstances is the number of processes assumed to run with the
	// same Config when Config.Instances is zero: currently 1.
	DefaultInstances = 1

	// SizingWarnFraction is the share of the server's connection limit
	// that MaxSize × Instances may take before the connector warns:
	// currently 0.85.
	SizingWarnFraction = 0.85
)

// Config describes a [Connector]. Its zero value is a working setup: up to
// DefaultMaxSize connections, none kept warm, checked with the driver's
// Pinger after DefaultCheckAfterIdle of idleness, failing fast while the
// database is down. [NewConnector] refuses a Config that cannot
// work with an error that names the field.
type Config struct {
	// Name identifies the connector in errors, logs, stats and metrics,
	// and names its breaker. Zero: the driver name given to [Open], or
	// DefaultName.
	Name string

	// Pool knobs, under the pool's own names; see [pool.Config].

	// MinSize is how many connections are kept open, created in the
	// background. Zero: none.
	MinSize int
	// MaxSize caps the open connections, counting those being opened.
	// Zero: DefaultMaxSize. Negative: invalid. The *sql.DB from [OpenDB]
	// has no cap of its own: this one is the only one.
	MaxSize int
	// MaxIdle caps the idle connections. Zero: MaxSize.
	MaxIdle int
	// IdleTimeout closes a connection idle for longer, never going below
	// MinSize. Zero: never.
	IdleTimeout time.Duration
	// MaxLifetime retires a connection at this age (minus jitter), never
	// while it is in use. Zero: no limit.
	MaxLifetime time.Duration
	// MaxLifetimeJitter is the most taken off MaxLifetime for one
	// connection. Zero: 10% of MaxLifetime. Negative: none.
	MaxLifetimeJitter time.Duration
	// AcquireTimeout bounds every Connect (so every database/sql call
	// that needs a connection) from the moment it is called: waiting,
	// checking and connecting. The deadline is ctx's or now+AcquireTimeout,
	// whichever is sooner. Zero: only ctx's.
	AcquireTimeout time.Duration
	// CheckAfterIdle is how long a connection may sit idle before it is
	// checked (see CheckQuery) before use. Zero: pool.DefaultCheckAfterIdle.
	// Negative: check on every use.
	CheckAfterIdle time.Duration
	// HealthCheckPeriod is how often idle connections are checked in the
	// background. Zero: pool.DefaultHealthCheckPeriod. Negative: never.
	HealthCheckPeriod time.Duration
	// ConnectTimeout bounds one connect to the database. Zero:
	// pool.DefaultCreateTimeout.
	ConnectTimeout time.Duration
	// MaxWaiters bounds the callers waiting for a connection at once; one
	// more fails at once with an error wrapping pool.ErrWaitQueueFull.
	// Zero: unbounded.
	MaxWaiters int
	// MaxUses closes a connection after it has been lent this many times
	// (a new one replaces it when needed). Zero: unlimited.
	MaxUses int
	// LeakThreshold reports, through Logger, a connection held longer than
	// this (a *sql.Rows never closed, a transaction never ended), with the
	// stack that took it. Zero: off.
	LeakThreshold time.Duration
	// Budget, when set, caps the open connections of every connector and
	// pool sharing it: a *pool.Budget within the process, or a fleet
	// budget (package fleet) across processes. Optional; nil means none.
	Budget pool.SharedBudget
	// Observer receives the pool's events, for metrics. Optional.
	Observer pool.Observer
	// Telemetry, when set, gets the connector's pool under kind "sql" and
	// Name (metrics.For(reg) for Prometheus, otelpoolkit for
	// OpenTelemetry): its gauges and counters, read at collection time,
	// and its events (wait, use, create time, connection age). The
	// constructor fails with a *ConfigError for field "Telemetry" when it
	// refuses the pool (one of the same Name already reports there:
	// telemetry.ErrDuplicate). Observer, if set, keeps getting every
	// event. Close and Shutdown stop the reporting. Zero: no telemetry.
	Telemetry telemetry.Telemetry
	// Logger receives leak reports, sizing warnings and background
	// failures. Zero: slog.Default().
	Logger *slog.Logger

	// SQL knobs.

	// ResetQuery runs on every connection given back, e.g. "DISCARD ALL" on PostgreSQL, which also fails,
	// so closes, a connection left inside a transaction begun with a plain
	// BEGIN. An error closes the connection. Zero: none. DISCARD ALL drops
	// every prepared statement of the session, those a driver caches too:
	// with pgx, turn its cache off (default_query_exec_mode=exec in the
	// DSN) or every query after the first reset fails.
	ResetQuery string
	// StmtCacheSize is how many prepared statements are kept prepared on
	// each connection after the statement that prepared them is closed,
	// so that a statement from db.Prepare is not prepared again each time
	// database/sql takes a connection (see the package doc). The least
	// recently used one is closed beyond it. Zero:
	// DefaultStmtCacheSize. Negative: no cache (every statement closed
	// with database/sql's). The cache is off when ResetQuery is set,
	// since a reset such as DISCARD ALL drops the statements.
	StmtCacheSize int
	// CheckQuery is the health check, e.g. "SELECT 1". Zero: the driver's
	// driver.Pinger, or no check when it has none.
	CheckQuery string
	// Instances is how many processes run with this Config against the
	// same server, for the sizing warning: when MaxSize × Instances is
	// above SizingWarnFraction of the server's connection limit
	// (PostgreSQL and MySQL/MariaDB), the first connect logs a warning.
	// Zero: DefaultInstances. Negative: no sizing check.
	Instances int

	// Breaker must be left zero: NewConnector and Validate refuse one
	// that is set, rather than ignore it.
	//
	// Deprecated: the connect breaker is gone; the field is kept so that
	// code setting it still compiles. The pool now fails callers
	// fast while the database is down (no connection open and the last
	// connect failed: every waiting and new caller gets the connect error
	// at once), tries the database at most a few times a second, and
	// serves callers within a second of its return. A breaker in front of
	// the connects could only delay that return (it kept connects away
	// for its OpenTimeout, and its half-open probe limit failed callers
	// after the database was back) and fail callers with its own error
	// instead of the database's.
	Breaker breaker.Settings
	// DisableBreaker is ignored, as Breaker is.
	//
	// Deprecated: see Breaker.
	DisableBreaker bool
}

// ConfigError reports a Config field that cannot work. [NewConnector]
// returns it (or the pool's *pool.ConfigError, or breaker's
// *breaker.SettingsError wrapped in it, which also name the field).
type ConfigError struct {
	Connector string // the connector's name
	Field     string // the field, as spelled in Config
	Value     any    // the value given
	Reason    string // what is wrong with it
	Err       error  // the underlying error, if any
}

func (e *ConfigError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("sqlpool %q: Config.%s: %v", e.Connector, e.Field, e.Err)
	}
	return fmt.Sprintf("sqlpool %q: Config.%s = %v: %s", e.Connector, e.Field, e.Value, e.Reason)
}

// Unwrap returns the underlying error, if any.
func (e *ConfigError) Unwrap() error { return e.Err }

// withDefaults validates cfg and fills in the zero values that are this
// package's to fill (the pool fills its own).
func (cfg Config) withDefaults(name string) (Config, error) {
	bad := func(field string, v any, reason string) (Config, error) {
		return cfg, &ConfigError{Connector: name, Field: field, Value: v, Reason: reason}
	}
	cfg.Name = name
	switch {
	case cfg.MaxSize < 0:
		return bad("MaxSize", cfg.MaxSize, "must be >= 0 (0 means DefaultMaxSize)")
	case cfg.MaxSize == 0:
		cfg.MaxSize = max(DefaultMaxSize, cfg.MinSize)
	}
	if err := cfg.limits().Validate(name); err != nil {
		return cfg, err
	}
	if !reflect.ValueOf(cfg.Breaker).IsZero() {
		// Ignoring it would lose the setting silently.
		return bad("Breaker", "set", "the connect breaker is gone: the pool fails callers fast while the database is down; remove this setting")
	}
	if cfg.StmtCacheSize == 0 {
		cfg.StmtCacheSize = DefaultStmtCacheSize
	}
	if cfg.ConnectTimeout < 0 {
		return bad("ConnectTimeout", cfg.ConnectTimeout, "must be >= 0")
	}
	if cfg.Instances == 0 {
		cfg.Instances = DefaultInstances
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// limits is the one place where Config's flat pool knobs become the pool's
// [pool.Limits]: the same names, the same meanings, zero included.
func (cfg Config) limits() pool.Limits {
	return pool.Limits{
		MinSize:        cfg.MinSize,
		MaxSize:        cfg.MaxSize,
		MaxIdle:        cfg.MaxIdle,
		IdleTimeout:    cfg.IdleTimeout,
		MaxLifetime:    cfg.MaxLifetime,
		AcquireTimeout: cfg.AcquireTimeout,
		MaxWaiters:     cfg.MaxWaiters,
		MaxUses:        cfg.MaxUses,
		LeakThreshold:  cfg.LeakThreshold,
	}
}

// Validate reports the first field of cfg that cannot work, as
// [NewConnector] would (a *ConfigError, or the pool's *pool.ConfigError,
// naming the field), or nil. It needs no driver, so a configuration read
// from a file can be checked before anything connects.
func (cfg Config) Validate() error {
	name := cfg.Name
	if name == "" {
		name = DefaultName
	}
	_, err := cfg.withDefaults(name)
	return err
}
