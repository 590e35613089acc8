package pool

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// slowCheck is a Check that takes d, honouring its ctx, and records the
// deadline it was given.
type slowCheck struct {
	d         time.Duration
	deadlines chan time.Time
}

func (s *slowCheck) check(ctx context.Context, _ *conn) error {
	dl, _ := ctx.Deadline()
	select {
	case s.deadlines <- dl:
	default:
	}
	select {
	case <-time.After(s.d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AcquireTimeout bounds the checks Acquire runs, not only its wait in line:
// a 3s Check under a 100ms AcquireTimeout returns after 100ms, however many
// suspect idle resources there are.
func TestAcquireTimeoutBoundsChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		sc := &slowCheck{d: 3 * time.Second, deadlines: make(chan time.Time, 1)}
		p := newPool(t, b, Config[*conn]{MaxSize: 5, MinSize: 5, Check: sc.check, HealthCheckPeriod: -1,
			AcquireTimeout: 100 * time.Millisecond})
		synctest.Wait()
		time.Sleep(time.Second) // all five idle past CheckAfterIdle
		start := time.Now()
		_, err := p.Acquire(context.Background())
		if waited := time.Since(start); waited != 100*time.Millisecond {
			t.Errorf("Acquire took %v, want AcquireTimeout 100ms", waited)
		}
		if dl := <-sc.deadlines; !dl.Equal(start.Add(100 * time.Millisecond)) {
			t.Errorf("Check's ctx deadline %v after the call began, want 100ms", dl.Sub(start))
		}
		var te *TimeoutError
		if !errors.As(err, &te) || te.Waited != 100*time.Millisecond {
			t.Fatalf("err = %v, want a *TimeoutError after 100ms", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("err = %v: not a net.Error whose Timeout() is true", err)
		}
		s := p.Stats()
		if s.Timeouts != 1 || s.Idle != 5 || s.CheckFailures != 0 {
			t.Errorf("stats %+v: want 1 timeout, the 5 healthy resources kept idle, no check failure", s)
		}
		// The time spent checking is wait time, though the call timed
		// out (database/sql counts timed-out waits in WaitDuration too).
		if s.WaitTime != 100*time.Millisecond || s.WaitedAcquires != 0 {
			t.Errorf("WaitTime %v, WaitedAcquires %d: want the 100ms spent checking, and no successful acquire", s.WaitTime, s.WaitedAcquires)
		}
	})
}

// Time spent checking counts as waiting, in Stats and for the Observer.
func TestCheckTimeCountsAsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		o := &recorder{}
		sc := &slowCheck{d: 50 * time.Millisecond}
		p := newPool(t, b, Config[*conn]{MaxSize: 1, Check: sc.check, HealthCheckPeriod: -1, Observer: o})
		release(mustAcquire(t, p)) // created for this call: it waited for the Create
		time.Sleep(time.Second)
		before := p.Stats()
		release(mustAcquire(t, p)) // idle past CheckAfterIdle: checked for 50ms
		s := p.Stats()
		if n, d := s.WaitedAcquires-before.WaitedAcquires, s.WaitTime-before.WaitTime; n != 1 || d != 50*time.Millisecond {
			t.Errorf("the checked Acquire added %d waited acquires and %v of wait time; want 1 and 50ms", n, d)
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.waited != 50*time.Millisecond {
			t.Errorf("Observer saw %v of waiting, want 50ms", o.waited)
		}
	})
}

// The deadline is set once, on entry, and covers the wait for a Create too.
func TestAcquireTimeoutBoundsCreate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{createDur: 5 * time.Second}
		p := newPool(t, b, Config[*conn]{MaxSize: 1, AcquireTimeout: time.Second})
		start := time.Now()
		_, err := p.Acquire(context.Background())
		if waited := time.Since(start); waited != time.Second || !errors.Is(err, ErrAcquireTimeout) {
			t.Errorf("Acquire: %v after %v, want a timeout after 1s", err, waited)
		}
		time.Sleep(5 * time.Second) // the Create finishes for the next caller
		synctest.Wait()
		if s := p.Stats(); s.Idle != 1 {
			t.Errorf("Idle = %d, want the abandoned Create's resource kept", s.Idle)
		}
	})
}
