// Package fleetbench measures the cost per call of a circuit breaker shared
// by a fleet through Redis: fleet.Breakers (the baseline), whose breakers
// decide from memory and use Redis only when their state changes, against
// gobreaker v2's DistributedCircuitBreaker, which locks, reads and writes
// its state in Redis on every call. A plain breaker.Breaker (no fleet)
// shows what the fleet adds on the request path: nothing measurable. All
// need Redis at POOLKIT_REDIS_ADDR (default 127.0.0.1:6379); without it
// the cases are skipped.
package fleetbench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/poolkit/poolkit/benchmarks/bench"
	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/fleet"
)

// Cases returns the fleet suite.
func Cases() []bench.Case {
	var cs []bench.Case
	add := func(group, name string, base bool, fn func(b *testing.B)) {
		cs = append(cs, bench.Case{Group: group, Name: name, Baseline: base, Fn: fn})
	}
	g := "breaker call (success), serial"
	add(g, "fleet.Breakers (poolkit)", true, func(b *testing.B) { serial(b, fleetCall(b)) })
	add(g, "gobreaker DistributedCircuitBreaker on Redis", false, func(b *testing.B) { serial(b, gobreakerCall(b)) })
	add(g, "breaker.Breaker alone (no fleet)", false, func(b *testing.B) { serial(b, localCall(b)) })
	g = "breaker call (success), GOMAXPROCS goroutines"
	add(g, "fleet.Breakers (poolkit)", true, func(b *testing.B) { parallel(b, fleetCall(b)) })
	add(g, "breaker.Breaker alone (no fleet)", false, func(b *testing.B) { parallel(b, localCall(b)) })
	return cs
}

func serial(b *testing.B, call func() error) {
	if call == nil {
		return
	}
	b.ResetTimer()
	for b.Loop() {
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
}

func parallel(b *testing.B, call func() error) {
	if call == nil {
		return
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func redisClient(b *testing.B) *redis.Client {
	addr := os.Getenv("POOLKIT_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		b.Skipf("no Redis at %s: %v", addr, err)
		return nil
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func uniqueName() string {
	var r [6]byte
	rand.Read(r[:])
	return "bench-" + hex.EncodeToString(r[:])
}

func ok() (int, error) { return 1, nil }

func gobreakerCall(b *testing.B) func() error {
	c := redisClient(b)
	if c == nil {
		return nil
	}
	cb, err := gobreaker.NewDistributedCircuitBreaker[int](&redisStore{c: c}, gobreaker.Settings{Name: uniqueName()})
	if err != nil {
		b.Fatal(err)
	}
	return func() error { _, err := cb.Execute(ok); return err }
}

func fleetCall(b *testing.B) func() error {
	c := redisClient(b)
	if c == nil {
		return nil
	}
	f, err := fleet.NewBreakers(fleet.BreakerConfig{Client: c, KeyPrefix: uniqueName() + ":",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	br, err := f.New("downstream", breaker.Settings{})
	if err != nil {
		b.Fatal(err)
	}
	return func() error { _, err := breaker.Execute(br, ok); return err }
}

func localCall(b *testing.B) func() error {
	br, err := breaker.New("downstream", breaker.Settings{})
	if err != nil {
		b.Fatal(err)
	}
	return func() error { _, err := breaker.Execute(br, ok); return err }
}

// redisStore is gobreaker's SharedDataStore on go-redis: a SET NX lock with
// an expiry (as redsync's single-node mutex does) and the state under a key.
type redisStore struct {
	c     *redis.Client
	token string
}

var errLocked = errors.New("fleetbench: lock held")

func (s *redisStore) Lock(name string) error {
	var r [8]byte
	rand.Read(r[:])
	tok := hex.EncodeToString(r[:])
	ok, err := s.c.SetNX(context.Background(), name, tok, 8*time.Second).Result()
	if err != nil {
		return err
	}
	if !ok {
		return errLocked
	}
	s.token = tok
	return nil
}

// unlockScript deletes the lock only if it is still ours.
var unlockScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

func (s *redisStore) Unlock(name string) error {
	return unlockScript.Run(context.Background(), s.c, []string{name}, s.token).Err()
}

func (s *redisStore) GetData(name string) ([]byte, error) {
	v, err := s.c.Get(context.Background(), name).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, err
}

func (s *redisStore) SetData(name string, data []byte) error {
	return s.c.Set(context.Background(), name, data, 0).Err()
}
