package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestRun needs PostgreSQL (POOLKIT_POSTGRES_DSN or the default DSN). It
// skips without one, unless POOLKIT_REQUIRE_DB=1.
func TestRun(t *testing.T) {
	dsn := os.Getenv("POOLKIT_POSTGRES_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}
	var out strings.Builder
	err := run(context.Background(), dsn, &out)
	if errors.Is(err, errNoServer) && os.Getenv("POOLKIT_REQUIRE_DB") != "1" {
		t.Skipf("skipping: %v (POOLKIT_REQUIRE_DB=1 makes this a failure)", err)
	}
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	if !strings.Contains(out.String(), "budget 6") || !strings.Contains(out.String(), "replica") {
		t.Errorf("unexpected output:\n%s", out.String())
	}
}

func TestNoServer(t *testing.T) {
	err := run(context.Background(), "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=1", new(strings.Builder))
	if !errors.Is(err, errNoServer) {
		t.Fatalf("err = %v; want errNoServer", err)
	}
	if !strings.Contains(err.Error(), "POOLKIT_POSTGRES_DSN") {
		t.Errorf("error does not say what is needed: %v", err)
	}
}
