package metrics

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// The kinds of pool, for [Source.Kind] and the "kind" label. Any other short,
// fixed string may be used for pools of other things.
const (
	KindHTTP = telemetry.KindHTTP // per-origin connection pools of an HTTP transport
	KindSQL  = telemetry.KindSQL  // database/sql connection pools
	KindPool = telemetry.KindPool // any other pool.Pool; the default
)

// Options configures [New]. The zero value is a sensible setup: the default
// buckets. Options change no metric name, so Metrics made with different
// Options are the same collector to a registry (see [New]).
type Options struct {
	// WaitBuckets are the upper bounds, in seconds, of the histogram of
	// the time Acquire waited (poolkit_pool_wait_time_seconds). Zero:
	// [DefaultWaitBuckets].
	WaitBuckets []float64
	// UseBuckets bound the histogram of the time a resource was held
	// (poolkit_pool_use_time_seconds). Zero: [DefaultUseBuckets].
	UseBuckets []float64
	// CreateBuckets bound the histogram of the time a Create took
	// (poolkit_pool_create_time_seconds). Zero: [DefaultCreateBuckets].
	CreateBuckets []float64
	// LifetimeBuckets bound the histogram of the age of destroyed
	// resources (poolkit_pool_connection_duration_seconds). Zero:
	// [DefaultLifetimeBuckets].
	LifetimeBuckets []float64
	// RequestBuckets bound the histogram of HTTP request durations
	// (poolkit_http_client_request_duration_seconds). Zero:
	// [DefaultRequestBuckets].
	RequestBuckets []float64
}

// DefaultWaitBuckets returns the default buckets of the wait-time
// histogram: currently 100µs to 10s, as a fast acquire takes microseconds
// and a starved one waits out its timeout.
func DefaultWaitBuckets() []float64 {
	return []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
}

// DefaultUseBuckets returns the default buckets of the use-time histogram:
// currently 1ms to 60s.
func DefaultUseBuckets() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
}

// DefaultCreateBuckets returns the default buckets of the create-time
// histogram: currently 1ms to 30s (a TCP or TLS handshake, a database login).
func DefaultCreateBuckets() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
}

// DefaultLifetimeBuckets returns the default buckets of the connection
// lifetime histogram: currently 1s to 2h.
func DefaultLifetimeBuckets() []float64 {
	return []float64{1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200}
}

// DefaultRequestBuckets returns the default buckets of the HTTP request
// duration histogram: currently those OpenTelemetry recommends for
// http.client.request.duration, 5ms to 10s.
func DefaultRequestBuckets() []float64 {
	return []float64{.005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10}
}

// Metrics holds poolkit's Prometheus metrics: collectors that read the
// Stats of registered pools and the state of registered breakers at scrape
// time, and observers (for pools, breakers, retries and HTTP requests) that
// feed histograms and counters. It is a [prometheus.Collector].
//
// Create it with [New]; it is safe for concurrent use. Several Metrics may
// live in one process, each registered on its own registry.
type Metrics struct {
	mu       sync.Mutex
	sources  map[sourceKey]Source
	breakers map[string]*breaker.Breaker
	services map[string]bool // names taken through Telemetry().Service
	regs     []*breaker.Registry

	poolDescs poolDescs
	stateDesc *prometheus.Desc

	waitTime, useTime, createTime, lifetime *durationHistogramVec
	requests                                *prometheus.HistogramVec
	transitions, rejected                   *prometheus.CounterVec
	attempts, budgetExhausted               *prometheus.CounterVec

	breakerSeries sync.Map // breaker name → *breakerSeries
}

var _ prometheus.Collector = (*Metrics)(nil)

