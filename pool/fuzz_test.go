package pool

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// FuzzPool drives random sequences of Acquire, Release, Destroy, cancelled
// Acquires, passing time, backend restarts and outages, SetMaxSize,
// SetMinSize and Close against a model of what the caller holds and of the
// limits, and checks the pool's invariants after every step:
//   - Open = Idle + InUse + Creating + Destroying, and Open <= MaxSize
//     except after MaxSize was lowered, while held resources are out (no
//     idle or new ones beyond it then);
//   - the limits are those last set, and a refused change changes nothing;
//   - InUse equals what the model holds (the background never keeps one);
//   - no resource is lent twice, and none destroyed or expired is lent;
//   - after Close and the last Release, nothing is left open.
//
// Time is synctest's fake clock, so a sequence runs in microseconds.
func FuzzPool(f *testing.F) {
	f.Add([]byte{3, 1, 0, 0, 0, 0, 1, 2, 4, 0, 6, 1})
	f.Add([]byte{1, 0, 0, 0, 4, 5, 0, 0, 3, 0, 1, 1, 2, 4, 4, 6})
	f.Add([]byte{2, 2, 3, 1, 0, 5, 0, 4, 4, 4, 0, 0, 0, 3, 1, 2})
	f.Add([]byte{0, 255, 7, 0, 0, 0, 0, 0, 5, 4, 4, 0, 0, 7, 0, 1, 1, 1, 2})
	f.Add([]byte{32, 3, 0, 0, 0, 0, 0, 0, 8, 0, 1, 0, 8, 3, 0, 0, 9, 2, 4, 9, 1, 1})
	// Creators started before Create failed, asleep in the backoff when
	// MaxSize is lowered (see TestOneCreatorRetriesWhileCreateFails).
	f.Add([]byte{106, 112, 88, 38, 238, 33, 250, 77, 31, 219, 96, 14, 95, 231, 178, 35, 102, 62, 159, 71,
		176, 209, 142, 123, 210, 73, 5, 111, 149, 193, 161, 217, 239, 187, 97, 210, 145, 150, 123, 195, 248, 20})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		synctest.Test(t, func(t *testing.T) { runModel(t, data) })
	})
}

