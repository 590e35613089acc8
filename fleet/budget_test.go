package fleet_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/poolkit/poolkit/fleet"
	"github.com/poolkit/poolkit/pool"
)

func newBudget(t *testing.T, cfg fleet.BudgetConfig) *fleet.Budget {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	b, err := fleet.NewBudget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return b
}

func member(name string) *pool.BudgetMember {
	return &pool.BudgetMember{Name: name, MinSize: func() int { return 0 }, ReclaimIdle: func() bool { return false }}
}

func take(t *testing.T, b *fleet.Budget, m *pool.BudgetMember, n int) []pool.Share {
	t.Helper()
	var out []pool.Share
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := b.Take(ctx, m)
		cancel()
		if err != nil {
			t.Fatalf("Take %d: %v", i+1, err)
		}
		out = append(out, s)
	}
	return out
}

// tryTake reports whether a Take succeeds within d; a share it got is
// given back.
func tryTake(b *fleet.Budget, m *pool.BudgetMember, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	s, err := b.Take(ctx, m)
	if err != nil {
		return false
	}
	s.Release()
	return true
}

func TestBudgetConfigErrors(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: redisAddr()})
	defer c.Close()
	ok := fleet.BudgetConfig{Client: c, Name: "db", Size: 10, ExpectedInstances: 2}
	tests := []struct {
		name  string
		give  func(*fleet.BudgetConfig)
		field string
	}{
		{"no client", func(c *fleet.BudgetConfig) { c.Client = nil }, "Client"},
		{"a nil *redis.Client", func(c *fleet.BudgetConfig) { var rdb *redis.Client; c.Client = rdb }, "Client"},
		{"no name", func(c *fleet.BudgetConfig) { c.Name = "" }, "Name"},
		{"zero size", func(c *fleet.BudgetConfig) { c.Size = 0 }, "Size"},
		{"no instances", func(c *fleet.BudgetConfig) { c.ExpectedInstances = 0 }, "ExpectedInstances"},
		{"more instances than size", func(c *fleet.BudgetConfig) { c.ExpectedInstances = 11 }, "ExpectedInstances"},
		{"short ttl", func(c *fleet.BudgetConfig) { c.LeaseTTL = 100 * time.Millisecond }, "LeaseTTL"},
		{"ttl vs poll", func(c *fleet.BudgetConfig) { c.LeaseTTL = time.Second; c.PollInterval = 400 * time.Millisecond }, "LeaseTTL"},
		{"negative poll", func(c *fleet.BudgetConfig) { c.PollInterval = -1 }, "PollInterval"},
		{"negative op timeout", func(c *fleet.BudgetConfig) { c.OpTimeout = -1 }, "OpTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.give(&cfg)
			_, err := fleet.NewBudget(cfg)
			var ce *fleet.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), "BudgetConfig."+tt.field) {
				t.Fatalf("err = %v; want *ConfigError naming %s", err, tt.field)
			}
		})
	}
}

