package pool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

var errRefused = errors.New("connection refused")

// A pool with nothing open whose Create fails gives that error to every
// waiter at once, not at their deadline.
func TestDeadBackendFailsEveryWaiterAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{createDur: 10 * time.Millisecond} // a refused connect takes a moment
		b.setDown(errRefused)
		p := newPool(t, b, Config[*conn]{Name: "db", MaxSize: 4, AcquireTimeout: 2 * time.Second})
		start := time.Now()
		var wg sync.WaitGroup
		var createErrs atomic.Int64
		for range 16 {
			wg.Go(func() {
				_, err := p.Acquire(context.Background())
				var ce *CreateError
				if errors.As(err, &ce) && errors.Is(err, errRefused) && ce.Pool == "db" {
					createErrs.Add(1)
				} else {
					t.Errorf("Acquire: %v, want a *CreateError wrapping %v", err, errRefused)
				}
			})
		}
		wg.Wait()
		if d := time.Since(start); d > 10*time.Millisecond {
			t.Errorf("callers failed after %v, want as soon as the first Create failed (10ms)", d)
		}
		if n := createErrs.Load(); n != 16 {
			t.Errorf("%d of 16 callers got the Create error", n)
		}
	})
}

// While the backoff lasts, new callers fail at once with the last Create
// error, and no Create is attempted for them.
func TestNewCallersFailFastDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		b.setDown(errRefused)
		p := newPool(t, b, Config[*conn]{MaxSize: 4, AcquireTimeout: 2 * time.Second})
		if _, err := p.Acquire(context.Background()); !errors.Is(err, errRefused) {
			t.Fatalf("first Acquire: %v", err)
		}
		creates, _, _ := b.count()
		start := time.Now()
		for range 5 {
			_, err := p.Acquire(context.Background())
			var ce *CreateError
			if !errors.As(err, &ce) || !errors.Is(err, errRefused) {
				t.Errorf("Acquire during backoff: %v, want the *CreateError", err)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("failing fast took %v", d)
		}
		if now, _, _ := b.count(); now != creates {
			t.Errorf("%d Creates during the backoff, want none", now-creates)
		}
		if s := p.Stats(); s.FailedFast != 5 {
			t.Errorf("FailedFast = %d, want 5", s.FailedFast)
		}
	})
}

// Against a dead backend the pool tries at most 10 times a second however
// hard callers push, and serves callers within a second of its return.
func TestDeadBackendRateAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		b.setDown(errRefused)
		p := newPool(t, b, Config[*conn]{MaxSize: 8, CreateBackoff: time.Millisecond,
			MaxCreateBackoff: time.Minute, AcquireTimeout: 5 * time.Second})
		stop := make(chan struct{})
		var firstOK atomic.Int64 // ns since start of the first success
		start := time.Now()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if r, err := p.Acquire(context.Background()); err == nil {
						firstOK.CompareAndSwap(0, int64(time.Since(start)))
						r.Release()
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		time.Sleep(60 * time.Second) // a minute of outage: backoff grows, capped while callers ask
		creates, _, _ := b.count()
		if creates > 10*60+1 {
			t.Errorf("%d Create attempts in 60s of outage, want at most 10 a second", creates)
		}
		if creates < 50 {
			t.Errorf("%d Create attempts in 60s while callers asked, want about one a second at least", creates)
		}
		back := time.Since(start)
		b.setDown(nil)
		time.Sleep(3 * time.Second)
		close(stop)
		wg.Wait()
		ok := time.Duration(firstOK.Load())
		if ok == 0 || ok-back > DemandRetryInterval {
			t.Errorf("first caller served %v after the backend returned, want within %v", ok-back, DemandRetryInterval)
		}
	})
}

// A pool that still has resources open keeps its callers waiting for
// them when Create fails, rather than failing them.
func TestOpenResourcesKeepWaitersWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 2, AcquireTimeout: 5 * time.Second})
		held := mustAcquire(t, p)
		b.setDown(errRefused)
		go func() {
			time.Sleep(time.Second)
			release(held)
		}()
		start := time.Now()
		r, err := p.Acquire(context.Background()) // its Create fails; held comes back after 1s
		if err != nil {
			t.Fatalf("Acquire: %v, want the released resource", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("served after %v, want 1s (when held came back)", d)
		}
		release(r)
		if s := p.Stats(); s.CreateErrors == 0 {
			t.Errorf("CreateErrors = 0: the test did not exercise a failing Create")
		}
	})
}
