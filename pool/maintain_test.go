package pool

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// IdleTimeout takes the pool below MinSize while a Destroy is in flight
// (open counts Destroying ones), and the pool then re-creates: churn.
func TestIdleTimeoutKeepsMinSizeWhileDestroying(t *testing.T) {
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
