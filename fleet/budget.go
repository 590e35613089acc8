package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/poolkit/poolkit/pool"
)

// Defaults for zero fields of [BudgetConfig].
const (
	// DefaultLeaseTTL is how long a lease lives unless renewed, when
	// BudgetConfig.LeaseTTL is zero: currently 10s. Leases are renewed
	// every LeaseTTL/3, so a process that dies (kill -9) gives its
	// connections back to the fleet at most LeaseTTL after its last renewal.
	DefaultLeaseTTL = 10 * time.Second

	// DefaultPollInterval is how often a process reads the fleet's state
	// (who is starved) and how often a Take that waits retries without a
	// release notice, when BudgetConfig.PollInterval is zero: currently
	// 200ms.
	DefaultPollInterval = 200 * time.Millisecond

	// DefaultOpTimeout bounds each Redis call, when BudgetConfig.OpTimeout
	// (or BreakerConfig.OpTimeout) is zero: currently 500ms. A call that
	// fails or takes longer counts as Redis unreachable.
	DefaultOpTimeout = 500 * time.Millisecond

	// DefaultKeyPrefix prefixes every Redis key and channel the package
	// uses, when the config's KeyPrefix is empty: currently "poolkit:fleet:".
	DefaultKeyPrefix = "poolkit:fleet:"
)

// BudgetConfig configures a [Budget]. Client, Name, Size and
// ExpectedInstances are required; every other zero field means its default.
type BudgetConfig struct {
	// Client is the Redis client. Required. The Budget does not close it.
	Client redis.UniversalClient

	// Name names the budget: processes that use the same Name (and
	// KeyPrefix) on the same Redis share one cap. Required; say which
	// server it guards ("orders-db").
	Name string

	// Size is the cap on open resources across the whole fleet: for a
	// database, its max_connections minus what other clients need. Every
	// process sharing the budget must use the same Size. Required, > 0.
	Size int

	// ExpectedInstances is how many processes usually share the budget. It
	// sets the local share a process keeps to while it cannot reach Redis:
	// Size / ExpectedInstances, rounded down (see [Budget] for the worst
	// case this allows). Required, > 0 and <= Size.
	ExpectedInstances int

	// LeaseTTL is how long a lease lives unless renewed. Zero means
	// DefaultLeaseTTL. Must be >= 300ms and more than 3×PollInterval.
	LeaseTTL time.Duration

	// PollInterval: see DefaultPollInterval. Zero means the default;
	// negative is invalid.
	PollInterval time.Duration

	// OpTimeout bounds each Redis call. Zero means DefaultOpTimeout;
	// negative is invalid.
	OpTimeout time.Duration

	// KeyPrefix prefixes the budget's Redis keys. Empty means
	// DefaultKeyPrefix.
	KeyPrefix string

	// Logger hears when the budget loses Redis and falls back to its local
	// share, and when it gets Redis back. Nil means slog.Default().
	Logger *slog.Logger
}

// ConfigError reports an invalid field of a [BudgetConfig] or
// [BreakerConfig]. [NewBudget] and [NewBreakers] return it.
type ConfigError struct {
	Config string // "BudgetConfig" or "BreakerConfig"
	Field  string // the field's name, e.g. "Size"
	Value  any    // the offending value
	Reason string // what a valid value looks like
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("fleet: %s.%s = %v: %s", e.Config, e.Field, e.Value, e.Reason)
}

// ErrClosed is returned by [Budget.Take] after [Budget.Close].
var ErrClosed = errors.New("fleet: budget closed")

