package pool

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// the budget share of an idle resource in a sibling is never reclaimed for
// a pool already waiting on the budget: its waiter times out while the sibling idles.
func TestBudgetReclaimsSiblingIdleForWaitingPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget, _ := NewBudget(1)
		ba, bb := &backend{}, &backend{}
		a := mk(t, Config[*conn]{Name: "a", MaxSize: 1, Create: ba.create, Budget: budget})
		bp := mk(t, Config[*conn]{Name: "b", MaxSize: 1, Create: bb.create, Budget: budget})
		held, _ := bp.Acquire(context.Background())
		errc := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r, err := a.Acquire(ctx)
			if err == nil {
				r.Release()
			}
			errc <- err
		}()
		synctest.Wait() // a's creator is blocked on the budget
		held.Release()  // b's resource goes idle: b does not need it, a does
		if err := <-errc; err != nil {
			t.Errorf("a: %v (b: %+v)", err, bp.Stats().Idle)
		}
		closeT(t, a)
		closeT(t, bp)
	})
}

func TestNewRefusesZeroBudget(t *testing.T) {
	b := &backend{}
	_, err := New(Config[*conn]{MaxSize: 1, Create: b.create, Budget: &Budget{}})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "Budget" || !strings.Contains(err.Error(), "NewBudget") {
		t.Errorf("New with a zero Budget: %v, want a *ConfigError naming Budget", err)
	}
}

// A timeout caused by a spent budget says so, with the budget's size and
// use, and Stats shows the budget.
func TestBudgetShowsInStatsAndTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget, _ := NewBudget(2)
		ba, bb := &backend{}, &backend{}
		a := newPool(t, ba, Config[*conn]{Name: "primary", MaxSize: 4, Budget: budget})
		rep := newPool(t, bb, Config[*conn]{Name: "replica", MaxSize: 4, Budget: budget, AcquireTimeout: time.Second})
		r1, r2 := mustAcquire(t, a), mustAcquire(t, a)
		if s := a.Stats(); s.Budget != (BudgetStats{Size: 2, Used: 2, Pools: 2}) {
			t.Errorf("Stats.Budget = %+v", s.Budget)
		}
		_, err := rep.Acquire(context.Background())
		var te *TimeoutError
		if !errors.As(err, &te) || !te.BudgetLimited || !strings.Contains(err.Error(), "budget 2/2 in use by 2 pools") {
			t.Errorf("timeout: %v; want it to name the budget as the limit", err)
		}
		if s := newPoolStats(t); s.Budget != (BudgetStats{}) {
			t.Errorf("a pool without a budget shows %+v", s.Budget)
		}
		release(r1)
		release(r2)
	})
}

func newPoolStats(t *testing.T) Stats {
	return newPool(t, &backend{}, Config[*conn]{MaxSize: 1}).Stats()
}

// Growing a budget serves the pools waiting on it at once.
func TestBudgetSetSizeGrowServesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget, _ := NewBudget(1)
		p := newPool(t, &backend{}, Config[*conn]{MaxSize: 4, Budget: budget})
		held := mustAcquire(t, p)
		got := make(chan *Resource[*conn])
		go func() { got <- mustAcquire(t, p) }()
		synctest.Wait()
		if err := budget.SetSize(2); err != nil {
			t.Fatal(err)
		}
		r := <-got // served without a Release
		if budget.Size() != 2 || budget.Used() != 2 {
			t.Errorf("budget %d/%d, want 2/2", budget.Used(), budget.Size())
		}
		release(r)
		release(held)
	})
}

// Shrinking a budget never takes a resource from its holder: idle ones
// beyond MinSize close now, released ones close while it is over.
func TestBudgetSetSizeShrinkWaitsForHolders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget, _ := NewBudget(4)
		p := newPool(t, &backend{}, Config[*conn]{MaxSize: 4, Budget: budget})
		var rs []*Resource[*conn]
		for range 4 {
			rs = append(rs, mustAcquire(t, p))
		}
		release(rs[0]) // 1 idle, 3 held
		if err := budget.SetSize(1); err != nil {
			t.Fatal(err)
		}
		if s := p.Stats(); s.Idle != 0 || s.InUse != 3 || budget.Used() != 3 {
			t.Fatalf("after SetSize(1): %+v, budget used %d; want the idle one closed, 3 held", s, budget.Used())
		}
		release(rs[1])
		release(rs[2])
		if budget.Used() != 1 || !rs[1].Value().destroyed.Load() {
			t.Errorf("budget used %d after 2 releases over budget, want 1", budget.Used())
		}
		release(rs[3]) // the budget fits now: kept idle
		if s := p.Stats(); s.Idle != 1 || budget.Used() != 1 {
			t.Errorf("after the last release: Idle %d, used %d; want 1, 1", s.Idle, budget.Used())
		}
	})
}

func TestBudgetSetSizeRefusesBadValues(t *testing.T) {
	budget, _ := NewBudget(4)
	newPool(t, &backend{}, Config[*conn]{Name: "a", MaxSize: 4, MinSize: 3, Budget: budget})
	var ce *ConfigError
	if err := budget.SetSize(0); !errors.As(err, &ce) || ce.Field != "n" || !strings.Contains(err.Error(), "SetSize(n = 0): must be > 0") {
		t.Errorf("SetSize(0): %v, want a *ConfigError naming n", err)
	}
	if _, err := NewBudget(-1); !errors.As(err, &ce) || ce.Field != "size" || !strings.Contains(err.Error(), "NewBudget(size = -1): must be > 0") {
		t.Errorf("NewBudget(-1): %v, want a *ConfigError naming size", err)
	}
	if err := budget.SetSize(2); err == nil || !strings.Contains(err.Error(), "MinSize") {
		t.Errorf("SetSize below the pools' MinSize: %v", err)
	}
	if budget.Size() != 4 {
		t.Errorf("Size = %d after refused changes, want 4", budget.Size())
	}
}
