// Command fleet plays the night the fleet layer exists for, with real
// processes on the local PostgreSQL and Redis: eight service instances,
// each with an sqlpool MaxSize of 10, against a server that admits 40
// connections for their role. It runs them without a fleet budget (the
// server refuses connections), with a fleet budget of 35 in Redis (none
// refused), with static limits that fit (8 × 4, for comparison), kills one
// instance with kill -9 mid-run to show its leases coming back, and then
// runs three instances against an HTTP downstream that starts failing, to
// show the others' breakers opening on the first one's trip. It prints a
// scorecard.
//
// It needs PostgreSQL (POOLKIT_POSTGRES_DSN, default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable, a superuser: it
// creates a throw-away role with CONNECTION LIMIT 40) and Redis
// (POOLKIT_REDIS_ADDR, default 127.0.0.1:6379). Without either it says so
// and exits 1. It takes about 30 seconds.
//
//	go run ./examples/fleet
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/poolkit/poolkit/internal/fleetscene"
)

const (
	defaultDSN   = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultRedis = "127.0.0.1:6379"

	procs     = 8
	maxSize   = 10
	limit     = 40 // the server's connection limit for the fleet's role
	fleetSize = 35 // the fleet budget: the limit minus room for admin sessions
	fitSize   = 4  // static MaxSize per process whose total fits: 8 × 4 = 32 <= 40
	leaseTTL  = 2 * time.Second
)

func main() {
	if code, ok := fleetscene.Child(); ok {
		os.Exit(code)
	}
	log.SetFlags(0)
	exe, err := os.Executable()
	if err != nil {
		log.Fatalf("fleet: %v", err)
	}
	env := fleetscene.Env{AdminDSN: getenv("POOLKIT_POSTGRES_DSN", defaultDSN), RedisAddr: getenv("POOLKIT_REDIS_ADDR", defaultRedis), Exe: exe}
	if err := run(context.Background(), env, os.Stdout); err != nil {
		log.Fatalf("fleet: %v", err)
	}
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// errMissing is wrapped by run's error when a server it needs is missing.
var errMissing = errors.New("a server this demo needs is missing")

func run(ctx context.Context, env fleetscene.Env, out io.Writer) error {
	env.Log = out
	s, err := fleetscene.Setup(ctx, env, limit)
	switch {
	case errors.Is(err, fleetscene.ErrNoPostgres):
		return fmt.Errorf("%w: %v\nthe demo needs a PostgreSQL superuser DSN in POOLKIT_POSTGRES_DSN (default %s)", errMissing, err, defaultDSN)
	case errors.Is(err, fleetscene.ErrNoRedis):
		return fmt.Errorf("%w: %v\nthe demo needs Redis at POOLKIT_REDIS_ADDR (default %s); start one with: redis-server --daemonize yes --bind 127.0.0.1", errMissing, err, defaultRedis)
	case err != nil:
		return err
	}
	defer s.Close()

	fmt.Fprintf(out, "%d processes, each sqlpool MaxSize %d, against PostgreSQL admitting %d connections (role %s, CONNECTION LIMIT %d)\n\n",
		procs, maxSize, limit, s.Role(), limit)
	const dur, warm = 3 * time.Second, time.Second
	runs := []fleetscene.DBRun{
		{Label: "without fleet budget", Procs: procs, MaxSize: maxSize, MinSize: maxSize, Dur: dur, Warm: warm},
		{Label: fmt.Sprintf("with fleet budget (%d)", fleetSize), Procs: procs, MaxSize: maxSize, MinSize: fleetSize / procs, FleetSize: fleetSize, Dur: dur, Warm: warm},
		{Label: fmt.Sprintf("static limits that fit (%d×%d)", procs, fitSize), Procs: procs, MaxSize: fitSize, MinSize: fitSize, Workers: maxSize, Dur: dur, Warm: warm},
	}
	var res []fleetscene.DBResult
	for _, r := range runs {
		fmt.Fprintf(out, "running %s ...\n", r.Label)
		m, err := s.RunDB(ctx, r)
		if err != nil {
			return err
		}
		res = append(res, m)
	}
	fmt.Fprintf(out, "running with fleet budget, kill -9 one process after 1s ...\n")
	kill, err := s.RunDB(ctx, fleetscene.DBRun{Label: "kill", Procs: procs, MaxSize: maxSize, MinSize: fleetSize / procs, FleetSize: fleetSize,
		LeaseTTL: leaseTTL, Dur: 4 * time.Second, Warm: time.Second, KillAfter: time.Second})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "running 3 processes against a downstream that starts failing ...\n")
	br, err := s.RunBreaker(ctx, fleetscene.BreakerRun{Procs: 3, FailAfter: 500 * time.Millisecond, Dur: 2 * time.Second,
		Intervals: []time.Duration{2 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}})
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "\n== scorecard ==\n\n")
	fmt.Fprintf(out, "%-32s %8s %11s %12s %9s\n", "", "refused", "peak conns", "throughput", "p99")
	for _, m := range res {
		fmt.Fprintf(out, "%-32s %8d %11d %8.0f q/s %9v\n", m.Run.Label, m.Refused, m.PeakConns, m.Throughput, m.P99.Round(time.Millisecond))
	}
	fmt.Fprintf(out, "\nwithout fleet budget: %d refused by the server\n", res[0].Refused)
	fmt.Fprintf(out, "with fleet budget: %d refused by the server\n", res[1].Refused)
	fmt.Fprintf(out, "peak server connections: %d without, %d with (budget %d, limit %d)\n", res[0].PeakConns, res[1].PeakConns, fleetSize, limit)
	fmt.Fprintf(out, "throughput with fleet budget: %.0f%% of static limits that fit; p99 %v vs %v\n",
		100*res[1].Throughput/res[2].Throughput, res[1].P99.Round(time.Millisecond), res[2].P99.Round(time.Millisecond))
	fmt.Fprintf(out, "kill -9: the killed process's %d leases were back %v later (lease TTL %v); the others held the whole budget again after %v; %d refused, peak %d\n",
		kill.KilledHeld, kill.LeasesGone.Round(10*time.Millisecond), leaseTTL, kill.Refilled.Round(10*time.Millisecond), kill.Refused, kill.PeakConns)
	fmt.Fprintf(out, "breaker: process 1 tripped first;")
	for i := 1; i < len(br.Lag); i++ {
		how := "on its own"
		if br.Remote[i] {
			how = "on process 1's trip, via Redis"
		}
		if br.Lag[i] < 0 {
			fmt.Fprintf(out, " process %d never opened;", i+1)
			continue
		}
		fmt.Fprintf(out, " process %d opened %v later (%s);", i+1, br.Lag[i].Round(100*time.Microsecond), how)
	}
	fmt.Fprintf(out, "\n         %d calls failed fast, %d reached the downstream after their breaker opened; %.3f Redis calls per request\n",
		br.Rejected, br.Reached, br.CallsPerRequest())
	return nil
}
