package breaker_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/breaker"
)

// Trip opens a closed breaker whose trip rule has not fired, for its usual
// open timeout, and the breaker then goes half-open as usual.
func TestTripOpensClosedBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 100, MinRequests: 100, OpenTimeout: 2 * time.Second, Observer: rec})
		rec.b = b
		call(b, nil)
		if !b.Trip() {
			t.Fatal("Trip on a closed breaker reported not open")
		}
		if got := b.State(); got != breaker.StateOpen {
			t.Fatalf("after Trip: state %v; want open", got)
		}
		tripped := time.Now()
		_, err := b.Allow()
		var oe *breaker.OpenError
		if !errors.As(err, &oe) || !oe.RetryAt.Equal(tripped.Add(2*time.Second)) {
			t.Fatalf("after Trip: err = %v; want *OpenError with RetryAt one OpenTimeout later", err)
		}
		if !b.Trip() {
			t.Error("Trip on an open breaker reported not open")
		}
		time.Sleep(2*time.Second + 1)
		if got := b.State(); got != breaker.StateHalfOpen {
			t.Fatalf("after the open timeout: state %v; want half-open", got)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		want := "svc:closed->open(now open) svc:open->half-open(now half-open)"
		if got := strings.Join(rec.transitions, " "); got != want {
			t.Errorf("transitions = %q; want %q", got, want)
		}
		if rec.rejected != 1 {
			t.Errorf("rejected = %d; want 1 (Trip itself is no call)", rec.rejected)
		}
	})
}

// Trip on a half-open breaker with a free probe slot reopens it; with all
// probes in flight it leaves the decision to them.
func TestTripHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, "svc", breaker.Settings{ConsecutiveFailures: 1, OpenTimeout: time.Second, HalfOpenProbes: 1})
		b.Trip()
		time.Sleep(time.Second + 1)
		if !b.Trip() || b.State() != breaker.StateOpen {
			t.Fatalf("Trip half-open with a free probe: state %v; want open", b.State())
		}
		time.Sleep(time.Second + 1)
		done, err := b.Allow() // the only probe
		if err != nil {
			t.Fatal(err)
		}
		if b.Trip() {
			t.Error("Trip with all probes in flight reported open")
		}
		done(nil)
		if got := b.State(); got != breaker.StateClosed {
			t.Errorf("probe succeeded: state %v; want closed", got)
		}
	})
}

// HoldOpen rejects every call until its end, whatever the breaker's own
// state, and leaves that state alone.
func TestHoldOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		b := mustNew(t, "svc", breaker.Settings{Observer: rec})
		rec.b = b
		until := time.Now().Add(3 * time.Second)
		b.HoldOpen(until)
		if !b.HeldUntil().Equal(until) {
			t.Errorf("HeldUntil = %v; want %v", b.HeldUntil(), until)
		}
		_, err := breaker.Execute(b, func() (int, error) {
			t.Error("fn called while held")
			return 0, nil
		})
		var oe *breaker.OpenError
		if !errors.As(err, &oe) || oe.State != breaker.StateOpen || !oe.RetryAt.Equal(until) || oe.Service != "svc" {
			t.Fatalf("held: err = %v; want open *OpenError with RetryAt %v", err, until)
		}
		if got := b.State(); got != breaker.StateClosed {
			t.Errorf("held: own state %v; want closed (untouched)", got)
		}
		time.Sleep(3*time.Second + 1)
		if !call(b, nil) {
			t.Error("call rejected after the hold ended")
		}
		if !b.HeldUntil().IsZero() {
			t.Errorf("HeldUntil after the end = %v; want zero", b.HeldUntil())
		}
		b.HoldOpen(time.Now().Add(time.Hour))
		b.HoldOpen(time.Time{})
		if !call(b, nil) {
			t.Error("call rejected after HoldOpen(zero) lifted the hold")
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.rejected != 1 || len(rec.transitions) != 0 {
			t.Errorf("observer: rejected %d, transitions %q; want 1 and none", rec.rejected, rec.transitions)
		}
	})
}

// attacher keeps the breaker New gives it.
type attacher struct {
	recorder
	attached []*breaker.Breaker
}

func (a *attacher) Attach(b *breaker.Breaker) { a.attached = append(a.attached, b) }

// An Observer that is an Attacher is given its breaker once, by New.
func TestObserverAttach(t *testing.T) {
	a := &attacher{}
	b := mustNew(t, "svc", breaker.Settings{Observer: a})
	if len(a.attached) != 1 || a.attached[0] != b {
		t.Fatalf("attached %v; want exactly the new breaker", a.attached)
	}
	a.b = b
	b.Trip()
	if len(a.transitions) != 1 {
		t.Errorf("transitions = %q; want one", a.transitions)
	}
}
