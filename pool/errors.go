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

	// BudgetLimited is true when the pool's [SharedBudget], not its
	// MaxSize, was the limit: the budget was spent (State.Budget) while
	// the pool was below MaxSize or waited for a share.
	BudgetLimited bool
}

func (e *TimeoutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool %q: timeout waiting for a resource after %v (open %d/%d, in use %d, idle %d, creating %d, waiting %d)",
		e.Pool, e.Waited.Round(time.Microsecond), e.State.Open, e.State.MaxSize, e.State.InUse, e.State.Idle, e.State.Creating, e.State.Waiting)
	if e.BudgetLimited {
		bs := e.State.Budget
		fmt.Fprintf(&b, "; limited by the budget, not MaxSize: budget %d/%d in use by %d pools", bs.Used, bs.Size, bs.Pools)
	}
	if e.LastCreateErr != nil {
		fmt.Fprintf(&b, "; last create error: %v", e.LastCreateErr)
	}
	writeHolder(&b, e.LongestHeld, e.LongestHolder)
	return b.String()
}

func writeHolder(b *strings.Builder, held time.Duration, stack string) {
	if stack != "" {
		fmt.Fprintf(b, "; longest holder (held %v) acquired at:\n%s", held.Round(time.Millisecond), stack)
	}
}

// Is reports whether target is ErrAcquireTimeout or context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrAcquireTimeout || target == context.DeadlineExceeded
}

// Timeout reports true: the error is a timeout to code that asks as it
// asks net/http's errors (net.Error, url.Error.Timeout, os.IsTimeout).
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports true, as net's timeouts do; with Timeout it makes the
// error a net.Error.
func (e *TimeoutError) Temporary() bool { return true }

// CreateError is returned by Acquire when the pool has no resource open and
// Create failed: to every caller waiting when it failed, and to callers
// arriving while the backoff lasts. It unwraps to Create's error.
type CreateError struct {
	Pool string
	Err  error
}

func (e *CreateError) Error() string { return fmt.Sprintf("pool %q: create: %v", e.Pool, e.Err) }

// Unwrap returns Create's error.
func (e *CreateError) Unwrap() error { return e.Err }

// CloseError is returned by [Pool.Close] when its ctx ends before every
// resource is back. It unwraps to ctx's error.
type CloseError struct {
	Pool  string // the pool's name
	State Stats  // the pool's stats when Close gave up
	Err   error  // ctx's error

	// LongestHeld and LongestHolder describe the longest current holder,
	// as in [TimeoutError], when leak detection is on.
	LongestHeld   time.Duration
	LongestHolder string
}

func (e *CloseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool %q: close: %d resources still open (in use %d, creating %d): %v",
		e.Pool, e.State.Open, e.State.InUse, e.State.Creating, e.Err)
	writeHolder(&b, e.LongestHeld, e.LongestHolder)
	return b.String()
}

// Unwrap returns ctx's error.
func (e *CloseError) Unwrap() error { return e.Err }

// ErrBroken says a resource no longer works. An error that matches it
// (errors.Is), such as one made by [Broken], makes [Pool.Do] destroy the
// resource instead of releasing it.
var ErrBroken = errors.New("pool: resource broken")

// Broken returns an error that wraps err and matches ErrBroken: return it
// from the function given to [Pool.Do] to have the resource destroyed.
// Broken(nil) returns ErrBroken.
func Broken(err error) error {
	if err == nil {
		return ErrBroken
	}
	return &brokenError{err}
}

type brokenError struct{ err error }

func (e *brokenError) Error() string        { return e.err.Error() }
func (e *brokenError) Unwrap() error        { return e.err }
func (e *brokenError) Is(target error) bool { return target == ErrBroken }

// IsBroken reports whether err says the resource it came from is broken,
// which is the rule [Pool.Do] applies: err matches ErrBroken (errors.Is),
// or an error in its chain has a method Broken() bool that returns true
// (so a package can mark its own error types without importing pool).
func IsBroken(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrBroken) {
		return true
	}
	var b interface{ Broken() bool }
	return errors.As(err, &b) && b.Broken()
}
