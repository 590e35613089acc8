package metrics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// Source is a pool, or a set of per-origin pools, whose Stats are read at
// every scrape: [telemetry.Source]. Pass it to [Metrics.Add]; [PoolSource]
// builds one for a *pool.Pool. Kind is the "kind" label, Name the "pool"
// label and, for Origins, the map's keys the "origin" label. Config feeds
// the poolkit_pool_max_idle_connections gauge and [Metrics.StatusHandler].
type Source = telemetry.Source

type sourceKey struct{ kind, name string }

// Add starts reporting src at every scrape. It returns an error when src
// is incomplete, and one wrapping [ErrDuplicate] when a source of the same
// Kind and Name is already reported (two pools under one name would make
// duplicate series). Use [Metrics.Remove] when the pool closes.
func (m *Metrics) Add(src Source) error {
	if src.Kind == "" {
		src.Kind = KindPool
	}
	if src.Name == "" {
		return errors.New("metrics: Source.Name is required")
	}
	if (src.Stats == nil) == (src.Origins == nil) {
		return fmt.Errorf("metrics: source %q: exactly one of Source.Stats and Source.Origins must be set", src.Name)
	}
	if err := checkLabel("Source.Kind", src.Kind); err != nil {
		return err
	}
	if err := checkLabel("Source.Name", src.Name); err != nil {
		return err
	}
	k := sourceKey{src.Kind, src.Name}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sources[k]; ok {
		return fmt.Errorf("%w: pool %q of kind %q", ErrDuplicate, src.Name, src.Kind)
	}
	m.sources[k] = src
	return nil
}

// Remove stops reporting the source of that kind and name, and deletes the
// histogram series its observers fed. It reports whether there was one.
func (m *Metrics) Remove(kind, name string) bool {
	if kind == "" {
		kind = KindPool
	}
	k := sourceKey{kind, name}
	m.mu.Lock()
	_, ok := m.sources[k]
	delete(m.sources, k)
	m.mu.Unlock()
	for _, v := range []*durationHistogramVec{m.waitTime, m.useTime, m.createTime, m.lifetime} {
		v.deletePrefix(kind, name)
	}
	return ok
}

// PoolSource returns a Source for p, named p.Name(), with its Config: it
// is [telemetry.PoolSource].
func PoolSource[T any](kind string, p *pool.Pool[T]) Source {
	return telemetry.PoolSource(kind, p)
}

// PoolConfig is what a status page may show of a pool.Config:
// [telemetry.PoolConfig].
type PoolConfig = telemetry.PoolConfig

// ConfigOf returns the PoolConfig of c; pass it p.Config() to get the
// defaults applied. It is [telemetry.ConfigOf].
func ConfigOf[T any](c pool.Config[T]) PoolConfig { return telemetry.ConfigOf(c) }

// poolSnapshot is one pool as read at a scrape.
type poolSnapshot struct {
	Kind, Name, Origin string
	Stats              pool.Stats
	Config             *PoolConfig
}

// snapshot reads every source, outside m's lock, sorted by kind, name and
// origin.
func (m *Metrics) snapshot() []poolSnapshot {
	m.mu.Lock()
	srcs := make([]Source, 0, len(m.sources))
	for _, s := range m.sources {
		srcs = append(srcs, s)
	}
	m.mu.Unlock()
	var out []poolSnapshot
	for _, s := range srcs {
		var cfg *PoolConfig
		if s.Config != nil {
			c := s.Config()
			cfg = &c
		}
		if s.Stats != nil {
			out = append(out, poolSnapshot{Kind: s.Kind, Name: s.Name, Stats: s.Stats(), Config: cfg})
			continue
		}
		for origin, st := range s.Origins() {
			if checkLabel("origin", origin) != nil {
				continue
			}
			out = append(out, poolSnapshot{Kind: s.Kind, Name: s.Name, Origin: origin, Stats: st, Config: cfg})
		}
	}
	slices.SortFunc(out, func(a, b poolSnapshot) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Origin, b.Origin))
	})
	return out
}

