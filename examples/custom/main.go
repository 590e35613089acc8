// Command custom pools a resource of your own with pool.Pool: raw TCP
// connections to Redis speaking RESP, with a PING health check, a lifetime
// and leak detection. It needs a Redis server (the project's machines run
// one on 127.0.0.1:6379) and says so when there is none.
//
//	go run ./examples/custom
//	go run ./examples/custom -addr 127.0.0.1:6379 -workers 16 -n 2000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/poolkit/poolkit/pool"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "Redis address")
	workers := flag.Int("workers", 16, "concurrent callers")
	n := flag.Int("n", 2000, "commands per caller")
	flag.Parse()
	if err := run(*addr, *workers, *n); err != nil {
		log.Printf("custom: %v", err)
		os.Exit(1)
	}
}

func run(addr string, workers, n int) error {
	p, err := newRedisPool(addr, 8)
	if err != nil {
		return err
	}
	defer p.Close(context.Background())

	// Fail early, and clearly, when there is no server.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	r, err := p.Acquire(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("this example needs a Redis server at %s (-addr): %w", addr, err)
	}
	r.Release()

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("poolkit:example:%d", w)
			for i := range n {
				if err := setGet(p, key, fmt.Sprint(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	elapsed := time.Since(start)
	s := p.Stats()
	fmt.Printf("%d SET+GET pairs from %d goroutines in %v (%.0f pairs/s)\n", workers*n, workers, elapsed.Round(time.Millisecond), float64(workers*n)/elapsed.Seconds())
	fmt.Printf("pool %q: open %d (max %d), created %d, acquires %d, waited %d (total %v), checks failed %d\n",
		"redis", s.Open, s.MaxSize, s.Created, s.Acquires, s.WaitedAcquires, s.WaitTime.Round(time.Microsecond), s.CheckFailures)
	return nil
}

// setGet runs SET then GET on one pooled connection. A connection that
// fails mid-command is in an unknown state: it is destroyed, not reused.
func setGet(p *pool.Pool[*redisConn], key, val string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	c := r.Value()
	if _, err := c.do(ctx, "SET", key, val); err != nil {
		r.Destroy()
		return err
	}
	got, err := c.do(ctx, "GET", key)
	if err != nil {
		r.Destroy()
		return err
	}
	r.Release()
	if got != val {
		return fmt.Errorf("GET %s = %q, want %q", key, got, val)
	}
	return nil
}

func newRedisPool(addr string, size int) (*pool.Pool[*redisConn], error) {
	return pool.New(pool.Config[*redisConn]{
		Name:    "redis",
		Create:  func(ctx context.Context) (*redisConn, error) { return dialRedis(ctx, addr) },
		Destroy: func(c *redisConn) { c.Close() },
		// PING before lending a connection idle for over CheckAfterIdle,
		// and every HealthCheckPeriod in the background.
		Check: func(ctx context.Context, c *redisConn) error {
			pong, err := c.do(ctx, "PING")
			if err == nil && pong != "PONG" {
				err = fmt.Errorf("PING answered %q", pong)
			}
			return err
		},
		MinSize:           2,
		MaxSize:           size,
		IdleTimeout:       time.Minute,
		MaxLifetime:       10 * time.Minute, // under Redis's and any NAT's idle limits
		HealthCheckPeriod: 30 * time.Second,
		AcquireTimeout:    time.Second,
		LeakThreshold:     10 * time.Second, // log who holds a connection this long
	})
}
