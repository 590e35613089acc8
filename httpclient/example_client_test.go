package httpclient_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/poolkit/poolkit/httpclient"
)

// A client per downstream service: BaseURL, a preset for its traffic shape,
// and overrides. Requests go through the whole-request timeout, retries,
// the breaker and the pooled connections.
func ExampleNewClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s (%s)", r.URL.Query().Get("name"), r.URL.Path)
	}))
	defer srv.Close()

	cfg, err := httpclient.PresetSteady.Config("greeter", srv.URL+"/v1")
	if err != nil {
		log.Fatal(err)
	}
	cfg.Transport.MinSize = 0 // no warm connections in an example
	c, err := httpclient.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	req, err := c.NewRequest(context.Background(), http.MethodGet, "greet?name=gopher", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.HTTP().Do(req) // or hand c.HTTP() to an SDK
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println("breaker:", c.Stats().Breaker)
	// Output:
	// 200 hello, gopher (/v1/greet)
	// breaker: closed
}

// Named services from a file, with shared defaults, presets and
// per-service overrides.
func ExampleLoadServices() {
	file := `{
	  "defaults": {"timeout": "5s", "retry": {"max_attempts": 2}},
	  "services": {
	    "payment":   {"base_url": "https://payment.internal", "preset": "steady",
	                  "retry": {"max_attempts": 4}},
	    "inventory": {"base_url": "https://inventory.internal", "preset": "bursty",
	                  "transport": {"max_size": 64}}
	  }
	}`
	cfgs, err := httpclient.LoadServices(strings.NewReader(file))
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"inventory", "payment"} {
		c := cfgs[name]
		fmt.Printf("%s: MaxSize=%d Timeout=%v Retry.MaxAttempts=%d Breaker.MinRequests=%d\n",
			name, c.Transport.MaxSize, c.Timeout, c.Retry.MaxAttempts, c.Breaker.MinRequests)
	}

	clients, err := httpclient.NewClients(cfgs)
	if err != nil {
		log.Fatal(err)
	}
	defer clients.Close()
	payment, _ := clients.Get("payment")
	fmt.Println(payment.Name(), clients.Names())

	_, err = httpclient.LoadServices(strings.NewReader(`{"services": {"payment": {"retry": {"initial_backoff": "2"}}}}`))
	fmt.Println(err)
	// Output:
	// inventory: MaxSize=64 Timeout=5s Retry.MaxAttempts=2 Breaker.MinRequests=50
	// payment: MaxSize=32 Timeout=5s Retry.MaxAttempts=4 Breaker.MinRequests=20
	// payment [inventory payment]
	// httpclient: services file: services.payment.retry.initial_backoff: invalid duration: string "2"; write it as a string with a unit, like "2s", "500ms" or "1m30s"
}