// Budget is a [pool.SharedBudget] kept in Redis, so that every process of a
// fleet that uses the same budget name shares one cap on the connections
// they open to a server. Set it as pool.Config.Budget (or sqlpool's, or
// httpclient's).
//
// Each resource a pool creates holds a lease: an entry in a Redis sorted
// set scored by its expiry. Take adds one atomically (a Lua script drops
// expired leases, counts, and adds only below Size); a background loop
// renews all the process's leases in one call every LeaseTTL/3; a destroyed
// resource's lease is removed and waiting processes are told through
// pub/sub. A process that dies keeps its leases only until they expire.
//
// When the budget is full, Take waits (the pool's creator does, while its
// callers wait in the pool's own FIFO line under their AcquireTimeout),
// retrying on each release notice and every PollInterval. A waiting process
// marks itself starved in Redis; every process reads that within
// PollInterval and, while it holds more than its fair share (Size ÷ live
// processes), has its pools close idle resources ([pool.BudgetMember]
// ReclaimIdle) and reports [Budget.Starved] so that released resources are
// closed rather than kept idle. Starved never makes a network call.
//
// # Without Redis
//
// When a Redis call fails or takes longer than OpTimeout, the process falls
// back to its local share, Size ÷ ExpectedInstances: it creates resources
// only while it holds fewer than that, logs the change (and the way back),
// and shows it in [Budget.Stats] (Degraded, LocalShare). Leases it held are
// kept; those that expired meanwhile are re-admitted when Redis answers
// again, while there is room.
//
// The worst case during a partition: the processes that still reach Redis
// see the cut-off processes' leases expire after LeaseTTL and may take up
// to Size between them, while each of the k cut-off processes keeps to
// max(what it held when cut off, its local share) and sheds down to its
// local share as its resources are released. The fleet's total is then at
// most Size + k × ⌊Size ÷ ExpectedInstances⌋ once the cut-off processes
// have shed (up to Size + what they held, before). When Redis is down for
// every process, the total stays within Size as long as the fleet has no
// more than ExpectedInstances processes. Size the budget (or
// ExpectedInstances) so that the server survives the case you accept.
type Budget struct {
	cfg      BudgetConfig // defaults applied
	rdb      redis.UniversalClient
	log      *slog.Logger
	id       string // this process's id
	keys     []string
	channel  string
	localCap int

	size         atomic.Int64
	degraded     atomic.Bool
	fleetStarved atomic.Bool  // another process is starved (last tick)
	fleetUsed    atomic.Int64 // live leases in Redis (last seen)
	procs        atomic.Int64 // live processes (last tick)
	lastRenew    time.Time    // loop goroutine only

	mu         sync.Mutex
	held       map[string]*lease
	lost       int // held leases Redis no longer counts (expired while cut off, no room since)
	members    []*pool.BudgetMember
	waiters    []*waiter
	takers     int           // Take calls waiting now
	releasing  []string      // lease ids to remove from Redis
	wake       chan struct{} // closed and replaced on every release notice
	closed     bool
	degradedAt time.Time

	kick    chan struct{} // tells the loop there is work (releases, a new waiter)
	stop    chan struct{}
	done    sync.WaitGroup
	counter atomic.Uint64 // for lease ids

	stats struct {
		takes, waited, handoffs, reclaimed, redisErrors, fallbackTakes atomic.Int64
	}
}

var _ pool.SharedBudget = (*Budget)(nil)

// BudgetStats is a snapshot of a [Budget] as this process sees it.
type BudgetStats struct {
	Size       int  // the fleet-wide cap
	Held       int  // leases this process holds now
	FleetUsed  int  // live leases across the fleet, as last read from Redis
	Processes  int  // live processes sharing the budget, as last read
	FairShare  int  // Size ÷ Processes, rounded up
	LocalShare int  // the cap while Redis is unreachable: Size ÷ ExpectedInstances
	Degraded   bool // Redis unreachable now: the local share applies
	Starved    bool // some other process waits for a lease (as last read)
	Waiting    int  // Take calls of this process waiting now
	Pools      int  // pools of this process sharing the budget
	Lost       int  // held leases Redis dropped (expired while cut off) and could not re-admit

	Takes         int64 // leases taken (cumulative)
	Waited        int64 // Take calls that had to wait
	Handoffs      int64 // leases handed from a release to a waiting Take in this process
	Reclaimed     int64 // idle resources closed for a starved process
	FallbackTakes int64 // leases granted from the local share while degraded
	RedisErrors   int64 // Redis calls that failed or timed out
}

