package pool

import (
	"context"
	"time"
)

// Observer receives a pool's events, for metrics and tracing. The pool
// calls it without holding its lock; implementations must be safe for
// concurrent use and must not block. Every event names its pool; the
// events of an Acquire come with the caller's ctx, so a tracer can put a
// span covering the wait (it began Wait before the event) under the
// caller's. Passing events does not allocate. [NopObserver] can be embedded
// to implement only some methods.
type Observer interface {
	// Created reports a Create call. ctx carries the values (not the
	// cancellation) of the caller whose wait started the Create, or none
	// (context.Background()) for one the pool made on its own, to keep
	// MinSize say; Create's own ctx carries the same values.
	Created(ctx context.Context, e CreateEvent)
	// Destroyed reports a resource destroyed.
	Destroyed(e DestroyEvent)
	// Acquired reports a successful Acquire; ctx is its caller's.
	Acquired(ctx context.Context, e AcquireEvent)
	// Released reports a resource given back (Release or Destroy).
	Released(e ReleaseEvent)
	// TimedOut reports an Acquire that hit its deadline; ctx is its
	// caller's.
	TimedOut(ctx context.Context, e AcquireEvent)
}

// CreateEvent describes one call of Config.Create.
type CreateEvent struct {
	Pool     string        // the pool's name
	Duration time.Duration // how long Create took
	Err      error         // Create's error; nil on success
}

// DestroyEvent describes a destroyed resource.
type DestroyEvent struct {
	Pool   string        // the pool's name
	Reason DestroyReason // why it was destroyed
	Age    time.Duration // how long it existed
}

// AcquireEvent describes an Acquire that got a resource or timed out.
type AcquireEvent struct {
	Pool string // the pool's name
	// Wait is how long the call waited: in line, for a Create, and for
	// checks. Zero when it found a resource it could lend at once.
	Wait time.Duration
	// Waited is true when the call waited (in line or for a check).
	Waited bool
}

// ReleaseEvent describes a resource given back.
type ReleaseEvent struct {
	Pool string        // the pool's name
	Held time.Duration // how long its holder had it
}

// NopObserver implements Observer and ignores every event.
type NopObserver struct{}

func (NopObserver) Created(context.Context, CreateEvent)   {}
func (NopObserver) Destroyed(DestroyEvent)                 {}
func (NopObserver) Acquired(context.Context, AcquireEvent) {}
func (NopObserver) Released(ReleaseEvent)                  {}
func (NopObserver) TimedOut(context.Context, AcquireEvent) {}
