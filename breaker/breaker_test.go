package breaker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/breaker"
)

var errBoom = errors.New("boom")

func mustNew(t *testing.T, name string, s breaker.Settings) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(name, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call runs one call through b with the given error and reports whether the
// breaker let it through.
func call(b *breaker.Breaker, err error) bool {
	_, e := breaker.Execute(b, func() (int, error) { return 0, err })
	return !errors.Is(e, breaker.ErrOpen)
}

func TestTripOnConsecutiveFailures(t *testing.T) {
	b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 3, MinRequests: 1000})
	for i := range 2 {
		call(b, errBoom)
		if b.State() != breaker.StateClosed {
			t.Fatalf("after %d failures: state %v; want closed", i+1, b.State())
		}
	}
	call(b, nil) // a success breaks the run
	call(b, errBoom)
	call(b, errBoom)
	if b.State() != breaker.StateClosed {
		t.Fatalf("run broken by a success: state %v; want closed", b.State())
	}
	call(b, errBoom)
	if b.State() != breaker.StateOpen {
		t.Fatalf("after 3 consecutive failures: state %v; want open", b.State())
	}
}

func TestTripOnFailureRatio(t *testing.T) {
	b := mustNew(t, "svc", breaker.Settings{FailureRatio: 0.5, MinRequests: 10, ConsecutiveFailures: -1})
	// Alternate: 50% failures, but fewer than MinRequests outcomes.
	for range 4 {
		call(b, errBoom)
		call(b, nil)
	}
	call(b, errBoom) // 5 failures of 9
	if b.State() != breaker.StateClosed {
		t.Fatalf("9 outcomes < MinRequests: state %v; want closed", b.State())
	}
	call(b, errBoom) // 6 of 10
	if b.State() != breaker.StateOpen {
		t.Fatalf("6 failures of 10: state %v; want open (counts %+v)", b.State(), b.Counts())
	}
}

func TestRatioBelowThresholdStaysClosed(t *testing.T) {
	b := mustNew(t, "svc", breaker.Settings{FailureRatio: 0.5, MinRequests: 4, ConsecutiveFailures: -1})
	for range 20 {
		call(b, nil)
		call(b, nil)
		call(b, errBoom)
	}
	if b.State() != breaker.StateClosed {
		t.Fatalf("1/3 failures: state %v; want closed", b.State())
	}
	if c := b.Counts(); c.TotalFailures != 20 || c.TotalSuccesses != 40 {
		t.Errorf("Counts() = %+v; want 20 failures, 40 successes", c)
	}
}

func TestExcludedNeverTrips(t *testing.T) {
	b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 2, MinRequests: 2})
	for range 10 {
		call(b, context.Canceled)
	}
	if b.State() != breaker.StateClosed {
		t.Fatalf("cancellations: state %v; want closed", b.State())
	}
	if c := b.Counts(); c.TotalExclusions != 10 || c.TotalSuccesses != 0 || c.TotalFailures != 0 {
		t.Errorf("Counts() = %+v; want 10 exclusions and nothing else", c)
	}
}

func TestCustomClassifier(t *testing.T) {
	errNotFound := errors.New("not found")
	b := mustNew(t, "svc", breaker.Settings{
		ConsecutiveFailures: 2,
		Classify: func(err error) breaker.Outcome {
			if errors.Is(err, errNotFound) {
				return breaker.Excluded
			}
			return breaker.Classify(err)
		},
	})
	for range 5 {
		call(b, errNotFound)
	}
	if b.State() != breaker.StateClosed {
		t.Fatalf("excluded by classifier: state %v; want closed", b.State())
	}
}

func TestOpenTimeoutAndHalfOpenRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 5 * time.Second
		b := mustNew(t, "payment", breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: timeout, HalfOpenProbes: 2})
		call(b, errBoom)
		call(b, errBoom)
		openedAt := time.Now()

		time.Sleep(timeout - time.Millisecond)
		_, err := breaker.Execute(b, func() (int, error) {
			t.Error("fn called while open")
			return 0, nil
		})
		var oe *breaker.OpenError
		if !errors.As(err, &oe) || !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("Execute while open: err = %v; want *OpenError matching ErrOpen", err)
		}
		if oe.Service != "payment" || oe.State != breaker.StateOpen || !oe.RetryAt.Equal(openedAt.Add(timeout)) {
			t.Errorf("OpenError = %+v; want service payment, open, RetryAt %v", oe, openedAt.Add(timeout))
		}
		if msg := err.Error(); !strings.Contains(msg, `"payment"`) || !strings.Contains(msg, oe.RetryAt.Format("15:04:05.000")) {
			t.Errorf("message %q should name the service and the retry time", msg)
		}

		time.Sleep(time.Millisecond + 1) // RetryAt is the last instant still open
		if got := b.State(); got != breaker.StateHalfOpen {
			t.Fatalf("after open timeout: state %v; want half-open", got)
		}
		// Two probes may be in flight; a third is rejected.
		done1, err1 := b.Allow()
		done2, err2 := b.Allow()
		if err1 != nil || err2 != nil {
			t.Fatalf("probes rejected: %v, %v", err1, err2)
		}
		_, err = b.Allow()
		if !errors.As(err, &oe) || oe.State != breaker.StateHalfOpen || !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("third probe: err = %v; want half-open *OpenError", err)
		}
		done1(nil)
		if b.State() != breaker.StateHalfOpen {
			t.Fatalf("one probe succeeded: state %v; want still half-open", b.State())
		}
		done2(nil)
		if b.State() != breaker.StateClosed {
			t.Fatalf("all probes succeeded: state %v; want closed", b.State())
		}
	})
}

func TestHalfOpenFailureReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 1, OpenTimeout: time.Second})
		call(b, errBoom)
		time.Sleep(time.Second + 1)
		if !call(b, errBoom) {
			t.Fatal("probe rejected after open timeout")
		}
		if b.State() != breaker.StateOpen {
			t.Fatalf("failed probe: state %v; want open", b.State())
		}
		reopenedAt := time.Now()
		_, err := b.Allow()
		var oe *breaker.OpenError
		if !errors.As(err, &oe) || !oe.RetryAt.Equal(reopenedAt.Add(time.Second)) {
			t.Fatalf("after reopening: err = %v; want RetryAt one timeout later", err)
		}
	})
}

func TestRollingWindowForgetsOldFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, "svc", breaker.Settings{
			ConsecutiveFailures: -1, FailureRatio: 1, MinRequests: 5,
			Interval: 10 * time.Second, BucketPeriod: time.Second,
		})
		// Four failures, then a bit more than a window later four more: never
		// five in one window.
		for range 4 {
			call(b, errBoom)
		}
		time.Sleep(11 * time.Second)
		for range 4 {
			call(b, errBoom)
		}
		if b.State() != breaker.StateClosed {
			t.Fatalf("failures in separate windows: state %v; want closed", b.State())
		}
		time.Sleep(time.Second)
		call(b, errBoom) // fifth failure within the window
		if b.State() != breaker.StateOpen {
			t.Fatalf("5 failures within the window: state %v; want open", b.State())
		}
	})
}

func TestDoneIsIdempotent(t *testing.T) {
	b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 2})
	done, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	done(errBoom)
	done(errBoom)
	done(errBoom)
	if c := b.Counts(); c.TotalFailures != 1 || b.State() != breaker.StateClosed {
		t.Fatalf("done called 3 times: counts %+v state %v; want 1 failure, closed", c, b.State())
	}
}

func TestExecutePanicCountsAsFailure(t *testing.T) {
	b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 1})
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Errorf("recovered %v; want the original panic", r)
			}
		}()
		breaker.Execute(b, func() (int, error) { panic("kaboom") })
	}()
	if b.State() != breaker.StateOpen {
		t.Fatalf("after panic: state %v; want open", b.State())
	}
}

func TestExecuteReturnsValue(t *testing.T) {
	b := mustNew(t, "svc", breaker.Settings{})
	v, err := breaker.Execute(b, func() (string, error) { return "ok", nil })
	if v != "ok" || err != nil {
		t.Fatalf("Execute = %q, %v", v, err)
	}
	v, err = breaker.Execute(b, func() (string, error) { return "partial", errBoom })
	if v != "partial" || err != errBoom {
		t.Fatalf("Execute = %q, %v; want fn's value and error unchanged", v, err)
	}
}

// recorder is an Observer that calls back into the breaker, which would
// deadlock if it ran under gobreaker's lock.
type recorder struct {
	b *breaker.Breaker

	mu          sync.Mutex
	transitions []string
	rejected    int
}

func (r *recorder) StateChange(name string, from, to breaker.State) {
	state := r.b.State() // would deadlock under gobreaker's mutex
	_ = r.b.Counts()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transitions = append(r.transitions, name+":"+from.String()+"->"+to.String()+"(now "+state.String()+")")
}

func (r *recorder) Rejected(name string) {
	_ = r.b.State()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected++
}

func TestObserverCanCallBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		b := mustNew(t, "inv", breaker.Settings{ConsecutiveFailures: 2, OpenTimeout: time.Second, HalfOpenProbes: 1, Observer: rec})
		rec.b = b
		call(b, errBoom)
		call(b, errBoom) // closed -> open
		call(b, nil)     // rejected
		call(b, nil)     // rejected
		time.Sleep(time.Second + 1)
		call(b, nil) // open -> half-open -> closed

		want := []string{
			"inv:closed->open(now open)",
			"inv:open->half-open(now half-open)",
			"inv:half-open->closed(now closed)",
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if strings.Join(rec.transitions, " ") != strings.Join(want, " ") {
			t.Errorf("transitions = %q; want %q", rec.transitions, want)
		}
		if rec.rejected != 2 {
			t.Errorf("rejected = %d; want 2", rec.rejected)
		}
	})
}

func TestObserverConcurrent(t *testing.T) {
	rec := &recorder{}
	b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 5, Observer: rec})
	rec.b = b
	var wg sync.WaitGroup
	var allowed atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if call(b, errBoom) {
					allowed.Add(1)
				}
				b.State()
			}
		})
	}
	wg.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.transitions) != 1 || !strings.HasPrefix(rec.transitions[0], "svc:closed->open") {
		t.Errorf("transitions = %q; want exactly closed->open", rec.transitions)
	}
	// Calls let through while the fifth failure was in flight are failures
	// of the old generation: at least 5 get through, and every other call
	// is rejected and reported.
	if n := allowed.Load(); n < 5 || rec.rejected != 8*50-int(n) {
		t.Errorf("allowed %d, rejected %d; want >= 5 allowed and the other %d rejected", n, rec.rejected, 8*50-int(n))
	}
}
