package sqlpool_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/sqlpool"
)

// TestCallersWaitInThePool checks that callers beyond MaxSize queue in the
// pool — where waiting is first come first served, bounded by
// AcquireTimeout and counted — and not in database/sql, which would queue
// them in random order, with no timeout but ctx, out of the stats' sight.
func TestCallersWaitInThePool(t *testing.T) {
	// Both connections open before the load: AcquireTimeout bounds
	// connecting too, and a connect may take longer on a loaded machine.
	c, db, _ := newPG(t, sqlpool.Config{MinSize: 2, MaxSize: 2, AcquireTimeout: 150 * time.Millisecond})
	waitFor(t, func() bool { return c.Stats().Idle == 2 }, "MinSize connections")
	if st := db.Stats(); st.MaxOpenConnections != 0 || st.Idle != 0 {
		t.Fatalf("database/sql has a cap (%d) or idle connections (%d) of its own", st.MaxOpenConnections, st.Idle)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var timeouts, ok int
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.ExecContext(context.Background(), "SELECT pg_sleep(0.4)")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, pool.ErrAcquireTimeout):
				var te *sqlpool.TimeoutError
				if !errors.As(err, &te) {
					t.Errorf("timeout is %T, want *sqlpool.TimeoutError: %v", err, err)
				}
				timeouts++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 2 || timeouts != 6 {
		t.Errorf("%d succeeded, %d timed out in the pool; want 2 and 6 (MaxSize 2, AcquireTimeout well under the query)", ok, timeouts)
	}
	s := c.Stats()
	if s.Timeouts != 6 || s.Open > 2 {
		t.Errorf("pool stats: Timeouts %d, Open %d; want 6 and <= 2", s.Timeouts, s.Open)
	}
	if dbs := db.Stats(); dbs.WaitCount != 0 {
		t.Errorf("database/sql made %d callers wait itself", dbs.WaitCount)
	}
}
