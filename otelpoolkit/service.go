package otelpoolkit

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/retry"
	"github.com/poolkit/poolkit/telemetry"
)

// service reports one HTTP service: its requests, breaker and retries.
type service struct {
	t     *tel
	name  string
	kv    attribute.KeyValue      // poolkit.service.name
	opts  []metric.AddOption      // the service's attribute set, for the counters
	state [3]metric.ObserveOption // per breaker.State, with poolkit.breaker.state

	b atomic.Pointer[breaker.Breaker]

	mu     sync.Mutex
	reg    metric.Registration // of collect, once a breaker is given
	closed bool
}

var _ telemetry.Service = (*service)(nil)

func (t *tel) newService(name string) *service {
	kv := attribute.String(attrServiceName, name)
	s := &service{
		t:    t,
		name: name,
		kv:   kv,
		opts: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv))},
	}
	for st, v := range [...]string{breaker.StateClosed: "closed", breaker.StateHalfOpen: "half_open", breaker.StateOpen: "open"} {
		s.state[st] = metric.WithAttributeSet(attribute.NewSet(kv, attribute.String(attrBreakerState, v)))
	}
	return s
}

// BreakerObserver counts the calls the breaker refuses.
func (s *service) BreakerObserver() breaker.Observer { return breakerObserver{s} }

// Breaker starts reporting b's state as poolkit.breaker.state. A second
// call replaces the breaker reported.
func (s *service) Breaker(b *breaker.Breaker) {
	if b == nil {
		return
	}
	s.b.Store(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reg != nil || s.closed {
		return
	}
	reg, err := s.t.meter.RegisterCallback(s.collect, s.t.inst.breakerState)
	if err != nil {
		otel.Handle(err)
		return
	}
	s.reg = reg
}

func (s *service) collect(_ context.Context, o metric.Observer) error {
	b := s.b.Load()
	if b == nil {
		return nil
	}
	cur := b.State()
	for st, opt := range s.state {
		var v int64
		if breaker.State(st) == cur {
			v = 1
		}
		o.ObserveInt64(s.t.inst.breakerState, v, opt)
	}
	return nil
}

// RetryObserver counts retries and the retries the budget refused.
func (s *service) RetryObserver() retry.Observer { return retryObserver{s} }

// RoundTripper records http.client.request.duration for each request,
// from the call of RoundTrip until it returns (the response's headers,
// not its body, as .NET's HttpClient measures it).
func (s *service) RoundTripper(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &roundTripper{s: s, next: next}
}

// Close stops reporting the breaker's state and frees the service's name.
// It is idempotent.
func (s *service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.reg != nil {
		_ = s.reg.Unregister()
	}
	s.t.release(s.t.services, s.name)
}

type breakerObserver struct{ s *service }

func (breakerObserver) StateChange(string, breaker.State, breaker.State) {}

func (o breakerObserver) Rejected(string) {
	o.s.t.inst.breakerRejections.Add(context.Background(), 1, o.s.opts...)
}

type retryObserver struct{ s *service }

func (o retryObserver) Attempt(n int, _ error) {
	if n > 1 {
		o.s.t.inst.retryRetries.Add(context.Background(), 1, o.s.opts...)
	}
}

func (o retryObserver) BudgetExhausted() {
	o.s.t.inst.retryBudget.Add(context.Background(), 1, o.s.opts...)
}

type roundTripper struct {
	s    *service
	next http.RoundTripper
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := rt.next.RoundTrip(req)
	d := time.Since(start)

	kvs := make([]attribute.KeyValue, 0, 8)
	kvs = append(kvs, rt.s.kv, attribute.String(attrMethod, method(req.Method)))
	if req.URL != nil {
		kvs = append(kvs, attribute.String(attrAddress, req.URL.Hostname()))
		if port := portOf(req.URL.Scheme, req.URL.Port()); port > 0 {
			kvs = append(kvs, attribute.Int(attrPort, port))
		}
		kvs = append(kvs, attribute.String(attrScheme, req.URL.Scheme))
	}
	switch {
	case err != nil:
		kvs = append(kvs, semconv.ErrorType(err))
	case resp != nil:
		kvs = append(kvs, attribute.Int(attrStatus, resp.StatusCode))
		if v := protoVersion(resp); v != "" {
			kvs = append(kvs, attribute.String(attrProtoVersion, v))
		}
		if resp.StatusCode >= 400 {
			kvs = append(kvs, attribute.String(attrErrorType, strconv.Itoa(resp.StatusCode)))
		}
	}
	rt.s.t.inst.httpReqDuration.Record(req.Context(), d.Seconds(), metric.WithAttributes(kvs...))
	return resp, err
}

// method returns m as http.request.method: one of the methods the
// conventions know, or "_OTHER".
func method(m string) string {
	switch m {
	case "":
		return http.MethodGet
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, "QUERY":
		return m
	}
	return "_OTHER"
}

// protoVersion returns the response's HTTP version as
// network.protocol.version spells it: "1.0", "1.1", "2", "3".
func protoVersion(resp *http.Response) string {
	switch {
	case resp.ProtoMajor == 0:
		return ""
	case resp.ProtoMajor >= 2:
		return strconv.Itoa(resp.ProtoMajor)
	}
	return strconv.Itoa(resp.ProtoMajor) + "." + strconv.Itoa(resp.ProtoMinor)
}
