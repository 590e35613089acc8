package pool

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool lends resources of type T: connections, clients, buffers, anything
// that is costly to create and can be reused. It is safe for concurrent use.
//
// One mutex guards the pool's state; it is never held while a Config
// callback or the Observer runs. Idle resources are kept in a stack, so the
// most recently used is lent first and the rest can age out; waiting
// callers queue in arrival order and a released resource is handed straight
// to the oldest of them.
type Pool[T any] struct {
	cfg    Config[T]
	s      settings
	name   string
	log    *slog.Logger
	obs    Observer
	budget *Budget
	// clock is true when Acquire must read the time even on its fast
	// path: for health checks, lifetimes, leak detection or the Observer.
	clock bool
	// maintained is true when the maintainer goroutine runs.
	maintained bool
	// epoch is the origin of the pool's monotonic clock (see mono).
	epoch time.Time

	createCtx    context.Context // parent of every Create ctx; cancelled by Close
	cancelCreate context.CancelFunc
	done         chan struct{} // closed by Close
	drained      chan struct{} // closed when Close has seen Open reach zero
	wake         chan struct{} // pokes the maintainer; buffered 1
	wg           sync.WaitGroup

	waiterPool sync.Pool

	mu         sync.Mutex
	closed     bool
	idle       []*Resource[T] // stack: the top is the most recently used
	all        []*Resource[T] // every created resource not yet destroyed; Resource.index
	waiters    waitQueue[T]
	open       int // len(all) + creating
	creating   int
	inUse      int
	destroying int
	stats      Stats

	consecutiveFails int   // Create failures in a row
	lastCreateErr    error // the latest Create error
	backoffUntil     mono  // no Create starts before this

	// A resource found dead (by Check or its holder's Destroy) makes
	// every resource created at or before suspectCreated (the moment it
	// was found) suspect until it passes a check: suspectGen counts those
	// findings and a resource remembers the generation it last passed a
	// check in.
	suspectCreated mono
	suspectGen     uint64

	// wakeAt is when the maintainer will next run; 0 while a run is due.
	wakeAt mono
	passes uint64 // maintainer passes, for tests
}

