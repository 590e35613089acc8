package pool

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Defaults for the zero values of [Config]. They are applied in one place,
// [New], and reported back by [Pool.Config].
const (
	// DefaultCheckAfterIdle is how long a resource may sit idle before
	// Acquire runs Config.Check on it: currently 500ms. A resource used
	// more recently than that is handed out without a check.
	DefaultCheckAfterIdle = 500 * time.Millisecond

	// DefaultHealthCheckPeriod is how often idle resources are checked in
	// the background when Config.Check is set: currently 1 minute.
	DefaultHealthCheckPeriod = time.Minute

	// DefaultCheckTimeout bounds one background health check: currently 5s.
	DefaultCheckTimeout = 5 * time.Second

	// DefaultCreateTimeout bounds one call of Config.Create: currently 30s.
	DefaultCreateTimeout = 30 * time.Second

	// DefaultMaxConcurrentCreates caps how many Create calls run at once:
	// currently 4.
	DefaultMaxConcurrentCreates = 4

	// DefaultCreateBackoff is the first pause after a failed Create:
	// currently 100ms. It doubles (with jitter) on every further failure in
	// a row, up to DefaultMaxCreateBackoff.
	DefaultCreateBackoff = 100 * time.Millisecond

	// MinCreatePause is the shortest pause between failed Creates,
	// whatever CreateBackoff says: currently 100ms, so a dead backend
	// sees at most 10 attempts a second from a pool.
	MinCreatePause = 100 * time.Millisecond

	// DemandRetryInterval caps the pause after a failed Create while
	// callers wait or arrive: currently 1s. A caller arriving when it is
	// over triggers the next attempt and waits for it, so callers are
	// served within about a second of the backend's return however long
	// it was down. (While the pool has no resource open, callers arriving
	// before then fail at once with the Create error.)
	DemandRetryInterval = time.Second

	// DefaultMaxCreateBackoff caps the pause between failed Creates:
	// currently 5s.
	DefaultMaxCreateBackoff = 5 * time.Second

	// DefaultLifetimeJitterFraction is the share of MaxLifetime used as
	// jitter when MaxLifetimeJitter is zero: currently 10%.
	DefaultLifetimeJitterFraction = 0.10
)

