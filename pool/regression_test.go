package pool

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func mk(t *testing.T, cfg Config[*conn]) *Pool[*conn] {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Found in review (R1): a stale second Release while the maintainer is health-checking the
// idle resource is not detected: the resource ends up idle twice and is lent twice.
func TestRegressionDoubleReleaseDuringBackgroundCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		gate := make(chan struct{})
		var logs logBuffer
		p := mk(t, Config[*conn]{MaxSize: 2, Create: b.create, Destroy: b.destroy,
			HealthCheckPeriod: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			Check: func(ctx context.Context, c *conn) error { <-gate; return nil }})
		r, _ := p.Acquire(context.Background())
		r.Release()
		time.Sleep(2 * time.Second) // maintainer takes r for its check, blocks in Check
		synctest.Wait()
		r.Release() // stale double Release: must be logged and ignored
		close(gate)
		synctest.Wait()
		s := p.Stats()
		t.Logf("stats: open %d idle %d inUse %d; misuse logged: %v", s.Open, s.Idle, s.InUse, strings.Contains(logs.String(), "not in use"))
		r1, _ := p.Acquire(context.Background())
		r2, _ := p.Acquire(context.Background())
		if r1 == r2 {
			t.Errorf("the same resource was lent twice")
		}
		if s.Idle != 1 || s.InUse != 0 {
			t.Errorf("Idle %d InUse %d, want 1 and 0", s.Idle, s.InUse)
		}
		r1.Release()
		if r2 != r1 {
			r2.Release()
		}
		closeT(t, p)
	})
}

// Found in review (R2): a released resource later health-checked in the background is reported as a leak.
func TestRegressionBackgroundCheckReportedAsLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		var logs logBuffer
		p := mk(t, Config[*conn]{MaxSize: 1, Create: b.create, Destroy: b.destroy, Check: b.check,
			HealthCheckPeriod: 10 * time.Second, LeakThreshold: time.Second,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		r, _ := p.Acquire(context.Background())
		r.Release() // held ~0s
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if s := p.Stats(); s.Leaks != 0 {
			t.Errorf("Leaks = %d, want 0 (nothing was held); log:\n%.300s", s.Leaks, logs.String())
		}
		closeT(t, p)
	})
}

// Found in review (R3): the budget share of an idle resource in a sibling is never reclaimed for
// a pool already waiting on the budget: its waiter times out while the sibling idles.
func TestRegressionBudgetStarvedWhileSiblingIdle(t *testing.T) {
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

// Found in review (R4): resources created for callers who gave up go idle beyond MaxIdle.
func TestRegressionMaxIdleExceededByAbandonedCreates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{createDur: time.Second}
		p := mk(t, Config[*conn]{MaxSize: 4, MaxIdle: 1, Create: b.create, Destroy: b.destroy})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { p.Acquire(ctx) })
		}
		wg.Wait()
		cancel()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if s := p.Stats(); s.Idle > 1 {
			t.Errorf("Idle = %d > MaxIdle 1", s.Idle)
		}
		closeT(t, p)
	})
}

// Found in review (R5): IdleTimeout takes the pool below MinSize while a Destroy is in flight
// (open counts Destroying ones), and the pool then re-creates: churn.
func TestRegressionIdleTimeoutBelowMinSizeWhileDestroying(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		slow := make(chan struct{})
		p := mk(t, Config[*conn]{MinSize: 2, MaxSize: 3, IdleTimeout: time.Second, Create: b.create,
			Destroy: func(c *conn) {
				if c.id == 3 {
					<-slow
				}
			}})
		r1, _ := p.Acquire(context.Background())
		r2, _ := p.Acquire(context.Background())
		r3, _ := p.Acquire(context.Background())
		go r3.Destroy() // broken; its Destroy takes a while
		synctest.Wait()
		r1.Release()
		r2.Release()
		time.Sleep(2 * time.Second) // both idle past IdleTimeout
		synctest.Wait()
		s := p.Stats()
		close(slow)
		synctest.Wait()
		if s.Destroyed.Idle != 0 {
			t.Errorf("IdleTimeout retired %d of the 2 resources MinSize keeps (Open %d incl. Destroying %d); Created later: %d",
				s.Destroyed.Idle, s.Open, s.Destroying, p.Stats().Created)
		}
		closeT(t, p)
	})
}

