// Command sdk uses weather, a tiny internal client library that embeds
// poolkit behind its own constructor and Config (see ./weather), against an
// in-process weather service.
//
//	go run ./examples/sdk
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/poolkit/poolkit/examples/sdk/weather"
	"github.com/poolkit/poolkit/metrics"
)

func main() {
	log.SetFlags(0)
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatalf("sdk: %v", err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		city := r.URL.Query().Get("city")
		json.NewEncoder(w).Encode(weather.Forecast{City: city, TempC: float64(len(city)) + 10, Summary: "clear"})
	}))
	defer srv.Close()

	reg := prometheus.NewRegistry()
	wc, err := weather.New(weather.Config{BaseURL: srv.URL + "/api/", MaxConns: 4, Telemetry: metrics.For(reg)})
	if err != nil {
		return err
	}
	defer wc.Close()

	cities := []string{"Lisbon", "Oslo", "Nairobi", "Lima", "Osaka", "Perth", "Quito", "Tunis"}
	var mu sync.Mutex
	got := map[string]weather.Forecast{}
	var wg sync.WaitGroup
	errs := make(chan error, len(cities))
	for _, city := range cities {
		wg.Go(func() {
			for range 20 {
				f, err := wc.Forecast(ctx, city)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got[city] = f
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	for _, city := range cities {
		f := got[city]
		fmt.Fprintf(out, "%-8s %5.1f°C %s\n", f.City, f.TempC, f.Summary)
	}
	s := wc.Stats()
	fmt.Fprintf(out, "\n%d requests from %d goroutines over %d connections (MaxConns 4); breaker %s\n", s.Requests, len(cities), s.Open, s.Breaker)

	// The SDK's metrics land on the registry its user passed.
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	var names []string
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "poolkit_http_client_request") || strings.HasPrefix(mf.GetName(), "poolkit_pool_open") {
			names = append(names, mf.GetName())
		}
	}
	fmt.Fprintf(out, "metrics on the caller's registry include %s\n", strings.Join(names, ", "))
	return nil
}
