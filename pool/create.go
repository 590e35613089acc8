package pool

import (
	"context"
	"math/rand/v2"
	"time"
)

// spawnCreatorsLocked starts Create calls for waiters not yet covered by
// one and to keep MinSize, within MaxSize and MaxConcurrentCreates (one at
// a time while Create keeps failing). caller is the ctx of the Acquire
// that needs one, whose values the Create's ctx carries; nil when the pool
// creates on its own.
func (p *Pool[T]) spawnCreatorsLocked(caller context.Context) {
	for p.wantCreateLocked() {
		p.open++
		p.creating++
		p.wg.Add(1)
		go p.create(caller)
	}
}

func (p *Pool[T]) wantCreateLocked() bool {
	if p.closed || p.open >= p.maxSize {
		return false
	}
	limit := p.s.maxConcurrentCreates
	if p.consecutiveFails > 0 {
		limit = 1
	}
	if p.creating >= limit {
		return false
	}
	return p.waiters.n > p.creating || p.open < p.minSize
}

// create runs in its own goroutine and holds one slot (counted in open and
// creating). It retries, after a backoff, while its slot is still wanted.
func (p *Pool[T]) create(caller context.Context) {
	defer p.wg.Done()
	// The caller's values (a trace span, say), not its cancellation: a
	// resource created for a caller who gave up goes to the next one.
	values := context.WithoutCancel(caller)
	var share Share
	// quit gives the share back after the slot was (see leaveLocked).
	quit := func() {
		if share != nil {
			share.Release()
		}
	}
	for {
		if !p.sleepBackoff() {
			quit()
			return
		}
		if share == nil && p.budget != nil {
			if share = p.takeShare(); share == nil {
				p.mu.Lock()
				p.leaveLocked()
				p.mu.Unlock()
				return
			}
		}
		v, now, err := p.callCreate(values)

		p.mu.Lock()
		if err != nil {
			p.stats.CreateErrors++
			p.consecutiveFails++
			p.lastCreateErr = err
			p.failedAt = now
			p.backoffUntil = now.add(p.backoffLocked())
			if len(p.all) == 0 {
				// Nothing open to wait for: every waiter gets the
				// error now, not at its deadline.
				p.waiters.failAllLocked(&CreateError{Pool: p.name, Err: err})
			}
			// While Create fails, one creator retries (after the
			// backoff) if its slot is still wanted; the others quit.
			// The choice and the leaving are under one lock, so two
			// creators failing together cannot both leave.
			if p.keepRetryingLocked() {
				p.mu.Unlock()
				continue
			}
			p.leaveLocked()
			p.mu.Unlock()
			quit()
			return
		}
		p.consecutiveFails = 0
		p.creating--
		p.stats.Created++
		r := &Resource[T]{value: v, p: p, share: share, created: now, lastUsed: now, lastChecked: now,
			index: len(p.all), checkedGen: p.suspectGen}
		if p.cfg.MaxLifetime > 0 {
			life := p.cfg.MaxLifetime
			if p.s.lifetimeJitter > 0 {
				life -= rand.N(p.s.lifetimeJitter)
			}
			r.expires = now.add(life)
		}
		if p.cfg.LeakThreshold > 0 {
			r.stack = make([]uintptr, 0, maxStack)
		}
		p.all = append(p.all, r)
		if p.closed {
			p.removeLocked(r, ReasonClosed)
			p.mu.Unlock()
			p.destroy(r, ReasonClosed)
			return
		}
		to, drop := p.putBackLocked(r, now, true)
		p.spawnCreatorsLocked(context.Background())
		p.mu.Unlock()
		p.settle(r, to, drop)
		return
	}
}

// callCreate runs Config.Create with a ctx that carries values' values and
// ends at CreateTimeout or when the pool closes, and reports it to the
// Observer. It returns when Create returned.
func (p *Pool[T]) callCreate(values context.Context) (T, mono, error) {
	ctx, cancel := context.WithCancel(values)
	if p.s.createTimeout > 0 {
		ctx, cancel = context.WithTimeout(values, p.s.createTimeout)
	}
	stop := context.AfterFunc(p.createCtx, cancel)
	begin := p.now()
	v, err := p.cfg.Create(ctx)
	stop()
	cancel()
	now := p.now()
	if p.obs != nil {
		p.obs.Created(values, CreateEvent{Pool: p.name, Duration: now.sub(begin), Err: err})
	}
	return v, now, err
}

