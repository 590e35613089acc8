package metrics

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/retry"
	"github.com/poolkit/poolkit/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// For returns the [telemetry.Telemetry] that reports to reg, for the
// Telemetry field of httpclient.Config, sqlpool.Config and package
// config's loader:
//
//	httpclient.Config{Name: "payment", Telemetry: metrics.For(reg)}
//
// Every product given For of the same reg reports through one [Metrics],
// the one [Shared] finds or registers; it is looked up when a product
// starts reporting, so an error (reg refused the Metrics, or a pool or
// service of the same name is already reported) comes back from the
// product's constructor. For(nil) returns nil: no telemetry.
func For(reg prometheus.Registerer) telemetry.Telemetry {
	if reg == nil {
		return nil
	}
	return adapter{reg: reg}
}

// Telemetry returns the [telemetry.Telemetry] that reports to m, for a
// Metrics made with [New] and its own Options.
func (m *Metrics) Telemetry() telemetry.Telemetry { return adapter{m: m} }

// adapter implements telemetry.Telemetry with a Metrics: m, or the one
// Shared gives for reg.
type adapter struct {
	reg prometheus.Registerer
	m   *Metrics
}

func (a adapter) metrics() (*Metrics, error) {
	if a.m != nil {
		return a.m, nil
	}
	return Shared(a.reg)
}

// Pool adds src to the Metrics ([Metrics.Add]); the handle's Close
// removes it ([Metrics.Remove]).
func (a adapter) Pool(src telemetry.Source) (telemetry.Pool, error) {
	m, err := a.metrics()
	if err != nil {
		return nil, err
	}
	if src.Kind == "" {
		src.Kind = KindPool
	}
	if err := m.Add(src); err != nil {
		return nil, err
	}
	return &poolHandle{m: m, kind: src.Kind, name: src.Name}, nil
}

type poolHandle struct {
	m          *Metrics
	kind, name string
	once       sync.Once
}

func (h *poolHandle) Observer(origin string) pool.Observer {
	return h.m.poolObserver(h.kind, h.name, origin)
}

func (h *poolHandle) Close() {
	h.once.Do(func() { h.m.Remove(h.kind, h.name) })
}

// Service reserves name for one HTTP service: its request durations
// ([Metrics.InstrumentRoundTripper]), retries ([Metrics.RetryObserver]),
// breaker transitions and state ([Metrics.BreakerObserver],
// [Metrics.AddBreaker]). It returns an error wrapping [ErrDuplicate] when
// the name is already reported as a service or a breaker.
func (a adapter) Service(name string) (telemetry.Service, error) {
	m, err := a.metrics()
	if err != nil {
		return nil, err
	}
	if err := checkLabel("service", name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.services[name] {
		return nil, fmt.Errorf("%w: service %q", ErrDuplicate, name)
	}
	if _, ok := m.breakers[name]; ok {
		return nil, fmt.Errorf("%w: breaker %q", ErrDuplicate, name)
	}
	m.services[name] = true
	return &serviceHandle{m: m, name: name}, nil
}

type serviceHandle struct {
	m       *Metrics
	name    string
	mu      sync.Mutex
	breaker string // the name AddBreaker took; "" when none
	closed  bool
}

func (s *serviceHandle) BreakerObserver() breaker.Observer { return s.m.BreakerObserver() }

func (s *serviceHandle) RetryObserver() retry.Observer { return s.m.RetryObserver(s.name) }

func (s *serviceHandle) RoundTripper(next http.RoundTripper) http.RoundTripper {
	return s.m.InstrumentRoundTripper(s.name, next)
}

// Breaker reports b's state. A breaker of b's name added to the Metrics
// by other means is left alone (Service refused the name if it was there
// first).
func (s *serviceHandle) Breaker(b *breaker.Breaker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.breaker != "" {
		return
	}
	if s.m.AddBreaker(b) == nil {
		s.breaker = b.Name()
	}
}

func (s *serviceHandle) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.breaker != "" {
		s.m.RemoveBreaker(s.breaker)
	}
	s.m.RemoveService(s.name)
	s.m.mu.Lock()
	delete(s.m.services, s.name)
	s.m.mu.Unlock()
}
