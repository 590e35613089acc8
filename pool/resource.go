package pool

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"time"
)

// Resource is a value lent by a Pool. Its holder must give it back exactly
// once, with Release when it still works or Destroy when it is broken.
//
// A *Resource belongs to the pool and is lent again after it is given back:
// keep neither it nor its Value after Release or Destroy. A second Release
// or Destroy before the resource is lent again is detected, logged with the
// caller's stack and otherwise ignored; after the resource has been lent
// again, the pool cannot tell a stale holder from the new one.
type Resource[T any] struct {
	value T
	p     *Pool[T]
	share Share // its part of the budget; nil without one
	state resourceState
	index int // in p.all

	created     mono
	expires     mono   // 0: never
	lastUsed    mono   // when last released (or created)
	lastChecked mono   // when last known good: created or checked
	checkedGen  uint64 // Pool.suspectGen when last known good
	acquired    mono   // when lent; 0 when the pool reads no clock on Acquire
	uses        int

	leakReported bool
	stack        []uintptr // where it was lent, with leak detection on
}

// resourceState is where a resource is. Every state but stateIdle and
// stateDestroyed counts in Pool.inUse.
type resourceState uint8

const (
	stateIdle      resourceState = iota // on the idle stack
	stateHandedOff                      // on its way, unlent, to a waiter that must check it
	stateChecking                       // being checked, on Acquire or in the background
	stateInUse                          // lent to a caller
	stateResetting                      // in Release, running Config.Reset
	stateDestroyed                      // removed; being or been destroyed
)

// Value returns the resource.
func (r *Resource[T]) Value() T { return r.value }

// CreatedAt returns when the resource was created.
func (r *Resource[T]) CreatedAt() time.Time { return r.p.time(r.created) }

// ExpiresAt returns when the resource reaches its lifetime, jitter included;
// zero when the pool has no MaxLifetime. A holder that keeps a resource for
// long (a shared HTTP/2 connection, say) can use it to stop taking new work
// on it in time.
func (r *Resource[T]) ExpiresAt() time.Time { return r.p.time(r.expires) }

// Uses returns how many times the resource has been lent, this time included.
func (r *Resource[T]) Uses() int { return r.uses }

// Release gives the resource back for reuse. When Config.Reset is set it
// runs first, and an error from it destroys the resource instead. A
// resource past its lifetime or MaxUses, beyond a lowered MaxSize, or
// released after Close, is destroyed. Release never blocks on other callers.
func (r *Resource[T]) Release() { r.p.giveBack(r, false) }

// Destroy gives back a resource that no longer works: it is destroyed (with
// Config.Destroy) and its slot freed for a new one. When Config.Check is
// set, every other idle resource becomes suspect, as when a check fails:
// what broke this one (a backend restart, say) may have broken them too,
// so each is checked before it is lent again.
func (r *Resource[T]) Destroy() { r.p.giveBack(r, true) }

func (r *Resource[T]) expired(now mono) bool {
	return r.expires != 0 && now >= r.expires
}

// lendLocked lends r (claimed: counted in use) to a caller and counts the
// Acquire: the moment it becomes true. stack is the caller's, with leak
// detection on; since is when the caller began, if it waited, else 0.
func (p *Pool[T]) lendLocked(r *Resource[T], now mono, stack []uintptr, since mono) {
	r.state = stateInUse
	r.acquired = now
	r.uses++
	r.leakReported = false
	if len(stack) > 0 {
		r.stack = append(r.stack[:0], stack...)
	}
	if p.cfg.LeakThreshold > 0 {
		p.dueLocked(now.add(p.cfg.LeakThreshold))
	}
	p.stats.Acquires++
	if since != 0 {
		p.stats.WaitedAcquires++
		p.stats.WaitTime += now.sub(since)
	}
}

// lend is lendLocked for the caller of a.
func (p *Pool[T]) lend(a *acquisition, r *Resource[T], now mono) {
	since := mono(0)
	if a.waited {
		since = a.start
	}
	p.lendLocked(r, now, a.stack(), since)
}

// giveBack is Release (broken false) and Destroy (broken true).
func (p *Pool[T]) giveBack(r *Resource[T], broken bool) {
	op := "Release"
	if broken {
		op = "Destroy"
	}
	// Read the clock before locking, when it is needed: for lifetimes,
	// idle timeouts and the Observer, or to time a hand-off to a waiter.
	var now mono
	if p.clock || p.cfg.IdleTimeout > 0 || p.waiters.hint.Load() > 0 {
		now = p.now()
	}
	p.lock()
	if r.state != stateInUse {
		state := r.state
		p.mu.Unlock()
		p.misuse(op, state)
		return
	}
	if !broken && p.cfg.Reset != nil {
		r.state = stateResetting
		p.mu.Unlock()
		err := p.cfg.Reset(context.Background(), r.value)
		if now != 0 {
			now = p.now()
		}
		p.mu.Lock()
		r.state = stateInUse
		broken = err != nil
	}
	held := now.sub(r.acquired)
	p.inUse--
	reason := numReasons
	switch {
	case broken:
		reason = ReasonBroken
		if p.cfg.Check != nil && !p.closed {
			p.markSuspectLocked()
		}
	case p.closed:
		reason = ReasonClosed
	case r.expired(now):
		reason = ReasonLifetime
	case p.cfg.MaxUses > 0 && r.uses >= p.cfg.MaxUses:
		reason = ReasonMaxUses
	}
	if reason != numReasons {
		p.removeLocked(r, reason)
		p.mu.Unlock()
		p.destroy(r, reason)
	} else {
		to, drop := p.putBackLocked(r, now, true)
		p.mu.Unlock()
		p.settle(r, to, drop)
	}
	if p.obs != nil {
		p.obs.Released(ReleaseEvent{Pool: p.name, Held: held})
	}
}

