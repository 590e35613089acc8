package fleet_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/poolkit/poolkit/internal/fleetscene"
)

// runChild is TestMain's hook: a child process of the tests below runs its
// part and exits.
func runChild() (int, bool) { return fleetscene.Child() }

const defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// newScene sets up the multi-process scene: a PostgreSQL role admitting 40
// connections, and Redis. It skips, or fails with POOLKIT_REQUIRE_DB=1,
// when either server is missing.
func newScene(t *testing.T) *fleetscene.Scene {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test; skipped with -short")
	}
	dsn := os.Getenv("POOLKIT_POSTGRES_DSN")
	if dsn == "" {
		dsn = defaultPostgresDSN
	}
	exe, args := childProgram(t)
	s, err := fleetscene.Setup(context.Background(), fleetscene.Env{AdminDSN: dsn, RedisAddr: redisAddr(),
		Exe: exe, Args: args, Log: testWriter{t}}, 40)
	if errors.Is(err, fleetscene.ErrNoPostgres) || errors.Is(err, fleetscene.ErrNoRedis) {
		msg := err.Error() + " (set POOLKIT_POSTGRES_DSN / POOLKIT_REDIS_ADDR)"
		if os.Getenv("POOLKIT_REQUIRE_DB") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// childProgram returns what the children run: this test binary again, or,
// under the race detector, the child program built without it (the
// detector's overhead would swamp what the scene measures).
func childProgram(t *testing.T) (string, []string) {
	t.Helper()
	if raceEnabled {
		exe, err := buildChild()
		if err != nil {
			t.Fatal(err)
		}
		return exe, nil
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe, []string{"-test.run=^$"}
}

var buildChild = sync.OnceValues(func() (string, error) {
	return fleetscene.BuildChild(context.Background(), childDir)
})

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// Eight processes, each with sqlpool MaxSize 10, against a server that
// admits 40 connections for their role. Each opens connections at start-up
// (MinSize: 10 alone, the 4 of its local share with the fleet budget, whose
// Join refuses a warm minimum that could not hold without Redis), as pods
// of a scaled-out service do. Without a fleet budget the server
// refuses connections; with a fleet budget of 35 it refuses none, never
// sees more than 35, and the fleet's throughput is within 10% of a run
// whose static limits fit (8 × 4 = 32). Then one process is killed with
// SIGKILL mid-run: its leases expire within the TTL and the others take
// them.
func TestFleetBudgetProcesses(t *testing.T) {
	const exiting = 4 // server sessions still exiting after their client closed them; see below
	s := newScene(t)
	ctx := context.Background()
	const dur, warm = 3 * time.Second, time.Second
	run := func(r fleetscene.DBRun) fleetscene.DBResult {
		t.Helper()
		res, err := s.RunDB(ctx, r)
		if err != nil {
			t.Fatalf("%s: %v", r.Label, err)
		}
		t.Logf("%-22s refused %4d  errors %4d  peak %2d  %6.0f q/s  p50 %v  p99 %v (failed connects %d, pool peaks %v, peak leases %d)",
			r.Label, res.Refused, res.Errors, res.PeakConns, res.Throughput, res.P50.Round(time.Millisecond), res.P99.Round(time.Millisecond),
			res.Failed, res.PoolPeaks, res.PeakLeases)
		return res
	}
	without := run(fleetscene.DBRun{Label: "8×10, no budget", Procs: 8, MaxSize: 10, MinSize: 10, Dur: dur, Warm: warm})
	// The machine is shared and small: alternate the two runs compared and
	// keep the better of each, so a burst of load elsewhere does not decide.
	var fit, with fleetscene.DBResult
	for range 2 {
		f := run(fleetscene.DBRun{Label: "8×4 (fits), no budget", Procs: 8, MaxSize: 4, MinSize: 4, Workers: 10, Dur: dur, Warm: warm})
		w := run(fleetscene.DBRun{Label: "8×10, fleet budget 35", Procs: 8, MaxSize: 10, MinSize: 4, FleetSize: 35, Dur: dur, Warm: warm})
		if f.Throughput > fit.Throughput {
			fit = f
		}
		with.Refused += w.Refused
		with.Errors += w.Errors
		with.PeakConns = max(with.PeakConns, w.PeakConns)
		with.PeakLeases = max(with.PeakLeases, w.PeakLeases)
		if w.Throughput > with.Throughput {
			with.Throughput = w.Throughput
		}
	}

	if without.Refused == 0 {
		t.Errorf("without a fleet budget the server refused nothing (peak %d); the scene is broken", without.PeakConns)
	}
	if fit.Refused != 0 {
		t.Errorf("the fitting run was refused %d times", fit.Refused)
	}
	if with.Refused != 0 || with.Errors != 0 {
		t.Errorf("with the fleet budget: %d refused, %d errors; want 0", with.Refused, with.Errors)
	}
	// The budget caps the connections the fleet holds: never more than 35
	// leases. The server's own count (pg_stat_activity, sampled) can run a
	// little above while backends whose clients closed them are still
	// exiting and a lease handed on is already connecting (37 was seen in
	// the kill run); the server's headroom (40) is for that, and what
	// matters to callers is that it refused nothing.
	if with.PeakLeases > 35 || with.PeakConns > 35+exiting {
		t.Errorf("with the fleet budget: %d leases and %d server sessions at the peak; want <= 35 leases (and sessions within %d of it)", with.PeakLeases, with.PeakConns, exiting)
	}
	if with.Throughput < 0.9*fit.Throughput {
		t.Errorf("fleet budget throughput %.0f q/s is more than 10%% below the fitting run's %.0f", with.Throughput, fit.Throughput)
	}

	const ttl = 2 * time.Second
	killed := run(fleetscene.DBRun{Label: "8×10, budget, kill -9", Procs: 8, MaxSize: 10, MinSize: 4, FleetSize: 35,
		LeaseTTL: ttl, Dur: 4 * time.Second, Warm: time.Second, KillAfter: time.Second})
	t.Logf("killed process held %d leases, set to expire %v after the kill; gone from Redis after %v; budget full again after %v",
		killed.KilledHeld, killed.KilledExpiresIn.Round(time.Millisecond), killed.LeasesGone.Round(time.Millisecond), killed.Refilled.Round(time.Millisecond))
	if killed.KilledHeld == 0 {
		t.Error("the killed process held no lease; the kill proved nothing")
	}
	// Leases are renewed every TTL/3 and expire TTL after the last renewal:
	// read from Redis (its clock) right after the kill, the killed
	// process's leases expire within the TTL of it (250ms for the reads).
	if killed.KilledExpiresIn <= 0 || killed.KilledExpiresIn > ttl+250*time.Millisecond {
		t.Errorf("the killed process's leases were set to expire %v after the kill; want within the TTL (%v)", killed.KilledExpiresIn, ttl)
	}
	// Removing them takes another process's next call to Redis after
	// they expired, and using them a want for a connection and a connect:
	// on two busy cores (the throughput run beside it, CI's load) that has
	// taken from 0.2s to 1.2s past the TTL. These bound liveness, not speed.
	if killed.LeasesGone > ttl+5*time.Second {
		t.Errorf("the killed process's leases were still in Redis %v after the kill; want them gone soon after the TTL (%v)", killed.LeasesGone, ttl)
	}
	if killed.Refilled > ttl+5*time.Second {
		t.Errorf("the others took %v to use the freed leases; want about the TTL (%v)", killed.Refilled, ttl)
	}
	if killed.Refused != 0 || killed.PeakLeases > 35 || killed.PeakConns > 35+exiting {
		t.Errorf("kill run: %d refused, %d leases and %d server sessions at the peak; want 0, <= 35 (and sessions within %d of it)", killed.Refused, killed.PeakLeases, killed.PeakConns, exiting)
	}
}

// Three processes call one downstream that starts failing: the busiest
// trips first, and the other two, which would need half a second of their
// own failures, fail fast within 200ms of it. Redis serves about 0 commands
// per request.
func TestFleetBreakerProcesses(t *testing.T) {
	s := newScene(t)
	res, err := s.RunBreaker(context.Background(), fleetscene.BreakerRun{Procs: 3, FailAfter: 500 * time.Millisecond,
		Dur: 2 * time.Second, Intervals: []time.Duration{2 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("opened after the first: %v; remote %v; requests %d, failed fast %d; Redis calls %d (%.4f per request)",
		res.Lag, res.Remote, res.Requests, res.Rejected, res.RedisCalls, res.CallsPerRequest())
	for i, at := range res.OpenedAt {
		if at.IsZero() {
			t.Fatalf("process %d never opened its breaker", i+1)
		}
	}
	if res.MaxLag > 200*time.Millisecond {
		t.Errorf("the last process opened %v after the first; want within 200ms", res.MaxLag)
	}
	if !res.Remote[1] || !res.Remote[2] {
		t.Errorf("remote = %v; the slow processes should have opened on the first one's trip", res.Remote)
	}
	if res.Reached != 0 {
		t.Errorf("%d calls reached the downstream after their breaker opened", res.Reached)
	}
	if res.CallsPerRequest() > 0.05 {
		t.Errorf("%.3f Redis calls per request; want about 0", res.CallsPerRequest())
	}
}
