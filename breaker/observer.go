package breaker

import "sync"

// Observer is told what a [Breaker] does, for metrics and logs. Methods are
// called without any lock held (so they may call [Breaker.State] or
// [Breaker.Counts]), one at a time per breaker, and for state changes in the
// order the changes happened. They should return quickly: a call that
// triggered a change waits for the observer.
type Observer interface {
	// StateChange reports that breaker name went from one state to another.
	StateChange(name string, from, to State)
	// Rejected reports that breaker name refused a call (open, or half-open
	// with all probes taken).
	Rejected(name string)
}

// Attacher is an [Observer] that acts on the breaker it observes, not only
// listens: [New] calls Attach once, with the new breaker, before it returns
// it, so the observer can keep it (package fleet does, to trip a breaker
// when the same service's breaker opens in another process). It lets such
// an observer work wherever Settings are passed, as in httpclient.Config.
type Attacher interface {
	Observer
	Attach(b *Breaker)
}

// transition is a state change waiting to be delivered.
type transition struct{ from, to State }

// hookQueue holds state changes recorded under gobreaker's lock until they
// can be delivered outside it.
//
// gobreaker calls its OnStateChange with its mutex held, so an observer that
// calls State() from there would deadlock. Instead OnStateChange only appends
// to this queue; after every gobreaker call returns, the calling goroutine
// flushes the queue. A single flusher at a time delivers everything queued,
// in order, including changes queued by other goroutines or by the observer
// itself while it runs.
type hookQueue struct {
	mu         sync.Mutex
	pending    []transition
	delivering bool
}

// push records a transition. It is called with gobreaker's lock held, so it
// must not call back into the breaker.
func (q *hookQueue) push(t transition) {
	q.mu.Lock()
	q.pending = append(q.pending, t)
	q.mu.Unlock()
}

// flush delivers pending transitions to deliver, unless another goroutine (or
// an outer frame of this one) is already delivering; that one will deliver
// them in order.
func (q *hookQueue) flush(deliver func(transition)) {
	q.mu.Lock()
	if q.delivering || len(q.pending) == 0 {
		q.mu.Unlock()
		return
	}
	q.delivering = true
	q.mu.Unlock()
	finished := false
	defer func() {
		if !finished { // deliver panicked: let the next flush carry on
			q.mu.Lock()
			q.delivering = false
			q.mu.Unlock()
		}
	}()
	for {
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		if len(batch) == 0 {
			q.delivering = false
			finished = true
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		for _, t := range batch {
			deliver(t)
		}
	}
}
