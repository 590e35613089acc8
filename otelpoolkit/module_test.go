package otelpoolkit_test

import (
	"os"
	"strings"
	"testing"
)

// TestMainModuleLean: poolkit's own go.mod requires nothing of
// OpenTelemetry, so depending on poolkit never raises a program's otel
// version; only this module does.
func TestMainModuleLean(t *testing.T) {
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "module github.com/poolkit/poolkit\n") {
		t.Fatalf("../go.mod is not poolkit's main module")
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "go.opentelemetry.io") {
			t.Errorf("../go.mod:%d: %s: OpenTelemetry belongs in otelpoolkit/go.mod only", i+1, strings.TrimSpace(line))
		}
	}
}