// Config describes a pool. Create and MaxSize are required; every other
// field has a documented zero value. [New] refuses a Config that cannot work
// and names the field in its error.
type Config[T any] struct {
	// Name identifies the pool in errors, logs and metrics. Zero: "pool".
	Name string

	// Create opens a new resource. Required. Its ctx is bounded by
	// CreateTimeout and cancelled when the pool closes; it is not the
	// caller's ctx of Acquire, because a resource created for a caller
	// who gave up goes to the next caller instead of being wasted.
	Create func(ctx context.Context) (T, error)

	// Destroy closes a resource. Optional: nil means nothing to close.
	// It is called without the pool's lock held.
	Destroy func(v T)

	// Check reports whether an idle resource still works (a "pre-ping").
	// Optional. It runs on Acquire when the resource has been idle longer
	// than CheckAfterIdle or is suspect (see [Pool.Acquire]), and in the
	// background every HealthCheckPeriod. An error destroys the resource.
	Check func(ctx context.Context, v T) error

	// Reset prepares a released resource for the next user. Optional. It
	// runs in Release, before the resource goes back; an error destroys it.
	Reset func(ctx context.Context, v T) error

	// MinSize is how many resources the pool keeps open, created in the
	// background (with backoff when Create fails). Zero: none.
	MinSize int

	// MaxSize caps the open resources, counting the ones being created.
	// Required: must be > 0.
	MaxSize int

	// MaxIdle caps the idle resources; a resource released while MaxIdle
	// are idle is destroyed. Zero: MaxSize (following SetMaxSize).
	MaxIdle int

	// IdleTimeout destroys a resource idle for longer, never taking the
	// pool below MinSize. Zero: never.
	IdleTimeout time.Duration

	// MaxLifetime retires a resource at this age, minus a random jitter
	// of up to MaxLifetimeJitter so that resources created together do
	// not expire together. A resource in use is retired on its Release,
	// never taken from its user. Zero: no limit.
	MaxLifetime time.Duration

	// MaxLifetimeJitter is the most taken off MaxLifetime for a resource.
	// Zero: DefaultLifetimeJitterFraction of MaxLifetime. Negative: none.
	MaxLifetimeJitter time.Duration

	// AcquireTimeout bounds every Acquire from the moment it is called:
	// its deadline is ctx's or now+AcquireTimeout, whichever is sooner.
	// Zero: only ctx's.
	AcquireTimeout time.Duration

	// MaxWaiters bounds the Acquire calls waiting at once; one more fails
	// at once with an error that wraps ErrWaitQueueFull. Zero: unbounded.
	MaxWaiters int

	// CheckAfterIdle is how long a resource may be idle before Acquire
	// checks it, whether it was idle, handed over by a Release or just
	// created. Zero: DefaultCheckAfterIdle. Negative: check on every
	// Acquire. Ignored without Check.
	CheckAfterIdle time.Duration

	// HealthCheckPeriod is how often idle resources are checked in the
	// background. Zero: DefaultHealthCheckPeriod. Negative: never.
	// Ignored without Check.
	HealthCheckPeriod time.Duration

	// CheckTimeout bounds one health check, in the background or on
	// Acquire (where Acquire's ctx bounds it too). Zero: DefaultCheckTimeout.
	CheckTimeout time.Duration

	// CreateTimeout bounds one Create call. Zero: DefaultCreateTimeout.
	// Negative: no bound but the pool's lifetime.
	CreateTimeout time.Duration

	// MaxConcurrentCreates caps the Create calls running at once, so a
	// burst does not stampede the backend. While Create keeps failing
	// only one runs at a time. Zero: min(MaxSize, DefaultMaxConcurrentCreates).
	MaxConcurrentCreates int

	// CreateBackoff is the first pause after a failed Create; it doubles
	// on each further failure in a row, with jitter, up to
	// MaxCreateBackoff. Zero: DefaultCreateBackoff. A pause is never
	// below MinCreatePause, and never above DemandRetryInterval while
	// callers wait.
	CreateBackoff time.Duration

	// MaxCreateBackoff caps the pause between failed Creates. Zero:
	// DefaultMaxCreateBackoff.
	MaxCreateBackoff time.Duration

	// MaxUses destroys a resource after it has been acquired this many
	// times. Zero: unlimited.
	MaxUses int

	// LeakThreshold turns on leak detection: a resource held longer than
	// this is reported once through Logger, with the stack of the Acquire
	// that took it, and timeout errors name the longest holder. Leak
	// detection records a stack on every Acquire (about a microsecond).
	// Zero: off.
	LeakThreshold time.Duration

	// Budget, when set, caps the open resources of all pools sharing it:
	// a [*Budget] within the process, or a fleet budget across processes.
	// Optional; a nil *Budget means none.
	Budget SharedBudget

	// Observer receives events for metrics. Optional. Its methods are
	// called without any lock held and must not block.
	Observer Observer

	// Logger receives leak reports, misuse reports and background
	// failures. Zero: slog.Default().
	Logger *slog.Logger
}

// settings are the durations and limits of a Config with defaults applied.
type settings struct {
	maxIdle              int
	lifetimeJitter       time.Duration
	checkAfterIdle       time.Duration // < 0: always
	healthCheckPeriod    time.Duration // 0: never
	checkTimeout         time.Duration
	createTimeout        time.Duration // 0: none
	maxConcurrentCreates int
	createBackoff        time.Duration
	maxCreateBackoff     time.Duration
}

// ConfigError reports a Config field, or an argument of a method that
// changes a limit, that cannot work. [New], [NewBudget],
// [Pool.SetMaxSize], [Pool.SetMinSize] and [Budget.SetSize] return it.
type ConfigError struct {
	Pool   string // the pool's name
	Op     string // the method, as "SetMaxSize"; empty for New
	Field  string // the field, as spelled in Config, or the argument
	Value  any    // the value given
	Reason string // what is wrong with it
}

func (e *ConfigError) Error() string {
	if e.Op != "" {
		return fmt.Sprintf("pool %q: %s(%s = %v): %s", e.Pool, e.Op, e.Field, e.Value, e.Reason)
	}
	return fmt.Sprintf("pool %q: Config.%s = %v: %s", e.Pool, e.Field, e.Value, e.Reason)
}