// NewBudget validates cfg, starts the budget's background loop and
// subscription, and returns the budget. It does not wait for Redis: when
// Redis cannot be reached the budget turns degraded (see [Budget]) at the
// first call to Redis that fails, the first Take's or the background
// loop's first poll, whichever comes first.
// Call [Budget.Close] when done.
//
// On failure it returns a *[ConfigError] naming the first bad field.
func NewBudget(cfg BudgetConfig) (*Budget, error) {
	bad := func(field string, v any, reason string) (*Budget, error) {
		return nil, &ConfigError{Config: "BudgetConfig", Field: field, Value: v, Reason: reason}
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case isNil(cfg.Client):
		return bad("Client", "nil", "required")
	case cfg.Name == "":
		return bad("Name", `""`, "required: the name processes share the budget under")
	case cfg.Size <= 0:
		return bad("Size", cfg.Size, "must be > 0")
	case cfg.ExpectedInstances <= 0:
		return bad("ExpectedInstances", cfg.ExpectedInstances, "must be > 0: it sets the local share used while Redis is unreachable")
	case cfg.ExpectedInstances > cfg.Size:
		return bad("ExpectedInstances", cfg.ExpectedInstances, fmt.Sprintf("must be <= Size (%d), or the local share would be 0", cfg.Size))
	case cfg.PollInterval < 0:
		return bad("PollInterval", cfg.PollInterval, "must be >= 0")
	case cfg.OpTimeout < 0:
		return bad("OpTimeout", cfg.OpTimeout, "must be >= 0")
	case cfg.LeaseTTL < 300*time.Millisecond:
		return bad("LeaseTTL", cfg.LeaseTTL, "must be >= 300ms")
	case cfg.LeaseTTL <= 3*cfg.PollInterval:
		return bad("LeaseTTL", cfg.LeaseTTL, fmt.Sprintf("must be more than 3×PollInterval (%v)", cfg.PollInterval))
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	base := cfg.KeyPrefix + "budget:{" + cfg.Name + "}:"
	b := &Budget{
		cfg:      cfg,
		rdb:      cfg.Client,
		log:      cfg.Logger.With("budget", cfg.Name),
		id:       hex.EncodeToString(rnd[:]),
		keys:     []string{base + "leases", base + "procs", base + "starved"},
		channel:  base + "released",
		localCap: cfg.Size / cfg.ExpectedInstances,
		held:     make(map[string]*lease),
		wake:     make(chan struct{}),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	b.size.Store(int64(cfg.Size))
	b.procs.Store(1)
	sub := b.rdb.Subscribe(context.Background(), b.channel)
	b.done.Add(2)
	go b.listen(sub)
	go b.loop()
	return b, nil
}

// ID returns the id this process's budget is known by in Redis.
func (b *Budget) ID() string { return b.id }

// SetSize changes the fleet-wide cap of this process's view of the budget;
// every process should be told the same. Shrinking takes no resource from
// its holder: Take waits until the fleet is below the new size.
func (b *Budget) SetSize(n int) error {
	if n <= 0 {
		return &ConfigError{Config: "BudgetConfig", Field: "Size", Value: n, Reason: "must be > 0"}
	}
	b.size.Store(int64(n))
	return nil
}

// lease is one resource's share: a member of the leases set.
type lease struct {
	b        *Budget
	id       string
	released atomic.Bool
}

// Release implements [pool.Share]. It never waits for Redis: the lease goes
// to a Take waiting in this process, or its removal is queued for the
// background loop.
func (l *lease) Release() {
	if !l.released.CompareAndSwap(false, true) {
		return
	}
	b := l.b
	b.mu.Lock()
	if _, ok := b.held[l.id]; !ok {
		b.mu.Unlock()
		return
	}
	if len(b.waiters) > 0 && !b.closed && b.mayKeepLocked() {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		nl := &lease{b: b, id: l.id}
		b.held[l.id] = nl
		w.ch <- nl
		b.mu.Unlock()
		b.stats.handoffs.Add(1)
		return
	}
	delete(b.held, l.id)
	if b.lost > 0 {
		// Holding one fewer, we are one fewer over; the next renewal
		// recounts (and re-admits lost leases in the room this one frees).
		b.lost--
	}
	b.releasing = append(b.releasing, l.id)
	b.mu.Unlock()
	b.poke()
}

// mayKeepLocked reports whether a lease released in this process may go to
// a waiter of this process rather than back to the fleet: not when this
// process holds more than its share while another is starved, or more than
// its local share while degraded.
func (b *Budget) mayKeepLocked() bool {
	if b.degraded.Load() {
		return len(b.held) <= b.localCap
	}
	return !b.fleetStarved.Load() || len(b.held) <= b.fairShare()
}

func (b *Budget) fairShare() int {
	p := max(b.procs.Load(), 1)
	return int((b.size.Load() + p - 1) / p)
}

// waiter is a Take waiting for a lease released in this process.
type waiter struct{ ch chan *lease }

func (b *Budget) poke() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Join implements [pool.SharedBudget]. The MinSize of this process's pools
// must fit in its local share, or they could not all be warm without Redis.
func (b *Budget) Join(m *pool.BudgetMember) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	sum := m.MinSize()
	for _, o := range b.members {
		sum += o.MinSize()
	}
	if sum > b.localCap {
		return &pool.ConfigError{Pool: m.Name, Field: "Budget", Value: b.cfg.Name,
			Reason: fmt.Sprintf("the MinSize of this process's pools sharing fleet budget %q adds up to %d, more than its local share (Size %d ÷ ExpectedInstances %d = %d)",
				b.cfg.Name, sum, b.size.Load(), b.cfg.ExpectedInstances, b.localCap)}
	}
	b.members = append(b.members, m)
	return nil
}

// Leave implements [pool.SharedBudget].
func (b *Budget) Leave(m *pool.BudgetMember) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, o := range b.members {
		if o == m {
			b.members = append(b.members[:i], b.members[i+1:]...)
			return
		}
	}
}

