package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// Budget caps the open resources of every pool that shares it: the
// in-process form of a global connection budget (say, what one process may
// open against a database server across its primary and replica pools).
// A pool that finds the budget spent asks its siblings to close one idle
// resource each, oldest first and never below their MinSize, then waits its
// turn; waiters across pools are served in arrival order.
//
// A Budget is safe for concurrent use. Its zero value is not usable: call
// [NewBudget].
type Budget struct {
	size    int64
	sem     *semaphore.Weighted
	used    atomic.Int64
	starved atomic.Int64 // creators blocked in acquire

	mu      sync.Mutex
	members []member
}

type member struct {
	p       reclaimer
	name    string
	minSize int
}

// reclaimer is a pool that can close an idle resource for a sibling.
type reclaimer interface {
	reclaimIdle() bool
}

// NewBudget returns a budget of size resources. size must be > 0.
func NewBudget(size int) (*Budget, error) {
	if size <= 0 {
		return nil, fmt.Errorf("pool: NewBudget: size = %d: must be > 0", size)
	}
	return &Budget{size: int64(size), sem: semaphore.NewWeighted(int64(size))}, nil
}

// Size returns the budget's capacity.
func (b *Budget) Size() int { return int(b.size) }

// Used returns how many resources, across all its pools, hold a share of
// the budget now.
func (b *Budget) Used() int { return int(b.used.Load()) }

// join registers a pool. The MinSize of all pools must fit in the budget,
// or they could never all be warm.
func (b *Budget) join(p reclaimer, name string, minSize int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	sum := minSize
	for _, m := range b.members {
		sum += m.minSize
	}
	if int64(sum) > b.size {
		return &ConfigError{Pool: name, Field: "Budget", Value: b.size,
			Reason: fmt.Sprintf("the MinSize of the pools sharing it adds up to %d, more than its size", sum)}
	}
	b.members = append(b.members, member{p: p, name: name, minSize: minSize})
	return nil
}

func (b *Budget) leave(p reclaimer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, m := range b.members {
		if m.p == p {
			b.members = append(b.members[:i], b.members[i+1:]...)
			return
		}
	}
}

// acquire takes one share for a Create of self. On failure (ctx ended) it
// returns ctx's error and holds nothing.
func (b *Budget) acquire(ctx context.Context, self reclaimer) error {
	if b.sem.TryAcquire(1) {
		b.used.Add(1)
		return nil
	}
	b.mu.Lock()
	others := make([]reclaimer, 0, len(b.members))
	for _, m := range b.members {
		if m.p != self {
			others = append(others, m.p)
		}
	}
	b.mu.Unlock()
	for _, o := range others {
		if o.reclaimIdle() {
			break
		}
	}
	b.starved.Add(1)
	defer b.starved.Add(-1)
	if err := b.sem.Acquire(ctx, 1); err != nil {
		return errors.Join(errBudgetWait, err)
	}
	b.used.Add(1)
	return nil
}

var errBudgetWait = errors.New("pool: waiting for budget")

func (b *Budget) release() {
	b.used.Add(-1)
	b.sem.Release(1)
}
