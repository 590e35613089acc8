package fleet_test

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/fleet"
	"github.com/redis/go-redis/v9"
)

var errDown = errors.New("downstream failing")

// newBreakers returns n Breakers on the test Redis, as n processes would
// have, under a key prefix of their own.
func newBreakers(t *testing.T, n int, cfg fleet.BreakerConfig) []*fleet.Breakers {
	t.Helper()
	needRedis(t)
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = unique("test") + ":"
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	var out []*fleet.Breakers
	for range n {
		c := cfg
		c.Client = newClient(t, redisAddr(), false)
		f, err := fleet.NewBreakers(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		out = append(out, f)
	}
	return out
}

func newFleetBreaker(t *testing.T, f *fleet.Breakers, name string, s breaker.Settings) *breaker.Breaker {
	t.Helper()
	b, err := f.New(name, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBreakerConfigErrors(t *testing.T) {
	c := newClient(t, redisAddr(), false)
	tests := []struct {
		give  fleet.BreakerConfig
		field string
	}{
		{fleet.BreakerConfig{}, "Client"},
		{fleet.BreakerConfig{Client: (*redis.Client)(nil)}, "Client"},
		{fleet.BreakerConfig{Client: c, OpTimeout: -1}, "OpTimeout"},
		{fleet.BreakerConfig{Client: c, PollInterval: -1}, "PollInterval"},
		{fleet.BreakerConfig{Client: c, ProbeTTL: -1}, "ProbeTTL"},
	}
	for _, tt := range tests {
		_, err := fleet.NewBreakers(tt.give)
		var ce *fleet.ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), "BreakerConfig."+tt.field) {
			t.Errorf("%+v: err = %v; want *ConfigError naming %s", tt.give, err, tt.field)
		}
	}
}

// A trip in one process opens the same service's breaker in the others,
// which then fail fast without having seen a failure.
func TestBreakerTripSpreads(t *testing.T) {
	fs := newBreakers(t, 3, fleet.BreakerConfig{})
	s := breaker.Settings{ConsecutiveFailures: 3, OpenTimeout: time.Minute}
	var bs []*breaker.Breaker
	for _, f := range fs {
		bs = append(bs, newFleetBreaker(t, f, "payments", s))
	}
	other := newFleetBreaker(t, fs[1], "inventory", s)
	for range 3 {
		breaker.Execute(bs[0], func() (int, error) { return 0, errDown })
	}
	if bs[0].State() != breaker.StateOpen {
		t.Fatal("the failing process's breaker did not open")
	}
	for i, b := range bs[1:] {
		if !eventually(2*time.Second, func() bool { return b.State() == breaker.StateOpen }) {
			t.Fatalf("process %d: breaker still %v", i+2, b.State())
		}
		if _, err := b.Allow(); !errors.Is(err, breaker.ErrOpen) {
			t.Errorf("process %d: Allow = %v; want ErrOpen", i+2, err)
		}
		st := fs[i+1].Stats()
		if st.RemoteTrips != 1 || st.LastPropagation <= 0 {
			t.Errorf("process %d: stats %+v; want 1 remote trip and a propagation time", i+2, st)
		}
		t.Logf("process %d opened %v after the first", i+2, st.LastPropagation)
	}
	if other.State() != breaker.StateClosed {
		t.Error("another service's breaker opened too")
	}
	if st := fs[0].Stats(); st.Published != 1 || st.RemoteTrips != 0 {
		t.Errorf("origin stats %+v; want 1 published, no remote trip", st)
	}
}

// A process that starts after the trip, or missed the message, learns it
// from the state key.
func TestBreakerLateJoinerReadsState(t *testing.T) {
	prefix := unique("late") + ":"
	fs := newBreakers(t, 2, fleet.BreakerConfig{KeyPrefix: prefix, PollInterval: 50 * time.Millisecond})
	s := breaker.Settings{ConsecutiveFailures: 1, OpenTimeout: time.Minute}
	a := newFleetBreaker(t, fs[0], "svc", s)
	breaker.Execute(a, func() (int, error) { return 0, errDown })
	if !eventually(2*time.Second, func() bool { return fs[0].Stats().Published == 1 }) {
		t.Fatal("trip not published")
	}
	late := newFleetBreaker(t, fs[1], "svc", s) // after the message went out
	if !eventually(2*time.Second, func() bool { return late.State() == breaker.StateOpen }) {
		t.Fatalf("late breaker: %v; want open from the state key", late.State())
	}
}

// After the open timeout one process probes; the others hold their
// breakers open, so the failing service sees the probes of one process, not
// of each. When the probes succeed, everyone is released.
func TestBreakerSharedProbes(t *testing.T) {
	fs := newBreakers(t, 3, fleet.BreakerConfig{ProbeTTL: 2 * time.Second})
	s := breaker.Settings{ConsecutiveFailures: 1, OpenTimeout: 300 * time.Millisecond, HalfOpenProbes: 2}
	var bs []*breaker.Breaker
	for _, f := range fs {
		bs = append(bs, newFleetBreaker(t, f, "svc", s))
	}
	var healthy atomic.Bool
	var reached atomic.Int64
	call := func(b *breaker.Breaker) error {
		_, err := breaker.Execute(b, func() (int, error) {
			reached.Add(1)
			if healthy.Load() {
				return 0, nil
			}
			return 0, errDown
		})
		return err
	}
	call(bs[0])
	for _, b := range bs {
		if !eventually(2*time.Second, func() bool { return b.State() == breaker.StateOpen }) {
			t.Fatal("trip did not spread")
		}
	}
	// Three processes hammer a still-failing service through two open
	// timeouts: each round, only the prober's calls reach it.
	reached.Store(0)
	hammer := func(d time.Duration) {
		var wg sync.WaitGroup
		stop := time.Now().Add(d)
		for _, b := range bs {
			wg.Go(func() {
				for time.Now().Before(stop) {
					call(b)
					time.Sleep(2 * time.Millisecond)
				}
			})
		}
		wg.Wait()
	}
	hammer(900 * time.Millisecond)
	probes := reached.Load()
	var won, lost int64
	for _, f := range fs {
		won += f.Stats().ProbesWon
		lost += f.Stats().ProbesLost
	}
	t.Logf("failing service reached by %d probes; probe turns won %d, lost %d", probes, won, lost)
	if probes == 0 {
		t.Fatal("no probe at all reached the service")
	}
	// Each open timeout of 300ms admits at most HalfOpenProbes (2) calls
	// from the one prober; 900ms hold at most 3 rounds.
	if probes > 3*2 {
		t.Errorf("%d probes reached the failing service; want at most %d (one process probing per round)", probes, 3*2)
	}
	if lost == 0 {
		t.Error("no process ever held back from probing")
	}

	healthy.Store(true)
	for i, b := range bs {
		if !eventually(5*time.Second, func() bool { return call(b) == nil && b.State() == breaker.StateClosed }) {
			t.Fatalf("process %d never closed after recovery: %v (held until %v)", i+1, b.State(), b.HeldUntil())
		}
	}
}

// Without Redis, breakers work as they do alone.
func TestBreakerWithoutRedis(t *testing.T) {
	rec := &recLog{}
	f, err := fleet.NewBreakers(fleet.BreakerConfig{Client: newClient(t, mustClosedPort(t), false), Logger: slogWith(rec), OpTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := newFleetBreaker(t, f, "svc", breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: 200 * time.Millisecond, HalfOpenProbes: 1})
	breaker.Execute(b, func() (int, error) { return 0, errDown })
	breaker.Execute(b, func() (int, error) { return 0, errDown })
	if b.State() != breaker.StateOpen {
		t.Fatalf("state %v; want open", b.State())
	}
	if !eventually(3*time.Second, func() bool { return f.Stats().Degraded }) {
		t.Fatal("never noticed Redis is gone")
	}
	if !strings.Contains(strings.Join(rec.all(), "\n"), "work locally") {
		t.Errorf("log %q; want a warning that breakers work locally", rec.all())
	}
	// Its own open timeout ends and it probes alone, as without a fleet.
	if !eventually(3*time.Second, func() bool {
		_, err := breaker.Execute(b, func() (int, error) { return 0, nil })
		return err == nil && b.State() == breaker.StateClosed
	}) {
		t.Fatalf("never recovered locally: %v, held until %v", b.State(), b.HeldUntil())
	}
}