// New returns a Metrics and, when reg is not nil, registers it on reg. A nil
// reg registers nothing (register the Metrics yourself, or use it only for
// [Metrics.StatusHandler]); nothing is ever registered on
// prometheus.DefaultRegisterer unless it is passed as reg.
//
// On failure (bad buckets, or reg refused the metrics) it returns a nil
// Metrics and the error. When reg already holds a Metrics, the error wraps
// a prometheus.AlreadyRegisteredError whose ExistingCollector is that
// *Metrics, so that components sharing a registry can share one:
//
//	m, err := metrics.New(reg, opts)
//	var are prometheus.AlreadyRegisteredError
//	if errors.As(err, &are) {
//		m, _ = are.ExistingCollector.(*metrics.Metrics)
//	}
func New(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	var err error
	m := &Metrics{
		sources:  map[sourceKey]Source{},
		breakers: map[string]*breaker.Breaker{},
		services: map[string]bool{},
	}
	m.poolDescs = newPoolDescs()
	m.stateDesc = prometheus.NewDesc(namespace+"_breaker_state",
		"Whether the circuit breaker is in the given state (1) or not (0), read at scrape time.",
		[]string{"service", "state"}, nil)

	poolLabels := []string{"kind", "pool", "origin"}
	for _, h := range []struct {
		v            **durationHistogramVec
		name, help   string
		buckets, def []float64
	}{
		{&m.waitTime, "wait_time_seconds", "Time a successful Acquire waited for a connection (zero when one was idle).", opts.WaitBuckets, DefaultWaitBuckets()},
		{&m.useTime, "use_time_seconds", "Time a connection was held between Acquire and Release or Destroy.", opts.UseBuckets, DefaultUseBuckets()},
		{&m.createTime, "create_time_seconds", "Time a successful Create of a connection took.", opts.CreateBuckets, DefaultCreateBuckets()},
		{&m.lifetime, "connection_duration_seconds", "Age of a connection when it was destroyed, for any reason.", opts.LifetimeBuckets, DefaultLifetimeBuckets()},
	} {
		b := h.buckets
		if len(b) == 0 {
			b = h.def
		}
		if *h.v, err = newDurationHistogramVec(namespace+"_pool_"+h.name, h.help, b, poolLabels); err != nil {
			return nil, err
		}
	}

	rb := opts.RequestBuckets
	if len(rb) == 0 {
		rb = DefaultRequestBuckets()
	}
	if err := checkBuckets(namespace+"_http_client_request_duration_seconds", rb); err != nil {
		return nil, err
	}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "http_client", Name: "request_duration_seconds",
		Help:    "Duration of HTTP client requests, until the response headers arrived or the request failed.",
		Buckets: rb,
	}, []string{"service", "method", "status_class"})

	m.transitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "breaker", Name: "transitions_total",
		Help: "State changes of the circuit breaker.",
	}, []string{"service", "from", "to"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "breaker", Name: "rejected_total",
		Help: "Calls the circuit breaker refused because it was open or its half-open probes were taken.",
	}, []string{"service"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "retry", Name: "attempts_total",
		Help: "Attempts made by retry loops: the first of each call and the retries, by result.",
	}, []string{"service", "attempt", "result"})
	m.budgetExhausted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "retry", Name: "budget_exhausted_total",
		Help: "Retries refused by the retry budget.",
	}, []string{"service"})

	if reg != nil {
		if err := reg.Register(m); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

const namespace = "poolkit"

// vecs returns the collectors m delegates to.
func (m *Metrics) vecs() []prometheus.Collector {
	return []prometheus.Collector{m.waitTime, m.useTime, m.createTime, m.lifetime,
		m.requests, m.transitions, m.rejected, m.attempts, m.budgetExhausted}
}

// Describe implements [prometheus.Collector].
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.vecs() {
		c.Describe(ch)
	}
	m.poolDescs.describe(ch)
	ch <- m.stateDesc
}

