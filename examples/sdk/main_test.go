package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/examples/sdk/weather"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"Lisbon", "160 requests", "poolkit_http_client_request_duration_seconds"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestUnavailable shows the SDK's own error for a sick service.
func TestUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	wc, err := weather.New(weather.Config{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	if _, err := wc.Forecast(context.Background(), "Oslo"); !errors.Is(err, weather.ErrUnavailable) {
		t.Fatalf("err = %v; want ErrUnavailable", err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := weather.New(weather.Config{}); err == nil {
		t.Error("New without BaseURL: no error")
	}
	if _, err := weather.New(weather.Config{BaseURL: "http://x", MaxConns: -1}); err == nil || !strings.Contains(err.Error(), "MaxSize") {
		t.Errorf("New with MaxConns -1: %v; want an error about MaxSize", err)
	}
	if _, err := weather.New(weather.Config{BaseURL: "http://x", MaxConns: 4, HTTPClient: http.DefaultClient}); err == nil || !strings.Contains(err.Error(), "MaxConns") {
		t.Errorf("New with MaxConns and HTTPClient: %v; want an error about MaxConns", err)
	}
}

// TestOwnHTTPClient: an SDK user brings their own *http.Client; its
// transport makes the connections, and the SDK's retries and breaker are
// layered over it.
func TestOwnHTTPClient(t *testing.T) {
	var hits atomic.Int64
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 || failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(weather.Forecast{City: r.URL.Query().Get("city")})
	}))
	defer srv.Close()
	var dials atomic.Int64
	d := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()

	wc, err := weather.New(weather.Config{BaseURL: srv.URL, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()

	// The first answer is a 503: the SDK's retry replays the GET.
	f, err := wc.Forecast(context.Background(), "Oslo")
	if err != nil || f.City != "Oslo" {
		t.Fatalf("Forecast = %+v, %v; want Oslo after a retry", f, err)
	}
	if got := hits.Load(); got != 2 {
		t.Errorf("server got %d requests; want 2", got)
	}
	if dials.Load() == 0 {
		t.Error("the user's transport dialed nothing")
	}

	// A failing service opens the breaker, which then keeps calls from it.
	failing.Store(true)
	for i := 0; ; i++ {
		_, err := wc.Forecast(context.Background(), "Oslo")
		if !errors.Is(err, weather.ErrUnavailable) {
			t.Fatalf("call %d: err = %v; want ErrUnavailable", i, err)
		}
		if errors.Is(err, breaker.ErrOpen) {
			break
		}
		if i == 100 {
			t.Fatal("breaker still closed after 100 failing calls")
		}
	}
	before := hits.Load()
	if _, err := wc.Forecast(context.Background(), "Oslo"); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("err = %v; want the open breaker's", err)
	}
	if hits.Load() != before {
		t.Error("a call went through the open breaker")
	}
	if s := wc.Stats(); s.Breaker != "open" {
		t.Errorf("Stats().Breaker = %q; want open", s.Breaker)
	}
}
