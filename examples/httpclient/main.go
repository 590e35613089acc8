// Command httpclient builds one pooled client per downstream service from a
// services file: shared defaults, a preset per service (steady, bursty, low)
// and per-service overrides, each layer overriding the one before field by
// field. It runs the three services in-process, calls each, and prints what
// every client was configured with and what its pool did.
//
// The file is embedded (services.yaml); pass -config to use another (YAML
// or JSON). Environment variables override it (package config documents
// the rule), e.g. POOLKIT__SERVICES__INVENTORY__TRANSPORT__MAX_SIZE=16.
// Base URLs are filled in at run time because the in-process servers
// listen on ports chosen by the system; in a real service they would be in
// the file.
//
//	go run ./examples/httpclient
//	go run ./examples/httpclient -config my-services.yaml
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/poolkit/poolkit/config"
	"github.com/poolkit/poolkit/httpclient"
)

//go:embed services.yaml
var defaultServices []byte

func main() {
	path := flag.String("config", "", "services file (YAML or JSON); default: the embedded services.yaml")
	flag.Parse()
	log.SetFlags(0)
	name, file := "services.yaml", defaultServices
	if *path != "" {
		b, err := os.ReadFile(*path)
		if err != nil {
			log.Fatal(err)
		}
		name, file = *path, b
	}
	if err := run(context.Background(), name, file, os.Stdout); err != nil {
		log.Fatalf("httpclient: %v", err)
	}
}

// run loads the services file called name, starts a fake server for each
// service in it, and calls each one concurrently through its own client.
func run(ctx context.Context, name string, file []byte, out io.Writer) error {
	f, err := config.Loader{}.Parse(name, file)
	if err != nil {
		// Every problem, one per line, each with its line and the
		// field's path, e.g.
		// services.yaml:9: services.payment.retry.initial_backoff: invalid duration "2x": ...
		return err
	}
	// Code-only settings (metrics registerers, observers, TLS roots) are
	// set here, on the loaded configs; a file holds data only.
	cfgs := f.Services

	for name, cfg := range cfgs {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Millisecond)
			fmt.Fprintf(w, `{"service":%q,"path":%q}`, name, r.URL.Path)
		}))
		defer srv.Close()
		if cfg.BaseURL == "" {
			cfg.BaseURL = srv.URL + "/v1/"
		}
		cfgs[name] = cfg
	}

	clients, err := httpclient.NewClients(cfgs)
	if err != nil {
		return err
	}
	defer clients.Close()

	fmt.Fprintln(out, "services (defaults → preset → file defaults → service overrides):")
	fmt.Fprintf(out, "  %-13s %8s %8s %8s %8s %9s %9s %9s\n", "service", "min", "max", "acquire", "timeout", "attempts", "brk fails", "brk open")
	for _, name := range clients.Names() {
		c := cfgs[name]
		attempts := fmt.Sprint(c.Retry.MaxAttempts)
		if c.DisableRetry {
			attempts = "off"
		}
		fmt.Fprintf(out, "  %-13s %8d %8d %8v %8v %9s %9d %9v\n", name, c.Transport.MinSize, c.Transport.MaxSize,
			c.Transport.AcquireTimeout, c.Timeout, attempts, c.Breaker.ConsecutiveFailures, c.Breaker.OpenTimeout)
	}

	// Call every service from 16 goroutines, 50 calls each.
	const callers, calls = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers*len(cfgs))
	for _, name := range clients.Names() {
		c, _ := clients.Get(name)
		for range callers {
			wg.Go(func() {
				for i := range calls {
					if err := get(ctx, c, fmt.Sprintf("items/%d", i)); err != nil {
						errs <- fmt.Errorf("%s: %w", name, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}

	fmt.Fprintf(out, "\n%d calls to each service from %d goroutines:\n", calls*callers, callers)
	fmt.Fprintf(out, "  %-13s %8s %8s %8s %10s %10s %8s\n", "service", "requests", "conns", "idle", "waited", "wait time", "breaker")
	for _, name := range clients.Names() {
		c, _ := clients.Get(name)
		st := c.Stats()
		for _, o := range st.Origins {
			fmt.Fprintf(out, "  %-13s %8d %8d %8d %10d %10v %8v\n", name, o.Requests, o.Pool.Created, o.Pool.Idle,
				o.Pool.WaitedAcquires, o.Pool.WaitTime.Round(time.Microsecond), st.Breaker)
		}
	}
	return nil
}

// get calls a service and reads the whole response, which gives the
// connection back to the pool.
func get(ctx context.Context, c *httpclient.Client, path string) error {
	req, err := c.NewRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
