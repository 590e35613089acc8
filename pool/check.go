package pool

import "context"

// The check rule, applied on every path that lends a resource (popped from
// the idle stack, handed over by a Release, or just created): a resource is
// checked before it is lent when Config.Check is set and it has been idle
// longer than CheckAfterIdle (always, when CheckAfterIdle < 0) or is
// suspect because another resource was found dead since it was last known
// good.

// needsCheckLocked reports whether r must pass Check before it is lent.
func (p *Pool[T]) needsCheckLocked(r *Resource[T], now mono) bool {
	if p.cfg.Check == nil {
		return false
	}
	if p.s.checkAfterIdle < 0 || now.sub(r.lastUsed) > p.s.checkAfterIdle {
		return true
	}
	return p.suspectLocked(r)
}

func (p *Pool[T]) suspectLocked(r *Resource[T]) bool {
	return r.checkedGen < p.suspectGen && r.created <= p.suspectCreated
}

// markSuspectLocked records that a resource was found dead: every resource
// open now is suspect until it passes a check. Not only the older ones: a
// backend restart kills the connections made after the dead one too, and
// the order they are found in says nothing.
func (p *Pool[T]) markSuspectLocked() {
	p.suspectCreated = p.now()
	p.suspectGen++
	p.poke()
}

// checkAndLend runs Check on r, claimed for the caller of a, and lends it
// when it passes. The check is bounded by the Acquire's deadline (and
// CheckTimeout) and counts as waiting. It returns:
//   - r, nil: r passed and is lent;
//   - nil, nil: r failed and was destroyed; the caller tries again;
//   - nil, err: the caller's ctx ended or its deadline passed (r goes back
//     as it was: the check proved nothing), or the pool closed.
func (p *Pool[T]) checkAndLend(a *acquisition, r *Resource[T]) (*Resource[T], error) {
	a.waited = true
	limit := p.now().add(p.s.checkTimeout)
	if a.deadline != 0 && a.deadline < limit {
		limit = a.deadline
	}
	ctx, cancel := context.WithDeadline(a.ctx, p.time(limit))
	err := p.cfg.Check(ctx, r.value)
	cancel()
	now := p.now()
	p.mu.Lock()
	switch {
	case p.closed:
		p.inUse--
		p.removeLocked(r, ReasonClosed)
		p.mu.Unlock()
		p.destroy(r, ReasonClosed)
		return nil, ErrClosed
	case err == nil:
		r.lastChecked = now
		r.checkedGen = p.suspectGen
		p.lend(a, r, now)
		p.mu.Unlock()
		return r, nil
	case a.over(now):
		p.inUse--
		to, drop := p.putBackLocked(r, now, false)
		p.mu.Unlock()
		p.settle(r, to, drop)
		return nil, p.giveUp(a, false)
	default:
		p.inUse--
		p.stats.CheckFailures++
		p.markSuspectLocked()
		p.removeLocked(r, ReasonCheckFailed)
		p.mu.Unlock()
		p.destroy(r, ReasonCheckFailed)
		return nil, nil
	}
}