// Starved implements [pool.SharedBudget] without a network call: it reports
// whether a Take of this process waits, or this process holds more than it
// should (above its fair share while another process is starved, above its
// local share while Redis is unreachable, or leases Redis dropped).
//
// A Take waiting in this process counts only when the process has two or
// more pools on the budget: a single pool's own creator waiting gains
// nothing from the pool closing a resource it just got back.
func (b *Budget) Starved() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return (b.takers > 0 && len(b.members) > 1) || b.lost > 0 || !b.mayKeepLocked()
}

// BudgetStats implements [pool.SharedBudget]: Size and Used are the fleet's
// cap and use as last read from Redis, or while degraded the local share
// and this process's own use; Pools and Waiting are this process's.
func (b *Budget) BudgetStats() pool.BudgetStats {
	s := b.Stats()
	size, used := s.Size, s.FleetUsed
	if s.Degraded {
		// The local share is the cap now: a pool that times out on it
		// says the budget was the limit.
		size, used = s.LocalShare, s.Held
	}
	return pool.BudgetStats{Size: size, Used: used, Pools: s.Pools, Waiting: s.Waiting}
}

// Stats returns a snapshot of the budget as this process sees it, without
// a network call.
func (b *Budget) Stats() BudgetStats {
	b.mu.Lock()
	s := BudgetStats{
		Held:    len(b.held),
		Waiting: b.takers,
		Pools:   len(b.members),
		Lost:    b.lost,
	}
	b.mu.Unlock()
	s.Size = int(b.size.Load())
	s.FleetUsed = int(b.fleetUsed.Load())
	s.Processes = int(b.procs.Load())
	s.FairShare = b.fairShare()
	s.LocalShare = b.localCap
	s.Degraded = b.degraded.Load()
	s.Starved = b.fleetStarved.Load()
	s.Takes = b.stats.takes.Load()
	s.Waited = b.stats.waited.Load()
	s.Handoffs = b.stats.handoffs.Load()
	s.Reclaimed = b.stats.reclaimed.Load()
	s.FallbackTakes = b.stats.fallbackTakes.Load()
	s.RedisErrors = b.stats.redisErrors.Load()
	return s
}