// Three budgets on one Redis, as three processes would be, share one cap; a
// Take that waits gets the share another process releases.
func TestBudgetSharedCap(t *testing.T) {
	rdb := needRedis(t)
	name := unique("cap")
	var bs []*fleet.Budget
	for range 3 {
		bs = append(bs, newBudget(t, fleet.BudgetConfig{Client: rdb, Name: name, Size: 5, ExpectedInstances: 3}))
	}
	m := member("p")
	a := take(t, bs[0], m, 2)
	take(t, bs[1], m, 2)
	c := take(t, bs[2], m, 1)
	if tryTake(bs[2], m, 300*time.Millisecond) || tryTake(bs[0], m, 300*time.Millisecond) {
		t.Fatal("a sixth share was granted on a budget of 5")
	}
	if st := bs[0].Stats(); st.Held != 2 || st.FleetUsed != 5 || st.Size != 5 {
		t.Errorf("Stats = %+v; want Held 2, FleetUsed 5, Size 5", st)
	}

	// A waiting Take in one process gets what another releases.
	got := make(chan error, 1)
	var waited pool.Share
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		waited, err = bs[1].Take(ctx, m)
		got <- err
	}()
	if !eventually(5*time.Second, func() bool { return bs[1].Stats().Waiting == 1 }) {
		t.Fatal("Take did not wait")
	}
	if !eventually(5*time.Second, func() bool { return bs[0].Stats().Starved }) {
		t.Fatal("another process never saw the waiting one starved")
	}
	a[0].Release()
	if err := <-got; err != nil {
		t.Fatalf("waiting Take: %v", err)
	}
	defer waited.Release()
	if st := bs[1].Stats(); st.Waited != 1 || st.Takes != 3 {
		t.Errorf("Stats = %+v; want Waited 1, Takes 3", st)
	}
	// Released shares leave Redis.
	for _, s := range c {
		s.Release()
	}
	if !eventually(5*time.Second, func() bool {
		n, _ := rdb.ZCard(context.Background(), fleet.DefaultKeyPrefix+"budget:{"+name+"}:leases").Result()
		return n == 4
	}) {
		t.Error("released leases did not leave Redis")
	}
}

// A Take whose ctx ends holds nothing.
func TestBudgetTakeCancel(t *testing.T) {
	rdb := needRedis(t)
	b := newBudget(t, fleet.BudgetConfig{Client: rdb, Name: unique("cancel"), Size: 1, ExpectedInstances: 1})
	m := member("p")
	s := take(t, b, m, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := b.Take(ctx, m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Take on a full budget: err = %v; want DeadlineExceeded", err)
	}
	if st := b.Stats(); st.Held != 1 || st.Waiting != 0 {
		t.Errorf("after a cancelled Take: %+v; want Held 1, Waiting 0", st)
	}
	s[0].Release()
	if !tryTake(b, m, 2*time.Second) {
		t.Error("the released share could not be taken again")
	}
}

// A process that stops renewing (it died) loses its leases within the TTL,
// and another process takes them.
func TestBudgetLeasesExpire(t *testing.T) {
	rdb := needRedis(t)
	name := unique("expire")
	p := newProxy(t, redisAddr())
	dying := newBudget(t, fleet.BudgetConfig{Client: newClient(t, p.addr(), false), Name: name, Size: 3, ExpectedInstances: 1,
		LeaseTTL: time.Second, PollInterval: 100 * time.Millisecond})
	alive := newBudget(t, fleet.BudgetConfig{Client: rdb, Name: name, Size: 3, ExpectedInstances: 1,
		LeaseTTL: time.Second, PollInterval: 100 * time.Millisecond})
	m := member("p")
	take(t, dying, m, 3)
	if tryTake(alive, m, 200*time.Millisecond) {
		t.Fatal("share granted beyond the budget")
	}
	p.setCut(true) // the process can no longer renew
	start := time.Now()
	take(t, alive, m, 3)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the dead process's leases took %v to come back; TTL is 1s", d)
	}
}