// poolMetric is one series per pool, read from its Stats.
type poolMetric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	val  func(s *pool.Stats) float64
}

type poolDescs struct {
	metrics    []poolMetric
	destroyed  *prometheus.Desc // + label reason
	maxIdle    *prometheus.Desc // from Source.Config
	budgetSize *prometheus.Desc // from Stats.Budget, when the pool has one
	budgetUsed *prometheus.Desc
}

func newPoolDescs() poolDescs {
	labels := []string{"kind", "pool", "origin"}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_pool_"+name, help, labels, nil)
	}
	g, c := prometheus.GaugeValue, prometheus.CounterValue
	f := func(n int) float64 { return float64(n) }
	u := func(n uint64) float64 { return float64(n) }
	return poolDescs{
		metrics: []poolMetric{
			{desc("open_connections", "Connections open or being opened or closed: idle + in use + creating + destroying."), g, func(s *pool.Stats) float64 { return f(s.Open) }},
			{desc("idle_connections", "Connections idle, ready to lend."), g, func(s *pool.Stats) float64 { return f(s.Idle) }},
			{desc("in_use_connections", "Connections lent to callers or being checked."), g, func(s *pool.Stats) float64 { return f(s.InUse) }},
			{desc("creating_connections", "Connections being created."), g, func(s *pool.Stats) float64 { return f(s.Creating) }},
			{desc("destroying_connections", "Connections being closed; they still count toward MaxSize."), g, func(s *pool.Stats) float64 { return f(s.Destroying) }},
			{desc("waiting_requests", "Acquire calls waiting for a connection."), g, func(s *pool.Stats) float64 { return f(s.Waiting) }},
			{desc("max_connections", "The most connections the pool may open (MaxSize)."), g, func(s *pool.Stats) float64 { return f(s.MaxSize) }},
			{desc("min_connections", "The connections the pool keeps open (MinSize)."), g, func(s *pool.Stats) float64 { return f(s.MinSize) }},
			{desc("oldest_wait_seconds", "How long the oldest waiting Acquire has waited; 0 when none waits."), g, func(s *pool.Stats) float64 { return s.OldestWait.Seconds() }},
			{desc("acquires_total", "Successful Acquire calls."), c, func(s *pool.Stats) float64 { return u(s.Acquires) }},
			{desc("waits_total", "Acquire calls that had to wait, those that timed out or were cancelled included."), c, func(s *pool.Stats) float64 { return u(waits(s)) }},
			{desc("wait_duration_seconds_total", "Total time Acquire calls waited, those that timed out or were cancelled included."), c, func(s *pool.Stats) float64 { return s.WaitTime.Seconds() }},
			{desc("timeouts_total", "Acquire calls that hit their deadline."), c, func(s *pool.Stats) float64 { return u(s.Timeouts) }},
			{desc("canceled_total", "Acquire calls whose context was cancelled while they waited."), c, func(s *pool.Stats) float64 { return u(s.Canceled) }},
			{desc("rejected_total", "Acquire calls refused at once because MaxWaiters were waiting."), c, func(s *pool.Stats) float64 { return u(s.Rejected) }},
			{desc("created_total", "Connections created."), c, func(s *pool.Stats) float64 { return u(s.Created) }},
			{desc("create_errors_total", "Failed attempts to create a connection."), c, func(s *pool.Stats) float64 { return u(s.CreateErrors) }},
			{desc("failed_fast_total", "Acquire calls failed at once with the last create error while the backend was down."), c, func(s *pool.Stats) float64 { return u(s.FailedFast) }},
			{desc("check_failures_total", "Health checks that failed (each destroyed a connection)."), c, func(s *pool.Stats) float64 { return u(s.CheckFailures) }},
			{desc("leaks_total", "Connections reported held longer than LeakThreshold."), c, func(s *pool.Stats) float64 { return u(s.Leaks) }},
		},
		destroyed: prometheus.NewDesc(namespace+"_pool_destroyed_total",
			"Connections destroyed, by reason: idle, lifetime, check_failed, broken, closed, max_uses.",
			append(labels, "reason"), nil),
		maxIdle:    desc("max_idle_connections", "The most idle connections the pool keeps (MaxIdle); reported when the pool's config is known."),
		budgetSize: desc("budget_max_connections", "The size of the connection budget the pool shares with others; reported when it has one."),
		budgetUsed: desc("budget_used_connections", "Connections holding a share of the pool's budget, across every pool sharing it; reported when it has one."),
	}
}

