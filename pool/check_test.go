package pool

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// a stale second Release while the maintainer is health-checking the
// idle resource is not detected: the resource ends up idle twice and is lent twice.
func TestDoubleReleaseDuringBackgroundCheckIsIgnored(t *testing.T) {
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

// a released resource later health-checked in the background is reported as a leak.
func TestBackgroundCheckIsNotALeak(t *testing.T) {
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

// an Acquire whose check straddles Close returns a resource from a closed pool.
func TestCheckAcrossCloseGetsErrClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		hold := make(chan struct{})
		var checks atomic.Int32
		p := mk(t, Config[*conn]{MaxSize: 1, Create: b.create, Destroy: b.destroy, CheckAfterIdle: -1,
			Check: func(ctx context.Context, c *conn) error {
				if checks.Add(1) > 1 {
					<-hold
				}
				return nil
			}})
		r, _ := p.Acquire(context.Background()) // created: checked at once
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

// a caller's deadline during check-on-acquire destroys a healthy
// resource as CheckFailed, without counting CheckFailures or Timeouts.
func TestDeadlineDuringCheckKeepsHealthyResource(t *testing.T) {
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

// With CheckAfterIdle < 0 every resource is checked before it is lent, a
// resource handed straight from a Release to a waiter included: one that
// died while it was held (the backend restarted) is caught by the check
// and replaced, and the waiter never sees it.
func TestHandOffIsChecked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 1, Check: b.check, CheckAfterIdle: -1, HealthCheckPeriod: -1})
		held := mustAcquire(t, p)
		got := make(chan *Resource[*conn])
		go func() { got <- mustAcquire(t, p) }()
		synctest.Wait() // the caller waits in line
		b.restart()     // held dies while held
		release(held)   // its holder did not notice: handed to the waiter
		r := <-got
		if r.Value().dead.Load() {
			t.Fatalf("waiter was handed dead conn %d unchecked", r.Value().id)
		}
		release(r)
		if s := p.Stats(); s.CheckFailures != 1 || s.Created != 2 {
			t.Errorf("CheckFailures %d, Created %d; want the dead one checked and replaced", s.CheckFailures, s.Created)
		}
	})
}

// The rule is the same on every lending path: a just-created resource is
// checked too when CheckAfterIdle < 0, and is not when it is positive
// (it has not been idle).
func TestNewResourceFollowsTheCheckRule(t *testing.T) {
	for _, tt := range []struct {
		checkAfterIdle time.Duration
		wantChecks     int
	}{
		{-1, 1},
		{0, 0},
	} {
		synctest.Test(t, func(t *testing.T) {
			b := &backend{}
			p := newPool(t, b, Config[*conn]{MaxSize: 1, Check: b.check, CheckAfterIdle: tt.checkAfterIdle, HealthCheckPeriod: -1})
			release(mustAcquire(t, p))
			if _, checks, _ := b.count(); checks != tt.wantChecks {
				t.Errorf("CheckAfterIdle %v: %d checks of a new resource, want %d", tt.checkAfterIdle, checks, tt.wantChecks)
			}
		})
	}
}

// A resource whose check ran out of its caller's time was not proven: when
// it goes on to the next waiter, that waiter checks it too, as it would
// have taken it from the idle set (its idle time is not reset by the
// failed attempt).
func TestUnfinishedCheckHandsOffForChecking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		var checks atomic.Int32
		check := func(ctx context.Context, c *conn) error {
			checks.Add(1)
			if c.dead.Load() {
				<-ctx.Done() // a hung connection
				return ctx.Err()
			}
			return nil
		}
		p := newPool(t, b, Config[*conn]{MaxSize: 1, Check: check, CheckTimeout: time.Second})
		r := mustAcquire(t, p)
		c := r.Value()
		release(r)
		time.Sleep(time.Second) // idle past DefaultCheckAfterIdle
		c.dead.Store(true)
		first := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := p.Acquire(ctx)
			first <- err
		}()
		synctest.Wait() // the first caller is inside Check
		second := make(chan *conn, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r, err := p.Acquire(ctx)
			if err != nil {
				t.Errorf("second caller: %v", err)
				second <- nil
				return
			}
			second <- r.Value()
			release(r)
		}()
		if err := <-first; err == nil {
			t.Fatal("first caller: want a timeout")
		}
		if got := <-second; got == c {
			t.Errorf("the second caller was lent the hung conn after %d check(s); want it checked again (and replaced)", checks.Load())
		}
		if n := checks.Load(); n < 2 {
			t.Errorf("%d check(s); want the hung conn checked again before it is lent", n)
		}
	})
}
