// Package telemetry is the seam between poolkit's products (httpclient,
// sqlpool, a pool of your own) and the backend that records what they do.
// It imports no backend: package metrics adapts it to Prometheus
// (metrics.For), module github.com/poolkit/poolkit/otelpoolkit to
// OpenTelemetry, and [Join] feeds several at once. A program that sets no
// Telemetry links neither.
//
// A product given a [Telemetry] calls [Telemetry.Pool] once per pool or set
// of per-origin pools it opens, feeds the events of each pool to the
// observer the returned [Pool] gives, and closes it when the product closes.
// An HTTP client also calls [Telemetry.Service] for its breaker, its retries
// and the requests its callers make.
package telemetry

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/retry"
)

// Kinds of pool, as products report them in [Source.Kind].
const (
	KindHTTP = "http" // an httpclient Transport's per-origin pools
	KindSQL  = "sql"  // an sqlpool Connector's pool
	KindPool = "pool" // any other pool.Pool
)

// Telemetry records what pools and HTTP services do. Implementations must
// be safe for concurrent use; their observers are called on hot paths and
// must not block.
type Telemetry interface {
	// Pool starts reporting src. It returns an error when src is
	// incomplete, and one wrapping [ErrDuplicate] when a pool of the same
	// Kind and Name is already reported. src.Stats, Origins and Config
	// may be called from the moment Pool is called, from any goroutine.
	Pool(src Source) (Pool, error)
	// Service starts reporting the HTTP service name: its breaker, its
	// retries and the requests its callers make. It returns an error
	// wrapping [ErrDuplicate] when the name is already reported.
	Service(name string) (Service, error)
}

// Pool is the handle of one reported pool (or set of per-origin pools).
type Pool interface {
	// Observer returns the observer for the events of the pool of origin
	// ("scheme://host:port"), or of the single pool when origin is "".
	// It may return nil when the backend wants no events.
	Observer(origin string) pool.Observer
	// Close stops reporting the pool and forgets its series.
	Close()
}

// Service is the handle of one reported HTTP service.
type Service interface {
	// BreakerObserver is set as the service breaker's Settings.Observer
	// (nil: none wanted).
	BreakerObserver() breaker.Observer
	// Breaker gives the service's breaker, once made, so its state can be
	// read at collection time.
	Breaker(b *breaker.Breaker)
	// RetryObserver is set as the service's retry Policy.Observer (nil:
	// none wanted).
	RetryObserver() retry.Observer
	// RoundTripper wraps the outside of the service's chain, so it sees
	// each request as the caller does (retries and breaker included).
	// It returns next when it records nothing there.
	RoundTripper(next http.RoundTripper) http.RoundTripper
	// Close stops reporting the service and forgets its series.
	Close()
}

// Source is a pool, or a set of per-origin pools, whose Stats are read at
// collection time.
//
// Only the names given here reach labels and attributes: Kind, Name and,
// for Origins, the map's keys. Never put a DSN, URL path or query in them.
type Source struct {
	// Kind is KindHTTP, KindSQL, KindPool or another short fixed string.
	// Zero: KindPool.
	Kind string

	// Name is the pool's, service's or database's name. Required.
	Name string

	// Stats returns a snapshot of one pool. Exactly one of Stats and
	// Origins must be set.
	Stats func() pool.Stats

	// Origins returns a snapshot of each pool of a set, keyed by origin
	// ("scheme://host:port"). Origins may come and go between reads.
	Origins func() map[string]pool.Stats

	// Config returns the pool's limits and timeouts (for every origin of
	// an Origins source). Optional.
	Config func() PoolConfig
}

// PoolSource returns the Source of p, under p's name.
func PoolSource[T any](kind string, p *pool.Pool[T]) Source {
	return Source{
		Kind:   kind,
		Name:   p.Name(),
		Stats:  p.Stats,
		Config: func() PoolConfig { return ConfigOf(p.Config()) },
	}
}

// PendingSource returns the Source of the pool that cfg will make, under
// cfg.Name, and the function that hands it the pool once made. It is for
// reporting a pool of your own: the observer a [Telemetry] gives must go
// into cfg before pool.New, so the Telemetry sees the Source first:
//
//	src, made := telemetry.PendingSource(telemetry.KindPool, cfg)
//	reported, err := tel.Pool(src)
//	...
//	cfg.Observer = reported.Observer("")
//	p, err := pool.New(cfg)
//	...
//	made(p)
//
// Until made is called, Stats reads as zero and Config as cfg's limits,
// for a reader that collects in between.
func PendingSource[T any](kind string, cfg pool.Config[T]) (src Source, made func(*pool.Pool[T])) {
	var live atomic.Pointer[pool.Pool[T]]
	preset := ConfigOf(cfg)
	src = Source{
		Kind: kind,
		Name: cfg.Name,
		Stats: func() pool.Stats {
			if p := live.Load(); p != nil {
				return p.Stats()
			}
			return pool.Stats{}
		},
		Config: func() PoolConfig {
			if p := live.Load(); p != nil {
				return ConfigOf(p.Config())
			}
			return preset
		},
	}
	return src, live.Store
}

// PoolConfig is what a backend may show of a pool.Config: its limits and
// timeouts, as [pool.Pool.Config] reports them (defaults applied), and
// whether the optional hooks are set. It holds no function, logger or
// anything else that could carry a secret.
type PoolConfig struct {
	MinSize              int
	MaxSize              int
	MaxIdle              int
	MaxWaiters           int // 0: unbounded
	MaxUses              int // 0: unlimited
	MaxConcurrentCreates int

	IdleTimeout       time.Duration // 0: never
	MaxLifetime       time.Duration // 0: no limit
	MaxLifetimeJitter time.Duration
	AcquireTimeout    time.Duration // 0: only the caller's ctx
	CheckAfterIdle    time.Duration // < 0: every Acquire
	HealthCheckPeriod time.Duration // 0: never
	CheckTimeout      time.Duration
	CreateTimeout     time.Duration // 0: no bound
	CreateBackoff     time.Duration
	MaxCreateBackoff  time.Duration
	LeakThreshold     time.Duration // 0: off

	Check  bool // Config.Check is set
	Reset  bool // Config.Reset is set
	Budget bool // Config.Budget is set
}

// ConfigOf returns the PoolConfig of c; pass it p.Config() to get the
// defaults applied.
func ConfigOf[T any](c pool.Config[T]) PoolConfig {
	l := c.Limits() // the shared knobs, under the pool's own names
	return PoolConfig{
		MinSize:              l.MinSize,
		MaxSize:              l.MaxSize,
		MaxIdle:              l.MaxIdle,
		MaxWaiters:           l.MaxWaiters,
		MaxUses:              l.MaxUses,
		MaxConcurrentCreates: c.MaxConcurrentCreates,
		IdleTimeout:          l.IdleTimeout,
		MaxLifetime:          l.MaxLifetime,
		MaxLifetimeJitter:    c.MaxLifetimeJitter,
		AcquireTimeout:       l.AcquireTimeout,
		CheckAfterIdle:       c.CheckAfterIdle,
		HealthCheckPeriod:    c.HealthCheckPeriod,
		CheckTimeout:         c.CheckTimeout,
		CreateTimeout:        c.CreateTimeout,
		CreateBackoff:        c.CreateBackoff,
		MaxCreateBackoff:     c.MaxCreateBackoff,
		LeakThreshold:        l.LeakThreshold,
		Check:                c.Check != nil,
		Reset:                c.Reset != nil,
		Budget:               c.Budget != nil,
	}
}
