package metrics

import (
	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/retry"
	"github.com/prometheus/client_golang/prometheus"
)

// breakerSeries are the counters of one breaker, resolved on its first
// event.
type breakerSeries struct {
	rejected prometheus.Counter
}

// breakerObserver implements breaker.Observer for a Metrics.
type breakerObserver struct{ m *Metrics }

var _ breaker.Observer = breakerObserver{}

// BreakerObserver returns a breaker.Observer, for breaker.Settings.Observer,
// that counts state changes (poolkit_breaker_transitions_total{service,
// from, to}) and rejected calls (poolkit_breaker_rejected_total{service}),
// labelled with the breaker's name. One serves any number of breakers. The
// state gauge is not fed from here but read at scrape time from the
// breakers given to [Metrics.AddBreaker] or [Metrics.AddBreakers].
func (m *Metrics) BreakerObserver() breaker.Observer { return breakerObserver{m} }

func (o breakerObserver) StateChange(name string, from, to breaker.State) {
	if checkLabel("breaker name", name) != nil {
		return
	}
	o.m.transitions.WithLabelValues(name, from.String(), to.String()).Inc()
}

func (o breakerObserver) Rejected(name string) {
	if s, ok := o.m.breakerSeries.Load(name); ok {
		s.(*breakerSeries).rejected.Inc()
		return
	}
	if checkLabel("breaker name", name) != nil {
		return
	}
	s, _ := o.m.breakerSeries.LoadOrStore(name, &breakerSeries{rejected: o.m.rejected.WithLabelValues(name)})
	s.(*breakerSeries).rejected.Inc()
}

// retryObserver implements retry.Observer for one service, with its
// counters resolved when it was made.
type retryObserver struct {
	firstOK, firstErr, retryOK, retryErr prometheus.Counter
	budget                               prometheus.Counter
}

var _ retry.Observer = (*retryObserver)(nil)

// RetryObserver returns a retry.Observer, for retry.Policy.Observer, that
// counts the attempts of service's calls
// (poolkit_retry_attempts_total{service, attempt="first"|"retry",
// result="success"|"error"}) and the retries its budget refused
// (poolkit_retry_budget_exhausted_total{service}). Its methods do not
// allocate. An invalid (non UTF-8) service name gives an observer that
// counts nothing.
func (m *Metrics) RetryObserver(service string) retry.Observer {
	if checkLabel("service", service) != nil {
		return nopRetryObserver{}
	}
	return &retryObserver{
		firstOK:  m.attempts.WithLabelValues(service, "first", "success"),
		firstErr: m.attempts.WithLabelValues(service, "first", "error"),
		retryOK:  m.attempts.WithLabelValues(service, "retry", "success"),
		retryErr: m.attempts.WithLabelValues(service, "retry", "error"),
		budget:   m.budgetExhausted.WithLabelValues(service),
	}
}

func (o *retryObserver) Attempt(n int, err error) {
	switch {
	case n <= 1 && err == nil:
		o.firstOK.Inc()
	case n <= 1:
		o.firstErr.Inc()
	case err == nil:
		o.retryOK.Inc()
	default:
		o.retryErr.Inc()
	}
}

func (o *retryObserver) BudgetExhausted() { o.budget.Inc() }

type nopRetryObserver struct{}

func (nopRetryObserver) Attempt(int, error) {}
func (nopRetryObserver) BudgetExhausted()   {}