// New returns a pool for cfg, or a *ConfigError naming the first field of
// cfg that cannot work. When cfg.MinSize > 0 the pool starts creating
// resources in the background at once; New itself does not wait for them.
func New[T any](cfg Config[T]) (*Pool[T], error) {
	name := cfg.Name
	if name == "" {
		name = "pool"
	}
	s, err := cfg.validate(name)
	if err != nil {
		return nil, err
	}
	p := &Pool[T]{
		cfg:     cfg,
		s:       s,
		name:    name,
		log:     cfg.Logger,
		obs:     cfg.Observer,
		budget:  cfg.Budget,
		done:    make(chan struct{}),
		drained: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		epoch:   time.Now(),
		idle:    make([]*Resource[T], 0, cfg.MaxSize),
		all:     make([]*Resource[T], 0, cfg.MaxSize),
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.clock = cfg.Check != nil || cfg.MaxLifetime > 0 || cfg.LeakThreshold > 0 || cfg.Observer != nil
	p.stats.MinSize, p.stats.MaxSize = cfg.MinSize, cfg.MaxSize
	p.waiterPool.New = func() any { return &waiter[T]{ch: make(chan result[T], 1)} }
	if p.budget != nil {
		if err := p.budget.join(p, name, cfg.MinSize); err != nil {
			return nil, err
		}
	}
	p.createCtx, p.cancelCreate = context.WithCancel(context.Background())
	if cfg.IdleTimeout > 0 || cfg.MaxLifetime > 0 || s.healthCheckPeriod > 0 || cfg.LeakThreshold > 0 {
		p.maintained = true
		p.wg.Add(1)
		go p.maintain()
	}
	p.mu.Lock()
	p.spawnCreatorsLocked()
	p.mu.Unlock()
	return p, nil
}

// Name returns Config.Name, or "pool" when it was empty.
func (p *Pool[T]) Name() string { return p.name }

// Config returns the pool's Config with every zero duration and limit that
// has a default replaced by it.
func (p *Pool[T]) Config() Config[T] {
	c := p.cfg
	c.Name = p.name
	c.MaxIdle = p.s.maxIdle
	c.MaxLifetimeJitter = p.s.lifetimeJitter
	c.CheckAfterIdle = p.s.checkAfterIdle
	c.HealthCheckPeriod = p.s.healthCheckPeriod
	c.CheckTimeout = p.s.checkTimeout
	c.CreateTimeout = p.s.createTimeout
	c.MaxConcurrentCreates = p.s.maxConcurrentCreates
	c.CreateBackoff = p.s.createBackoff
	c.MaxCreateBackoff = p.s.maxCreateBackoff
	c.Logger = p.log
	return c
}

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

type resourceState uint8

const (
	stateIdle resourceState = iota
	stateInUse
	stateResetting
	stateChecking // held by the pool for a health check
	stateDestroyed
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
// resource past its lifetime or MaxUses, or released after Close, is
// destroyed. Release never blocks on other callers.
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

type result[T any] struct {
	r   *Resource[T]
	err error
}

// waiter is a caller of Acquire waiting in line. Waiters are reused through
// Pool.waiterPool, with their channel and timer, so waiting does not
// allocate once the pool is warm.
type waiter[T any] struct {
	next, prev *waiter[T]
	queued     bool
	since      mono
	ch         chan result[T] // buffered 1: a hand-off never blocks
	timer      *time.Timer
	stack      []uintptr // the caller's stack, with leak detection on
}

type waitQueue[T any] struct {
	head, tail *waiter[T]
	n          int
	// hint is n, readable without the lock: a caller that sees waiters
	// will wait or hand off, and reads the clock before it locks.
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
	q.hint.Store(int32(q.n))
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
	q.hint.Store(int32(q.n))
}

func (q *waitQueue[T]) popFront() (*waiter[T], bool) {
	w := q.head
	if w == nil {
		return nil, false
	}
	q.remove(w)
	return w, true
}

// Acquire lends a resource: an idle one when there is one (checked first
// when it has been idle longer than Config.CheckAfterIdle or is suspect
// after another failed its check), a new one when the pool is below
// MaxSize, or else the next one released, in the order callers arrived.
//
// ctx bounds the whole call, waiting and checking included. When ctx has no
// deadline, Config.AcquireTimeout (if set) is applied. On success Acquire
// returns a resource the caller must Release or Destroy. On failure it
// returns a nil resource and:
//   - a *TimeoutError (errors.Is ErrAcquireTimeout and
//     context.DeadlineExceeded) when the deadline passes;
//   - an error wrapping ctx's cause when ctx is cancelled;
//   - a *CreateError when the Create started for this caller failed;
//   - an error wrapping ErrWaitQueueFull when MaxWaiters are waiting;
//   - ErrClosed when the pool is closed.
//
// A caller that gives up never leaks a slot: a resource created or released
// for it goes to the next caller or back to the idle set.
func (p *Pool[T]) Acquire(ctx context.Context) (*Resource[T], error) {
	if ctx.Err() != nil {
		return nil, p.canceledError(ctx, 0)
	}
	var pcs [maxStack]uintptr
	npcs := 0
	if p.cfg.LeakThreshold > 0 {
		npcs = runtime.Callers(2, pcs[:])
	}
	var start mono // when this call first had to wait; 0: it has not
	// With callers already waiting this one will wait too: read the clock
	// now rather than under the lock.
	var early mono
	if p.waiters.hint.Load() > 0 {
		early = p.now()
	}
	for {
		p.lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if n := len(p.idle); n > 0 {
			r := p.idle[n-1]
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
			var now mono
			if p.clock {
				now = p.now()
			}
			if r.expired(now) {
				p.removeLocked(r, ReasonLifetime)
				p.mu.Unlock()
				p.destroy(r, ReasonLifetime)
				continue
			}
			p.inUse++
			check := p.cfg.Check != nil && p.needsCheckLocked(r, now)
			r.state = stateInUse
			if check {
				r.state = stateChecking
			}
			if !check {
				p.lendLocked(r, now, pcs[:npcs])
				p.countAcquireLocked(start, now)
				p.mu.Unlock()
				if p.obs != nil {
					p.obs.Acquired(waitedSince(start, now))
				}
				return r, nil
			}
			p.mu.Unlock()
			if err := p.checkOnAcquire(ctx, r); err != nil {
				if ctx.Err() != nil {
					from := start
					if from == 0 {
						from = now // when the check began
					}
					waited := p.now().sub(from)
					p.mu.Lock()
					if ctx.Err() == context.DeadlineExceeded {
						p.stats.Timeouts++
					} else {
						p.stats.Canceled++
					}
					p.mu.Unlock()
					if p.obs != nil && ctx.Err() == context.DeadlineExceeded {
						p.obs.TimedOut(waited)
					}
					return nil, p.canceledError(ctx, waited)
				}
				continue
			}
			now = p.now()
			p.mu.Lock()
			if p.closed {
				p.inUse--
				p.removeLocked(r, ReasonClosed)
				p.mu.Unlock()
				p.destroy(r, ReasonClosed)
				return nil, ErrClosed
			}
			r.state = stateInUse
			p.lendLocked(r, now, pcs[:npcs])
			p.countAcquireLocked(start, now)
			p.mu.Unlock()
			if p.obs != nil {
				p.obs.Acquired(waitedSince(start, now))
			}
			return r, nil
		}

		// Nothing idle: wait in line, starting a Create if one is due.
		if p.cfg.MaxWaiters > 0 && p.waiters.n >= p.cfg.MaxWaiters {
			p.stats.Rejected++
			st := p.statsLocked(p.now())
			p.mu.Unlock()
			return nil, fmt.Errorf("pool %q: %w (%d waiting, MaxWaiters %d; open %d/%d, in use %d)",
				p.name, ErrWaitQueueFull, st.Waiting, p.cfg.MaxWaiters, st.Open, st.MaxSize, st.InUse)
		}
		if start == 0 {
			start = early
			if start == 0 {
				start = p.now()
			}
		}
		w := p.waiterPool.Get().(*waiter[T])
		w.since = start
		// The resource is lent by whoever hands it over: it needs the
		// stack then, for leak reports.
		w.stack = append(w.stack[:0], pcs[:npcs]...)
		p.waiters.push(w)
		p.spawnCreatorsLocked()
		p.mu.Unlock()

		r, err := p.wait(ctx, w, start)
		if err != nil {
			return nil, err
		}
		if p.obs != nil {
			p.obs.Acquired(p.now().sub(start))
		}
		return r, nil
	}
}

// wait blocks until w is served, ctx ends or the AcquireTimeout passes.
func (p *Pool[T]) wait(ctx context.Context, w *waiter[T], start mono) (*Resource[T], error) {
	var timeout <-chan time.Time
	if p.cfg.AcquireTimeout > 0 {
		if _, ok := ctx.Deadline(); !ok {
			d := p.cfg.AcquireTimeout - p.now().sub(start)
			if w.timer == nil {
				w.timer = time.NewTimer(d)
			} else {
				w.timer.Reset(d)
			}
			timeout = w.timer.C
		}
	}
	var res result[T]
	timedOut := false
	if done := ctx.Done(); done == nil && timeout == nil {
		res = <-w.ch
	} else {
		select {
		case res = <-w.ch:
		case <-done:
		case <-timeout:
			timedOut = true
		}
	}
	if timeout != nil {
		w.timer.Stop()
	}
	if res.r == nil && res.err == nil {
		// Gave up. Waiters leave the queue under p.mu, so once we hold
		// it either w is still queued or a result is on its way to w.ch.
		now := p.now()
		p.mu.Lock()
		if w.queued {
			p.waiters.remove(w)
		} else {
			res = <-w.ch
			if res.r != nil {
				// Handed a resource we no longer want: undo the
				// count of a waited acquire and pass it on.
				p.stats.Acquires--
				p.stats.WaitedAcquires--
				p.stats.WaitTime -= res.r.acquired.sub(w.since)
				r := res.r
				r.uses--
				p.inUse--
				if p.closed {
					p.removeLocked(r, ReasonClosed)
					defer p.destroy(r, ReasonClosed)
				} else if to, destroy := p.putBackLocked(r, now); destroy {
					defer p.destroy(r, ReasonIdle)
				} else if to != nil {
					defer to.give(r)
				}
			}
		}
		waited := now.sub(start)
		var e error
		if timedOut || ctx.Err() == context.DeadlineExceeded {
			p.stats.Timeouts++
			e = p.timeoutErrorLocked(now, waited)
		} else {
			p.stats.Canceled++
		}
		p.mu.Unlock()
		p.waiterPool.Put(w)
		if e == nil {
			return nil, p.canceledError(ctx, waited)
		}
		if p.obs != nil {
			p.obs.TimedOut(waited)
		}
		return nil, e
	}
	p.waiterPool.Put(w)
	if res.err != nil {
		return nil, res.err
	}
	return res.r, nil
}

// waitedSince returns now-start, or zero when start is zero (no wait).
func waitedSince(start, now mono) time.Duration {
	if start == 0 {
		return 0
	}
	return now.sub(start)
}

func (p *Pool[T]) countAcquireLocked(start, now mono) {
	p.stats.Acquires++
	if start != 0 {
		if now == 0 {
			now = p.now()
		}
		p.stats.WaitedAcquires++
		p.stats.WaitTime += now.sub(start)
	}
}

// lendLocked records that r (already counted in use) goes to a caller.
func (p *Pool[T]) lendLocked(r *Resource[T], now mono, stack []uintptr) {
	r.acquired = now
	r.uses++
	r.leakReported = false
	if len(stack) > 0 {
		r.stack = append(r.stack[:0], stack...)
	}
	if p.cfg.LeakThreshold > 0 {
		p.dueLocked(now.add(p.cfg.LeakThreshold))
	}
}

// needsCheckLocked reports whether r must pass Check before it is lent.
func (p *Pool[T]) needsCheckLocked(r *Resource[T], now mono) bool {
	if p.s.checkAfterIdle < 0 || now.sub(r.lastUsed) > p.s.checkAfterIdle {
		return true
	}
	return p.suspectLocked(r)
}

func (p *Pool[T]) suspectLocked(r *Resource[T]) bool {
	return r.checkedGen < p.suspectGen && r.created <= p.suspectCreated
}

// checkOnAcquire checks r, held by the calling Acquire. On failure r is
// destroyed and the older idle resources become suspect.
func (p *Pool[T]) checkOnAcquire(ctx context.Context, r *Resource[T]) error {
	cctx, cancel := context.WithTimeout(ctx, p.s.checkTimeout)
	err := p.cfg.Check(cctx, r.value)
	cancel()
	now := p.now()
	p.mu.Lock()
	p.inUse--
	if err == nil {
		r.lastChecked = now
		r.checkedGen = p.suspectGen
		p.inUse++
		p.mu.Unlock()
		return nil
	}
	if ctx.Err() != nil {
		// The caller gave up: the check proved nothing. Put r back as it was.
		lastUsed := r.lastUsed
		to, drop := p.putBackLocked(r, now)
		r.lastUsed = lastUsed
		p.mu.Unlock()
		if drop {
			p.destroy(r, ReasonIdle)
		} else if to != nil {
			to.give(r)
		}
		return err
	}
	p.stats.CheckFailures++
	p.markSuspectLocked()
	p.removeLocked(r, ReasonCheckFailed)
	p.mu.Unlock()
	p.destroy(r, ReasonCheckFailed)
	return err
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
		to, destroy := p.putBackLocked(r, now)
		p.mu.Unlock()
		if destroy {
			p.destroy(r, ReasonIdle)
		} else if to != nil {
			to.give(r)
		}
	}
	if p.obs != nil {
		p.obs.Released(held)
	}
}

// putBackLocked hands r (no longer counted in use) to the oldest waiter or
// puts it on the idle stack. When it returns a waiter, the caller must
// call to.give(r) once it has unlocked p.mu. It returns destroy true when
// r must be destroyed because MaxIdle resources are idle; r has then been
// removed.
func (p *Pool[T]) putBackLocked(r *Resource[T], now mono) (to *waiter[T], destroy bool) {
	r.lastUsed = now
	if w := p.handOffLocked(r, now); w != nil {
		return w, false
	}
	if len(p.idle) >= p.s.maxIdle ||
		(p.budget != nil && p.budget.starved.Load() > 0 && p.open-p.destroying > p.cfg.MinSize) {
		p.removeLocked(r, ReasonIdle)
		return nil, true
	}
	r.state = stateIdle
	p.idle = append(p.idle, r)
	if p.maintained {
		p.dueLocked(p.idleDeadline(r))
	}
	return nil, false
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

// handOffLocked lends r to the oldest waiter, if any, and returns it; the
// caller must then call w.give(r) after unlocking p.mu (waking a goroutine
// under the lock would make everyone else wait for the wake-up).
func (p *Pool[T]) handOffLocked(r *Resource[T], now mono) *waiter[T] {
	w, ok := p.waiters.popFront()
	if !ok {
		return nil
	}
	if now == 0 {
		now = p.now()
	}
	r.state = stateInUse
	p.inUse++
	p.lendLocked(r, now, w.stack)
	p.stats.Acquires++
	p.stats.WaitedAcquires++
	p.stats.WaitTime += now.sub(w.since)
	return w
}

// give delivers r to w, which handOffLocked took out of the queue. The
// channel is buffered, so give never blocks.
func (w *waiter[T]) give(r *Resource[T]) { w.ch <- result[T]{r: r} }

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
	if p.budget != nil {
		p.budget.release()
	}
	p.mu.Lock()
	p.destroying--
	p.open--
	p.spawnCreatorsLocked()
	p.checkDrainedLocked()
	p.mu.Unlock()
	if p.obs != nil {
		p.obs.Destroyed(reason, p.now().sub(r.created))
	}
}

func (p *Pool[T]) checkDrainedLocked() {
	if p.closed && p.open == 0 {
		select {
		case <-p.drained:
		default:
			close(p.drained)
		}
	}
}

// misuse reports a Release or Destroy of a resource that is not lent.
func (p *Pool[T]) misuse(op string, state resourceState) {
	what := "already given back (Release or Destroy called twice?)"
	if state == stateResetting {
		what = "being reset by an earlier Release (Release or Destroy called twice?)"
	}
	buf := make([]byte, 4096)
	buf = buf[:runtime.Stack(buf, false)]
	p.log.Error("pool: "+op+" of a resource that is not in use; ignored",
		slog.String("pool", p.name), slog.String("problem", what), slog.String("stack", string(buf)))
}

// canceledError is Acquire's error when ctx ends by cancellation (or had
// already ended before the call).
func (p *Pool[T]) canceledError(ctx context.Context, waited time.Duration) error {
	if ctx.Err() == context.DeadlineExceeded {
		now := p.now()
		p.mu.Lock()
		e := p.timeoutErrorLocked(now, waited)
		p.mu.Unlock()
		return e
	}
	return fmt.Errorf("pool %q: acquire abandoned after %v: %w", p.name, waited.Round(time.Microsecond), context.Cause(ctx))
}

func (p *Pool[T]) timeoutErrorLocked(now mono, waited time.Duration) *TimeoutError {
	e := &TimeoutError{Pool: p.name, Waited: waited, State: p.statsLocked(now)}
	if p.consecutiveFails > 0 {
		e.LastCreateErr = p.lastCreateErr
	}
	if p.cfg.LeakThreshold > 0 {
		var oldest *Resource[T]
		for _, r := range p.all {
			if r.state == stateInUse && len(r.stack) > 0 && (oldest == nil || r.acquired < oldest.acquired) {
				oldest = r
			}
		}
		if oldest != nil {
			e.LongestHeld = now.sub(oldest.acquired)
			e.LongestHolder = formatStack(oldest.stack)
		}
	}
	return e
}

// Stats returns a consistent snapshot of the pool's gauges and counters. It
// takes the pool's lock briefly and does not allocate.
func (p *Pool[T]) Stats() Stats {
	p.mu.Lock()
	var now mono
	if p.waiters.n > 0 {
		now = p.now()
	}
	s := p.statsLocked(now)
	p.mu.Unlock()
	return s
}

func (p *Pool[T]) statsLocked(now mono) Stats {
	s := p.stats
	s.Open = p.open
	s.Idle = len(p.idle)
	s.InUse = p.inUse
	s.Creating = p.creating
	s.Destroying = p.destroying
	s.Waiting = p.waiters.n
	if p.waiters.head != nil {
		s.OldestWait = now.sub(p.waiters.head.since)
	}
	return s
}

// Close stops the pool lending: waiting and later Acquire calls get
// ErrClosed, idle resources are destroyed at once, and resources in use are
// destroyed as they come back. Close waits, until ctx ends, for every
// resource to be destroyed and for every goroutine the pool started to
// stop. It returns nil when all are, or an error wrapping ctx's error that
// says how many resources were still out. Calling Close again waits again.
func (p *Pool[T]) Close(ctx context.Context) error {
	p.mu.Lock()
	var idle []*Resource[T]
	if !p.closed {
		p.closed = true
		close(p.done)
		p.cancelCreate()
		for {
			w, ok := p.waiters.popFront()
			if !ok {
				break
			}
			w.ch <- result[T]{err: ErrClosed}
		}
		idle = append(idle, p.idle...)
		clear(p.idle)
		p.idle = p.idle[:0]
		for _, r := range idle {
			p.removeLocked(r, ReasonClosed)
		}
		p.checkDrainedLocked()
	}
	p.mu.Unlock()
	for _, r := range idle {
		p.destroy(r, ReasonClosed)
	}
	select {
	case <-p.drained:
	case <-ctx.Done():
		st := p.Stats()
		return fmt.Errorf("pool %q: close: %d resources still open (in use %d, creating %d): %w",
			p.name, st.Open, st.InUse, st.Creating, ctx.Err())
	}
	p.wg.Wait()
	if p.budget != nil {
		p.budget.leave(p)
	}
	return nil
}

// spawnCreatorsLocked starts Create calls for waiters not yet covered by
// one and to keep MinSize, within MaxSize and MaxConcurrentCreates (one at
// a time while Create keeps failing).
func (p *Pool[T]) spawnCreatorsLocked() {
	for p.wantCreateLocked() {
		p.open++
		p.creating++
		p.wg.Add(1)
		go p.create()
	}
}

func (p *Pool[T]) wantCreateLocked() bool {
	if p.closed || p.open >= p.cfg.MaxSize {
		return false
	}
	limit := p.s.maxConcurrentCreates
	if p.consecutiveFails > 0 {
		limit = 1
	}
	if p.creating >= limit {
		return false
	}
	return p.waiters.n > p.creating || p.open < p.cfg.MinSize
}

// create runs in its own goroutine and holds one slot (counted in open and
// creating). It retries, after a backoff, while its slot is still wanted.
func (p *Pool[T]) create() {
	defer p.wg.Done()
	haveBudget := false
	for {
		if !p.sleepBackoff() || (!haveBudget && p.budget != nil && p.budget.acquire(p.createCtx, p) != nil) {
			p.mu.Lock()
			p.creating--
			p.open--
			p.checkDrainedLocked()
			p.mu.Unlock()
			if haveBudget {
				p.budget.release()
			}
			return
		}
		haveBudget = p.budget != nil

		ctx, cancel := p.createCtx, context.CancelFunc(nil)
		if p.s.createTimeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, p.s.createTimeout)
		}
		begin := p.now()
		v, err := p.cfg.Create(ctx)
		if cancel != nil {
			cancel()
		}
		now := p.now()
		if p.obs != nil {
			p.obs.Created(now.sub(begin), err)
		}

		p.mu.Lock()
		if err != nil {
			p.stats.CreateErrors++
			p.consecutiveFails++
			p.lastCreateErr = err
			p.backoffUntil = now.add(p.backoffLocked())
			if w, ok := p.waiters.popFront(); ok {
				w.ch <- result[T]{err: &CreateError{Pool: p.name, Err: err}}
			}
			// While Create fails, one creator retries (after the
			// backoff) if its slot is still wanted; the others quit.
			if !p.closed && p.creating == 1 && (p.waiters.n > 0 || p.open <= p.cfg.MinSize) {
				p.mu.Unlock()
				continue
			}
			p.creating--
			p.open--
			p.checkDrainedLocked()
			p.mu.Unlock()
			if haveBudget {
				p.budget.release()
			}
			return
		}
		p.consecutiveFails = 0
		p.creating--
		p.stats.Created++
		r := &Resource[T]{value: v, p: p, created: now, lastUsed: now, lastChecked: now, index: len(p.all), checkedGen: p.suspectGen}
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
		w, drop := p.putBackLocked(r, now)
		p.spawnCreatorsLocked()
		p.mu.Unlock()
		if drop {
			p.destroy(r, ReasonIdle)
		} else if w != nil {
			w.give(r)
		}
		return
	}
}

