package httpclient_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/poolkit/poolkit/httpclient"
)

// bearer adds an auth header to every attempt. Under Config.Wrap it sits
// under retry and breaker: a retried request gets a fresh header, and a
// call the breaker refuses never reaches it. (otelhttp.NewTransport fits
// the same place, for a span per attempt.)
type bearer struct {
	next  http.RoundTripper
	calls *atomic.Int64
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	n := b.calls.Add(1)
	r = r.Clone(r.Context()) // a RoundTripper must not change its request
	r.Header.Set("Authorization", fmt.Sprintf("Bearer token-%d", n))
	return b.next.RoundTrip(r)
}

// A round-tripper of the user's inside the chain, called once per attempt.
func ExampleConfig_wrap() {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable) // retried
			return
		}
		fmt.Fprint(w, r.Header.Get("Authorization"))
	}))
	defer srv.Close()

	var calls atomic.Int64
	c, err := httpclient.NewClient(httpclient.Config{
		Name: "pay",
		Wrap: func(next http.RoundTripper) http.RoundTripper { return bearer{next, &calls} },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	resp, err := c.HTTP().Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "attempts")
	// Output:
	// 200 Bearer token-2 after 2 attempts
}

// An SDK that takes its user's *http.Client layers poolkit's timeout,
// retries and breaker over that client's transport with Config.Base.
func ExampleConfig_base() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()

	user := &http.Client{Transport: &http.Transport{}} // the SDK user's client
	defer user.CloseIdleConnections()

	base := user.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c, err := httpclient.NewClient(httpclient.Config{Name: "weather", Base: base})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close() // leaves the user's transport open

	resp, err := c.HTTP().Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "breaker:", c.Stats().Breaker, "pooled transport:", c.Transport() != nil)
	// Output:
	// 200 ok breaker: closed pooled transport: false
}