// Take implements [pool.SharedBudget]. It takes a lease in Redis, or, while
// Redis is unreachable, one of the local share. When the fleet is at Size it
// marks this process starved, asks this process's other pools to close an
// idle resource, and waits for a release (here or, through pub/sub,
// elsewhere), retrying every PollInterval.
//
// On success the caller owns the returned share and must Release it once.
// On failure it returns ErrClosed, or an error wrapping ctx's, and holds
// nothing.
func (b *Budget) Take(ctx context.Context, m *pool.BudgetMember) (pool.Share, error) {
	waited := false
	var w *waiter
	defer func() {
		if waited {
			b.mu.Lock()
			b.takers--
			b.mu.Unlock()
		}
	}()
	for {
		if w != nil {
			// A lease handed over while we were away stays ours.
			select {
			case l := <-w.ch:
				return l, nil
			default:
			}
		}
		l, wake, err := b.tryTake(ctx, w)
		if err != nil {
			if w != nil {
				if hl := b.dropWaiter(w); hl != nil {
					hl.Release()
				}
			}
			return nil, err
		}
		if l != nil {
			b.stats.takes.Add(1)
			return l, nil
		}
		if !waited {
			waited = true
			b.stats.waited.Add(1)
			b.mu.Lock()
			b.takers++
			w = &waiter{ch: make(chan *lease, 1)}
			b.waiters = append(b.waiters, w)
			others := make([]*pool.BudgetMember, 0, len(b.members))
			for _, o := range b.members {
				if o != m {
					others = append(others, o)
				}
			}
			b.mu.Unlock()
			for _, o := range others {
				if o.ReclaimIdle() {
					b.stats.reclaimed.Add(1)
					break
				}
			}
			b.poke() // mark us starved in Redis now
		}
		t := time.NewTimer(b.cfg.PollInterval)
		select {
		case l := <-w.ch:
			t.Stop()
			b.stats.takes.Add(1)
			return l, nil
		case <-wake:
		case <-t.C:
		case <-b.stop:
		case <-ctx.Done():
			t.Stop()
			if l := b.dropWaiter(w); l != nil {
				return l, nil
			}
			return nil, fmt.Errorf("fleet: waiting for a lease of budget %q: %w", b.cfg.Name, ctx.Err())
		}
		t.Stop()
	}
}

// dropWaiter removes w from the line, returning a lease handed to it
// meanwhile.
func (b *Budget) dropWaiter(w *waiter) *lease {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, o := range b.waiters {
		if o == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			return nil
		}
	}
	select {
	case l := <-w.ch:
		return l
	default:
		return nil
	}
}

// tryTake makes one attempt. It returns the lease, or the channel closed on
// the next release notice, or an error.
func (b *Budget) tryTake(ctx context.Context, w *waiter) (*lease, <-chan struct{}, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, nil, ErrClosed
	}
	wake := b.wake
	degraded := b.degraded.Load()
	if degraded {
		if len(b.held) < b.localCap {
			l := b.newLeaseLocked()
			b.removeWaiterLocked(w)
			b.mu.Unlock()
			b.stats.fallbackTakes.Add(1)
			return l, nil, nil
		}
		b.mu.Unlock()
		return nil, wake, nil
	}
	if b.fleetStarved.Load() && len(b.held) >= b.fairShare() {
		// Another process waits and we have our share: leave the room to it.
		b.mu.Unlock()
		return nil, wake, nil
	}
	id := b.id + ":" + strconv.FormatUint(b.counter.Add(1), 36)
	size := b.size.Load()
	b.mu.Unlock()

	opCtx, cancel := context.WithTimeout(ctx, b.cfg.OpTimeout)
	res, err := takeScript.Run(opCtx, b.rdb, b.keys[:1], size, b.cfg.LeaseTTL.Milliseconds(), id).Int64Slice()
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			// We gave up, not Redis; the lease may have been added: drop it.
			b.queueRelease(id)
			return nil, nil, fmt.Errorf("fleet: waiting for a lease of budget %q: %w", b.cfg.Name, ctx.Err())
		}
		b.redisFailed(err)
		b.queueRelease(id) // in case the script ran but its answer was lost
		return b.tryTake(ctx, w)
	}
	b.fleetUsed.Store(res[1])
	if res[0] != 1 {
		return nil, wake, nil
	}
	b.mu.Lock()
	l := &lease{b: b, id: id}
	b.held[id] = l
	b.removeWaiterLocked(w)
	b.mu.Unlock()
	return l, nil, nil
}

