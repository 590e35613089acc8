package breaker

import (
	"errors"
	"fmt"
	"time"
)

// ErrOpen is matched, through errors.Is, by every error a [Breaker] returns
// when it rejects a call without running it: the breaker is open, or it is
// half-open and all its probes are taken. The error itself is an
// *[OpenError], which says which service and when to try again.
//
// One sentinel covers both cases on purpose: to a caller they mean the same
// thing (the call was not made, fail fast); [OpenError.State] tells them
// apart for logs and metrics.
var ErrOpen = errors.New("breaker: open")

// OpenError is returned by [Breaker.Allow], [Execute] and [Transport] when
// the breaker rejects a call. errors.Is(err, ErrOpen) is true for it.
type OpenError struct {
	// Service is the breaker's name.
	Service string
	// State is StateOpen, or StateHalfOpen when the probes are all taken.
	State State
	// RetryAt is the end of the open timeout: the last instant the breaker
	// stays open; calls made after it are let through as probes. It is zero
	// when State is StateHalfOpen: a probe slot frees as soon as a probe
	// finishes.
	RetryAt time.Time
}

func (e *OpenError) Error() string {
	if e.State == StateHalfOpen {
		return fmt.Sprintf("breaker: service %q is half-open and all its probes are in flight; try again shortly", e.Service)
	}
	return fmt.Sprintf("breaker: service %q is open; will try again at %s",
		e.Service, e.RetryAt.Format("2006-01-02T15:04:05.000Z07:00"))
}

// Is reports whether target is [ErrOpen].
func (e *OpenError) Is(target error) bool { return target == ErrOpen }
