package pool

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// When Close gives up with resources still out, its error names the
// longest holder's stack, as a timeout does, with leak detection on.
func TestCloseNamesItsHolders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := mk(t, Config[*conn]{Name: "db", MaxSize: 2, Create: b.create, Destroy: b.destroy, LeakThreshold: time.Hour})
		r := forgetfulHolder(t, p)
		time.Sleep(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := p.Close(ctx)
		var ce *CloseError
		if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close: %v, want a *CloseError wrapping the ctx's error", err)
		}
		if ce.State.InUse != 1 || ce.LongestHeld != time.Minute+time.Second || !strings.Contains(err.Error(), "forgetfulHolder") {
			t.Errorf("Close error %q (held %v) does not name the holder", err, ce.LongestHeld)
		}
		release(r)
		closeT(t, p)
	})
}

func forgetfulHolder(t *testing.T, p *Pool[*conn]) *Resource[*conn] { return mustAcquire(t, p) }

// A resource handed, unlent, to a waiter just before Close (one due for a
// check: others are lent at the hand-off and the waiter keeps them), whose
// waiter then gives up (or takes it), is destroyed, not left idle in a
// closed pool where Close would wait for it forever. The waiter's steps are
// driven one by one so that the interleaving is certain: queued; handed
// the resource; Close; the waiter wakes.
func TestHandOffAcrossCloseIsDestroyed(t *testing.T) {
	for _, gaveUp := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			b := &backend{}
			p := mk(t, Config[*conn]{MaxSize: 1, Create: b.create, Destroy: b.destroy, Check: b.check, CheckAfterIdle: -1})
			held := mustAcquire(t, p)
			a := acquisition{ctx: context.Background()}
			p.lock()
			p.startClock(&a, p.now())
			w := p.waiterPool.Get().(*waiter[*conn])
			p.waiters.push(w) // as waitInLineLocked does
			p.mu.Unlock()
			release(held) // handed to w
			closed := make(chan error)
			go func() { closed <- p.Close(context.Background()) }()
			synctest.Wait() // Close waits for the handed-off resource
			res := <-w.ch
			if res.r == nil || w.lent {
				t.Fatalf("w was not handed the resource unlent: %+v, lent %v", res, w.lent)
			}
			if gaveUp {
				p.passOn(res.r)
			} else if _, _, err := p.receive(res.r); !errors.Is(err, ErrClosed) {
				t.Errorf("receive after Close: %v, want ErrClosed", err)
			}
			if err := <-closed; err != nil {
				t.Errorf("Close: %v", err)
			}
			if c := res.r.Value(); !c.destroyed.Load() {
				t.Error("the handed-off resource was not destroyed")
			}
		})
	}
}
