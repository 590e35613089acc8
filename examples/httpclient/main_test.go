package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/poolkit/poolkit/config"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), "services.yaml", defaultServices, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	// inventory overrides its preset's MaxSize (128) with 64; notification
	// takes the low preset's 4 and has retries off.
	for _, want := range []string{"inventory", "64", "notification", "off", "800 calls"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestBadFile shows the errors a misspelt field and a bad duration give:
// each names the file, the line and the field as written.
func TestBadFile(t *testing.T) {
	bad := []byte("services:\n  payment:\n    timeout: 2x\n    retry:\n      initial_backof: 1s\n")
	err := run(context.Background(), "bad.yaml", bad, new(strings.Builder))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v; want a *config.Error", err)
	}
	want := `bad.yaml:3: services.payment.timeout: invalid duration "2x": write it with a unit, like "2s", "500ms" or "1m30s"
bad.yaml:5: services.payment.retry.initial_backof: unknown field (did you mean initial_backoff?)`
	if err.Error() != want {
		t.Fatalf("err:\n%v\nwant:\n%s", err, want)
	}
}

// TestJSONFile runs the example on the same file in JSON.
func TestJSONFile(t *testing.T) {
	file := []byte(`{"defaults": {"preset": "steady"}, "services": {"payment": {"transport": {"max_size": 8}}}}`)
	var out strings.Builder
	if err := run(context.Background(), "services.json", file, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "payment") {
		t.Fatalf("output lacks payment:\n%s", out.String())
	}
}