// Collect implements [prometheus.Collector]: it reads the Stats of every
// registered pool and the state of every registered breaker, outside of
// m's lock.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	// Breakers first: reading the state of an open breaker whose timeout
	// has passed makes it half-open, and the transition it reports to
	// BreakerObserver belongs in this scrape.
	for _, b := range m.breakerList() {
		cur := b.State()
		for _, s := range []breaker.State{breaker.StateClosed, breaker.StateHalfOpen, breaker.StateOpen} {
			v := 0.0
			if s == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(m.stateDesc, prometheus.GaugeValue, v, b.Name(), s.String())
		}
	}
	for _, p := range m.snapshot() {
		m.poolDescs.collect(ch, p)
	}
	for _, c := range m.vecs() {
		c.Collect(ch)
	}
}

// ErrDuplicate is wrapped by the error of [Metrics.Add],
// [Metrics.AddBreaker] and the [telemetry.Telemetry] of [For] for a name
// already registered. It is [telemetry.ErrDuplicate].
var ErrDuplicate = telemetry.ErrDuplicate

// checkLabel reports whether v can be a label value.
func checkLabel(field, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("metrics: %s %q is not valid UTF-8", field, v)
	}
	return nil
}

// AddBreaker reports b's state as poolkit_breaker_state{service=b.Name()},
// read with [breaker.Breaker.State] at scrape time. Transitions and
// rejections are counted only when b's Settings.Observer is
// [Metrics.BreakerObserver]. It returns an error wrapping [ErrDuplicate]
// when a breaker of the same name was added, directly or through a registry.
func (m *Metrics) AddBreaker(b *breaker.Breaker) error {
	if err := checkLabel("breaker name", b.Name()); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.breakers[b.Name()]; ok {
		return fmt.Errorf("%w: breaker %q", ErrDuplicate, b.Name())
	}
	for _, r := range m.regs {
		if _, ok := r.Lookup(b.Name()); ok {
			return fmt.Errorf("%w: breaker %q (in a registry)", ErrDuplicate, b.Name())
		}
	}
	m.breakers[b.Name()] = b
	return nil
}

// AddBreakers reports the state of every breaker r holds at scrape time,
// including those it creates later.
func (m *Metrics) AddBreakers(r *breaker.Registry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.regs, r) {
		m.regs = append(m.regs, r)
	}
}

// RemoveBreaker stops reporting the breaker added with [Metrics.AddBreaker]
// under name, and forgets its transition and rejection counters. It
// reports whether there was one.
func (m *Metrics) RemoveBreaker(name string) bool {
	m.mu.Lock()
	_, ok := m.breakers[name]
	delete(m.breakers, name)
	m.mu.Unlock()
	if ok {
		m.breakerSeries.Delete(name)
		m.transitions.DeletePartialMatch(prometheus.Labels{"service": name})
		m.rejected.DeleteLabelValues(name)
	}
	return ok
}

// breakerList returns the breakers to report, sorted by name, without
// duplicates.
func (m *Metrics) breakerList() []*breaker.Breaker {
	m.mu.Lock()
	bs := make([]*breaker.Breaker, 0, len(m.breakers))
	for _, b := range m.breakers {
		bs = append(bs, b)
	}
	regs := slices.Clone(m.regs)
	m.mu.Unlock()
	seen := map[string]bool{}
	for _, b := range bs {
		seen[b.Name()] = true
	}
	for _, r := range regs {
		for _, name := range r.Names() {
			if seen[name] || !utf8.ValidString(name) {
				continue
			}
			if b, ok := r.Lookup(name); ok {
				seen[name] = true
				bs = append(bs, b)
			}
		}
	}
	slices.SortFunc(bs, func(a, b *breaker.Breaker) int { return strings.Compare(a.Name(), b.Name()) })
	return bs
}

// Shared returns the Metrics registered on reg, registering one (with zero
// Options) when reg has none yet: what httpclient and sqlpool use, so that
// every client and connector given the same Registerer reports through one
// Metrics. On failure (reg refused it for another reason) it returns the
// registration error.
func Shared(reg prometheus.Registerer) (*Metrics, error) {
	m, err := New(reg, Options{})
	if err == nil {
		return m, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if m, ok := are.ExistingCollector.(*Metrics); ok {
			return m, nil
		}
	}
	return nil, err
}
