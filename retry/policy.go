package retry

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults used for zero fields of [Policy].
const (
	// DefaultMaxAttempts is the number of attempts, the first included, when
	// Policy.MaxAttempts is zero: currently 3.
	DefaultMaxAttempts = 3

	// DefaultInitialBackoff is the upper bound of the first wait when
	// Policy.InitialBackoff is zero: currently 100ms.
	DefaultInitialBackoff = 100 * time.Millisecond

	// DefaultMaxBackoff caps the upper bound of any wait when
	// Policy.MaxBackoff is zero: currently 5s.
	DefaultMaxBackoff = 5 * time.Second

	// DefaultMultiplier is the growth of the wait bound per attempt when
	// Policy.Multiplier is zero: currently 2.
	DefaultMultiplier = 2.0

	// DefaultRetryAfterCap is the longest a server's Retry-After is honoured
	// when Policy.RetryAfterCap is zero: currently 10s.
	DefaultRetryAfterCap = 10 * time.Second
)

// Policy says how often and how patiently to retry. It is a plain value; the
// zero Policy is a sensible setup (3 attempts, full-jitter exponential
// backoff from 100ms capped at 5s, no budget). Every zero field means its
// documented default.
type Policy struct {
	// MaxAttempts is the most attempts made, the first included; 1 means
	// never retry. Zero means DefaultMaxAttempts; negative is invalid.
	MaxAttempts int

	// InitialBackoff bounds the wait before the first retry. The wait before
	// retry n (n >= 1) is drawn uniformly from
	// [0, min(MaxBackoff, InitialBackoff*Multiplier^(n-1))] ("full jitter").
	// Zero means DefaultInitialBackoff; negative is invalid.
	InitialBackoff time.Duration

	// MaxBackoff caps the bound of every wait. Zero means DefaultMaxBackoff;
	// negative, or below InitialBackoff, is invalid.
	MaxBackoff time.Duration

	// Multiplier is the growth of the wait bound per retry. Zero means
	// DefaultMultiplier; below 1 (or NaN, or infinite) is invalid.
	Multiplier float64

	// AttemptTimeout, if positive, bounds each attempt: the attempt's
	// context expires after it, and an attempt that times out this way is
	// retried (unless the caller's context has expired too). Zero means no
	// per-attempt timeout; negative is invalid.
	AttemptTimeout time.Duration

	// RetryAfterCap caps a wait requested by the failed attempt: an error
	// that has, or wraps one that has, a method RetryAfter() time.Duration
	// returning a positive duration (the HTTP [Transport]'s Retry-After)
	// replaces the jittered backoff by that duration, capped here. Zero
	// means DefaultRetryAfterCap; negative is invalid.
	RetryAfterCap time.Duration

	// Retryable reports whether an attempt's error is worth retrying. Nil
	// means [DefaultRetryable]. Whatever it says, errors marked with
	// [Permanent] are never retried, and nothing is retried once the
	// caller's context is done.
	Retryable func(err error) bool

	// Budget, if not nil, limits retries to a share of the requests it sees;
	// share one Budget between all calls to one service. Nil means no limit
	// beyond MaxAttempts.
	Budget *Budget

	// Observer is told about every attempt and every retry refused by the
	// budget. Nil means none.
	Observer Observer
}

// PolicyError reports an invalid [Policy] field. [Policy.Validate], [Do],
// [DoValue] and [NewTransport] return it.
type PolicyError struct {
	Field  string // e.g. "MaxAttempts"
	Value  any    // the offending value
	Reason string // what a valid value looks like
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("retry: Policy.%s = %v: %s", e.Field, e.Value, e.Reason)
}

// Validate reports the first invalid field of p as a *[PolicyError], or nil.
// Zero fields are valid: they mean their default.
func (p Policy) Validate() error {
	bad := func(field string, v any, reason string) error {
		return &PolicyError{Field: field, Value: v, Reason: reason}
	}
	switch {
	case p.MaxAttempts < 0:
		return bad("MaxAttempts", p.MaxAttempts, "must be >= 0")
	case p.InitialBackoff < 0:
		return bad("InitialBackoff", p.InitialBackoff, "must be >= 0")
	case p.MaxBackoff < 0:
		return bad("MaxBackoff", p.MaxBackoff, "must be >= 0")
	case p.Multiplier != 0 && !(p.Multiplier >= 1 && !math.IsInf(p.Multiplier, 1)):
		return bad("Multiplier", p.Multiplier, "must be >= 1 and finite")
	case p.AttemptTimeout < 0:
		return bad("AttemptTimeout", p.AttemptTimeout, "must be >= 0")
	case p.RetryAfterCap < 0:
		return bad("RetryAfterCap", p.RetryAfterCap, "must be >= 0")
	}
	if d := p.withDefaults(); d.MaxBackoff < d.InitialBackoff {
		return bad("MaxBackoff", p.MaxBackoff, fmt.Sprintf("must be >= InitialBackoff (%v)", d.InitialBackoff))
	}
	return nil
}

// withDefaults returns p with every zero field replaced by its default. It
// is the one place that knows the defaults.
func (p Policy) withDefaults() Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.InitialBackoff == 0 {
		p.InitialBackoff = DefaultInitialBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	if p.Multiplier == 0 {
		p.Multiplier = DefaultMultiplier
	}
	if p.RetryAfterCap == 0 {
		p.RetryAfterCap = DefaultRetryAfterCap
	}
	if p.Retryable == nil {
		p.Retryable = DefaultRetryable
	}
	return p
}

// backoffBound is the upper bound of the wait before retry n (n >= 1) of a
// policy with defaults applied.
func (p Policy) backoffBound(n int) time.Duration {
	bound := float64(p.InitialBackoff) * math.Pow(p.Multiplier, float64(n-1))
	if bound >= float64(p.MaxBackoff) || math.IsInf(bound, 0) || math.IsNaN(bound) {
		return p.MaxBackoff
	}
	return time.Duration(bound)
}

// backoff draws the wait before retry n uniformly from [0, backoffBound(n)].
func (p Policy) backoff(n int) time.Duration {
	bound := p.backoffBound(n)
	if bound <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(bound) + 1))
}