func (b *Budget) newLeaseLocked() *lease {
	id := b.id + ":" + strconv.FormatUint(b.counter.Add(1), 36)
	l := &lease{b: b, id: id}
	b.held[id] = l
	return l
}

// removeWaiterLocked takes w out of the line after it got a lease by its
// own attempt; a lease handed to it meanwhile goes back.
func (b *Budget) removeWaiterLocked(w *waiter) {
	if w == nil {
		return
	}
	for i, o := range b.waiters {
		if o == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			return
		}
	}
	select {
	case l := <-w.ch: // handed over just now: we have one already
		delete(b.held, l.id)
		b.releasing = append(b.releasing, l.id)
		b.poke()
	default:
	}
}

func (b *Budget) queueRelease(id string) {
	b.mu.Lock()
	b.releasing = append(b.releasing, id)
	b.mu.Unlock()
	b.poke()
}

// redisFailed switches to the local share.
func (b *Budget) redisFailed(err error) {
	b.stats.redisErrors.Add(1)
	if b.degraded.CompareAndSwap(false, true) {
		b.mu.Lock()
		b.degradedAt = time.Now()
		held := len(b.held)
		b.mu.Unlock()
		b.log.Warn("fleet: Redis unreachable; using the local share of the budget until it answers",
			"err", err, "local_share", b.localCap, "size", b.size.Load(),
			"expected_instances", b.cfg.ExpectedInstances, "held", held)
		b.notify()
	}
}

func (b *Budget) redisOK() {
	if b.degraded.CompareAndSwap(true, false) {
		b.mu.Lock()
		since := time.Since(b.degradedAt)
		b.mu.Unlock()
		b.log.Info("fleet: Redis answers again; the fleet-wide budget applies", "degraded_for", since.Round(time.Millisecond))
		b.notify()
	}
}

// notify wakes every waiting Take.
func (b *Budget) notify() {
	b.mu.Lock()
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// listen turns release notices into wake-ups.
func (b *Budget) listen(sub *redis.PubSub) {
	defer b.done.Done()
	// Closed however the loop ends: go-redis keeps a goroutine per open
	// subscription, also after its client was closed.
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-b.stop:
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			b.notify()
		}
	}
}

// loop is the budget's heartbeat: it sends queued releases, renews leases
// every LeaseTTL/3, marks this process starved while a Take waits, reads
// the fleet's state every PollInterval, and reclaims idle resources for a
// starved process.
func (b *Budget) loop() {
	defer b.done.Done()
	t := time.NewTicker(b.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.kick:
			b.flushReleases()
			b.mu.Lock()
			waiting := b.takers > 0
			b.mu.Unlock()
			if waiting {
				b.tick(false)
			}
		case <-t.C:
			b.flushReleases()
			b.tick(time.Since(b.lastRenew) >= b.cfg.LeaseTTL/3)
			b.reclaim()
		}
	}
}