func runModel(t *testing.T, data []byte) {
	flags, sizes := data[0], data[1]
	data = data[2:]
	b := &backend{}
	cfg := Config[*conn]{
		Create:  b.create,
		Destroy: b.destroy,
		MaxSize: int(sizes%4) + 1,
	}
	cfg.MinSize = int(sizes/4) % (cfg.MaxSize + 1)
	if flags&1 != 0 {
		cfg.IdleTimeout = time.Minute
	}
	if flags&2 != 0 {
		cfg.MaxLifetime = 5 * time.Minute
	}
	if flags&4 != 0 {
		cfg.Check = b.check
		cfg.HealthCheckPeriod = 2 * time.Minute
	}
	if flags&8 != 0 {
		cfg.MaxUses = 3
	}
	if flags&16 != 0 && cfg.MaxSize > cfg.MinSize && cfg.MinSize > 0 {
		cfg.MaxIdle = cfg.MinSize
	}
	if flags&32 != 0 {
		cfg.AcquireTimeout = time.Second
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	var held []*Resource[*conn]
	closed := false
	now := func() time.Time { return time.Now() }

	minSize, maxSize := cfg.MinSize, cfg.MaxSize
	check := func(step int) {
		t.Helper()
		synctest.Wait()
		s := p.Stats()
		if s.MinSize != minSize || s.MaxSize != maxSize {
			t.Fatalf("step %d: Stats says MinSize %d MaxSize %d, model %d %d", step, s.MinSize, s.MaxSize, minSize, maxSize)
		}
		if s.Open > maxSize && (s.Idle > 0 || s.Creating > 0 || s.Open > len(held)+s.Destroying) {
			t.Fatalf("step %d: Open %d > MaxSize %d with %d idle, %d creating, %d held", step, s.Open, maxSize, s.Idle, s.Creating, len(held))
		}
		if s.Open != s.Idle+s.InUse+s.Creating+s.Destroying {
			t.Fatalf("step %d: Open %d != Idle %d + InUse %d + Creating %d + Destroying %d", step, s.Open, s.Idle, s.InUse, s.Creating, s.Destroying)
		}
		if s.InUse != len(held) {
			t.Fatalf("step %d: InUse %d, model holds %d", step, s.InUse, len(held))
		}
	}
	take := func(step int, r *Resource[*conn]) {
		t.Helper()
		c := r.Value()
		if c.destroyed.Load() {
			t.Fatalf("step %d: lent destroyed conn %d", step, c.id)
		}
		if c.inUse.Swap(true) {
			t.Fatalf("step %d: lent conn %d twice", step, c.id)
		}
		if exp := r.ExpiresAt(); !exp.IsZero() && !now().Before(exp) {
			t.Fatalf("step %d: lent conn %d past its lifetime", step, c.id)
		}
		held = append(held, r)
	}
	pick := func(i byte) (*Resource[*conn], bool) {
		if len(held) == 0 {
			return nil, false
		}
		k := int(i) % len(held)
		r := held[k]
		held = append(held[:k], held[k+1:]...)
		r.Value().inUse.Store(false)
		return r, true
	}

	check(-1)
	for step := 0; step+1 < len(data); step += 2 {
		op, arg := data[step]%10, data[step+1]
		switch op {
		case 0, 7: // Acquire, bounded
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(arg%4)*time.Second+time.Millisecond)
			r, err := p.Acquire(ctx)
			cancel()
			switch {
			case err == nil:
				if closed {
					t.Fatalf("step %d: Acquire succeeded after Close", step)
				}
				take(step, r)
			case closed && !errors.Is(err, ErrClosed):
				t.Fatalf("step %d: Acquire after Close: %v", step, err)
			case !closed && !errors.Is(err, ErrAcquireTimeout) && !isCreateErr(err):
				t.Fatalf("step %d: Acquire: unexpected error %v", step, err)
			}
		case 1: // Release
			if r, ok := pick(arg); ok {
				r.Release()
			}
		case 2: // Destroy
			if r, ok := pick(arg); ok {
				r.Destroy()
			}
		case 3: // a caller that gives up while waiting
			ctx, cancel := context.WithCancel(context.Background())
			got := make(chan *Resource[*conn], 1)
			go func() {
				r, err := p.Acquire(ctx)
				if err != nil {
					r = nil
				}
				got <- r
			}()
			synctest.Wait()
			cancel()
			if r := <-got; r != nil {
				take(step, r)
			}
		case 4: // time passes
			time.Sleep(time.Duration(arg) * time.Second)
		case 5: // the backend restarts: every conn so far is dead
			b.restart()
		case 6: // the backend goes down or comes back
			if arg%2 == 0 {
				b.setDown(errors.New("connection refused"))
			} else {
				b.setDown(nil)
			}
		case 8: // SetMaxSize, sometimes refused
			n := int(arg%6) - 1
			err := p.SetMaxSize(n)
			if ok := n > 0 && n >= minSize; ok != (err == nil) {
				t.Fatalf("step %d: SetMaxSize(%d) with MinSize %d: %v", step, n, minSize, err)
			}
			if err == nil {
				maxSize = n
			}
		case 9: // SetMinSize, sometimes refused
			n := int(arg%6) - 1
			err := p.SetMinSize(n)
			maxIdle := maxSize
			if cfg.MaxIdle > 0 {
				maxIdle = min(cfg.MaxIdle, maxSize)
			}
			if ok := n >= 0 && n <= maxSize && (cfg.MaxIdle == 0 || n <= maxIdle); ok != (err == nil) {
				t.Fatalf("step %d: SetMinSize(%d) with MaxSize %d: %v", step, n, maxSize, err)
			}
			if err == nil {
				minSize = n
			}
		}
		check(step)
		if op == 7 && arg%16 == 0 && !closed { // Close, rarely
			closed = true
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			err := p.Close(ctx)
			cancel()
			if len(held) == 0 && err != nil {
				t.Fatalf("step %d: Close with nothing held: %v", step, err)
			}
		}
	}
	for len(held) > 0 {
		r, _ := pick(0)
		r.Release()
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("final Close: %v", err)
	}
	s := p.Stats()
	if s.Open != 0 || s.Created != s.Destroyed.Total() {
		t.Fatalf("after Close: %+v", s)
	}
	creates, _, destroys := b.count()
	if uint64(destroys) != s.Created || creates < destroys {
		t.Fatalf("backend saw %d creates, %d destroys; pool says %d created", creates, destroys, s.Created)
	}
}

func isCreateErr(err error) bool {
	var ce *CreateError
	return errors.As(err, &ce)
}