func (d *poolDescs) describe(ch chan<- *prometheus.Desc) {
	for _, pm := range d.metrics {
		ch <- pm.desc
	}
	ch <- d.destroyed
	ch <- d.maxIdle
	ch <- d.budgetSize
	ch <- d.budgetUsed
}

func (d *poolDescs) collect(ch chan<- prometheus.Metric, p poolSnapshot) {
	for _, pm := range d.metrics {
		ch <- prometheus.MustNewConstMetric(pm.desc, pm.typ, pm.val(&p.Stats), p.Kind, p.Name, p.Origin)
	}
	for _, r := range pool.Reasons() {
		ch <- prometheus.MustNewConstMetric(d.destroyed, prometheus.CounterValue,
			float64(p.Stats.Destroyed.Of(r)), p.Kind, p.Name, p.Origin, r.String())
	}
	if p.Config != nil {
		ch <- prometheus.MustNewConstMetric(d.maxIdle, prometheus.GaugeValue, float64(p.Config.MaxIdle), p.Kind, p.Name, p.Origin)
	}
	if b := p.Stats.Budget; b.Size > 0 {
		ch <- prometheus.MustNewConstMetric(d.budgetSize, prometheus.GaugeValue, float64(b.Size), p.Kind, p.Name, p.Origin)
		ch <- prometheus.MustNewConstMetric(d.budgetUsed, prometheus.GaugeValue, float64(b.Used), p.Kind, p.Name, p.Origin)
	}
}

// GoSQLCollector returns a collector that reports every source of kind
// [KindSQL] added to m under the names of client_golang's
// collectors.NewDBStatsCollector (go_sql_*, label db_name = Source.Name),
// read at scrape time like m's own, so that dashboards built for
// database/sql work unchanged. Register it beside m to turn them on:
//
//	reg.MustRegister(m.GoSQLCollector())
//
// go_sql_max_idle_closed_total counts the connections closed while idle,
// beyond MaxIdle or past IdleTimeout alike (the pool does not tell them
// apart), and go_sql_max_idle_time_closed_total is not reported. Do not
// register a DBStatsCollector for the same db_name on the same registry:
// the series would collide.
func (m *Metrics) GoSQLCollector() prometheus.Collector {
	return &goSQLCollector{m: m, descs: newGoSQLDescs()}
}

type goSQLCollector struct {
	m     *Metrics
	descs []poolMetric
}

func (c *goSQLCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, pm := range c.descs {
		ch <- pm.desc
	}
}

func (c *goSQLCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.m.snapshot() {
		if p.Kind != KindSQL || p.Origin != "" {
			continue
		}
		for _, pm := range c.descs {
			ch <- prometheus.MustNewConstMetric(pm.desc, pm.typ, pm.val(&p.Stats), p.Name)
		}
	}
}

