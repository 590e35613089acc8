package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// SharedBudget caps the open resources of every pool that shares it. The
// pool takes one [Share] before each Create and gives it back when that
// resource is destroyed (or the Create failed). [*Budget] is the in-process
// form; package fleet keeps the count in Redis so that many processes share
// one cap.
//
// Implementations must be safe for concurrent use. The pool calls Join once
// from [New] and Leave once when [Pool.Close] has given every share back;
// Take runs in the pool's creator goroutines, never on Acquire's fast path;
// Starved runs on Release and must be cheap (no network round trip).
type SharedBudget interface {
	// Join registers a pool. It returns an error (a *ConfigError naming
	// Budget) when the pool cannot share the budget, for example when the
	// MinSize of its pools would add up to more than the budget.
	Join(m *BudgetMember) error
	// Leave unregisters a pool that Join accepted.
	Leave(m *BudgetMember)
	// Take reserves one share for a resource m is about to create. It
	// waits until a share is free or ctx ends; while it waits it may ask
	// other members to reclaim idle resources. On success the caller owns
	// the Share and must Release it exactly once. On failure it returns an
	// error wrapping ctx's and holds nothing.
	Take(ctx context.Context, m *BudgetMember) (Share, error)
	// Starved reports whether some member is waiting in Take now (or the
	// budget is over its size, after it shrank), so a pool releasing a
	// resource beyond its MinSize should destroy it rather than keep it
	// idle.
	Starved() bool
	// BudgetStats returns the budget's size and use. [Pool.Stats] calls
	// it, so it must be cheap (no network round trip).
	BudgetStats() BudgetStats
}

// Share is one resource's part of a [SharedBudget].
type Share interface {
	// Release gives the share back. It is called exactly once.
	Release()
}

// BudgetMember is a pool as a [SharedBudget] sees it. The pool makes one
// and passes the same pointer to Join, Take and Leave.
type BudgetMember struct {
	// Name is the pool's name.
	Name string
	// MinSize returns the pool's MinSize now.
	MinSize func() int
	// ReclaimIdle asks the pool to destroy its least recently used idle
	// resource, if it can without going below MinSize, for a starved
	// sibling; it reports whether it did.
	ReclaimIdle func() bool
}

// BudgetStats describes a [SharedBudget]: its cap and its use.
type BudgetStats struct {
	Size    int // the cap on open resources across all members
	Used    int // shares held now
	Pools   int // members now (in this process, for a fleet budget)
	Waiting int // Take calls waiting now (in this process)
}

// Budget caps the open resources of every pool that shares it: the
// in-process form of a global connection budget (say, what one process may
// open against a database server across its primary and replica pools).
// A pool that finds the budget spent asks its siblings to close one idle
// resource each, oldest first and never below their MinSize, then waits its
// turn; waiters across pools are served in arrival order. Its size can
// change at run time ([Budget.SetSize]).
//
// A Budget is safe for concurrent use. Its zero value is not usable: call
// [NewBudget].
type Budget struct {
	mu      sync.Mutex
	size    int
	used    int
	queue   []chan struct{} // Take calls waiting, oldest first; closed when granted
	members []*BudgetMember
	// starved mirrors len(queue) > 0 || used > size, for Starved without
	// the lock.
	starved atomic.Bool
}

var _ SharedBudget = (*Budget)(nil)

// NewBudget returns a budget of size resources. size must be > 0.
func NewBudget(size int) (*Budget, error) {
	if size <= 0 {
		return nil, &ConfigError{Pool: "budget", Op: "NewBudget", Field: "size", Value: size, Reason: "must be > 0"}
	}
	return &Budget{size: size}, nil
}

// Size returns the budget's capacity.
func (b *Budget) Size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size
}

