package httpclient

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestSynctestRequestsQueueForStreams: with one HTTP/2 connection allowed
// (MaxSize 1) and a dial that takes 50ms, a 3s request and 15 quick ones
// started together share the connection: the quick ones wait for a
// stream, not for the slow one's whole connection. The origin has spoken
// HTTP/2 before; its connection is idle in the pool ("idle"), or was
// closed, so the burst shares the one being dialed ("dialing").
func TestSynctestRequestsQueueForStreams(t *testing.T) {
	for _, closeIdle := range []bool{false, true} {
		name := "idle"
		if closeIdle {
			name = "dialing"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n, cfg := startMemNet(h2c, http.HandlerFunc(sleepHandler))
				dial := cfg.DialContext
				cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					time.Sleep(50 * time.Millisecond)
					return dial(ctx, network, addr)
				}
				cfg.MaxSize = 1
				tr := mustTransport(t, cfg)
				if err := sleepGet(tr, 0); err != nil {
					t.Fatal(err)
				}
				if closeIdle {
					tr.CloseIdleConnections()
				}
				synctest.Wait()
				start := time.Now()
				var wg sync.WaitGroup
				wg.Go(func() {
					if err := sleepGet(tr, 3*time.Second); err != nil {
						t.Errorf("slow request: %v", err)
					}
				})
				var mu sync.Mutex
				var slowest time.Duration
				for range 15 {
					wg.Go(func() {
						if err := sleepGet(tr, 0); err != nil {
							t.Errorf("quick request: %v", err)
						}
						mu.Lock()
						slowest = max(slowest, time.Since(start))
						mu.Unlock()
					})
				}
				wg.Wait()
				if slowest > time.Second {
					t.Errorf("the quick requests took up to %v: they waited for the slow one's connection", slowest)
				}
				closeAll(t, tr, n)
			})
		})
	}
}
