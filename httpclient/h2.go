package httpclient

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptrace"
	"slices"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// HTTP/2: a connection is acquired from the pool once and put in the
// origin's shared set; requests take streams on it. A request that finds
// no free stream queues for one (first come, first served) while at most
// one request at a time acquires another connection for the set; streams
// that end, and connections that arrive, are handed to the queue in
// order. A connection goes back to the pool when it has no stream left.

// waiter is a request queued for a stream.
type waiter struct{ ch chan waitResult }

// waitResult is what a waiter is woken with: a connection with a stream
// reserved for it, an error that ends its wait, or neither: look again
// (a connection left the set, so the pool may lend another).
type waitResult struct {
	c   *conn
	err error
}

// getStream returns a claim on a stream of a shared connection, waiting
// for one until deadline (zero: none) or the end of ctx.
func (o *origin) getStream(ctx context.Context, deadline time.Time) (claim, error) {
	announced := false
	defer func() {
		if announced {
			o.waiting.Add(-1)
		}
	}()
	var (
		w     *waiter
		wctx  = ctx
		start time.Time
		front bool // woken to look again: keep its place in the queue
	)
	for {
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			return claim{}, ErrClosed
		}
		var done []*conn
		c := o.reserveLocked(&done)
		if c != nil {
			o.mu.Unlock()
			o.retire(done)
			return o.claimStream(c), nil
		}
		if !announced {
			// Say a request is about to queue before looking again,
			// so a stream ending meanwhile sees it and serves the
			// queue: no wake-up is lost.
			announced = true
			o.waiting.Add(1)
			o.mu.Unlock()
			o.retire(done)
			continue
		}
		if !o.growing && o.canGrowLocked() {
			o.growing = true
			o.mu.Unlock()
			o.retire(done)
			cl, ok, err := o.grow(ctx, deadline)
			if err != nil || ok {
				return cl, err
			}
			continue
		}
		if w == nil && o.maxWaiters > 0 && len(o.waiters) >= o.maxWaiters {
			o.mu.Unlock()
			o.retire(done)
			return claim{}, fmt.Errorf("httpclient: %s: %d requests already waiting for a stream (MaxWaiters): %w",
				o.pool.Name(), o.maxWaiters, pool.ErrWaitQueueFull)
		}
		if w == nil {
			w = &waiter{ch: make(chan waitResult, 1)}
			start = time.Now()
			if !deadline.IsZero() {
				var cancel context.CancelFunc
				wctx, cancel = context.WithDeadline(ctx, deadline)
				defer cancel()
			}
		}
		if front {
			o.waiters = slices.Insert(o.waiters, 0, w)
		} else {
			o.waiters = append(o.waiters, w)
		}
		o.mu.Unlock()
		o.retire(done)
		select {
		case r := <-w.ch:
			if r.c != nil {
				return o.claimStream(r.c), nil
			}
			if r.err != nil {
				return claim{}, r.err
			}
			front = true
		case <-wctx.Done():
			o.mu.Lock()
			i := slices.Index(o.waiters, w)
			if i >= 0 {
				o.waiters = slices.Delete(o.waiters, i, i+1)
			}
			o.mu.Unlock()
			if i < 0 {
				// Woken as the wait ended: give back what came.
				if r := <-w.ch; r.c != nil {
					r.c.cc.Release()
					r.c.endStream()
				} else if r.err == nil {
					o.wakeOne()
				}
			}
			return claim{}, o.waitError(wctx, start)
		}
	}
}

// grow acquires a connection for the shared set (growing is set) and
// takes a stream on it; the streams left go to the queue. It reports
// false with no error when the caller should look again.
func (o *origin) grow(ctx context.Context, deadline time.Time) (claim, bool, error) {
	res, err := o.acquire(ctx, deadline)
	o.mu.Lock()
	o.growing = false
	if err != nil {
		var ws []*waiter
		if len(o.shared) == 0 && !timedOut(err) && !errors.Is(err, pool.ErrWaitQueueFull) {
			// Nothing to wait for: the queue gets the dial's error,
			// as the pool's own waiters do.
			ws, o.waiters = o.waiters, nil
		} else if len(o.waiters) > 0 {
			// Let the next one try.
			ws = []*waiter{o.waiters[0]}
			o.waiters = o.waiters[1:]
			o.mu.Unlock()
			ws[0].ch <- waitResult{}
			return claim{}, false, err
		}
		o.mu.Unlock()
		for _, w := range ws {
			w.ch <- waitResult{err: err}
		}
		return claim{}, false, err
	}
	o.mu.Unlock()
	if c := res.Value(); !c.h2 {
		cl, ok := c.lend(res)
		o.wakeOne()
		return cl, ok, nil
	}
	cl, ok := o.share(res)
	if !ok {
		o.wakeOne()
	}
	return cl, ok, nil
}

// canGrowLocked reports whether the pool can lend a connection soon: it
// has an idle one, or room to dial one.
func (o *origin) canGrowLocked() bool {
	st := o.pool.Stats()
	return st.Idle > 0 || st.Open < st.MaxSize
}