func (b *Budget) flushReleases() {
	b.mu.Lock()
	ids := b.releasing
	b.releasing = nil
	b.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, b.channel)
	for _, id := range ids {
		args = append(args, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.OpTimeout)
	err := releaseScript.Run(ctx, b.rdb, b.keys[:1], args...).Err()
	cancel()
	if err != nil {
		// The leases expire on their own within LeaseTTL.
		b.redisFailed(err)
		return
	}
	b.redisOK()
}

// tick runs the heartbeat script; with renew, it renews every held lease.
func (b *Budget) tick(renew bool) {
	b.mu.Lock()
	starving := b.takers > 0
	var ids []string
	if renew || b.lost > 0 || b.degraded.Load() {
		renew = true
		ids = make([]string, 0, len(b.held))
		for id := range b.held {
			ids = append(ids, id)
		}
	}
	b.mu.Unlock()
	starvedTTL := int64(0)
	if starving {
		starvedTTL = (3 * b.cfg.PollInterval).Milliseconds()
	}
	args := make([]any, 0, len(ids)+4)
	args = append(args, b.size.Load(), b.cfg.LeaseTTL.Milliseconds(), b.id, starvedTTL)
	for _, id := range ids {
		args = append(args, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.OpTimeout)
	res, err := tickScript.Run(ctx, b.rdb, b.keys, args...).Slice()
	cancel()
	if err != nil {
		b.redisFailed(err)
		return
	}
	if renew {
		b.lastRenew = time.Now()
	}
	wasDegraded := b.degraded.Load()
	b.redisOK()
	b.fleetUsed.Store(res[0].(int64))
	b.procs.Store(max(res[1].(int64), 1))
	b.fleetStarved.Store(res[2].(int64) > 0)
	if renew {
		b.mu.Lock()
		lost := 0
		for _, v := range res[3:] {
			if _, ok := b.held[v.(string)]; ok {
				lost++
			}
		}
		if lost > 0 && (b.lost == 0 || wasDegraded) {
			b.log.Warn("fleet: leases expired while Redis was unreachable and the fleet has no room for them; closing resources as they are released",
				"lost", lost, "held", len(b.held))
		}
		b.lost = lost
		b.mu.Unlock()
	}
}

// reclaim asks this process's pools to close idle resources while another
// process is starved and this one holds more than its fair share (or
// Redis is unreachable and it holds more than its local share).
func (b *Budget) reclaim() {
	for range 64 { // bounded: one idle resource per call
		b.mu.Lock()
		over := b.lost > 0 || !b.mayKeepLocked()
		members := append([]*pool.BudgetMember(nil), b.members...)
		b.mu.Unlock()
		if !over {
			return
		}
		closed := false
		for _, m := range members {
			if m.ReclaimIdle() {
				b.stats.reclaimed.Add(1)
				closed = true
				break
			}
		}
		if !closed {
			return
		}
	}
}

// Close stops the budget's goroutines and removes this process's leases
// and presence from Redis (best effort, bounded by ctx and OpTimeout).
// Close the pools using the budget first: their resources' leases are
// given back as they are destroyed. Take fails with ErrClosed afterwards.
func (b *Budget) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	ids := b.releasing
	b.releasing = nil
	for id := range b.held {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	close(b.stop)
	b.done.Wait()
	b.notify()
	ctx, cancel := context.WithTimeout(ctx, b.cfg.OpTimeout)
	defer cancel()
	pipe := b.rdb.Pipeline()
	if len(ids) > 0 {
		m := make([]any, len(ids))
		for i, id := range ids {
			m[i] = id
		}
		pipe.ZRem(ctx, b.keys[0], m...)
		pipe.Publish(ctx, b.channel, len(ids))
	}
	pipe.ZRem(ctx, b.keys[1], b.id)
	pipe.ZRem(ctx, b.keys[2], b.id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("fleet: closing budget %q: %w", b.cfg.Name, err)
	}
	return nil
}

// isNil reports a nil client, typed nils included (a *redis.Client
// variable never set): either would panic at the first call.
func isNil(c redis.UniversalClient) bool {
	if c == nil {
		return true
	}
	v := reflect.ValueOf(c)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