// putBackLocked hands r (no longer counted in use) to the oldest waiter or
// puts it on the idle stack. used says its holder used it: a release, or
// a new resource; a resource given back unused (its check ran out of
// time, its waiter gave up, a background check) keeps its idle time, so
// the check rule still applies to it on the hand-off. When it returns a
// waiter, the caller must wake it once it has unlocked p.mu; when it
// returns drop true, r
// has been removed and the caller must destroy it: the pool is above a
// lowered MaxSize, MaxIdle resources are idle, or a budget sibling starves.
// [Pool.settle] does either.
func (p *Pool[T]) putBackLocked(r *Resource[T], now mono, used bool) (to *waiter[T], drop bool) {
	if used {
		r.lastUsed = now
	}
	if p.open-p.destroying > p.maxSize {
		p.removeLocked(r, ReasonIdle)
		return nil, true
	}
	if w, ok := p.waiters.popFront(); ok {
		if now == 0 { // a waiter came after the releaser looked
			now = p.now()
		}
		p.inUse++
		// Lend r to the waiter here, under the lock the releaser holds
		// anyway, so that the waiter need not take it again when it
		// wakes: with many callers that second lock makes every waiter
		// queue on the mutex behind the next releaser, a convoy that
		// made a contended Acquire 4× slower. Only a resource due for a
		// check goes to the waiter unlent, to check.
		if p.needsCheckLocked(r, now) {
			r.state = stateHandedOff
		} else {
			p.lendLocked(r, now, w.stack(), w.since)
			w.lent = true
		}
		return w, false
	}
	if p.idle.Len() >= p.maxIdle ||
		(p.budget != nil && p.budget.Starved() && p.open-p.destroying > p.minSize) {
		p.removeLocked(r, ReasonIdle)
		return nil, true
	}
	r.state = stateIdle
	p.idle.Push(r)
	if p.maintained {
		p.dueLocked(p.idleDeadline(r))
	}
	return nil, false
}

// settle finishes what putBackLocked began, without the lock: it wakes the
// waiter r was handed to (waking a goroutine under the lock would make
// everyone else wait for the wake-up) or destroys r.
func (p *Pool[T]) settle(r *Resource[T], to *waiter[T], drop bool) {
	switch {
	case drop:
		p.destroy(r, ReasonIdle)
	case to != nil:
		to.ch <- result[T]{r: r} // buffered: never blocks
	}
}

// idleDeadline returns when the maintainer must next look at idle r.
func (p *Pool[T]) idleDeadline(r *Resource[T]) mono {
	d := mono(math.MaxInt64)
	if r.expires != 0 {
		d = r.expires
	}
	if p.cfg.IdleTimeout > 0 {
		d = min(d, r.lastUsed.add(p.cfg.IdleTimeout))
	}
	if p.s.healthCheckPeriod > 0 {
		d = min(d, max(r.lastChecked.add(p.s.healthCheckPeriod), r.lastUsed.add(p.s.checkAfterIdle)))
	}
	return d
}

// dueLocked wakes the maintainer when t is earlier than its next wake-up.
func (p *Pool[T]) dueLocked(t mono) {
	if p.wakeAt != 0 && t < p.wakeAt {
		p.wakeAt = t
		p.poke()
	}
}

// removeLocked takes r out of the pool's sets. It still counts toward Open,
// as Destroying, until destroy has run.
func (p *Pool[T]) removeLocked(r *Resource[T], reason DestroyReason) {
	last := len(p.all) - 1
	p.all[r.index] = p.all[last]
	p.all[r.index].index = r.index
	p.all[last] = nil
	p.all = p.all[:last]
	r.state = stateDestroyed
	p.destroying++
	p.stats.Destroyed.add(reason)
}

// destroy closes r, removed by removeLocked, then frees its slot.
func (p *Pool[T]) destroy(r *Resource[T], reason DestroyReason) {
	if p.cfg.Destroy != nil {
		p.cfg.Destroy(r.value)
	}
	if r.share != nil {
		r.share.Release()
		r.share = nil
	}
	p.mu.Lock()
	p.destroying--
	p.open--
	p.spawnCreatorsLocked(context.Background())
	p.checkDrainedLocked()
	p.mu.Unlock()
	if p.obs != nil {
		p.obs.Destroyed(DestroyEvent{Pool: p.name, Reason: reason, Age: p.now().sub(r.created)})
	}
}

// longestHolderLocked returns how long the longest current holder has held
// its resource and where it acquired it, when leak detection is on.
func (p *Pool[T]) longestHolderLocked(now mono) (time.Duration, string) {
	if p.cfg.LeakThreshold <= 0 {
		return 0, ""
	}
	var oldest *Resource[T]
	for _, r := range p.all {
		if r.state == stateInUse && len(r.stack) > 0 && (oldest == nil || r.acquired < oldest.acquired) {
			oldest = r
		}
	}
	if oldest == nil {
		return 0, ""
	}
	return now.sub(oldest.acquired), formatStack(oldest.stack)
}

// misuse reports a Release or Destroy of a resource that is not lent.
func (p *Pool[T]) misuse(op string, state resourceState) {
	what := "already given back (Release or Destroy called twice?)"
	if state == stateResetting {
		what = "being reset by an earlier Release (Release or Destroy called twice?)"
	}
	var pcs [maxStack]uintptr
	n := runtime.Callers(2, pcs[:])
	p.log.Error("pool: "+op+" of a resource that is not in use; ignored",
		slog.String("pool", p.name), slog.String("problem", what), slog.Any("stack", stackFrames(pcs[:n])))
}
