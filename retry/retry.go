package retry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrBudgetExhausted is matched, through errors.Is, by the *[Error] that
// [Do], [DoValue] and [Transport] return when they stopped retrying because
// the policy's [Budget] refused another retry.
var ErrBudgetExhausted = errors.New("retry: budget exhausted")

// Error is the error [Do] and [DoValue] return when the call did not
// succeed. errors.Is and errors.As see through it to Last and to Reason.
type Error struct {
	// Attempts is the number of attempts made, at least 1.
	Attempts int
	// Last is the error of the last attempt (with any [Permanent] mark
	// removed).
	Last error
	// Reason says why retrying stopped before MaxAttempts, or is nil when
	// the attempts ran out or Last was not retryable:
	//   - ErrBudgetExhausted: the budget refused a retry;
	//   - the caller's ctx.Err(): the context was done after an attempt or
	//     during a wait;
	//   - context.DeadlineExceeded: the next wait would have reached the
	//     context's deadline, so Do returned at once instead of sleeping.
	Reason error
}

func (e *Error) Error() string {
	s := "s"
	if e.Attempts == 1 {
		s = ""
	}
	if e.Reason != nil {
		return fmt.Sprintf("retry: %d attempt%s, stopped: %v: %v", e.Attempts, s, e.Reason, e.Last)
	}
	return fmt.Sprintf("retry: %d attempt%s: %v", e.Attempts, s, e.Last)
}

// Unwrap returns Last and, if set, Reason.
func (e *Error) Unwrap() []error {
	if e.Reason == nil {
		return []error{e.Last}
	}
	return []error{e.Last, e.Reason}
}

// Observer is told what a retry loop does, for metrics. Methods are called
// from the goroutine running the call, without any lock held.
type Observer interface {
	// Attempt reports that attempt n (1 for the first) finished with err
	// (nil on success).
	Attempt(n int, err error)
	// BudgetExhausted reports that the budget refused a retry.
	BudgetExhausted()
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: [Do] returns at once when an
// attempt returns it (or an error wrapping it). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// DefaultRetryable is the default Policy.Retryable: every error is retried
// except context.Canceled (a cancellation is the caller's decision, not a
// transient fault). context.DeadlineExceeded from a per-attempt timeout is
// retried; the caller's own expired context stops Do regardless.
func DefaultRetryable(err error) bool {
	return !errors.Is(err, context.Canceled)
}

// Do calls fn until it returns nil, following p: at most p.MaxAttempts
// attempts, with a full-jitter exponential backoff (or the error's
// Retry-After, capped) between them, as long as p.Retryable agrees and
// p.Budget allows.
//
// fn is always called at least once. It gets ctx, or a child of ctx bounded
// by p.AttemptTimeout. Do never sleeps past ctx's deadline: when the next
// wait would reach it, Do returns at once. When ctx is done during a wait,
// Do returns without waiting further.
//
// On success, Do returns nil. On failure, it returns an *[Error] carrying
// the number of attempts and the last error (errors.Is sees through it), or
// a *[PolicyError] without calling fn if p is invalid.
func Do(ctx context.Context, p Policy, fn func(ctx context.Context) error) error {
	_, err := DoValue(ctx, p, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	})
	return err
}

// DoValue is [Do] for a function that returns a value. On success it returns
// fn's value; on failure the zero T and the error Do would return.
func DoValue[T any](ctx context.Context, p Policy, fn func(ctx context.Context) (T, error)) (T, error) {
	if err := p.Validate(); err != nil {
		var zero T
		return zero, err
	}
	return run(ctx, p.withDefaults(), fn, nil)
}

// run is the retry loop, for a valid policy with defaults applied.
// beforeRetry, if not nil, is called with the failed attempt's error once a
// retry has been decided on, before the wait.
func run[T any](ctx context.Context, p Policy, fn func(context.Context) (T, error), beforeRetry func(error)) (T, error) {
	var zero T
	if p.Budget != nil {
		p.Budget.recordRequest(time.Now())
	}
	for attempt := 1; ; attempt++ {
		v, err := callAttempt(ctx, p.AttemptTimeout, fn)
		if p.Observer != nil {
			p.Observer.Attempt(attempt, err)
		}
		if err == nil {
			return v, nil
		}
		last := err
		var perm *permanentError
		permanent := errors.As(err, &perm)
		if permanent {
			last = perm.err
		}
		stop := func(reason error) (T, error) {
			return zero, &Error{Attempts: attempt, Last: last, Reason: reason}
		}
		if ctx.Err() != nil {
			return stop(ctx.Err())
		}
		if permanent || !p.Retryable(last) || attempt >= p.MaxAttempts {
			return stop(nil)
		}
		wait := p.backoff(attempt)
		var hint interface{ RetryAfter() time.Duration }
		if errors.As(err, &hint) {
			if d := hint.RetryAfter(); d > 0 {
				wait = min(d, p.RetryAfterCap)
			}
		}
		if deadline, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(deadline) {
			return stop(context.DeadlineExceeded)
		}
		if p.Budget != nil && !p.Budget.allowRetry(time.Now()) {
			if p.Observer != nil {
				p.Observer.BudgetExhausted()
			}
			return stop(ErrBudgetExhausted)
		}
		if beforeRetry != nil {
			beforeRetry(err)
		}
		if err := sleep(ctx, wait); err != nil {
			return stop(err)
		}
	}
}

func callAttempt[T any](ctx context.Context, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	if timeout <= 0 {
		return fn(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return fn(ctx)
}

// sleep waits for d or until ctx is done, whichever comes first, and returns
// ctx.Err() in the second case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
