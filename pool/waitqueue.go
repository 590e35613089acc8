package pool

import (
	"errors"
	"sync/atomic"
)

// result is what a waiter receives: a resource handed to it (claimed, and
// counted in use), or an error that ends its wait.
type result[T any] struct {
	r   *Resource[T]
	err error
}

// errExpired is sent to a waiter whose AcquireTimeout passed; the waiter
// turns it into a *TimeoutError.
var errExpired = errors.New("pool: wait expired")

// waiter is a caller of Acquire waiting in line. Waiters are reused through
// Pool.waiterPool, with their channel, so waiting does not allocate once
// the pool is warm.
type waiter[T any] struct {
	next, prev *waiter[T]
	queued     bool
	since      mono           // when its Acquire started
	expires    mono           // its AcquireTimeout deadline; 0 when ctx's deadline comes first or there is none
	lent       bool           // the resource handed to it was lent to it (see putBackLocked)
	ch         chan result[T] // buffered 1: a hand-off never blocks
	// pcs[:npcs] is its caller's stack, with leak detection on, for a
	// resource lent to it at the hand-off.
	pcs  [maxStack]uintptr
	npcs int
}

func (w *waiter[T]) stack() []uintptr { return w.pcs[:w.npcs] }

// waitQueue is the line of waiters, oldest first. It is guarded by Pool.mu.
type waitQueue[T any] struct {
	head, tail *waiter[T]
	n          int
	// hint is 1 while n > 0, readable without the lock: a caller that
	// sees waiters will wait or hand off, and reads the clock before it
	// locks. It is written only when the line empties or stops being
	// empty: under contention the line stays long, and a store on every
	// push and pop would bounce its cache line between the cores.
	hint atomic.Int32
}

func (q *waitQueue[T]) push(w *waiter[T]) {
	w.queued = true
	w.prev, w.next = q.tail, nil
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	q.n++
	if q.n == 1 {
		q.hint.Store(1)
	}
}

func (q *waitQueue[T]) remove(w *waiter[T]) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.next, w.prev, w.queued = nil, nil, false
	q.n--
	if q.n == 0 {
		q.hint.Store(0)
	}
}

func (q *waitQueue[T]) popFront() (*waiter[T], bool) {
	w := q.head
	if w == nil {
		return nil, false
	}
	q.remove(w)
	return w, true
}

// failAllLocked ends every wait with err.
func (q *waitQueue[T]) failAllLocked(err error) {
	for w, ok := q.popFront(); ok; w, ok = q.popFront() {
		w.ch <- result[T]{err: err}
	}
}

// AcquireTimeout deadlines are kept by one timer per pool, not one per
// waiter: all waiters share the same timeout, so the timer is armed for the
// earliest and re-armed when it fires, and a waiter costs no timer
// operation (a per-waiter timer made waiting under contention 1.8 times as
// costly). A waiter whose ctx has the earlier deadline waits on ctx.Done
// instead.

// armDeadlineLocked makes sure the pool's timer fires by at.
func (p *Pool[T]) armDeadlineLocked(at, now mono) {
	if p.deadlineAt != 0 && p.deadlineAt <= at {
		return
	}
	p.deadlineAt = at
	p.deadlines.Reset(at.sub(now))
}

// expireWaiters runs when the pool's deadline timer fires: it ends the wait
// of every waiter past its AcquireTimeout and re-arms for the next.
func (p *Pool[T]) expireWaiters() {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deadlineAt = 0
	next := mono(0)
	for w := p.waiters.head; w != nil; {
		after := w.next
		switch {
		case w.expires == 0:
		case w.expires <= now:
			p.waiters.remove(w)
			w.ch <- result[T]{err: errExpired}
		case next == 0 || w.expires < next:
			next = w.expires
		}
		w = after
	}
	if next != 0 && !p.closed {
		p.armDeadlineLocked(next, now)
	}
}

// await blocks until w is served or a.ctx ends. On return w is out of the
// line and nothing more will be sent to it.
func (p *Pool[T]) await(a *acquisition, w *waiter[T]) (res result[T], gaveUp bool) {
	done := a.ctx.Done()
	if done == nil {
		return <-w.ch, false
	}
	select {
	case res = <-w.ch:
		return res, false
	case <-done:
	}
	// Waiters leave the line under p.mu, so once we hold it either w is
	// still in line or a result is on its way to w.ch.
	p.mu.Lock()
	if w.queued {
		p.waiters.remove(w)
		p.mu.Unlock()
		return result[T]{}, true
	}
	p.mu.Unlock()
	return <-w.ch, true
}