// takeShare takes a share of the budget for one Create. It returns nil
// when the pool closed meanwhile.
func (p *Pool[T]) takeShare() Share {
	p.mu.Lock()
	p.budgetWaits++
	p.mu.Unlock()
	s, err := p.budget.Take(p.createCtx, &p.member)
	p.mu.Lock()
	p.budgetWaits--
	p.mu.Unlock()
	if err != nil {
		return nil
	}
	return s
}

// Backoff after failed Creates. The pause doubles with every failure in a
// row, from CreateBackoff up to MaxCreateBackoff, with jitter, and is never
// shorter than MinCreatePause. While callers wait it is capped at
// DemandRetryInterval: the backend is tried again within a second of a
// caller asking, so callers are served soon after it returns.

// retryAtLocked returns when the next Create may start; 0 when Create has
// not failed.
func (p *Pool[T]) retryAtLocked() mono {
	if p.consecutiveFails == 0 {
		return 0
	}
	if p.waiters.n > 0 {
		return min(p.backoffUntil, p.failedAt.add(DemandRetryInterval))
	}
	return p.backoffUntil
}

// failFastLocked returns the error an Acquire that finds nothing idle gets
// at once while the backend is down: the pool has no resource open and the
// last Create failed less than the backoff (capped at DemandRetryInterval)
// ago. It returns nil when the caller should wait in line.
func (p *Pool[T]) failFastLocked(now mono) error {
	if p.consecutiveFails == 0 || len(p.all) > 0 {
		return nil
	}
	if now >= min(p.backoffUntil, p.failedAt.add(DemandRetryInterval)) {
		return nil // the backoff is over: this caller's wait triggers the next try
	}
	p.stats.FailedFast++
	return &CreateError{Pool: p.name, Err: p.lastCreateErr}
}

// keepRetryingLocked reports whether a creator whose Create failed, or
// that is about to wait out the backoff, keeps its slot: while Create
// fails only one creator retries, and only while its slot is still wanted
// (a caller waits, or MinSize is not met) and within a lowered MaxSize.
func (p *Pool[T]) keepRetryingLocked() bool {
	return !p.closed && p.creating == 1 && p.open <= p.maxSize &&
		(p.waiters.n > 0 || p.open <= p.minSize)
}

// leaveLocked gives back a creator's slot.
func (p *Pool[T]) leaveLocked() {
	p.creating--
	p.open--
	p.checkDrainedLocked()
}

// sleepBackoff waits out the backoff after failed Creates; a caller joining
// the line cuts it short (see retryAtLocked). It returns false, having given
// the slot back, when the slot is no longer wanted: the pool closed, it is
// above a lowered MaxSize, or another creator is already retrying (several
// may have started before the first failure; one retries).
func (p *Pool[T]) sleepBackoff() bool {
	for {
		p.mu.Lock()
		at := p.retryAtLocked()
		if p.closed || p.open > p.maxSize || (at != 0 && !p.keepRetryingLocked()) {
			p.leaveLocked()
			p.mu.Unlock()
			return false
		}
		if at == 0 { // Create has not failed: no backoff, no clock read
			p.mu.Unlock()
			return true
		}
		d := at.sub(p.now())
		p.mu.Unlock()
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-p.demand:
			t.Stop()
		case <-p.done:
			t.Stop()
		}
	}
}

// backoffLocked returns the pause before the next Create: exponential in
// the failures in a row, capped, with "equal jitter" (half fixed, half
// random) so that pools started together do not retry together, and never
// below MinCreatePause.
func (p *Pool[T]) backoffLocked() time.Duration {
	d := p.s.createBackoff
	for i := 1; i < p.consecutiveFails && d < p.s.maxCreateBackoff; i++ {
		d *= 2
	}
	d = min(d, p.s.maxCreateBackoff)
	return max(d/2+rand.N(d/2+1), MinCreatePause)
}

// poke wakes the maintainer, if it runs, without blocking.
func (p *Pool[T]) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// pokeCreator cuts short the backoff of a creator, if one sleeps.
func (p *Pool[T]) pokeCreator() {
	select {
	case p.demand <- struct{}{}:
	default:
	}
}
