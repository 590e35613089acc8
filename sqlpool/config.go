package sqlpool

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
	"github.com/prometheus/client_golang/prometheus"
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

	// DefaultResetTimeout bounds the reset run on every release
	// (SessionResetter and Config.ResetQuery): currently 5s.
	DefaultResetTimeout = 5 * time.Second

	// DefaultCloseTimeout is how long [Connector.Close] waits for
	// connections still in use to come back: currently 5s.
	DefaultCloseTimeout = 5 * time.Second

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
// Pinger after DefaultCheckAfterIdle of idleness, a connect breaker with
// [breaker.Settings] defaults. [NewConnector] refuses a Config that cannot
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
	// AcquireTimeout is how long a caller whose ctx has no deadline waits
	// for a connection from the pool. Zero: as long as ctx allows.
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
	// LeakThreshold reports, through Logger, a connection held longer than
	// this (a *sql.Rows never closed, a transaction never ended), with the
	// stack that took it. Zero: off.
	LeakThreshold time.Duration
	// Budget, when set, caps the open connections of every connector and
	// pool sharing it. Optional.
	Budget *pool.Budget
	// Observer receives the pool's events, for metrics. Optional.
	Observer pool.Observer
	// Registerer, when set, gets the connector's Prometheus metrics (see
	// package metrics), labelled kind="sql" and pool=Name: the pool's
	// gauges and counters read at scrape time, its wait, use, create and
	// connection-age histograms, and the connect breaker's state,
	// transitions and rejections (under service=Name). Every connector and
	// client given the same Registerer reports through one
	// metrics.Metrics; two with the same Name are refused. Observer, if
	// set, keeps getting every event. Close removes the series. Zero: no
	// metrics.
	Registerer prometheus.Registerer
	// Logger receives leak reports, sizing warnings and background
	// failures. Zero: slog.Default().
	Logger *slog.Logger

	// SQL knobs.

	// ResetQuery runs on every connection given back, after the driver's
	// SessionResetter, e.g. "DISCARD ALL" on PostgreSQL, which also fails,
	// so closes, a connection left inside a transaction begun with a plain
	// BEGIN. An error closes the connection. Zero: none. DISCARD ALL drops
	// every prepared statement of the session, those a driver caches too:
	// with pgx, turn its cache off (default_query_exec_mode=exec in the
	// DSN) or every query after the first reset fails.
	ResetQuery string
	// CheckQuery is the health check, e.g. "SELECT 1". Zero: the driver's
	// driver.Pinger, or no check when it has none.
	CheckQuery string
	// Instances is how many processes run with this Config against the
	// same server, for the sizing warning: when MaxSize × Instances is
	// above SizingWarnFraction of the server's connection limit
	// (PostgreSQL and MySQL/MariaDB), the first connect logs a warning.
	// Zero: DefaultInstances. Negative: no sizing check.
	Instances int

	// Breaker configures the circuit breaker around connects: when
	// connects keep failing it opens, and callers that find no idle
	// connection fail at once with an error matching breaker.ErrOpen
	// instead of each waiting out a connect. Zero: breaker.Settings
	// defaults.
	Breaker breaker.Settings
	// DisableBreaker turns the connect breaker off.
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
	if cfg.ConnectTimeout < 0 {
		return bad("ConnectTimeout", cfg.ConnectTimeout, "must be >= 0")
	}
	if cfg.Instances == 0 {
		cfg.Instances = DefaultInstances
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if !cfg.DisableBreaker {
		if err := cfg.Breaker.Validate(); err != nil {
			return cfg, &ConfigError{Connector: name, Field: "Breaker", Err: err}
		}
	}
	return cfg, nil
}
