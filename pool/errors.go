package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrClosed is returned by Acquire on a pool that is closed or closing, and
// delivered to callers still waiting when Close is called.
var ErrClosed = errors.New("pool: closed")

// ErrAcquireTimeout is matched (with errors.Is) by the *TimeoutError that
// Acquire returns when its deadline passes before a resource is free: the
// ctx's own deadline, or Config.AcquireTimeout when the ctx has none. The
// same error also matches context.DeadlineExceeded.
var ErrAcquireTimeout = errors.New("pool: acquire timeout")

// ErrWaitQueueFull is wrapped by the error Acquire returns at once when
// Config.MaxWaiters callers are already waiting.
var ErrWaitQueueFull = errors.New("pool: wait queue full")

// TimeoutError is returned by Acquire when its deadline passes. It says what
// the pool looked like at that moment. errors.Is matches it against both
// ErrAcquireTimeout and context.DeadlineExceeded.
type TimeoutError struct {
	Pool   string        // the pool's name
	Waited time.Duration // how long Acquire waited
	State  Stats         // the pool's stats when the wait ended

	// LastCreateErr is the most recent Create error, when the most recent
	// Create failed; nil otherwise.
	LastCreateErr error

	// LongestHeld is how long the longest current holder has held its
	// resource, and LongestHolder where it was acquired (a stack), when
	// leak detection is on; zero and empty otherwise.
	LongestHeld   time.Duration
	LongestHolder string
}

func (e *TimeoutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool %q: timeout waiting for a resource after %v (open %d/%d, in use %d, idle %d, creating %d, waiting %d)",
		e.Pool, e.Waited.Round(time.Microsecond), e.State.Open, e.State.MaxSize, e.State.InUse, e.State.Idle, e.State.Creating, e.State.Waiting)
	if e.LastCreateErr != nil {
		fmt.Fprintf(&b, "; last create error: %v", e.LastCreateErr)
	}
	if e.LongestHolder != "" {
		fmt.Fprintf(&b, "; longest holder (held %v) acquired at:\n%s", e.LongestHeld.Round(time.Millisecond), e.LongestHolder)
	}
	return b.String()
}

// Is reports whether target is ErrAcquireTimeout or context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrAcquireTimeout || target == context.DeadlineExceeded
}

// CreateError is delivered to a waiting Acquire when the Create made for it
// failed. It unwraps to Create's error.
type CreateError struct {
	Pool string
	Err  error
}

func (e *CreateError) Error() string { return fmt.Sprintf("pool %q: create: %v", e.Pool, e.Err) }

// Unwrap returns Create's error.
func (e *CreateError) Unwrap() error { return e.Err }
