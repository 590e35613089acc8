package main

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/poolkit/poolkit/internal/fleetscene"
)

func TestMain(m *testing.M) {
	if code, ok := fleetscene.Child(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestRun plays the whole scene; it needs PostgreSQL and Redis and skips
// without them unless POOLKIT_REQUIRE_DB=1.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process demo; skipped with -short")
	}
	// Children run this test binary again, or under the race detector the
	// child program built without it, whose overhead would swamp the numbers.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run=^$"}
	if raceEnabled {
		if exe, err = fleetscene.BuildChild(context.Background(), t.TempDir()); err != nil {
			t.Fatal(err)
		}
		args = nil
	}
	env := fleetscene.Env{AdminDSN: getenv("POOLKIT_POSTGRES_DSN", defaultDSN), RedisAddr: getenv("POOLKIT_REDIS_ADDR", defaultRedis),
		Exe: exe, Args: args}
	var out strings.Builder
	err = run(context.Background(), env, &out)
	if errors.Is(err, errMissing) && os.Getenv("POOLKIT_REQUIRE_DB") != "1" {
		t.Skipf("skipping: %v (POOLKIT_REQUIRE_DB=1 makes this a failure)", err)
	}
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	s := out.String()
	if m := regexp.MustCompile(`(?m)^without fleet budget: (\d+) refused by the server$`).FindStringSubmatch(s); m == nil || m[1] == "0" {
		t.Errorf("want a line saying the server refused connections without the fleet budget")
	}
	if !regexp.MustCompile(`(?m)^with fleet budget: 0 refused by the server$`).MatchString(s) {
		t.Errorf("want the line %q", "with fleet budget: 0 refused by the server")
	}
	for _, want := range []string{"peak server connections:", "throughput", "p99", "kill -9", "on process 1's trip, via Redis"} {
		if !strings.Contains(s, want) {
			t.Errorf("scorecard lacks %q", want)
		}
	}
}

func TestMissingRedis(t *testing.T) {
	env := fleetscene.Env{AdminDSN: getenv("POOLKIT_POSTGRES_DSN", defaultDSN), RedisAddr: "127.0.0.1:1", Exe: "/bin/false"}
	err := run(context.Background(), env, new(strings.Builder))
	if !errors.Is(err, errMissing) {
		t.Fatalf("err = %v; want errMissing", err)
	}
	if !strings.Contains(err.Error(), "PostgreSQL") && !strings.Contains(err.Error(), "redis-server") {
		t.Errorf("error does not say what is needed: %v", err)
	}
}
