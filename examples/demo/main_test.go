package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the demo in a short mode and checks its scorecard: no
// unexpected error in steady state, the notification breaker opened while
// the service failed, pooling beat a connection per call, and no pool went
// above its MaxSize.
func TestDemo(t *testing.T) {
	var out strings.Builder
	rep, err := run(context.Background(), options{Duration: 3 * time.Second, Concurrency: 4}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	steady := rep.find("pooled steady")
	if steady == nil {
		t.Fatal("no pooled steady phase")
	}
	for _, name := range []string{"payment", "inventory", "sql"} {
		if tl := steady.tallies[name]; tl.errors() != 0 || tl.counts[ok] == 0 {
			t.Errorf("pooled steady %s: %d ok, %d errors (last %v); want no errors", name, tl.counts[ok], tl.errors(), tl.lastErr)
		}
	}
	// notification may only fail the expected ways: 503 while it fails,
	// and fast, while its breaker is open.
	n := steady.tallies["notification"]
	if n.counts[timedOut]+n.counts[otherError] != 0 {
		t.Errorf("notification: %v (last %v); want only 503s and fast failures", n.counts, n.lastErr)
	}

	at, opened := rep.breakerOpened["notification"]
	if !opened {
		t.Errorf("notification breaker never opened (failure window %v–%v)", rep.failWindow[0], rep.failWindow[1])
	} else if at < rep.failWindow[0] || at > rep.failWindow[1]+time.Second {
		t.Errorf("notification breaker opened at %v, outside its failure window %v–%v", at, rep.failWindow[0], rep.failWindow[1])
	}

	// Throughput: only a wide margin, so that a busy machine cannot flake it
	// (the demo measures 5-30× on two cores).
	if rep.httpRatio[0] < 1.5 || rep.httpRatio[1] < 1.5 {
		t.Errorf("pooled HTTP throughput is %.1f× (steady) and %.1f× (burst) that of unpooled; want > 1.5×", rep.httpRatio[0], rep.httpRatio[1])
	}
	if over := rep.overMaxSize(); len(over) > 0 {
		t.Errorf("pools above MaxSize: %v", over)
	}
	for _, want := range []string{"scorecard", "pooled ÷ unpooled", "/metrics", "/debug/pools", "breaker notification: closed → open"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