// sleepBackoff waits out the backoff after failed Creates. It returns
// false when the pool closed meanwhile.
func (p *Pool[T]) sleepBackoff() bool {
	p.mu.Lock()
	until := p.backoffUntil
	p.mu.Unlock()
	d := until.sub(p.now())
	if until == 0 || d <= 0 {
		return !p.isClosed()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.done:
		return false
	}
}

func (p *Pool[T]) isClosed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// backoffLocked returns the pause before the next Create: exponential in
// the failures in a row, capped, with "equal jitter" (half fixed, half
// random) so that pools started together do not retry together.
func (p *Pool[T]) backoffLocked() time.Duration {
	d := p.s.createBackoff
	for i := 1; i < p.consecutiveFails && d < p.s.maxCreateBackoff; i++ {
		d *= 2
	}
	d = min(d, p.s.maxCreateBackoff)
	return d/2 + rand.N(d/2+1)
}

// poke wakes the maintainer, if it runs, without blocking.
func (p *Pool[T]) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// mono is a reading of the pool's monotonic clock: nanoseconds since the
// pool's epoch, plus one so that 0 can mean "not read". time.Since on a
// monotonic epoch costs about half of time.Now (one clock read, not two) and
// follows testing/synctest's fake clock.
type mono int64

// now reads the pool's clock; the result is always > 0.
func (p *Pool[T]) now() mono { return mono(time.Since(p.epoch)) + 1 }

// time converts a reading to wall-clock time; 0 gives the zero Time.
func (p *Pool[T]) time(m mono) time.Time {
	if m == 0 {
		return time.Time{}
	}
	return p.epoch.Add(time.Duration(m - 1))
}

func (m mono) sub(o mono) time.Duration { return time.Duration(m - o) }
func (m mono) add(d time.Duration) mono { return m + mono(d) }

// spinTries is how many times lock tries the mutex before it blocks.
const spinTries = 40

// lock takes p.mu for Acquire and Release. It tries for a short while before
// blocking: the lock is held for tens of nanoseconds, and sync.Mutex does not
// spin while other goroutines are runnable, so under contention a holder
// giving a resource back would otherwise park, holding it, and every
// Acquire behind it would queue: a convoy.
func (p *Pool[T]) lock() {
	for range spinTries {
		if p.mu.TryLock() {
			return
		}
	}
	p.mu.Lock()
}