// Used returns how many resources, across all its pools, hold a share of
// the budget now. After the budget shrank it may exceed Size until enough
// are destroyed.
func (b *Budget) Used() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// SetSize changes the budget's capacity at run time. n must be > 0;
// otherwise SetSize returns an error naming n and changes nothing, and
// when n is below the MinSize of its pools added up, it returns a
// *ConfigError naming them.
//
// Growing it serves waiting pools at once. Shrinking it never takes a
// resource from its holder: the pools' idle resources beyond their MinSize
// are closed now, oldest first, until the budget fits, and released ones
// are destroyed rather than kept idle while it does not.
func (b *Budget) SetSize(n int) error {
	if n <= 0 {
		return &ConfigError{Pool: "budget", Op: "Budget.SetSize", Field: "n", Value: n, Reason: "must be > 0"}
	}
	b.mu.Lock()
	if sum := b.minSizeLocked(nil, 0); sum > n {
		b.mu.Unlock()
		return &ConfigError{Pool: "budget", Op: "Budget.SetSize", Field: "n", Value: n,
			Reason: fmt.Sprintf("the MinSize of the pools sharing it adds up to %d, more than that", sum)}
	}
	b.size = n
	b.grantLocked()
	members := slices.Clone(b.members)
	b.mu.Unlock()
	// Bounded: each round closes one idle resource or stops.
	for b.over() {
		reclaimed := false
		for _, m := range members {
			if b.over() {
				reclaimed = m.ReclaimIdle() || reclaimed
			}
		}
		if !reclaimed {
			break
		}
	}
	return nil
}

func (b *Budget) over() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used > b.size
}

// BudgetStats implements [SharedBudget].
func (b *Budget) BudgetStats() BudgetStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BudgetStats{Size: b.size, Used: b.used, Pools: len(b.members), Waiting: len(b.queue)}
}

// Starved implements [SharedBudget].
func (b *Budget) Starved() bool { return b.starved.Load() }

// Join implements [SharedBudget]. The MinSize of all pools must fit in the
// budget, or they could never all be warm.
func (b *Budget) Join(m *BudgetMember) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sum := b.minSizeLocked(nil, 0) + m.MinSize(); sum > b.size {
		return &ConfigError{Pool: m.Name, Field: "Budget", Value: b.size,
			Reason: fmt.Sprintf("the MinSize of the pools sharing it adds up to %d, more than its size", sum)}
	}
	b.members = append(b.members, m)
	return nil
}

// checkMinSize reports whether m may set its MinSize to n.
func (b *Budget) checkMinSize(m *BudgetMember, n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sum := b.minSizeLocked(m, n); sum > b.size {
		return fmt.Errorf("the MinSize of the pools sharing its budget would add up to %d, more than the budget's size %d", sum, b.size)
	}
	return nil
}

// minSizeLocked adds up the members' MinSize, counting n for m.
func (b *Budget) minSizeLocked(m *BudgetMember, n int) int {
	sum := 0
	for _, o := range b.members {
		if o == m {
			sum += n
		} else {
			sum += o.MinSize()
		}
	}
	return sum
}

// Leave implements [SharedBudget].
func (b *Budget) Leave(m *BudgetMember) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.members, m); i >= 0 {
		b.members = slices.Delete(b.members, i, i+1)
	}
}

// Take implements [SharedBudget].
func (b *Budget) Take(ctx context.Context, self *BudgetMember) (Share, error) {
	b.mu.Lock()
	if b.used < b.size && len(b.queue) == 0 {
		b.used++
		b.mu.Unlock()
		return budgetShare{b}, nil
	}
	ready := make(chan struct{})
	b.queue = append(b.queue, ready)
	b.updateLocked()
	others := make([]*BudgetMember, 0, len(b.members))
	for _, m := range b.members {
		if m != self {
			others = append(others, m)
		}
	}
	b.mu.Unlock()
	for _, o := range others {
		if o.ReclaimIdle() {
			break
		}
	}
	select {
	case <-ready:
		return budgetShare{b}, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-ready: // granted as ctx ended: give it back
		b.used--
		b.grantLocked()
	default:
		b.queue = slices.DeleteFunc(b.queue, func(c chan struct{}) bool { return c == ready })
		b.updateLocked()
	}
	return nil, errors.Join(errBudgetWait, ctx.Err())
}

// grantLocked gives free shares to the oldest waiting Take calls.
func (b *Budget) grantLocked() {
	for len(b.queue) > 0 && b.used < b.size {
		close(b.queue[0])
		b.queue[0] = nil
		b.queue = b.queue[1:]
		b.used++
	}
	b.updateLocked()
}

func (b *Budget) updateLocked() { b.starved.Store(len(b.queue) > 0 || b.used > b.size) }

var errBudgetWait = errors.New("pool: waiting for budget")

// budgetShare is pointer-shaped, so returning it as a Share allocates
// nothing.
type budgetShare struct{ b *Budget }

func (s budgetShare) Release() {
	s.b.mu.Lock()
	s.b.used--
	s.b.grantLocked()
	s.b.mu.Unlock()
}
