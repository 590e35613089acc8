package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/retry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const breakerHelp = `
# HELP poolkit_breaker_rejected_total Calls the circuit breaker refused because it was open or its half-open probes were taken.
# TYPE poolkit_breaker_rejected_total counter
# HELP poolkit_breaker_state Whether the circuit breaker is in the given state (1) or not (0), read at scrape time.
# TYPE poolkit_breaker_state gauge
# HELP poolkit_breaker_transitions_total State changes of the circuit breaker.
# TYPE poolkit_breaker_transitions_total counter
`

var breakerNames = []string{"poolkit_breaker_rejected_total", "poolkit_breaker_state", "poolkit_breaker_transitions_total"}

func TestBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, err := metrics.New(reg, metrics.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := breaker.New("payments", breaker.Settings{
			ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, HalfOpenProbes: 1,
			Observer: m.BreakerObserver(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.AddBreaker(b); err != nil {
			t.Fatal(err)
		}
		// A registry's breakers are found at scrape time, even those
		// created after AddBreakers.
		r := breaker.NewRegistry(func(string) breaker.Settings {
			return breaker.Settings{Observer: m.BreakerObserver()}
		})
		m.AddBreakers(r)
		if _, err := r.Get("inventory"); err != nil {
			t.Fatal(err)
		}

		fail := errors.New("boom")
		call := func(err error) error {
			_, e := breaker.Execute(b, func() (int, error) { return 0, err })
			return e
		}
		_ = call(fail) // trips: closed → open
		for range 3 {
			if err := call(nil); !errors.Is(err, breaker.ErrOpen) {
				t.Fatalf("call on open breaker: %v, want ErrOpen", err)
			}
		}
		want := breakerHelp + `
poolkit_breaker_rejected_total{service="payments"} 3
poolkit_breaker_state{service="inventory",state="closed"} 1
poolkit_breaker_state{service="inventory",state="half-open"} 0
poolkit_breaker_state{service="inventory",state="open"} 0
poolkit_breaker_state{service="payments",state="closed"} 0
poolkit_breaker_state{service="payments",state="half-open"} 0
poolkit_breaker_state{service="payments",state="open"} 1
poolkit_breaker_transitions_total{from="closed",service="payments",to="open"} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), breakerNames...); err != nil {
			t.Errorf("open:\n%v", err)
		}

		// Once the open timeout has passed the state is read as
		// half-open at scrape time, with nothing else calling the
		// breaker.
		time.Sleep(10*time.Second + time.Millisecond)
		want = breakerHelp + `
poolkit_breaker_rejected_total{service="payments"} 3
poolkit_breaker_state{service="inventory",state="closed"} 1
poolkit_breaker_state{service="inventory",state="half-open"} 0
poolkit_breaker_state{service="inventory",state="open"} 0
poolkit_breaker_state{service="payments",state="closed"} 0
poolkit_breaker_state{service="payments",state="half-open"} 1
poolkit_breaker_state{service="payments",state="open"} 0
poolkit_breaker_transitions_total{from="closed",service="payments",to="open"} 1
poolkit_breaker_transitions_total{from="open",service="payments",to="half-open"} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), breakerNames...); err != nil {
			t.Errorf("after the open timeout:\n%v", err)
		}

		if err := call(nil); err != nil { // the probe succeeds: closed
			t.Fatal(err)
		}
		if !m.RemoveBreaker("payments") {
			t.Error("RemoveBreaker(payments) = false")
		}
		if m.RemoveBreaker("payments") {
			t.Error("second RemoveBreaker(payments) = true")
		}
		want = breakerHelp + `
poolkit_breaker_state{service="inventory",state="closed"} 1
poolkit_breaker_state{service="inventory",state="half-open"} 0
poolkit_breaker_state{service="inventory",state="open"} 0
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), breakerNames...); err != nil {
			t.Errorf("after RemoveBreaker:\n%v", err)
		}
	})
}

func TestAddBreakerDuplicate(t *testing.T) {
	m, err := metrics.New(nil, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := breaker.New("db", breaker.Settings{})
	b2, _ := breaker.New("db", breaker.Settings{})
	if err := m.AddBreaker(b1); err != nil {
		t.Fatal(err)
	}
	if err := m.AddBreaker(b2); !errors.Is(err, metrics.ErrDuplicate) {
		t.Errorf("second AddBreaker(db) = %v, want ErrDuplicate", err)
	}
	r := breaker.NewRegistry(nil)
	if _, err := r.Get("api"); err != nil {
		t.Fatal(err)
	}
	m.AddBreakers(r)
	b3, _ := breaker.New("api", breaker.Settings{})
	if err := m.AddBreaker(b3); !errors.Is(err, metrics.ErrDuplicate) {
		t.Errorf("AddBreaker(api) held by a registry = %v, want ErrDuplicate", err)
	}
}

func TestRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, err := metrics.New(reg, metrics.Options{})
		if err != nil {
			t.Fatal(err)
		}
		obs := m.RetryObserver("search")
		policy := retry.Policy{MaxAttempts: 3, Observer: obs}
		ctx := context.Background()
		fail := errors.New("unavailable")

		// Call 1: fails twice, then succeeds. Call 2: succeeds at once.
		// Call 3: fails three times.
		n := 0
		if err := retry.Do(ctx, policy, func(context.Context) error {
			if n++; n < 3 {
				return fail
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := retry.Do(ctx, policy, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if err := retry.Do(ctx, policy, func(context.Context) error { return fail }); err == nil {
			t.Fatal("always-failing call succeeded")
		}

		// Call 4: a budget allows a retry while retries < Ratio×requests
		// (no floor): the first retry (0 < 1e-9) goes, the second is
		// refused.
		budget, err := retry.NewBudget(retry.BudgetConfig{Ratio: 1e-9, MinRetriesPerSecond: -1})
		if err != nil {
			t.Fatal(err)
		}
		tight := retry.Policy{MaxAttempts: 3, Budget: budget, Observer: obs}
		err = retry.Do(ctx, tight, func(context.Context) error { return fail })
		var rerr *retry.Error
		if !errors.Is(err, retry.ErrBudgetExhausted) || !errors.As(err, &rerr) || rerr.Attempts != 2 {
			t.Fatalf("call with a tight budget: %v, want ErrBudgetExhausted after 2 attempts", err)
		}

		want := `
# HELP poolkit_retry_attempts_total Attempts made by retry loops: the first of each call and the retries, by result.
# TYPE poolkit_retry_attempts_total counter
poolkit_retry_attempts_total{attempt="first",result="error",service="search"} 3
poolkit_retry_attempts_total{attempt="first",result="success",service="search"} 1
poolkit_retry_attempts_total{attempt="retry",result="error",service="search"} 4
poolkit_retry_attempts_total{attempt="retry",result="success",service="search"} 1
# HELP poolkit_retry_budget_exhausted_total Retries refused by the retry budget.
# TYPE poolkit_retry_budget_exhausted_total counter
poolkit_retry_budget_exhausted_total{service="search"} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
			"poolkit_retry_attempts_total", "poolkit_retry_budget_exhausted_total"); err != nil {
			t.Error(err)
		}
	})
}