// validate checks cfg and returns the effective settings.
func (cfg *Config[T]) validate(name string) (settings, error) {
	bad := func(field string, v any, reason string) (settings, error) {
		return settings{}, &ConfigError{Pool: name, Field: field, Value: v, Reason: reason}
	}
	if cfg.Create == nil {
		return bad("Create", "nil", "required")
	}
	if b, ok := cfg.Budget.(*Budget); ok {
		switch {
		case b == nil:
			cfg.Budget = nil
		case b.size == 0:
			return bad("Budget", "Budget{}", "not made by NewBudget")
		}
	}
	if cfg.MaxSize <= 0 {
		return bad("MaxSize", cfg.MaxSize, "must be > 0")
	}
	if cfg.MinSize < 0 {
		return bad("MinSize", cfg.MinSize, "must be >= 0")
	}
	if cfg.MinSize > cfg.MaxSize {
		return bad("MinSize", cfg.MinSize, fmt.Sprintf("must be <= MaxSize (%d)", cfg.MaxSize))
	}
	if cfg.MaxIdle < 0 {
		return bad("MaxIdle", cfg.MaxIdle, "must be >= 0 (0 means MaxSize)")
	}
	if cfg.MaxIdle > cfg.MaxSize {
		return bad("MaxIdle", cfg.MaxIdle, fmt.Sprintf("must be <= MaxSize (%d)", cfg.MaxSize))
	}
	if cfg.MaxIdle > 0 && cfg.MaxIdle < cfg.MinSize {
		return bad("MaxIdle", cfg.MaxIdle, fmt.Sprintf("must be >= MinSize (%d), or the pool destroys what it keeps warm", cfg.MinSize))
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"IdleTimeout", cfg.IdleTimeout},
		{"MaxLifetime", cfg.MaxLifetime},
		{"AcquireTimeout", cfg.AcquireTimeout},
		{"CheckTimeout", cfg.CheckTimeout},
		{"CreateBackoff", cfg.CreateBackoff},
		{"MaxCreateBackoff", cfg.MaxCreateBackoff},
		{"LeakThreshold", cfg.LeakThreshold},
	} {
		if d.v < 0 {
			return bad(d.field, d.v, "must be >= 0")
		}
	}
	if cfg.MaxWaiters < 0 {
		return bad("MaxWaiters", cfg.MaxWaiters, "must be >= 0 (0 means unbounded)")
	}
	if cfg.MaxUses < 0 {
		return bad("MaxUses", cfg.MaxUses, "must be >= 0 (0 means unlimited)")
	}
	if cfg.MaxConcurrentCreates < 0 {
		return bad("MaxConcurrentCreates", cfg.MaxConcurrentCreates, "must be >= 0")
	}
	if cfg.MaxLifetimeJitter > 0 && cfg.MaxLifetime == 0 {
		return bad("MaxLifetimeJitter", cfg.MaxLifetimeJitter, "set without MaxLifetime")
	}
	if cfg.MaxLifetime > 0 && cfg.MaxLifetimeJitter >= cfg.MaxLifetime {
		return bad("MaxLifetimeJitter", cfg.MaxLifetimeJitter, fmt.Sprintf("must be < MaxLifetime (%v)", cfg.MaxLifetime))
	}
	s := settings{
		maxIdle:              cfg.MaxIdle,
		checkAfterIdle:       cfg.CheckAfterIdle,
		healthCheckPeriod:    cfg.HealthCheckPeriod,
		checkTimeout:         cfg.CheckTimeout,
		createTimeout:        cfg.CreateTimeout,
		maxConcurrentCreates: cfg.MaxConcurrentCreates,
		createBackoff:        cfg.CreateBackoff,
		maxCreateBackoff:     cfg.MaxCreateBackoff,
	}
	if s.maxIdle == 0 {
		s.maxIdle = cfg.MaxSize
	}
	switch {
	case cfg.MaxLifetimeJitter > 0:
		s.lifetimeJitter = cfg.MaxLifetimeJitter
	case cfg.MaxLifetimeJitter == 0 && cfg.MaxLifetime > 0:
		s.lifetimeJitter = time.Duration(float64(cfg.MaxLifetime) * DefaultLifetimeJitterFraction)
	}
	if s.checkAfterIdle == 0 {
		s.checkAfterIdle = DefaultCheckAfterIdle
	}
	switch {
	case cfg.Check == nil || s.healthCheckPeriod < 0:
		s.healthCheckPeriod = 0
	case s.healthCheckPeriod == 0:
		s.healthCheckPeriod = DefaultHealthCheckPeriod
	}
	if s.checkTimeout == 0 {
		s.checkTimeout = DefaultCheckTimeout
	}
	switch {
	case s.createTimeout == 0:
		s.createTimeout = DefaultCreateTimeout
	case s.createTimeout < 0:
		s.createTimeout = 0
	}
	if s.maxConcurrentCreates == 0 {
		s.maxConcurrentCreates = min(cfg.MaxSize, DefaultMaxConcurrentCreates)
	}
	if s.createBackoff == 0 {
		s.createBackoff = DefaultCreateBackoff
	}
	if s.maxCreateBackoff == 0 {
		s.maxCreateBackoff = max(DefaultMaxCreateBackoff, s.createBackoff)
	}
	if s.maxCreateBackoff < s.createBackoff {
		return bad("MaxCreateBackoff", cfg.MaxCreateBackoff, fmt.Sprintf("must be >= CreateBackoff (%v)", s.createBackoff))
	}
	return s, nil
}
