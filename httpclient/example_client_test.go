package httpclient_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

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
