package pool

import (
	"context"
	"fmt"
	"log/slog"
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
	cfg    Config[T] // as given to New; the limits that change live below
	s      settings
	name   string
	log    *slog.Logger
	obs    Observer
	budget SharedBudget
	member BudgetMember // how budget sees this pool
	// clock is true when Acquire must read the time even on its fast
	// path: for health checks, lifetimes, leak detection or the Observer.
	clock bool
	// maintained is true when the maintainer goroutine runs.
	maintained bool
	// epoch is the origin of the pool's monotonic clock (see mono).
	epoch time.Time

	createCtx    context.Context // cancelled by Close: ends Creates and budget waits
	cancelCreate context.CancelFunc
	done         chan struct{} // closed by Close
	drained      chan struct{} // closed when Close has seen Open reach zero
	wake         chan struct{} // pokes the maintainer; buffered 1
	demand       chan struct{} // cuts a creator's backoff short; buffered 1
	deadlines    *time.Timer   // expires waiters at their AcquireTimeout; nil without one
	wg           sync.WaitGroup
	waiterPool   sync.Pool
	minSizeHint  atomic.Int64 // minSize, for the budget, which must not take p.mu

	mu         sync.Mutex
	closed     bool
	minSize    int // SetMinSize
	maxSize    int // SetMaxSize
	maxIdle    int // effective: Config.MaxIdle, or MaxSize, never above MaxSize
	idle       idleStack[T]
	all        []*Resource[T] // every created resource not yet destroyed; Resource.index
	waiters    waitQueue[T]
	deadlineAt mono // when deadlines fires; 0: not armed
	open       int  // len(all) + creating
	creating   int
	inUse      int // lent, handed off, or being checked or reset
	destroying int
	// budgetWaits counts creators waiting for a budget share.
	budgetWaits int
	stats       Stats

	consecutiveFails int   // Create failures in a row
	lastCreateErr    error // the latest Create error
	failedAt         mono  // when the latest Create failed
	backoffUntil     mono  // no Create starts before this, unless callers wait

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
		demand:  make(chan struct{}, 1),
		epoch:   time.Now(),
		minSize: cfg.MinSize,
		maxSize: cfg.MaxSize,
		maxIdle: s.maxIdle,
		idle:    idleStack[T]{items: make([]*Resource[T], 0, cfg.MaxSize)},
		all:     make([]*Resource[T], 0, cfg.MaxSize),
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.minSizeHint.Store(int64(cfg.MinSize))
	p.clock = cfg.Check != nil || cfg.MaxLifetime > 0 || cfg.LeakThreshold > 0 || cfg.Observer != nil
	p.waiterPool.New = func() any { return &waiter[T]{ch: make(chan result[T], 1)} }
	if cfg.AcquireTimeout > 0 {
		p.deadlines = time.AfterFunc(time.Hour, p.expireWaiters)
		p.deadlines.Stop()
	}
	if p.budget != nil {
		p.member = BudgetMember{Name: name, MinSize: func() int { return int(p.minSizeHint.Load()) }, ReclaimIdle: p.reclaimIdle}
		if err := p.budget.Join(&p.member); err != nil {
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
	p.spawnCreatorsLocked(context.Background())
	p.mu.Unlock()
	return p, nil
}

// Name returns Config.Name, or "pool" when it was empty.
func (p *Pool[T]) Name() string { return p.name }

// Config returns the pool's Config as it is now: every zero duration and
// limit that has a default replaced by it, and MinSize and MaxSize as last
// set by SetMinSize and SetMaxSize.
func (p *Pool[T]) Config() Config[T] {
	c := p.cfg
	p.mu.Lock()
	c.MinSize, c.MaxSize, c.MaxIdle = p.minSize, p.maxSize, p.maxIdle
	c.MaxConcurrentCreates = p.s.maxConcurrentCreates
	p.mu.Unlock()
	c.Name = p.name
	c.MaxLifetimeJitter = p.s.lifetimeJitter
	c.CheckAfterIdle = p.s.checkAfterIdle
	c.HealthCheckPeriod = p.s.healthCheckPeriod
	c.CheckTimeout = p.s.checkTimeout
	c.CreateTimeout = p.s.createTimeout
	c.CreateBackoff = p.s.createBackoff
	c.MaxCreateBackoff = p.s.maxCreateBackoff
	c.Logger = p.log
	return c
}

// acquisition is one Acquire call, kept on its stack.
type acquisition struct {
	ctx context.Context
	// start is when the call began, read on entry when the pool reads the
	// clock anyway (or callers wait), else when the call first needs it:
	// before it checks or waits, after nothing but taking the lock.
	start mono
	// deadline bounds the whole call: ctx's deadline, or start +
	// AcquireTimeout when that is sooner; 0: none. It is set once, with
	// start.
	deadline mono
	// timeoutAt is deadline when AcquireTimeout set it, else 0.
	timeoutAt mono
	waited    bool // the call waited in line or for a check
	// pcs[:npcs] is the caller's stack, with leak detection on. An array
	// in the struct, not a slice: a slice would move it to the heap, as
	// a's content leaks (its ctx goes to the waiter).
	pcs  [maxStack]uintptr
	npcs int
}

func (a *acquisition) stack() []uintptr { return a.pcs[:a.npcs] }

// startClock sets a's start and deadline.
func (p *Pool[T]) startClock(a *acquisition, now mono) {
	a.start = now
	if dl, ok := a.ctx.Deadline(); ok {
		a.deadline = p.mono(dl)
	}
	if t := p.cfg.AcquireTimeout; t > 0 {
		if at := now.add(t); a.deadline == 0 || at < a.deadline {
			a.deadline, a.timeoutAt = at, at
		}
	}
}

// over reports whether a's ctx has ended or its deadline passed.
func (a *acquisition) over(now mono) bool {
	return a.ctx.Err() != nil || (a.deadline != 0 && now >= a.deadline)
}

// Acquire lends a resource: an idle one when there is one, a new one when
// the pool is below MaxSize, or else the next one released, in the order
// callers arrived. Whichever way it comes, a resource idle longer than
// Config.CheckAfterIdle (every one, when it is negative), or suspect after
// another failed its check, passes Config.Check first.
//
// The deadline is set once, on entry: ctx's, or Config.AcquireTimeout from
// now when that is sooner (or ctx has none). It bounds the whole call:
// waiting, checking (Check's ctx ends with it) and waiting for a Create. On
// success Acquire returns a resource the caller must Release or Destroy
// (or use [Pool.Do]). On failure it returns a nil resource and:
//   - a *TimeoutError (errors.Is ErrAcquireTimeout and
//     context.DeadlineExceeded) when the deadline passes;
//   - an error wrapping ctx's cause when ctx is cancelled;
//   - a *CreateError when the pool has no resource open and Create failed:
//     at once to every waiter when it fails, and at once to new callers
//     while the backoff lasts (see [MinCreatePause] and
//     [DemandRetryInterval]); a pool with resources open keeps its callers
//     waiting for them instead;
//   - an error wrapping ErrWaitQueueFull when MaxWaiters are waiting;
//   - ErrClosed when the pool is closed.
//
// A caller that gives up never leaks a slot: a resource created or released
// for it goes to the next caller or back to the idle set. A resource handed
// to a waiting caller is lent to it at that moment, by the releaser; when
// ctx ends just as that happens, Acquire returns the resource, as a select
// with both cases ready may.
func (p *Pool[T]) Acquire(ctx context.Context) (*Resource[T], error) {
	a := acquisition{ctx: ctx}
	if p.cfg.LeakThreshold > 0 {
		a.npcs = runtime.Callers(2, a.pcs[:])
	}
	// With callers already waiting this one will wait too: read the clock
	// now rather than under the lock.
	if p.clock || p.waiters.hint.Load() > 0 {
		p.startClock(&a, p.now())
	}
	if ctx.Err() != nil {
		return nil, p.giveUp(&a, false)
	}
	now := a.start
	for {
		r, due, err := p.take(&a, now)
		if err != nil {
			return nil, err
		}
		if due {
			if r, err = p.checkAndLend(&a, r); r == nil {
				if err != nil {
					return nil, err
				}
				now = p.now() // r failed its check: try again
				continue
			}
		}
		if p.obs != nil {
			p.obs.Acquired(ctx, AcquireEvent{Pool: p.name, Wait: a.wait(r.acquired), Waited: a.waited})
		}
		return r, nil
	}
}

// wait returns how long a waited, when it waited, until now.
func (a *acquisition) wait(now mono) time.Duration {
	if !a.waited {
		return 0
	}
	return now.sub(a.start)
}

// take claims an idle resource for a, or else waits in line for one. When
// due is false r has been lent; when it is true r must pass Check first.
// now is the clock when the pool reads it on the fast path, else 0.
func (p *Pool[T]) take(a *acquisition, now mono) (r *Resource[T], due bool, err error) {
	for {
		p.lock()
		if p.closed {
			p.mu.Unlock()
			return nil, false, ErrClosed
		}
		r, ok := p.idle.Pop()
		if !ok {
			return p.waitInLineLocked(a, now)
		}
		if r.expired(now) {
			p.removeLocked(r, ReasonLifetime)
			p.mu.Unlock()
			p.destroy(r, ReasonLifetime)
			now = p.now()
			continue
		}
		p.inUse++
		if p.needsCheckLocked(r, now) {
			r.state = stateChecking
			p.mu.Unlock()
			return r, true, nil
		}
		p.lend(a, r, now)
		p.mu.Unlock()
		return r, false, nil
	}
}

// waitInLineLocked queues a, starting a Create if one is due, and waits
// until a resource is handed to it, an error ends its wait or it gives up.
// It is called with p.mu held and returns without it; its results are
// take's. now is the clock read just before locking, or 0.
func (p *Pool[T]) waitInLineLocked(a *acquisition, now mono) (*Resource[T], bool, error) {
	if now == 0 {
		now = p.now()
	}
	if a.start == 0 {
		p.startClock(a, now)
	}
	if p.cfg.MaxWaiters > 0 && p.waiters.n >= p.cfg.MaxWaiters {
		p.stats.Rejected++
		st := p.statsLocked(now)
		p.mu.Unlock()
		return nil, false, fmt.Errorf("pool %q: %w (%d waiting, MaxWaiters %d; open %d/%d, in use %d)",
			p.name, ErrWaitQueueFull, st.Waiting, p.cfg.MaxWaiters, st.Open, st.MaxSize, st.InUse)
	}
	if err := p.failFastLocked(now); err != nil {
		p.mu.Unlock()
		return nil, false, err
	}
	if a.over(now) {
		p.mu.Unlock()
		return nil, false, p.giveUp(a, false)
	}
	w := p.waiterPool.Get().(*waiter[T])
	w.since, w.expires, w.lent = a.start, a.timeoutAt, false
	w.npcs = copy(w.pcs[:], a.stack())
	p.waiters.push(w)
	if w.expires != 0 {
		p.armDeadlineLocked(w.expires, now)
	}
	p.spawnCreatorsLocked(a.ctx)
	if p.consecutiveFails > 0 {
		p.pokeCreator()
	}
	p.mu.Unlock()

	a.waited = true
	res, gaveUp := p.await(a, w)
	lent := w.lent
	p.waiterPool.Put(w)
	switch {
	case lent:
		// Lent at the hand-off, before this caller could leave the
		// line: it is this caller's even when its ctx ended meanwhile,
		// as when both cases of a select are ready.
		return res.r, false, nil
	case gaveUp && res.r != nil:
		// Handed a resource we no longer want: pass it on.
		p.passOn(res.r)
		return nil, false, p.giveUp(a, false)
	case res.r != nil:
		return p.receive(res.r)
	case gaveUp, res.err == errExpired:
		return nil, false, p.giveUp(a, res.err == errExpired)
	default:
		return nil, false, res.err
	}
}

// receive takes r, handed unlent to a waiter because it must pass Check
// first (a resource that need not is lent at the hand-off, and what makes
// one due for a check stays true while it is on its way); its results are
// take's. The pool may have closed meanwhile.
func (p *Pool[T]) receive(r *Resource[T]) (*Resource[T], bool, error) {
	p.lock()
	if p.closed {
		p.inUse--
		p.removeLocked(r, ReasonClosed)
		p.mu.Unlock()
		p.destroy(r, ReasonClosed)
		return nil, false, ErrClosed
	}
	r.state = stateChecking
	p.mu.Unlock()
	return r, true, nil
}

// passOn gives r, handed to a waiter that gave up, to the next waiter or
// back to the idle stack, as a Release would.
func (p *Pool[T]) passOn(r *Resource[T]) {
	now := p.now()
	p.mu.Lock()
	p.inUse--
	if p.closed {
		p.removeLocked(r, ReasonClosed)
		p.mu.Unlock()
		p.destroy(r, ReasonClosed)
		return
	}
	to, drop := p.putBackLocked(r, now, false) // a hand-off is not a use
	p.mu.Unlock()
	p.settle(r, to, drop)
}

// giveUp counts and describes an Acquire that ends without a resource
// because its deadline passed (a *TimeoutError) or its ctx was cancelled:
// the one place those errors are made. expired says the pool's own
// AcquireTimeout ended the wait.
func (p *Pool[T]) giveUp(a *acquisition, expired bool) error {
	now := p.now()
	if a.start == 0 {
		p.startClock(a, now)
	}
	waited := now.sub(a.start)
	timedOut := expired || a.ctx.Err() == context.DeadlineExceeded || (a.deadline != 0 && now >= a.deadline)
	if !timedOut {
		p.mu.Lock()
		p.stats.Canceled++
		p.stats.WaitTime += waited
		p.mu.Unlock()
		return fmt.Errorf("pool %q: acquire abandoned after %v: %w", p.name, waited.Round(time.Microsecond), context.Cause(a.ctx))
	}
	e := &TimeoutError{Pool: p.name, Waited: waited}
	bs := p.budgetStats()
	p.mu.Lock()
	p.stats.Timeouts++
	p.stats.WaitTime += waited
	e.State = p.statsLocked(now)
	e.State.Budget = bs
	e.BudgetLimited = bs.Size > 0 && bs.Used >= bs.Size && (p.budgetWaits > 0 || e.State.Open < e.State.MaxSize)
	if p.consecutiveFails > 0 {
		e.LastCreateErr = p.lastCreateErr
	}
	e.LongestHeld, e.LongestHolder = p.longestHolderLocked(now)
	p.mu.Unlock()
	if p.obs != nil {
		p.obs.TimedOut(a.ctx, AcquireEvent{Pool: p.name, Wait: waited, Waited: true})
	}
	return e
}

// Do acquires a resource, calls fn with its value and gives it back: with
// Release when fn returns nil or an ordinary error, with Destroy when fn
// panics (the panic then goes on) or returns an error for which
// [IsBroken] is true. It returns Acquire's error, or else fn's.
func (p *Pool[T]) Do(ctx context.Context, fn func(v T) error) error {
	r, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	returned := false
	defer func() {
		if !returned { // fn panicked or called runtime.Goexit
			r.Destroy()
		}
	}()
	err = fn(r.value)
	returned = true
	if IsBroken(err) {
		r.Destroy()
	} else {
		r.Release()
	}
	return err
}

// SetMaxSize changes MaxSize at run time. n must be > 0 and >= MinSize;
// otherwise SetMaxSize returns a *ConfigError naming n and changes nothing.
//
// Raising it serves waiting callers at once (with new resources). Lowering
// it never takes a resource from its holder: idle resources beyond n are
// destroyed now and those in use as they are released, until the pool is
// within n. MaxIdle follows MaxSize when Config.MaxIdle was zero, and never
// exceeds it. Stats and Config report the new value at once.
func (p *Pool[T]) SetMaxSize(n int) error {
	p.mu.Lock()
	var bad string
	switch {
	case n <= 0:
		bad = "must be > 0"
	case n < p.minSize:
		bad = fmt.Sprintf("must be >= MinSize (%d)", p.minSize)
	}
	if bad != "" {
		p.mu.Unlock()
		return &ConfigError{Pool: p.name, Op: "SetMaxSize", Field: "n", Value: n, Reason: bad}
	}
	p.maxSize = n
	p.maxIdle = n
	if p.cfg.MaxIdle > 0 {
		p.maxIdle = min(p.cfg.MaxIdle, n)
	}
	if p.cfg.MaxConcurrentCreates == 0 {
		p.s.maxConcurrentCreates = min(n, DefaultMaxConcurrentCreates)
	}
	var extra []*Resource[T]
	for p.open-p.destroying > n || p.idle.Len() > p.maxIdle {
		r, ok := p.idle.PopOldest()
		if !ok {
			break
		}
		p.removeLocked(r, ReasonIdle)
		extra = append(extra, r)
	}
	p.spawnCreatorsLocked(context.Background())
	p.pokeCreator() // one sleeping in a backoff may be above n now
	p.mu.Unlock()
	for _, r := range extra {
		p.destroy(r, ReasonIdle)
	}
	return nil
}

// SetMinSize changes MinSize at run time. n must be >= 0, <= MaxSize and,
// when Config.MaxIdle is set, <= MaxIdle; with a [*Budget], the MinSize of
// all its pools must still fit in it. Otherwise SetMinSize returns a
// *ConfigError naming n and changes nothing. Raising it creates the missing
// resources in the background; lowering it lets IdleTimeout retire more.
func (p *Pool[T]) SetMinSize(n int) error {
	if b, ok := p.budget.(*Budget); ok && n >= 0 {
		if err := b.checkMinSize(&p.member, n); err != nil {
			return &ConfigError{Pool: p.name, Op: "SetMinSize", Field: "n", Value: n, Reason: err.Error()}
		}
	}
	p.mu.Lock()
	var bad string
	switch {
	case n < 0:
		bad = "must be >= 0"
	case n > p.maxSize:
		bad = fmt.Sprintf("must be <= MaxSize (%d)", p.maxSize)
	case p.cfg.MaxIdle > 0 && n > p.maxIdle:
		bad = fmt.Sprintf("must be <= MaxIdle (%d), or the pool destroys what it keeps warm", p.maxIdle)
	}
	if bad != "" {
		p.mu.Unlock()
		return &ConfigError{Pool: p.name, Op: "SetMinSize", Field: "n", Value: n, Reason: bad}
	}
	p.minSize = n
	p.minSizeHint.Store(int64(n))
	p.spawnCreatorsLocked(context.Background())
	p.wakeAt = 0
	p.poke()
	p.mu.Unlock()
	return nil
}

// Stats returns a consistent snapshot of the pool's gauges and counters,
// and of its budget's. It takes the pool's lock briefly and does not
// allocate (the budget's BudgetStats is called before, without it).
func (p *Pool[T]) Stats() Stats {
	bs := p.budgetStats()
	p.mu.Lock()
	var now mono
	if p.waiters.n > 0 {
		now = p.now()
	}
	s := p.statsLocked(now)
	p.mu.Unlock()
	s.Budget = bs
	return s
}

func (p *Pool[T]) budgetStats() BudgetStats {
	if p.budget == nil {
		return BudgetStats{}
	}
	return p.budget.BudgetStats()
}

func (p *Pool[T]) statsLocked(now mono) Stats {
	s := p.stats
	s.Open = p.open
	s.Idle = p.idle.Len()
	s.InUse = p.inUse
	s.Creating = p.creating
	s.Destroying = p.destroying
	s.Waiting = p.waiters.n
	s.MinSize = p.minSize
	s.MaxSize = p.maxSize
	if p.waiters.head != nil {
		s.OldestWait = now.sub(p.waiters.head.since)
	}
	return s
}

// Close stops the pool lending: waiting and later Acquire calls get
// ErrClosed, idle resources are destroyed at once, and resources in use are
// destroyed as they come back. Close waits, until ctx ends, for every
// resource to be destroyed and for every goroutine the pool started to
// stop. It returns nil when all are, or a *CloseError (which wraps ctx's
// error) saying how many resources were still out and, with leak
// detection on, where the longest holder acquired. Calling Close again
// waits again.
func (p *Pool[T]) Close(ctx context.Context) error {
	p.mu.Lock()
	var idle []*Resource[T]
	if !p.closed {
		p.closed = true
		close(p.done)
		p.cancelCreate()
		if p.deadlines != nil {
			p.deadlines.Stop()
		}
		p.waiters.failAllLocked(ErrClosed)
		idle = p.idle.Drain()
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
		now := p.now()
		p.mu.Lock()
		e := &CloseError{Pool: p.name, State: p.statsLocked(now), Err: ctx.Err()}
		e.LongestHeld, e.LongestHolder = p.longestHolderLocked(now)
		p.mu.Unlock()
		return e
	}
	p.wg.Wait()
	if p.budget != nil {
		p.budget.Leave(&p.member)
	}
	return nil
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
