package metrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The methods kept as they are in the "method" label; any other becomes
// "other", so that a client sending arbitrary methods cannot grow the
// series without bound. The "status_class" label is "1xx" to "5xx", or
// "error" for a request that got no response.
const (
	nMethods    = 8 // GET HEAD POST PUT PATCH DELETE OPTIONS other
	methodOther = nMethods - 1
	nClasses    = 6 // 1xx 2xx 3xx 4xx 5xx error
	classError  = nClasses - 1
)

func methodName(i int) string {
	return [nMethods]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}[i]
}

func className(i int) string {
	return [nClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx", "error"}[i]
}

func methodIndex(m string) int {
	switch m {
	case "GET", "": // net/http sends "" as GET
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "PATCH":
		return 4
	case "DELETE":
		return 5
	case "OPTIONS":
		return 6
	}
	return methodOther
}

func statusIndex(resp *http.Response, err error) int {
	if err != nil || resp == nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		return classError
	}
	return resp.StatusCode/100 - 1
}

// roundTripper times the requests of one service.
type roundTripper struct {
	next    http.RoundTripper
	vec     *prometheus.HistogramVec
	service string
	// obs caches the observer of each method and status class, resolved
	// on first use: series exist only for what was seen, and a request
	// costs one Observe after that.
	obs [nMethods][nClasses]atomic.Pointer[observerBox]
}

type observerBox struct{ prometheus.Observer }

// InstrumentRoundTripper returns a RoundTripper that sends each request
// through next and records its duration in
// poolkit_http_client_request_duration_seconds{service, method,
// status_class}: from the call until next returned the response headers
// (or an error), the body's transfer not included.
//
// The labels are bounded: service as given, the method folded into GET,
// HEAD, POST, PUT, PATCH, DELETE, OPTIONS or "other", and the status class
// "1xx" to "5xx", or "error" when next returned an error. Neither the URL
// nor its host reaches a label. Put it outermost in a client's chain
// (metrics → retry → breaker → transport) so that it times what the
// caller sees, retries and waits included. A nil next means
// http.DefaultTransport. An invalid (non UTF-8) service name gives a
// RoundTripper that records nothing.
func (m *Metrics) InstrumentRoundTripper(service string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if checkLabel("service", service) != nil {
		return next
	}
	return &roundTripper{next: next, vec: m.requests, service: service}
}

// RemoveService deletes the request-duration and retry series of service
// (those of [Metrics.InstrumentRoundTripper] and [Metrics.RetryObserver]),
// for a client that is gone. RoundTrippers and observers made for service
// before the call keep counting into series that are no longer exported:
// make new ones if the service comes back.
func (m *Metrics) RemoveService(service string) {
	l := prometheus.Labels{"service": service}
	m.requests.DeletePartialMatch(l)
	m.attempts.DeletePartialMatch(l)
	m.budgetExhausted.DeletePartialMatch(l)
}

// RoundTrip implements http.RoundTripper; it returns what next returns.
func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	d := time.Since(start)
	t.observer(methodIndex(req.Method), statusIndex(resp, err)).Observe(d.Seconds())
	return resp, err
}

func (t *roundTripper) observer(method, class int) prometheus.Observer {
	slot := &t.obs[method][class]
	if b := slot.Load(); b != nil {
		return b.Observer
	}
	b := &observerBox{t.vec.WithLabelValues(t.service, methodName(method), className(class))}
	slot.CompareAndSwap(nil, b)
	return slot.Load().Observer
}
