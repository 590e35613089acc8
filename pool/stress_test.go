package pool

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Many callers with random cancellations and short AcquireTimeouts, some
// destroying what they get, with leak detection and checks on or off, and
// Close in the middle: every resource is lent to one caller at a time and
// never after it was destroyed, and the pool's counters agree with what
// the callers saw. It exercises the hand-off racing a caller giving up.
func TestStatsAgreeWithCallersUnderRandomCancels(t *testing.T) {
	for iter := 0; iter < 30; iter++ {
		b := &backend{}
		cfg := Config[*conn]{MaxSize: 3, AcquireTimeout: time.Duration(1+rand.IntN(3)) * time.Millisecond,
			Create: b.create, Destroy: b.destroy}
		if iter%2 == 0 {
			cfg.LeakThreshold = time.Hour
		}
		if iter%3 == 0 {
			cfg.Check = b.check
			cfg.CheckAfterIdle = -1
		}
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var ok, canceled, timeouts, closedN atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 32; g++ {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithCancel(context.Background())
					if rand.IntN(2) == 0 {
						go func() { time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond); cancel() }()
					}
					r, err := p.Acquire(ctx)
					cancel()
					var te *TimeoutError
					switch {
					case err == nil:
						ok.Add(1)
						c := r.Value()
						if c.destroyed.Load() {
							t.Errorf("lent destroyed conn %d", c.id)
						}
						if c.inUse.Swap(true) {
							t.Errorf("conn %d lent twice", c.id)
						}
						time.Sleep(time.Duration(rand.IntN(100)) * time.Microsecond)
						c.inUse.Store(false)
						if rand.IntN(10) == 0 {
							r.Destroy()
						} else {
							r.Release()
						}
					case errors.Is(err, ErrClosed):
						closedN.Add(1)
						return
					case errors.As(err, &te):
						timeouts.Add(1)
					case errors.Is(err, context.Canceled):
						canceled.Add(1)
					default:
						t.Errorf("Acquire: %v", err)
					}
				}
			})
		}
		time.Sleep(30 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		cancel()
		close(stop)
		wg.Wait()
		s := p.Stats()
		if s.Open != 0 || s.InUse != 0 || s.Idle != 0 || s.Waiting != 0 {
			t.Errorf("after Close: %+v", s)
		}
		if int64(s.Acquires) != ok.Load() {
			t.Errorf("Acquires %d != successful Acquires %d", s.Acquires, ok.Load())
		}
		if int64(s.Canceled) != canceled.Load() || int64(s.Timeouts) != timeouts.Load() {
			t.Errorf("Canceled %d (seen %d), Timeouts %d (seen %d)", s.Canceled, canceled.Load(), s.Timeouts, timeouts.Load())
		}
		if s.WaitedAcquires > s.Acquires {
			t.Errorf("WaitedAcquires %d > Acquires %d", s.WaitedAcquires, s.Acquires)
		}
		b.mu.Lock()
		created := len(b.conns)
		b.mu.Unlock()
		if _, _, de := b.count(); de != created {
			t.Errorf("destroys %d != conns created %d", de, created)
		}
	}
}
