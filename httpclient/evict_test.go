package httpclient

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestSynctestEvictIdleOrigins: an origin empty for max(IdleTimeout, 1m)
// is evicted, one with a request in flight or MinSize connections is
// not, an evicted origin serves again when used, and a transport calling
// many hosts keeps only those it used lately.
func TestSynctestEvictIdleOrigins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Every host name dials the same in-memory server; "/hang"
		// stalls until its connection goes.
		n, cfg := startMemNet(h1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hang" {
				<-r.Context().Done()
				return
			}
			sleepHandler(w, r)
		}))
		cfg.IdleTimeout = 30 * time.Second
		tr := mustTransport(t, cfg)
		defer closeAll(t, tr, n)
		has := func(host string) bool {
			_, ok := tr.Stats()[originOf("http://"+host)]
			return ok
		}
		mustGet := func(host string) {
			t.Helper()
			if _, _, err := get(tr, "http://"+host+"/"); err != nil {
				t.Fatal(err)
			}
		}

		mustGet("idle.test")
		// busy.test keeps a request in flight throughout.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hung := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://busy.test/hang", nil)
			_, err := tr.RoundTrip(req)
			hung <- err
		}()
		synctest.Wait()

		// The idle connection closes at 30s; the origin stays until it
		// has been empty for a minute (evictAfter is max(30s, 1m)).
		time.Sleep(cfg.IdleTimeout + time.Minute - time.Second)
		if !has("idle.test") {
			t.Fatal("idle.test evicted before it was empty for a minute")
		}
		time.Sleep(time.Minute / 4) // the sweeps run at most every evictAfter/4
		if has("idle.test") {
			t.Fatal("idle.test not evicted after being empty for over a minute")
		}
		if !has("busy.test") {
			t.Fatal("busy.test, with a request in flight, was evicted")
		}
		// Used again, it serves, with counters from zero.
		mustGet("idle.test")
		if st := tr.Stats()[originOf("http://idle.test")]; st.Requests != 1 {
			t.Errorf("idle.test used again: Requests = %d, want 1 (a new origin)", st.Requests)
		}
		cancel()
		if err := <-hung; err == nil {
			t.Error("the cancelled request succeeded")
		}

		// Many hosts, one request each, a second apart: each is
		// evicted about a minute and a half after its use, on the
		// sweeps that adding a host runs, without calling Stats.
		most := 0
		for i := range 300 {
			mustGet(fmt.Sprintf("host%d.test", i))
			tr.mu.Lock()
			most = max(most, len(tr.byOrigin))
			tr.mu.Unlock()
			time.Sleep(time.Second)
		}
		// 30s of IdleTimeout, 60s empty, up to 15s between sweeps, a
		// second per host, plus idle.test and busy.test.
		if limit := 30 + 60 + 15 + 1 + 2; most > limit {
			t.Errorf("%d origins kept at once calling one host a second, want <= %d", most, limit)
		}
		time.Sleep(5 * time.Minute)
		if got := len(tr.Stats()); got != 0 {
			t.Errorf("%d origins kept after five minutes without requests, want 0", got)
		}
		if got := len(*tr.origins.Load()); got != 0 {
			t.Errorf("the lock-free map still holds %d origins", got)
		}
	})
}

// TestSynctestMinSizeOriginNotEvicted: MinSize connections keep an origin.
func TestSynctestMinSizeOriginNotEvicted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, cfg := startMemNet(h1, http.HandlerFunc(sleepHandler))
		cfg.MinSize = 1
		cfg.IdleTimeout = time.Minute
		cfg.MaxLifetime = 0
		tr := mustTransport(t, cfg)
		defer closeAll(t, tr, n)
		if err := sleepGet(tr, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Minute)
		if _, ok := tr.Stats()[originOf(memURL)]; !ok {
			t.Fatal("an origin with MinSize 1 was evicted")
		}
	})
}

// TestEvictRacesRequests: with origins evicted as soon as they are empty
// (every response closes its connection), concurrent requests and sweeps
// race; no request may fail.
func TestEvictRacesRequests(t *testing.T) {
	srv, _, cfg := startServer(t, h1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		okHandler(w, r)
	}))
	cfg.MaxSize = 4
	tr := newTransport(t, cfg)
	tr.evictAfter = time.Nanosecond // evict whenever empty; sweep every time
	name := originOf(srv.URL)
	var evictions atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var last *origin
		for {
			select {
			case <-stop:
				return
			default:
			}
			tr.Stats() // sweeps
			tr.mu.Lock()
			o := tr.byOrigin[name]
			tr.mu.Unlock()
			if o != nil && last != nil && o != last {
				evictions.Add(1)
			}
			if o != nil {
				last = o
			}
			runtime.Gosched()
		}
	})
	// A worker leaves the origin empty between requests (each closes its
	// connection);
	// go on until evictions were seen (a few rounds at most).
	for round := 0; round < 5 && evictions.Load() == 0; round++ {
		if failures, err := hammer(tr, srv.URL, 1000, 1, nil); failures > 0 {
			close(stop)
			wg.Wait()
			t.Fatalf("%d requests failed; first: %v", failures, err)
		}
	}
	close(stop)
	wg.Wait()
	if evictions.Load() == 0 {
		t.Error("no eviction happened: the race was not exercised")
	}
	t.Logf("%d evictions seen", evictions.Load())
}
