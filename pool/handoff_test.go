package pool

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// resources created for callers who gave up go idle beyond MaxIdle.
func TestAbandonedCreatesRespectMaxIdle(t *testing.T) {
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
