package telemetry_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/retry"
	"github.com/poolkit/poolkit/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Telemetry that writes what it is asked into a shared log,
// each line prefixed with its name, and can be told to refuse.
type recorder struct {
	name   string
	log    *[]string
	refuse bool
}

func (r *recorder) add(s string) { *r.log = append(*r.log, r.name+":"+s) }

func (r *recorder) Pool(src telemetry.Source) (telemetry.Pool, error) {
	if r.refuse {
		return nil, errors.Join(telemetry.ErrDuplicate, errors.New(r.name+" refuses "+src.Name))
	}
	r.add("pool " + src.Name)
	return recPool{r}, nil
}

func (r *recorder) Service(name string) (telemetry.Service, error) {
	if r.refuse {
		return nil, telemetry.ErrDuplicate
	}
	r.add("service " + name)
	return recService{r}, nil
}

type recPool struct{ r *recorder }

func (p recPool) Observer(origin string) pool.Observer { return recObserver(p) }
func (p recPool) Close()                               { p.r.add("pool closed") }

type recObserver struct{ r *recorder }

func (o recObserver) Created(context.Context, pool.CreateEvent)   { o.r.add("created") }
func (o recObserver) Destroyed(pool.DestroyEvent)                 { o.r.add("destroyed") }
func (o recObserver) Acquired(context.Context, pool.AcquireEvent) { o.r.add("acquired") }
func (o recObserver) Released(pool.ReleaseEvent)                  { o.r.add("released") }
func (o recObserver) TimedOut(context.Context, pool.AcquireEvent) { o.r.add("timed out") }

type recService struct{ r *recorder }

func (s recService) BreakerObserver() breaker.Observer { return recBreaker(s) }
func (s recService) Breaker(b *breaker.Breaker)        { s.r.add("breaker " + b.Name()) }
func (s recService) RetryObserver() retry.Observer     { return recRetry(s) }
func (s recService) RoundTripper(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		s.r.add("round trip")
		return next.RoundTrip(req)
	})
}
func (s recService) Close() { s.r.add("service closed") }

type recBreaker struct{ r *recorder }

func (b recBreaker) StateChange(name string, from, to breaker.State) { b.r.add("state " + to.String()) }
func (b recBreaker) Rejected(name string)                            { b.r.add("rejected") }

type recRetry struct{ r *recorder }

func (o recRetry) Attempt(n int, err error) { o.r.add("attempt") }
func (o recRetry) BudgetExhausted()         { o.r.add("exhausted") }

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestJoinNoneAndOne(t *testing.T) {
	if telemetry.Join() != nil || telemetry.Join(nil, nil) != nil {
		t.Error("Join of nothing is not nil")
	}
	var log []string
	a := &recorder{name: "a", log: &log}
	if got := telemetry.Join(nil, a, nil); got != a {
		t.Errorf("Join of one = %v; want it unwrapped", got)
	}
}

// TestJoinPool: every backend hears every pool event, in the order given,
// and Close reaches each.
func TestJoinPool(t *testing.T) {
	var log []string
	j := telemetry.Join(&recorder{name: "a", log: &log}, &recorder{name: "b", log: &log})
	p, err := j.Pool(telemetry.Source{Name: "db", Stats: func() pool.Stats { return pool.Stats{} }})
	if err != nil {
		t.Fatal(err)
	}
	obs := p.Observer("")
	ctx := context.Background()
	obs.Created(ctx, pool.CreateEvent{})
	obs.Acquired(ctx, pool.AcquireEvent{})
	obs.Released(pool.ReleaseEvent{})
	obs.TimedOut(ctx, pool.AcquireEvent{})
	obs.Destroyed(pool.DestroyEvent{})
	p.Close()
	want := []string{"a:pool db", "b:pool db",
		"a:created", "b:created", "a:acquired", "b:acquired", "a:released", "b:released",
		"a:timed out", "b:timed out", "a:destroyed", "b:destroyed",
		"a:pool closed", "b:pool closed"}
	if !slices.Equal(log, want) {
		t.Errorf("log\n%q\nwant\n%q", log, want)
	}
}

// TestJoinRefusedClosesTheOthers: when one backend refuses a pool or a
// service, the handles the others gave are closed and the error is the
// refusing one's.
func TestJoinRefusedClosesTheOthers(t *testing.T) {
	var log []string
	j := telemetry.Join(&recorder{name: "a", log: &log}, &recorder{name: "b", log: &log, refuse: true})
	if _, err := j.Pool(telemetry.Source{Name: "db"}); !errors.Is(err, telemetry.ErrDuplicate) {
		t.Errorf("Pool error = %v; want ErrDuplicate", err)
	}
	if _, err := j.Service("pay"); !errors.Is(err, telemetry.ErrDuplicate) {
		t.Errorf("Service error = %v; want ErrDuplicate", err)
	}
	want := []string{"a:pool db", "a:pool closed", "a:service pay", "a:service closed"}
	if !slices.Equal(log, want) {
		t.Errorf("log %q; want %q", log, want)
	}
}

// TestJoinService: breaker and retry events reach every backend, the
// round-tripper wrappers nest with the first outermost, and the breaker
// is given to each.
func TestJoinService(t *testing.T) {
	var log []string
	j := telemetry.Join(&recorder{name: "a", log: &log}, &recorder{name: "b", log: &log})
	s, err := j.Service("pay")
	if err != nil {
		t.Fatal(err)
	}
	s.BreakerObserver().Rejected("pay")
	s.RetryObserver().Attempt(1, nil)
	s.RetryObserver().BudgetExhausted()
	b, err := breaker.New("pay", breaker.Settings{OpenTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.Breaker(b)
	rt := s.RoundTripper(roundTripperFunc(func(*http.Request) (*http.Response, error) {
		log = append(log, "transport")
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	}))
	req, _ := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	s.Close()
	want := []string{"a:service pay", "b:service pay",
		"a:rejected", "b:rejected", "a:attempt", "b:attempt", "a:exhausted", "b:exhausted",
		"a:breaker pay", "b:breaker pay",
		"a:round trip", "b:round trip", "transport",
		"a:service closed", "b:service closed"}
	if !slices.Equal(log, want) {
		t.Errorf("log\n%q\nwant\n%q", log, want)
	}
}

func TestObservers(t *testing.T) {
	if telemetry.Observers() != nil || telemetry.Observers(nil, nil) != nil {
		t.Error("Observers of nothing is not nil")
	}
	one := pool.NopObserver{}
	if got := telemetry.Observers(nil, one); got != pool.Observer(one) {
		t.Errorf("Observers of one = %v; want it unwrapped", got)
	}
}
