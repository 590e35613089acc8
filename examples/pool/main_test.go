package main

import (
	"strings"
	"testing"
	"time"
)

// TestDemo runs the demo briefly: no request may fail but those in flight
// at the restart, and the table must show the pool at work.
func TestDemo(t *testing.T) {
	var out strings.Builder
	if err := run(&out, 8, 4, 1200*time.Millisecond); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{"server drops every connection", "requests,", "acquires"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