// Two processes with pools: a starved one makes the other close idle
// connections beyond its fair share.
func TestBudgetReclaimForStarvedProcess(t *testing.T) {
	rdb := needRedis(t)
	name := unique("reclaim")
	cfg := fleet.BudgetConfig{Client: rdb, Name: name, Size: 6, ExpectedInstances: 2, PollInterval: 50 * time.Millisecond}
	ba, bb := newBudget(t, cfg), newBudget(t, cfg)
	var open atomic.Int64
	newPool := func(name string, b *fleet.Budget) *pool.Pool[int] {
		p, err := pool.New(pool.Config[int]{Name: name, MaxSize: 6, Budget: b,
			Create:  func(context.Context) (int, error) { open.Add(1); return 0, nil },
			Destroy: func(int) { open.Add(-1) }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close(context.Background()) })
		return p
	}
	pa, pb := newPool("a", ba), newPool("b", bb)
	ctx := context.Background()
	var rs []*pool.Resource[int]
	for range 6 {
		r, err := pa.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	for _, r := range rs {
		r.Release() // six idle in process a
	}
	if !eventually(3*time.Second, func() bool { return ba.Stats().Processes == 2 && bb.Stats().Processes == 2 }) {
		t.Fatal("processes did not see each other")
	}
	// Process b needs 3: its fair share.
	var held []*pool.Resource[int]
	for i := range 3 {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		r, err := pb.Acquire(actx)
		cancel()
		if err != nil {
			t.Fatalf("starved process, acquire %d: %v (a: %+v)", i+1, err, ba.Stats())
		}
		held = append(held, r)
	}
	if n := open.Load(); n > 6 {
		t.Errorf("open = %d; want <= 6", n)
	}
	if st := pa.Stats(); st.Open != 3 {
		t.Errorf("process a open = %d; want its fair share, 3", st.Open)
	}
	if st := ba.Stats(); st.Reclaimed < 3 {
		t.Errorf("a reclaimed %d; want >= 3", st.Reclaimed)
	}
	for _, r := range held {
		r.Release()
	}
}

// Without Redis a process keeps to its local share, and says so.
func TestBudgetWithoutRedis(t *testing.T) {
	ln := mustClosedPort(t)
	rec := &recLog{}
	b := newBudget(t, fleet.BudgetConfig{Client: newClient(t, ln, false), Name: unique("down"), Size: 12, ExpectedInstances: 4,
		Logger: slogWith(rec), OpTimeout: 200 * time.Millisecond})
	m := member("p")
	shares := take(t, b, m, 3)
	if tryTake(b, m, 300*time.Millisecond) {
		t.Fatal("a fourth share granted without Redis; local share is 12/4 = 3")
	}
	st := b.Stats()
	if !st.Degraded || st.LocalShare != 3 || st.Held != 3 || st.FallbackTakes != 3 || st.RedisErrors == 0 {
		t.Errorf("Stats = %+v; want Degraded, LocalShare 3, Held 3, FallbackTakes 3, RedisErrors > 0", st)
	}
	if bs := b.BudgetStats(); bs.Size != 3 || bs.Used != 3 {
		t.Errorf("BudgetStats = %+v; want the local share as the size (3), Used 3", bs)
	}
	if msgs := strings.Join(rec.all(), "\n"); !strings.Contains(msgs, "Redis unreachable") || !strings.Contains(msgs, "local share") {
		t.Errorf("log = %q; want a warning about the local share", msgs)
	}
	shares[0].Release()
	if !tryTake(b, m, 2*time.Second) {
		t.Error("a released local share could not be taken again")
	}
}

// The MinSize of a process's pools must fit in its local share, or they
// could not all stay warm without Redis: pool.New refuses the pool.
func TestBudgetJoinChecksMinSize(t *testing.T) {
	rdb := needRedis(t)
	b := newBudget(t, fleet.BudgetConfig{Client: rdb, Name: unique("join"), Size: 10, ExpectedInstances: 5})
	mk := func(name string, minSize int) error {
		p, err := pool.New(pool.Config[int]{Name: name, MaxSize: 5, MinSize: minSize, Budget: b,
			Create: func(context.Context) (int, error) { return 0, nil }})
		if err == nil {
			t.Cleanup(func() { p.Close(context.Background()) })
		}
		return err
	}
	if err := mk("a", 1); err != nil {
		t.Fatal(err)
	}
	err := mk("b", 2) // 1 + 2 > 10/5
	var ce *pool.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Budget" || !strings.Contains(err.Error(), "local share") {
		t.Fatalf("err = %v; want a *pool.ConfigError on Budget about the local share", err)
	}
	if st := b.Stats(); st.Pools != 1 {
		t.Errorf("Pools = %d; want 1", st.Pools)
	}
}
