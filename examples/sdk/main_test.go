package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
}
