package breaker

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// State is the state of a [Breaker].
type State int

// The states of a [Breaker].
const (
	// StateClosed lets every call through and counts outcomes.
	StateClosed State = iota
	// StateHalfOpen lets up to Settings.HalfOpenProbes calls through to
	// find out whether the downstream has recovered.
	StateHalfOpen
	// StateOpen rejects every call until Settings.OpenTimeout has passed.
	StateOpen
)

func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateHalfOpen:
		return "half-open"
	case StateOpen:
		return "open"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

func fromGobreaker(s gobreaker.State) State {
	switch s {
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	case gobreaker.StateOpen:
		return StateOpen
	}
	return StateClosed
}

// Counts is a snapshot of the outcomes a [Breaker] counted in the current
// window (closed) or since it went half-open. Counts are cleared on every
// state change. Requests includes calls still in flight and excluded ones.
type Counts struct {
	Requests             uint32
	TotalSuccesses       uint32
	TotalFailures        uint32
	TotalExclusions      uint32
	ConsecutiveSuccesses uint32
	ConsecutiveFailures  uint32
}

// Breaker is a circuit breaker for one downstream service. Create it with
// [New] (or get it from a [Registry]); it is safe for concurrent use. A
// Breaker is not generic over the call's result: use one per service and
// [Execute] for calls that return a value.
type Breaker struct {
	name     string
	settings Settings // defaults applied
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]

	hooks    hookQueue
	retryAt  atomic.Int64 // unix nanoseconds at which an open breaker turns half-open
	holdTill atomic.Int64 // unix nanoseconds until which HoldOpen rejects every call; 0: no hold
	tripping atomic.Int32 // Trip calls in progress: the trip rule fires on any failure
}

// Outcomes reach gobreaker as these errors, so that the classifier runs
// outside gobreaker's lock and exactly once per call.
var (
	errFailure  = errors.New("breaker: failure")
	errExcluded = errors.New("breaker: excluded")
)

// New returns a closed Breaker for the service called name. Zero fields of s
// mean their defaults (see [Settings]).
//
// On failure, it returns a *[SettingsError] naming the first invalid field,
// or an error if name is empty.
func New(name string, s Settings) (*Breaker, error) {
	if name == "" {
		return nil, errors.New("breaker: name is empty")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s = s.withDefaults()
	b := &Breaker{name: name, settings: s}
	interval := max(s.Interval, 0) // gobreaker: <= 0 never clears counts while closed
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  uint32(s.HalfOpenProbes),
		Interval:     interval,
		BucketPeriod: s.BucketPeriod,
		Timeout:      s.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return b.tripping.Load() > 0 || s.readyToTrip(Counts(c))
		},
		// Runs with gobreaker's mutex held: record only, deliver later.
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.retryAt.Store(time.Now().Add(s.OpenTimeout).UnixNano())
			}
			if s.Observer != nil {
				b.hooks.push(transition{fromGobreaker(from), fromGobreaker(to)})
			}
		},
		IsExcluded: func(err error) bool { return err == errExcluded },
	})
	if a, ok := s.Observer.(Attacher); ok {
		a.Attach(b)
	}
	return b, nil
}

// Name returns the service name the breaker was created with.
func (b *Breaker) Name() string { return b.name }

// Settings returns the breaker's settings with every default filled in.
func (b *Breaker) Settings() Settings { return b.settings }

// State returns the current state. An open breaker whose timeout has passed
// reports (and becomes) half-open.
func (b *Breaker) State() State {
	s := b.cb.State()
	b.flush()
	return fromGobreaker(s)
}

// Counts returns a snapshot of the current counts.
func (b *Breaker) Counts() Counts {
	return Counts(b.cb.Counts())
}

// Allow asks whether a call may proceed, for callers that cannot wrap the
// call in a function (see [Execute] otherwise).
//
// On success, it returns a done function that the caller must call exactly
// once with the call's error when the call finishes; the error is classified
// by Settings.Classify. Calls of done after the first are ignored. A call
// that is allowed but never reported holds a half-open probe slot forever,
// so report panics too.
//
// On failure, done is nil and err is an *[OpenError] (errors.Is(err,
// [ErrOpen]) holds): the call must not be made.
func (b *Breaker) Allow() (done func(err error), err error) {
	report, err := b.allow()
	if err != nil {
		return nil, err
	}
	return func(err error) { report(b.settings.Classify(err)) }, nil
}

