package telemetry

import (
	"context"
	"errors"
	"net/http"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/retry"
)

// Join returns a Telemetry that reports to every non-nil t, in order: to
// Prometheus and OpenTelemetry at once, say. It returns nil when none is
// given, and the one when one is.
func Join(ts ...Telemetry) Telemetry {
	var j joined
	for _, t := range ts {
		if t != nil {
			j = append(j, t)
		}
	}
	switch len(j) {
	case 0:
		return nil
	case 1:
		return j[0]
	}
	return j
}

type joined []Telemetry

func (j joined) Pool(src Source) (Pool, error) {
	ps := make(joinedPool, 0, len(j))
	for _, t := range j {
		p, err := t.Pool(src)
		if err != nil {
			ps.Close()
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func (j joined) Service(name string) (Service, error) {
	ss := make(joinedService, 0, len(j))
	for _, t := range j {
		s, err := t.Service(name)
		if err != nil {
			ss.Close()
			return nil, err
		}
		ss = append(ss, s)
	}
	return ss, nil
}

type joinedPool []Pool

func (ps joinedPool) Observer(origin string) pool.Observer {
	obs := make([]pool.Observer, len(ps))
	for i, p := range ps {
		obs[i] = p.Observer(origin)
	}
	return Observers(obs...)
}

func (ps joinedPool) Close() {
	for _, p := range ps {
		p.Close()
	}
}

type joinedService []Service

func (ss joinedService) BreakerObserver() breaker.Observer {
	var obs multiBreaker
	for _, s := range ss {
		if o := s.BreakerObserver(); o != nil {
			obs = append(obs, o)
		}
	}
	switch len(obs) {
	case 0:
		return nil
	case 1:
		return obs[0]
	}
	return obs
}

func (ss joinedService) Breaker(b *breaker.Breaker) {
	for _, s := range ss {
		s.Breaker(b)
	}
}

func (ss joinedService) RetryObserver() retry.Observer {
	var obs multiRetry
	for _, s := range ss {
		if o := s.RetryObserver(); o != nil {
			obs = append(obs, o)
		}
	}
	switch len(obs) {
	case 0:
		return nil
	case 1:
		return obs[0]
	}
	return obs
}

// RoundTripper nests the services' wrappers, the first outermost.
func (ss joinedService) RoundTripper(next http.RoundTripper) http.RoundTripper {
	for i := len(ss) - 1; i >= 0; i-- {
		next = ss[i].RoundTripper(next)
	}
	return next
}

func (ss joinedService) Close() {
	for _, s := range ss {
		s.Close()
	}
}

type multiBreaker []breaker.Observer

func (m multiBreaker) StateChange(name string, from, to breaker.State) {
	for _, o := range m {
		o.StateChange(name, from, to)
	}
}

func (m multiBreaker) Rejected(name string) {
	for _, o := range m {
		o.Rejected(name)
	}
}

type multiRetry []retry.Observer

func (m multiRetry) Attempt(n int, err error) {
	for _, o := range m {
		o.Attempt(n, err)
	}
}

func (m multiRetry) BudgetExhausted() {
	for _, o := range m {
		o.BudgetExhausted()
	}
}

// Observers returns a pool.Observer that calls each non-nil one in order;
// nil when there is none, and the one when there is one.
func Observers(obs ...pool.Observer) pool.Observer {
	var m multiObserver
	for _, o := range obs {
		if o != nil {
			m = append(m, o)
		}
	}
	switch len(m) {
	case 0:
		return nil
	case 1:
		return m[0]
	}
	return m
}

type multiObserver []pool.Observer

func (m multiObserver) Created(ctx context.Context, e pool.CreateEvent) {
	for _, o := range m {
		o.Created(ctx, e)
	}
}

func (m multiObserver) Destroyed(e pool.DestroyEvent) {
	for _, o := range m {
		o.Destroyed(e)
	}
}

func (m multiObserver) Acquired(ctx context.Context, e pool.AcquireEvent) {
	for _, o := range m {
		o.Acquired(ctx, e)
	}
}

func (m multiObserver) Released(e pool.ReleaseEvent) {
	for _, o := range m {
		o.Released(e)
	}
}

func (m multiObserver) TimedOut(ctx context.Context, e pool.AcquireEvent) {
	for _, o := range m {
		o.TimedOut(ctx, e)
	}
}

// ErrDuplicate is wrapped by the error a backend returns when a pool or
// service of the same kind and name is already reported.
var ErrDuplicate = errors.New("telemetry: already reported under this name")