// share puts the HTTP/2 connection of res, just acquired, in the shared
// set and reserves a stream on it for the caller; the streams left go to
// queued requests. It reports false, having given the connection back,
// when it takes no stream.
func (o *origin) share(res *pool.Resource[*conn]) (claim, bool) {
	c := res.Value()
	o.mu.Lock()
	if o.closed || c.cc.Reserve() != nil {
		o.mu.Unlock()
		giveBack(res, o.closed)
		return claim{}, false
	}
	c.streams.Add(1)
	c.inShared = true
	c.sres = res
	c.retiring = false
	if o.lifetime {
		c.expires = res.ExpiresAt()
	}
	o.shared = append(o.shared, c)
	var done []*conn
	o.serveLocked(&done)
	o.mu.Unlock()
	o.retire(done)
	return o.claimStream(c), true
}

// reserveLocked reserves a stream on the first shared connection that has
// one free, packing streams onto few connections so that the others go
// idle and back to the pool, and returns it (nil when none has). A
// connection past its lifetime stops taking streams and is added to done,
// for retire once o.mu is released.
func (o *origin) reserveLocked(done *[]*conn) *conn {
	var now time.Time
	if o.lifetime {
		now = time.Now()
	}
	capped := o.rotateAfter.Load()
	if capped > 0 && time.Now().UnixNano() > o.rotateUntil.Load() {
		capped = 0
	}
	for _, s := range o.shared {
		if s.retiring || (capped > 0 && s.rounds.Load() >= capped) {
			continue
		}
		if o.lifetime && !s.expires.IsZero() && !now.Before(s.expires) {
			s.retiring = true
			*done = append(*done, s)
			continue
		}
		if s.cc.Reserve() == nil {
			s.streams.Add(1)
			return s
		}
	}
	return nil
}

// serveLocked hands free streams to queued requests, oldest first.
func (o *origin) serveLocked(done *[]*conn) {
	for len(o.waiters) > 0 {
		c := o.reserveLocked(done)
		if c == nil {
			return
		}
		w := o.waiters[0]
		o.waiters[0] = nil
		o.waiters = o.waiters[1:]
		w.ch <- waitResult{c: c}
	}
}

// wakeOne tells the oldest queued request to look again, when no request
// is acquiring a connection for the set: the pool may lend one now.
func (o *origin) wakeOne() {
	if o.waiting.Load() == 0 {
		return
	}
	o.mu.Lock()
	if o.growing || len(o.waiters) == 0 {
		o.mu.Unlock()
		return
	}
	w := o.waiters[0]
	o.waiters[0] = nil
	o.waiters = o.waiters[1:]
	o.mu.Unlock()
	w.ch <- waitResult{}
}

// retire hands back the connections reserveLocked found past their
// lifetime, if they have no stream left (else their last stream does).
func (o *origin) retire(done []*conn) {
	for _, c := range done {
		o.sharedChanged(c)
	}
}

// claimStream is the claim of a request that holds a stream on c.
func (o *origin) claimStream(c *conn) claim {
	prev := c.rounds.Add(1) - 1
	info := httptrace.GotConnInfo{Conn: c.nc, Reused: prev > 0}
	if prev > 0 && c.streams.Load() == 1 {
		info.WasIdle = true
		info.IdleTime = time.Since(time.Unix(0, c.idleSince.Load()))
	}
	return claim{c: c, info: info}
}

// endStream ends a request's claim on a shared HTTP/2 connection: the
// freed stream goes to the queue, and the connection back to the pool
// when it has no stream left.
func (c *conn) endStream() {
	o := c.o
	n := c.streams.Add(-1)
	if n == 0 {
		c.idleSince.Store(time.Now().UnixNano())
	}
	if o.waiting.Load() > 0 {
		var done []*conn
		o.mu.Lock()
		o.serveLocked(&done)
		o.mu.Unlock()
		o.retire(done)
	}
	if n == 0 {
		o.sharedChanged(c)
	}
}

// sharedChanged takes an HTTP/2 connection out of the shared set when it
// has no stream left; it then goes back to the pool (destroyed when closed
// or no longer taking streams, retired there if it has expired). A closed
// connection with streams still ending waits for them: closing it again
// would replace their errors (a GOAWAY's "not processed") with its own.
func (o *origin) sharedChanged(c *conn) { o.unshare(c, false) }

// unshare is sharedChanged; force gives the connection back even with
// streams open (for Close, which has closed it).
func (o *origin) unshare(c *conn, force bool) {
	if c.streams.Load() != 0 && !force {
		return // whatever makes it idle later calls again
	}
	o.mu.Lock()
	if !c.inShared {
		o.mu.Unlock()
		return
	}
	// Streams are reserved only under o.mu: a zero seen here stays zero.
	broken := c.cc.Err() != nil
	if c.streams.Load() != 0 && !force {
		o.mu.Unlock()
		return
	}
	c.inShared = false
	res := c.sres
	c.sres = nil
	if i := slices.Index(o.shared, c); i >= 0 {
		o.shared = slices.Delete(o.shared, i, i+1)
	}
	o.mu.Unlock()
	giveBack(res, broken)
	// A connection left the set: the pool may lend one to a queued
	// request now.
	o.wakeOne()
}
