package pool

import "time"

// DestroyReason says why the pool destroyed a resource.
type DestroyReason uint8

// The reasons a resource is destroyed, as counted in [DestroyCounts] and
// passed to [Observer].
const (
	ReasonIdle        DestroyReason = iota // idle past IdleTimeout, beyond MaxIdle or a lowered MaxSize, or reclaimed for a budget
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
	MinSize    int // Config.MinSize, or as last set by SetMinSize
	MaxSize    int // Config.MaxSize, or as last set by SetMaxSize

	// OldestWait is how long the oldest waiting Acquire has waited; zero
	// when none waits.
	OldestWait time.Duration

	// Budget is the pool's SharedBudget as it reports itself (its size
	// and use across every pool sharing it); zero without one.
	Budget BudgetStats

	// Counters, cumulative since New.
	Acquires       uint64        // successful Acquire calls, counted when the caller gets the resource
	WaitedAcquires uint64        // successful Acquire calls that waited in line or for a check
	WaitTime       time.Duration // total time Acquire calls spent waiting in line or for a check: those of WaitedAcquires, and those that timed out or were cancelled (as database/sql's WaitDuration)
	Timeouts       uint64        // Acquire calls that hit their deadline
	Canceled       uint64        // Acquire calls whose ctx was cancelled
	Rejected       uint64        // Acquire calls refused because MaxWaiters were waiting
	FailedFast     uint64        // Acquire calls failed at once with the last Create error (backend down)
	Created        uint64        // successful Create calls
	CreateErrors   uint64        // failed Create calls
	CheckFailures  uint64        // failed health checks (each also destroys a resource)
	Leaks          uint64        // resources reported as held past LeakThreshold
	Destroyed      DestroyCounts // destroyed resources, by reason
}
