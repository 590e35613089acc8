package httpclient

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// h2cConfig is a TransportConfig that speaks cleartext HTTP/2 to url.
func h2cConfig() TransportConfig {
	ps := new(http.Protocols)
	ps.SetUnencryptedHTTP2(true)
	return TransportConfig{Protocols: ps, Proxy: noProxy}
}

// load sends n requests made by mk from workers goroutines, checks each
// response with check, and returns the failures and the first error.
func load(rt http.RoundTripper, n, workers int, mk func(i int) *http.Request, check func(i int, body string) error) (int64, error) {
	var (
		next, failures atomic.Int64
		mu             sync.Mutex
		first          error
		wg             sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				resp, err := rt.RoundTrip(mk(i))
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
					if err == nil && check != nil {
						err = check(i, string(b))
					}
				}
				if err != nil {
					failures.Add(1)
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return failures.Load(), first
}

// TestReplayUnprocessedPOST: a server that serves 10 requests per HTTP/2
// connection and sends the rest away with GOAWAY has not processed them:
// they are sent again on another connection whatever their method, when
// GetBody can rewind their body (net/http's rule). Each is processed
// exactly once, with its whole body.
func TestReplayUnprocessedPOST(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			peer := startCappedPeer(t, 10, refuse)
			cfg := h2cConfig()
			cfg.MaxSize = 8
			tr := newTransport(t, cfg)
			const n = 2000
			mk := func(i int) *http.Request {
				req, _ := http.NewRequest(http.MethodPost, peer.url(), bytes.NewReader(bytes.Repeat([]byte("x"), i%300)))
				return req
			}
			check := func(i int, body string) error {
				if want := fmt.Sprintf("ok:%d", i%300); body != want {
					return fmt.Errorf("request %d: body %q, want %q", i, body, want)
				}
				return nil
			}
			failures, err := load(tr, n, 64, mk, check)
			if failures > 0 {
				t.Fatalf("%d of %d POSTs failed; first: %v", failures, n, err)
			}
			if got := peer.processed.Load(); got != n {
				t.Errorf("the server processed %d requests, want %d (each once)", got, n)
			}
			st := tr.Stats()[originOf(peer.url())]
			if st.Replays == 0 {
				t.Errorf("no replay counted: %+v", st)
			}
			t.Logf("%d connections, %d replays", peer.accepted.Load(), st.Replays)
		})
	}
}

// TestReplayNeedsRewindableBody: a POST whose body cannot be produced
// again (no GetBody) is not sent again, even when it was not processed.
func TestReplayNeedsRewindableBody(t *testing.T) {
	peer := startCappedPeer(t, 1, false)
	tr := newTransport(t, h2cConfig())
	// The first request is served and its connection sent away; the
	// second, on the same connection until the GOAWAY arrives, may be
	// refused. Send a few: none may be replayed.
	var failed int
	for range 20 {
		req, _ := http.NewRequest(http.MethodPost, peer.url(), io.NopCloser(strings.NewReader("body")))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			failed++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if r := tr.Stats()[originOf(peer.url())].Replays; r != 0 {
		t.Errorf("%d replays of requests without GetBody", r)
	}
	t.Logf("%d of 20 failed", failed)
}

// TestReplayStreamCappedGETs: against a server that answers 10 streams
// per connection (then refuses and sends GOAWAY), replays wait for a
// connection that takes them instead of piling onto the ones going away:
// no request fails.
func TestReplayStreamCappedGETs(t *testing.T) {
	peer := startCappedPeer(t, 10, true)
	cfg := h2cConfig()
	cfg.MaxSize = 8
	tr := newTransport(t, cfg)
	const n = 3000
	mk := func(int) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, peer.url(), nil)
		return req
	}
	failures, err := load(tr, n, 64, mk, nil)
	if failures > 0 {
		t.Fatalf("%d of %d GETs failed; first: %v", failures, n, err)
	}
	st := tr.Stats()[originOf(peer.url())]
	t.Logf("%d connections, %d replays, %d processed", peer.accepted.Load(), st.Replays, peer.processed.Load())
}
