package pool

import "time"

// DestroyReason says why the pool destroyed a resource.
type DestroyReason uint8

// The reasons a resource is destroyed, as counted in [DestroyCounts] and
// passed to [Observer].
const (
	ReasonIdle        DestroyReason = iota // idle past IdleTimeout, beyond MaxIdle, or reclaimed for a Budget sibling
	ReasonLifetime                         // reached its MaxLifetime
	ReasonCheckFailed                      // Config.Check returned an error
	ReasonBroken                           // the holder called Destroy, or Reset failed
	ReasonClosed                           // the pool closed
	ReasonMaxUses                          // acquired MaxUses times
	numReasons
)

var reasonNames = [numReasons]string{"idle", "lifetime", "check_failed", "broken", "closed", "max_uses"}

// String returns the reason in snake case, as used in metric labels.
func (r DestroyReason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons lists every DestroyReason, in order.
func Reasons() []DestroyReason {
	return []DestroyReason{ReasonIdle, ReasonLifetime, ReasonCheckFailed, ReasonBroken, ReasonClosed, ReasonMaxUses}
}

// DestroyCounts counts destroyed resources by reason.
type DestroyCounts struct {
	Idle, Lifetime, CheckFailed, Broken, Closed, MaxUses uint64
}

// Of returns the count for one reason.
func (d DestroyCounts) Of(r DestroyReason) uint64 {
	switch r {
	case ReasonIdle:
		return d.Idle
	case ReasonLifetime:
		return d.Lifetime
	case ReasonCheckFailed:
		return d.CheckFailed
	case ReasonBroken:
		return d.Broken
	case ReasonClosed:
		return d.Closed
	case ReasonMaxUses:
		return d.MaxUses
	}
	return 0
}

// Total returns the sum over all reasons.
func (d DestroyCounts) Total() uint64 {
	return d.Idle + d.Lifetime + d.CheckFailed + d.Broken + d.Closed + d.MaxUses
}

func (d *DestroyCounts) add(r DestroyReason) {
	switch r {
	case ReasonIdle:
		d.Idle++
	case ReasonLifetime:
		d.Lifetime++
	case ReasonCheckFailed:
		d.CheckFailed++
	case ReasonBroken:
		d.Broken++
	case ReasonClosed:
		d.Closed++
	case ReasonMaxUses:
		d.MaxUses++
	}
}

// Stats is a snapshot of a pool, taken under its lock: the gauges agree with
// each other and with the counters. Taking it does not allocate.
type Stats struct {
	// Gauges.
	Open       int // resources that exist or are being created: Idle + InUse + Creating + Destroying
	Idle       int // ready to lend
	InUse      int // lent to callers, or being checked by the pool in the background
	Creating   int // Create calls in flight (or waiting for the Budget)
	Destroying int // Destroy calls in flight; they still count toward MaxSize
	Waiting    int // Acquire calls waiting
	MinSize    int // Config.MinSize
	MaxSize    int // Config.MaxSize

	// OldestWait is how long the oldest waiting Acquire has waited; zero
	// when none waits.
	OldestWait time.Duration

	// Counters, cumulative since New.
	Acquires       uint64        // successful Acquire calls
	WaitedAcquires uint64        // successful Acquire calls that had to wait
	WaitTime       time.Duration // total time waited by WaitedAcquires
	Timeouts       uint64        // Acquire calls that hit their deadline
	Canceled       uint64        // Acquire calls whose ctx was cancelled while waiting
	Rejected       uint64        // Acquire calls refused because MaxWaiters were waiting
	Created        uint64        // successful Create calls
	CreateErrors   uint64        // failed Create calls
	CheckFailures  uint64        // failed health checks (each also destroys a resource)
	Leaks          uint64        // resources reported as held past LeakThreshold
	Destroyed      DestroyCounts // destroyed resources, by reason
}

// Observer receives a pool's events, for metrics. The pool calls it without
// holding its lock; implementations must be safe for concurrent use and must
// not block. [NopObserver] can be embedded to implement only some methods.
type Observer interface {
	// Created reports a Create call that took d; err is its error, if any.
	Created(d time.Duration, err error)
	// Destroyed reports a resource destroyed at the given age.
	Destroyed(reason DestroyReason, age time.Duration)
	// Acquired reports a successful Acquire that waited wait (zero when a
	// resource was idle).
	Acquired(wait time.Duration)
	// Released reports a resource given back (Release or Destroy) after
	// being held for held.
	Released(held time.Duration)
	// TimedOut reports an Acquire that hit its deadline after wait.
	TimedOut(wait time.Duration)
}

// NopObserver implements Observer and ignores every event.
type NopObserver struct{}

func (NopObserver) Created(time.Duration, error)           {}
func (NopObserver) Destroyed(DestroyReason, time.Duration) {}
func (NopObserver) Acquired(time.Duration)                 {}
func (NopObserver) Released(time.Duration)                 {}
func (NopObserver) TimedOut(time.Duration)                 {}