func newGoSQLDescs() []poolMetric {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("go_sql_"+name, help, []string{"db_name"}, nil)
	}
	g, c := prometheus.GaugeValue, prometheus.CounterValue
	return []poolMetric{
		{desc("max_open_connections", "Maximum number of open connections to the database."), g, func(s *pool.Stats) float64 { return float64(s.MaxSize) }},
		{desc("open_connections", "The number of established connections both in use and idle."), g, func(s *pool.Stats) float64 { return float64(s.Open) }},
		{desc("in_use_connections", "The number of connections currently in use."), g, func(s *pool.Stats) float64 { return float64(s.InUse) }},
		{desc("idle_connections", "The number of idle connections."), g, func(s *pool.Stats) float64 { return float64(s.Idle) }},
		{desc("wait_count_total", "The total number of connections waited for."), c, func(s *pool.Stats) float64 { return float64(waits(s)) }},
		{desc("wait_duration_seconds_total", "The total time blocked waiting for a new connection."), c, func(s *pool.Stats) float64 { return s.WaitTime.Seconds() }},
		{desc("max_idle_closed_total", "The total number of connections closed while idle (beyond MaxIdle or past IdleTimeout)."), c, func(s *pool.Stats) float64 { return float64(s.Destroyed.Idle) }},
		{desc("max_lifetime_closed_total", "The total number of connections closed due to MaxLifetime."), c, func(s *pool.Stats) float64 { return float64(s.Destroyed.Lifetime) }},
	}
}

// poolObserver feeds a pool's events to histograms whose labels were
// resolved when it was made, so each event costs one Observe and no
// allocation.
type poolObserver struct {
	wait, use, create, lifetime *durationHistogram
}

var _ pool.Observer = (*poolObserver)(nil)

func (o *poolObserver) Acquired(_ context.Context, e pool.AcquireEvent) { o.wait.Observe(e.Wait) }
func (o *poolObserver) Released(e pool.ReleaseEvent)                    { o.use.Observe(e.Held) }
func (o *poolObserver) TimedOut(context.Context, pool.AcquireEvent)     {} // counted from Stats.Timeouts

func (o *poolObserver) Created(_ context.Context, e pool.CreateEvent) {
	if e.Err == nil {
		o.create.Observe(e.Duration)
	}
}

func (o *poolObserver) Destroyed(e pool.DestroyEvent) {
	o.lifetime.Observe(e.Age)
}

// PoolObserver returns a pool.Observer, for pool.Config.Observer, that
// feeds the histograms of the pool of that kind and name: the time Acquire
// waited (successful calls only), the time a connection was held, the time
// a successful Create took and the age of destroyed connections. Its
// methods do not allocate. Kind zero means KindPool.
func (m *Metrics) PoolObserver(kind, name string) pool.Observer {
	return m.poolObserver(kind, name, "")
}

// OriginObserver returns a function that gives the pool.Observer of each
// origin of a per-origin transport (the shape of
// httpclient.TransportConfig.Observer): origin is the "origin" label.
func (m *Metrics) OriginObserver(kind, name string) func(origin string) pool.Observer {
	return func(origin string) pool.Observer { return m.poolObserver(kind, name, origin) }
}

func (m *Metrics) poolObserver(kind, name, origin string) pool.Observer {
	if kind == "" {
		kind = KindPool
	}
	if checkLabel("kind", kind) != nil || checkLabel("name", name) != nil || checkLabel("origin", origin) != nil {
		return pool.NopObserver{}
	}
	return &poolObserver{
		wait:     m.waitTime.with(kind, name, origin),
		use:      m.useTime.with(kind, name, origin),
		create:   m.createTime.with(kind, name, origin),
		lifetime: m.lifetime.with(kind, name, origin),
	}
}

// Observers returns a pool.Observer that passes every event to each of obs
// in turn, skipping nils: for a pool that reports to metrics and to an
// observer of the user's. It returns nil when every one is nil (so the pool
// reads no clock for it), and the only one when there is one. It is
// [telemetry.Observers].
func Observers(obs ...pool.Observer) pool.Observer { return telemetry.Observers(obs...) }

// waits counts the Acquire calls that waited, as database/sql's WaitCount
// does: those served and those that gave up (their time is in WaitTime
// too), so that WaitTime over it is the mean wait.
func waits(s *pool.Stats) uint64 { return s.WaitedAcquires + s.Timeouts + s.Canceled }
