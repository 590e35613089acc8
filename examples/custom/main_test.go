package main

import (
	"context"
	"net"
	"os"
	"testing"
	"time"
)

// TestRun runs the example against the local Redis. Without one it skips,
// unless POOLKIT_REQUIRE_DB is set (as in CI), where it fails.
func TestRun(t *testing.T) {
	addr := os.Getenv("POOLKIT_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("POOLKIT_REQUIRE_DB") != "" {
			t.Fatalf("no Redis at %s and POOLKIT_REQUIRE_DB is set: %v", addr, err)
		}
		t.Skipf("no Redis at %s (set POOLKIT_REDIS_ADDR): %v", addr, err)
	}
	c.Close()
	if err := run(addr, 4, 100); err != nil {
		t.Fatal(err)
	}
	// And a pool's health check catches a connection the server closed.
	p, err := newRedisPool(addr, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	// Take both connections, drop one as the server would, give both back.
	r1, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r1.Value().Conn.Close()
	r1.Release()
	r2.Release()
	time.Sleep(600 * time.Millisecond) // past CheckAfterIdle: Acquire checks them
	for range 2 {
		r, err := p.Acquire(context.Background())
		if err != nil {
			t.Fatalf("Acquire after the server dropped an idle connection: %v", err)
		}
		if pong, err := r.Value().do(context.Background(), "PING"); err != nil || pong != "PONG" {
			t.Fatalf("PING on the connection handed out: %q, %v", pong, err)
		}
		defer r.Release()
	}
	if s := p.Stats(); s.Destroyed.CheckFailed != 1 {
		t.Errorf("CheckFailed = %d, want 1", s.Destroyed.CheckFailed)
	}
}
