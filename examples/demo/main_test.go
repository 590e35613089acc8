package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the demo in a short mode and checks its scorecard: no
// unexpected error in steady state, the notification breaker opened while
// the service failed, pooled phases reused their connections while the
// baseline opened one per call, and no pool went above its MaxSize.
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

	// Pooling reuses connections. This is checked by counting, not by
	// timing: throughput ratios are printed, but a machine busy with other
	// test binaries can shrink them (a burst of 500ms is mostly dials under
	// -race), and a timed assertion here would be a flaky test.
	for _, p := range rep.phases {
		for _, name := range []string{"payment", "inventory", "sql"} {
			calls, opened := p.tallies[name].counts[ok], p.opened[name]
			switch {
			case p.pooled && opened > rep.maxSize[name]:
				t.Errorf("%s %s: opened %d connections, more than its MaxSize %d: the pool churned", p.name, name, opened, rep.maxSize[name])
			case p.pooled && calls <= opened:
				t.Errorf("%s %s: %d calls on %d new connections: none reused", p.name, name, calls, opened)
			case !p.pooled && name != "sql" && opened < calls:
				t.Errorf("%s %s: %d calls on %d connections; the baseline must open one per call", p.name, name, calls, opened)
			}
		}
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