// Trip opens the breaker now, as if its trip rule had fired: for a caller
// that learns from elsewhere (another process sharing the downstream, see
// package fleet) that the downstream is failing. The breaker then follows
// its usual course: open for Settings.OpenTimeout, then half-open.
//
// It reports whether the breaker is open when Trip returns. It does nothing
// and reports true when the breaker is open already; it does nothing and
// reports false when the breaker is half-open with all its probes in flight
// (their outcome decides). A closed breaker, or an open one whose timeout
// has passed, trips. Trip counts as no call: the Observer hears the state
// change but no rejection.
func (b *Breaker) Trip() bool {
	b.tripping.Add(1)
	done, err := b.cb.Allow()
	if err == nil {
		done(errFailure) // closed: the trip rule fires; half-open: any failure opens
	}
	b.tripping.Add(-1)
	b.flush()
	return b.cb.State() == gobreaker.StateOpen
}

// HoldOpen makes the breaker reject every call until the instant until,
// whatever its own state, without changing that state; a zero or past until
// lifts the hold. Calls rejected by the hold get an *[OpenError] with State
// StateOpen and RetryAt until, and are reported to the Observer as
// rejected. Calls already allowed are not affected.
//
// It is for a caller that coordinates breakers across processes (package
// fleet): one process probes a recovering downstream while the others hold
// their breakers open, so the fleet sends a few probes rather than a few
// per process. A later HoldOpen replaces an earlier one. The check on the
// request path is one atomic load.
func (b *Breaker) HoldOpen(until time.Time) {
	if until.IsZero() {
		b.holdTill.Store(0)
		return
	}
	b.holdTill.Store(until.UnixNano())
}

// HeldUntil returns the end of the hold set by [Breaker.HoldOpen], or the
// zero time when no hold is in force.
func (b *Breaker) HeldUntil() time.Time {
	h := b.holdTill.Load()
	if h == 0 || time.Now().UnixNano() >= h {
		return time.Time{}
	}
	return time.Unix(0, h)
}

// allow is Allow with the outcome given directly.
func (b *Breaker) allow() (func(Outcome), error) {
	if h := b.holdTill.Load(); h != 0 && time.Now().UnixNano() < h {
		if o := b.settings.Observer; o != nil {
			o.Rejected(b.name)
		}
		return nil, &OpenError{Service: b.name, State: StateOpen, RetryAt: time.Unix(0, h)}
	}
	done, err := b.cb.Allow()
	b.flush()
	if err != nil {
		if o := b.settings.Observer; o != nil {
			o.Rejected(b.name)
		}
		return nil, b.openError(err)
	}
	var reported atomic.Bool
	return func(o Outcome) {
		if !reported.CompareAndSwap(false, true) {
			return
		}
		switch o {
		case Success:
			done(nil)
		case Excluded:
			done(errExcluded)
		default:
			done(errFailure)
		}
		b.flush()
	}, nil
}

func (b *Breaker) openError(err error) error {
	e := &OpenError{Service: b.name, State: StateOpen}
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		e.State = StateHalfOpen
	} else {
		e.RetryAt = time.Unix(0, b.retryAt.Load())
	}
	return e
}

// flush delivers queued state changes to the observer, outside gobreaker's
// lock.
func (b *Breaker) flush() {
	o := b.settings.Observer
	if o == nil {
		return
	}
	b.hooks.flush(func(t transition) { o.StateChange(b.name, t.from, t.to) })
}

// Execute runs fn if b allows it and reports fn's outcome, classified by
// b's Settings.Classify, to b.
//
// If b rejects the call, fn is not run and Execute returns the zero T and an
// *[OpenError] (errors.Is(err, [ErrOpen]) holds). Otherwise it returns what
// fn returned. A panic in fn counts as a failure and is propagated.
func Execute[T any](b *Breaker, fn func() (T, error)) (T, error) {
	done, err := b.allow()
	if err != nil {
		var zero T
		return zero, err
	}
	finished := false
	defer func() {
		if !finished {
			done(Failure)
		}
	}()
	v, err := fn()
	finished = true
	done(b.settings.Classify(err))
	return v, err
}