// Found in review (R6): an Acquire whose check straddles Close returns a resource from a closed pool.
func TestRegressionAcquireSucceedsAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		hold := make(chan struct{})
		p := mk(t, Config[*conn]{MaxSize: 1, Create: b.create, Destroy: b.destroy, CheckAfterIdle: -1,
			Check: func(ctx context.Context, c *conn) error { <-hold; return nil }})
		r, _ := p.Acquire(context.Background()) // created: no check
		r.Release()
		got := make(chan error, 1)
		go func() {
			r, err := p.Acquire(context.Background()) // pops r, runs Check
			if err == nil {
				r.Release()
			}
			got <- err
		}()
		synctest.Wait()
		closed := make(chan error, 1)
		go func() { closed <- p.Close(context.Background()) }()
		synctest.Wait()
		close(hold)
		if err := <-got; !errors.Is(err, ErrClosed) {
			t.Errorf("Acquire after Close began: err = %v, want ErrClosed", err)
		}
		<-closed
	})
}

// Found in review (R7): a caller's deadline during check-on-acquire destroys a healthy
// resource as CheckFailed, without counting CheckFailures or Timeouts.
func TestRegressionCanceledCheckDestroysHealthyResource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := mk(t, Config[*conn]{MaxSize: 1, Create: b.create, Destroy: b.destroy, CheckAfterIdle: -1,
			Check: func(ctx context.Context, c *conn) error {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Second): // slow but healthy
					return nil
				}
			}})
		r, _ := p.Acquire(context.Background())
		r.Release()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := p.Acquire(ctx)
		s := p.Stats()
		t.Logf("err=%v", err)
		if s.Destroyed.CheckFailed != s.CheckFailures || s.Timeouts != 1 || s.Open != 1 {
			t.Errorf("Destroyed.CheckFailed %d, CheckFailures %d, Timeouts %d, Open %d; want 0,0,1,1",
				s.Destroyed.CheckFailed, s.CheckFailures, s.Timeouts, s.Open)
		}
		closeT(t, p)
	})
}

// Found in review (R8): a zero Budget passes New and crashes the process in a background goroutine.
func TestRegressionZeroBudget(t *testing.T) {
	b := &backend{}
	p, err := New(Config[*conn]{MaxSize: 1, Create: b.create, Budget: &Budget{}})
	if err == nil {
		t.Log("New accepted a zero Budget; Acquire:")
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p.Acquire(ctx)
	}
}

func closeT(t *testing.T, p *Pool[*conn]) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// Found in review (R9): a waiter whose ctx ends as a resource is handed to it puts the resource
// back with putBackLocked even when Close ran in between: it sits idle in a
// closed pool, never destroyed, and Close never returns. p.mu is held only to
// order the three goroutines (Release, Close, the waiter) into that interleaving.
func TestRegressionAbandonedHandOffAfterClose(t *testing.T) {
	b := &backend{}
	p := mk(t, Config[*conn]{MaxSize: 1, Create: b.create, Destroy: b.destroy})
	held, _ := p.Acquire(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		r, err := p.Acquire(ctx)
		if err == nil {
			r.Release()
		}
		done <- err
	}()
	for p.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	p.mu.Lock()
	go held.Release() // 1st in line for p.mu: hands held to the waiter
	time.Sleep(20 * time.Millisecond)
	closed := make(chan error, 1)
	go func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		defer ccancel()
		closed <- p.Close(cctx) // 2nd in line
	}()
	time.Sleep(20 * time.Millisecond)
	cancel() // the waiter gives up; 3rd in line for p.mu
	time.Sleep(20 * time.Millisecond)
	p.mu.Unlock()
	t.Logf("waiter: %v", <-done)
	if err := <-closed; err != nil {
		s := p.Stats()
		t.Errorf("%v; stats: open %d idle %d; conn destroyed: %v", err, s.Open, s.Idle, b.conns[0].destroyed.Load())
	}
}
