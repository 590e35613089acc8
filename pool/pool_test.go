package pool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// conn is a fake resource: it knows whether it is alive and whether it has
// been destroyed, so tests can tell what the pool handed out.
type conn struct {
	id        int
	dead      atomic.Bool // Check fails
	destroyed atomic.Bool
	inUse     atomic.Bool
}

// backend is a fake server behind the pool: it counts what the pool does
// and can be taken down.
type backend struct {
	mu        sync.Mutex
	next      int
	down      error // Create fails with it
	creates   int   // Create calls
	checks    int   // Check calls
	destroys  int
	conns     []*conn
	createDur time.Duration // Create takes this long
}

func (b *backend) create(ctx context.Context) (*conn, error) {
	b.mu.Lock()
	b.creates++
	err, d := b.down, b.createDur
	b.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	c := &conn{id: b.next}
	b.conns = append(b.conns, c)
	return c, nil
}

func (b *backend) destroy(c *conn) {
	if c.destroyed.Swap(true) {
		panic(fmt.Sprintf("conn %d destroyed twice", c.id))
	}
	b.mu.Lock()
	b.destroys++
	b.mu.Unlock()
}

func (b *backend) check(_ context.Context, c *conn) error {
	b.mu.Lock()
	b.checks++
	b.mu.Unlock()
	if c.dead.Load() {
		return fmt.Errorf("conn %d: broken pipe", c.id)
	}
	return nil
}

// restart kills every connection made so far, as a server restart does.
func (b *backend) restart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.dead.Store(true)
	}
}

func (b *backend) setDown(err error) {
	b.mu.Lock()
	b.down = err
	b.mu.Unlock()
}

func (b *backend) count() (creates, checks, destroys int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.creates, b.checks, b.destroys
}

func newPool(t *testing.T, b *backend, cfg Config[*conn]) *Pool[*conn] {
	t.Helper()
	cfg.Create = b.create
	cfg.Destroy = b.destroy
	if cfg.MaxSize == 0 {
		cfg.MaxSize = 4
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkInvariants(t, p)
	})
	return p
}

// checkInvariants checks what must hold in every state.
func checkInvariants(t *testing.T, p *Pool[*conn]) {
	t.Helper()
	s := p.Stats()
	if s.Open != s.Idle+s.InUse+s.Creating+s.Destroying {
		t.Errorf("Open %d != Idle %d + InUse %d + Creating %d + Destroying %d", s.Open, s.Idle, s.InUse, s.Creating, s.Destroying)
	}
	if s.Open > s.MaxSize {
		t.Errorf("Open %d > MaxSize %d", s.Open, s.MaxSize)
	}
}

func mustAcquire(t *testing.T, p *Pool[*conn]) *Resource[*conn] {
	t.Helper()
	r, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	c := r.Value()
	if c.destroyed.Load() {
		t.Fatalf("Acquire handed out destroyed conn %d", c.id)
	}
	if c.inUse.Swap(true) {
		t.Fatalf("Acquire handed out conn %d, already in use", c.id)
	}
	return r
}

func release(r *Resource[*conn]) {
	r.Value().inUse.Store(false)
	r.Release()
}

func TestNewRefusesBadConfig(t *testing.T) {
	create := func(context.Context) (int, error) { return 1, nil }
	tests := []struct {
		give      Config[int]
		wantField string
	}{
		{Config[int]{MaxSize: 1}, "Create"},
		{Config[int]{Create: create}, "MaxSize"},
		{Config[int]{Create: create, MaxSize: -1}, "MaxSize"},
		{Config[int]{Create: create, MaxSize: 2, MinSize: 3}, "MinSize"},
		{Config[int]{Create: create, MaxSize: 2, MinSize: -1}, "MinSize"},
		{Config[int]{Create: create, MaxSize: 2, MaxIdle: 3}, "MaxIdle"},
		{Config[int]{Create: create, MaxSize: 4, MinSize: 3, MaxIdle: 2}, "MaxIdle"},
		{Config[int]{Create: create, MaxSize: 2, IdleTimeout: -time.Second}, "IdleTimeout"},
		{Config[int]{Create: create, MaxSize: 2, MaxLifetime: -time.Second}, "MaxLifetime"},
		{Config[int]{Create: create, MaxSize: 2, AcquireTimeout: -1}, "AcquireTimeout"},
		{Config[int]{Create: create, MaxSize: 2, LeakThreshold: -1}, "LeakThreshold"},
		{Config[int]{Create: create, MaxSize: 2, MaxWaiters: -1}, "MaxWaiters"},
		{Config[int]{Create: create, MaxSize: 2, MaxUses: -1}, "MaxUses"},
		{Config[int]{Create: create, MaxSize: 2, MaxConcurrentCreates: -1}, "MaxConcurrentCreates"},
		{Config[int]{Create: create, MaxSize: 2, MaxLifetimeJitter: time.Second}, "MaxLifetimeJitter"},
		{Config[int]{Create: create, MaxSize: 2, MaxLifetime: time.Second, MaxLifetimeJitter: time.Second}, "MaxLifetimeJitter"},
		{Config[int]{Create: create, MaxSize: 2, CreateBackoff: time.Second, MaxCreateBackoff: time.Millisecond}, "MaxCreateBackoff"},
		{Config[int]{Create: create, MaxSize: 2, CheckTimeout: -1}, "CheckTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.wantField, func(t *testing.T) {
			tt.give.Name = "db"
			_, err := New(tt.give)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("New: err = %v, want *ConfigError", err)
			}
			if ce.Field != tt.wantField {
				t.Errorf("Field = %q, want %q (err: %v)", ce.Field, tt.wantField, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "Config."+tt.wantField) || !strings.Contains(msg, `"db"`) {
				t.Errorf("message %q does not name the pool and Config.%s", msg, tt.wantField)
			}
		})
	}
}

func TestConfigReportsDefaults(t *testing.T) {
	p, err := New(Config[int]{Create: func(context.Context) (int, error) { return 0, nil }, MaxSize: 10,
		MaxLifetime: time.Hour, Check: func(context.Context, int) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	c := p.Config()
	if c.Name != "pool" || c.MaxIdle != 10 || c.CheckAfterIdle != DefaultCheckAfterIdle ||
		c.HealthCheckPeriod != DefaultHealthCheckPeriod || c.MaxLifetimeJitter != 6*time.Minute ||
		c.MaxConcurrentCreates != DefaultMaxConcurrentCreates || c.CreateTimeout != DefaultCreateTimeout {
		t.Errorf("Config() = %+v: defaults not applied", c)
	}
}

func TestAcquireReusesMostRecentlyUsed(t *testing.T) {
	b := &backend{}
	p := newPool(t, b, Config[*conn]{MaxSize: 3})
	r1, r2 := mustAcquire(t, p), mustAcquire(t, p)
	c2 := r2.Value()
	release(r1)
	release(r2)
	r := mustAcquire(t, p)
	if r.Value() != c2 {
		t.Errorf("got conn %d, want the most recently released %d", r.Value().id, c2.id)
	}
	release(r)
	if creates, _, _ := b.count(); creates != 2 {
		t.Errorf("creates = %d, want 2", creates)
	}
	s := p.Stats()
	if s.Acquires != 3 || s.Created != 2 || s.Idle != 2 || s.InUse != 0 || s.WaitedAcquires != 2 {
		t.Errorf("stats = %+v", s)
	}
}

func TestMaxSizeNeverExceeded(t *testing.T) {
	b := &backend{createDur: 100 * time.Microsecond}
	var open, peak atomic.Int64
	p, err := New(Config[*conn]{
		MaxSize: 5,
		Create: func(ctx context.Context) (*conn, error) {
			// Count the slot while Create runs: MaxSize covers it.
			if n := open.Add(1); n > peak.Load() {
				peak.Store(n)
			}
			c, err := b.create(ctx)
			if err != nil {
				open.Add(-1)
			}
			return c, err
		},
		Destroy: func(c *conn) { open.Add(-1); b.destroy(c) },
		MaxUses: 7, // churn: destroys and creates while busy
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				r, err := p.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if r.Value().inUse.Swap(true) {
					t.Errorf("conn %d lent twice", r.Value().id)
				}
				r.Value().inUse.Store(false)
				if i%13 == 0 {
					r.Destroy()
				} else {
					r.Release()
				}
			}
		}()
	}
	wg.Wait()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := peak.Load(); got > 5 {
		t.Errorf("peak open = %d, want <= MaxSize 5", got)
	}
	if open.Load() != 0 {
		t.Errorf("open after Close = %d, want 0", open.Load())
	}
	s := p.Stats()
	if s.Acquires != 32*200 {
		t.Errorf("Acquires = %d, want %d", s.Acquires, 32*200)
	}
	if s.Created != s.Destroyed.Total() {
		t.Errorf("Created %d != Destroyed %d after Close", s.Created, s.Destroyed.Total())
	}
	if s.Destroyed.MaxUses == 0 || s.Destroyed.Broken == 0 {
		t.Errorf("Destroyed = %+v, want max_uses and broken", s.Destroyed)
	}
}

func TestWaitersServedInArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 1})
		held := mustAcquire(t, p)
		var order []int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := mustAcquire(t, p)
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				time.Sleep(time.Millisecond)
				release(r)
			}()
			synctest.Wait() // waiter i is queued before i+1 starts
		}
		if s := p.Stats(); s.Waiting != 5 {
			t.Fatalf("Waiting = %d, want 5", s.Waiting)
		}
		time.Sleep(3 * time.Second)
		if s := p.Stats(); s.OldestWait != 3*time.Second {
			t.Errorf("OldestWait = %v, want 3s", s.OldestWait)
		}
		release(held)
		wg.Wait()
		if fmt.Sprint(order) != "[0 1 2 3 4]" {
			t.Errorf("served in order %v, want arrival order", order)
		}
		s := p.Stats()
		// 6: the first Acquire waited for the Create of the first conn.
		if s.WaitedAcquires != 6 || s.WaitTime < 15*time.Second {
			t.Errorf("WaitedAcquires = %d, WaitTime = %v; want 6 and >= 15s", s.WaitedAcquires, s.WaitTime)
		}
	})
}

func TestAcquireTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{Name: "db", MaxSize: 2, AcquireTimeout: 2 * time.Second})
		r1, r2 := mustAcquire(t, p), mustAcquire(t, p)
		start := time.Now()
		_, err := p.Acquire(context.Background())
		if waited := time.Since(start); waited != 2*time.Second {
			t.Errorf("waited %v, want AcquireTimeout 2s", waited)
		}
		if !errors.Is(err, ErrAcquireTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrAcquireTimeout and DeadlineExceeded", err)
		}
		var te *TimeoutError
		if !errors.As(err, &te) {
			t.Fatalf("err = %T, want *TimeoutError", err)
		}
		if te.State.InUse != 2 || te.State.Open != 2 || te.State.MaxSize != 2 || te.Waited != 2*time.Second || te.State.Waiting != 0 {
			t.Errorf("TimeoutError = %+v", te)
		}
		for _, want := range []string{`pool "db"`, "after 2s", "open 2/2", "in use 2"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		}
		// The sooner of ctx's deadline and AcquireTimeout applies.
		for _, tt := range []struct{ ctxTimeout, want time.Duration }{
			{5 * time.Second, 2 * time.Second},
			{time.Second, time.Second},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), tt.ctxTimeout)
			start = time.Now()
			_, err = p.Acquire(ctx)
			cancel()
			if waited := time.Since(start); waited != tt.want || !errors.Is(err, ErrAcquireTimeout) {
				t.Errorf("with a ctx deadline of %v: waited %v, err %v; want %v and a timeout", tt.ctxTimeout, waited, err, tt.want)
			}
		}
		if s := p.Stats(); s.Timeouts != 3 || s.Waiting != 0 {
			t.Errorf("Timeouts = %d, Waiting = %d; want 3, 0", s.Timeouts, s.Waiting)
		}
		release(r1)
		release(r2)
	})
}

func TestCanceledAcquireLeaksNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{createDur: time.Second}
		p := newPool(t, b, Config[*conn]{MaxSize: 1})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error)
		go func() {
			_, err := p.Acquire(ctx)
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond) // Create is under way for that caller
		cancel()
		err := <-errc
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		synctest.Wait()
		time.Sleep(time.Second) // Create finishes: the conn goes idle, for the next caller
		synctest.Wait()
		s := p.Stats()
		if s.Idle != 1 || s.Open != 1 || s.Canceled != 1 {
			t.Fatalf("after the abandoned Create: %+v; want 1 idle", s)
		}
		r := mustAcquire(t, p)
		if creates, _, _ := b.count(); creates != 1 {
			t.Errorf("creates = %d, want 1: the abandoned conn is reused", creates)
		}
		release(r)
	})
}

func TestAbandonedHandOffGoesToNextWaiter(t *testing.T) {
	// A waiter whose ctx ends just as a resource is released either keeps
	// it (it was lent at the hand-off) or leaves the line first, and the
	// resource goes on; run many times to hit the race both ways.
	b := &backend{}
	p := newPool(t, b, Config[*conn]{MaxSize: 1})
	for i := 0; i < 300; i++ {
		held := mustAcquire(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			r, err := p.Acquire(ctx)
			if err == nil {
				release(r)
			}
			errc <- err
		}()
		for p.Stats().Waiting == 0 {
			time.Sleep(10 * time.Microsecond)
		}
		go cancel()
		release(held)
		<-errc
		cancel()
		r := mustAcquire(t, p) // must not block: the conn came back
		release(r)
	}
	s := p.Stats()
	if s.Open != 1 || s.Idle != 1 || s.Created != 1 {
		t.Errorf("stats = %+v; want the one conn, idle", s)
	}
	if s.Acquires+s.Canceled != 3*300 {
		t.Errorf("Acquires %d + Canceled %d != %d", s.Acquires, s.Canceled, 3*300)
	}
}

// A resource released while a caller waits is lent to that caller by the
// releaser: counted once, at the hand-off, and never taken back, even when
// the caller's ctx ends before it runs.
func TestHandOffLendsAtRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, &backend{}, Config[*conn]{MaxSize: 1})
		held := mustAcquire(t, p) // waits for its Create, which takes no time here
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		type got struct {
			r   *Resource[*conn]
			err error
		}
		gotc := make(chan got, 1)
		go func() {
			r, err := p.Acquire(ctx)
			gotc <- got{r, err}
		}()
		time.Sleep(time.Second) // the waiter has waited 1s
		synctest.Wait()
		release(held)
		s := p.Stats()
		if s.Acquires != 2 || s.WaitedAcquires != 2 || s.WaitTime != time.Second || s.InUse != 1 || s.Waiting != 0 || s.Idle != 0 {
			t.Errorf("just after the release: %+v; want the conn lent to the waiter, counted, with its 1s wait", s)
		}
		cancel() // the waiter may not have run yet
		g := <-gotc
		if g.err != nil {
			t.Fatalf("Acquire: %v; want the conn lent to it at the release", g.err)
		}
		release(g.r)
		if s := p.Stats(); s.Acquires != 2 || s.Canceled != 0 || s.Idle != 1 {
			t.Errorf("after: %+v; want 2 acquires, none canceled, the conn idle", s)
		}
	})
}

func TestCreateErrorReachesWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		down := errors.New("connection refused")
		b.setDown(down)
		p := newPool(t, b, Config[*conn]{Name: "db", MaxSize: 2})
		_, err := p.Acquire(context.Background())
		var ce *CreateError
		if !errors.Is(err, down) || !errors.As(err, &ce) || ce.Pool != "db" {
			t.Fatalf("err = %v, want a *CreateError wrapping %v", err, down)
		}
		// A timeout while the backend is down names the create error.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		_, _ = p.Acquire(ctx) // may get a create error or time out
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel2()
		_, err = p.Acquire(ctx2)
		var te *TimeoutError
		if errors.As(err, &te) && !errors.Is(te.LastCreateErr, down) {
			t.Errorf("TimeoutError.LastCreateErr = %v, want %v", te.LastCreateErr, down)
		}
		b.setDown(nil)
		time.Sleep(10 * time.Second) // past any backoff
		r := mustAcquire(t, p)
		release(r)
	})
}

func TestDeadBackendDoesNotSpin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		b.setDown(errors.New("connection refused"))
		p := newPool(t, b, Config[*conn]{MaxSize: 10, MinSize: 5, CreateBackoff: 100 * time.Millisecond, MaxCreateBackoff: 2 * time.Second})
		// 20 callers keep asking for a minute of (fake) time.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		var errs atomic.Int64
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					actx, acancel := context.WithTimeout(ctx, 500*time.Millisecond)
					if _, err := p.Acquire(actx); err != nil {
						errs.Add(1)
					}
					acancel()
					time.Sleep(50 * time.Millisecond) // callers fail fast: pace them
				}
			}()
		}
		wg.Wait()
		creates, _, _ := b.count()
		// One Create at a time while failing, backing off to 1s while
		// callers ask (DemandRetryInterval): about 60 attempts in a minute.
		if creates > 80 || creates < 20 {
			t.Errorf("Create called %d times in a minute of outage; want one attempt per backoff (20..80)", creates)
		}
		if s := p.Stats(); s.CreateErrors != uint64(creates) {
			t.Errorf("CreateErrors = %d, want %d", s.CreateErrors, creates)
		}
		// Recovery: MinSize refills.
		b.setDown(nil)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if s := p.Stats(); s.Idle != 5 {
			t.Errorf("after recovery Idle = %d, want MinSize 5", s.Idle)
		}
	})
}

func TestMinSizeKeptAndIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 6, MinSize: 2, IdleTimeout: time.Minute})
		synctest.Wait()
		if s := p.Stats(); s.Idle != 2 || s.Created != 2 {
			t.Fatalf("after New: %+v; want MinSize 2 idle", s)
		}
		var rs []*Resource[*conn]
		for range 6 {
			rs = append(rs, mustAcquire(t, p))
		}
		for _, r := range rs {
			release(r)
		}
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if s := p.Stats(); s.Idle != 6 {
			t.Fatalf("before IdleTimeout: Idle = %d, want 6", s.Idle)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		s := p.Stats()
		if s.Idle != 2 || s.Open != 2 || s.Destroyed.Idle != 4 {
			t.Fatalf("after IdleTimeout: %+v; want 4 destroyed, MinSize 2 kept", s)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if s := p.Stats(); s.Open != 2 {
			t.Errorf("Open = %d, want MinSize 2 kept forever", s.Open)
		}
		// A destroyed resource is replaced to keep MinSize.
		r := mustAcquire(t, p)
		r.Destroy()
		synctest.Wait()
		if s := p.Stats(); s.Idle != 2 {
			t.Errorf("after Destroy: Idle = %d, want MinSize 2 refilled", s.Idle)
		}
	})
}

func TestMaxLifetimeWithJitterNeverInUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		var ages []time.Duration
		var mu sync.Mutex
		obs := &recorder{onDestroy: func(r DestroyReason, age time.Duration) {
			if r == ReasonLifetime {
				mu.Lock()
				ages = append(ages, age)
				mu.Unlock()
			}
		}}
		p := newPool(t, b, Config[*conn]{MaxSize: 20, MinSize: 20, MaxLifetime: 10 * time.Minute,
			MaxLifetimeJitter: time.Minute, Observer: obs})
		synctest.Wait()
		held := mustAcquire(t, p) // in use across its expiry
		time.Sleep(11 * time.Minute)
		synctest.Wait()
		if held.Value().destroyed.Load() {
			t.Fatal("a resource in use was destroyed at its lifetime")
		}
		mu.Lock()
		n := len(ages)
		distinct := map[time.Duration]bool{}
		for _, a := range ages {
			distinct[a] = true
			if a > 10*time.Minute || a < 9*time.Minute {
				t.Errorf("retired at age %v, want within [9m, 10m]", a)
			}
		}
		mu.Unlock()
		if n != 19 {
			t.Errorf("%d idle resources retired at lifetime, want 19", n)
		}
		if len(distinct) < 10 {
			t.Errorf("only %d distinct expiry ages among %d: jitter missing", len(distinct), n)
		}
		release(held) // past its lifetime: destroyed now
		synctest.Wait()
		if !held.Value().destroyed.Load() {
			t.Error("expired resource not destroyed on Release")
		}
		if s := p.Stats(); s.Destroyed.Lifetime != 20 || s.Idle != 20 {
			t.Errorf("stats = %+v; want 20 retired, MinSize refilled", s)
		}
	})
}

func TestCheckOnAcquireOnlyAfterIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 2, Check: b.check, HealthCheckPeriod: -1})
		release(mustAcquire(t, p))
		time.Sleep(100 * time.Millisecond)
		release(mustAcquire(t, p))
		if _, checks, _ := b.count(); checks != 0 {
			t.Errorf("checks = %d, want 0 for a resource used within CheckAfterIdle", checks)
		}
		time.Sleep(time.Second)
		release(mustAcquire(t, p))
		if _, checks, _ := b.count(); checks != 1 {
			t.Errorf("checks = %d, want 1 after a second idle", checks)
		}
	})
}

func TestBackendRestartCostsNoError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 8, MinSize: 8, Check: b.check, HealthCheckPeriod: -1})
		synctest.Wait()
		// Use them all recently, so no idle-time check would catch them.
		var rs []*Resource[*conn]
		for range 8 {
			rs = append(rs, mustAcquire(t, p))
		}
		for _, r := range rs {
			release(r)
		}
		time.Sleep(100 * time.Millisecond)
		b.restart()
		// Idle 100ms < CheckAfterIdle: nothing checks the first conn
		// out. Its holder sees the failure and destroys it.
		r := mustAcquire(t, p)
		r.Destroy()
		// The rest are now idle long enough to be checked on acquire.
		time.Sleep(time.Second)
		for range 8 {
			r := mustAcquire(t, p)
			if r.Value().dead.Load() {
				t.Fatalf("handed out dead conn %d after a restart", r.Value().id)
			}
			defer release(r)
		}
		s := p.Stats()
		if s.Destroyed.CheckFailed != 7 {
			t.Errorf("CheckFailed = %d, want 7 (every old conn)", s.Destroyed.CheckFailed)
		}
	})
}

func TestSuspectsCheckedEvenWhenRecentlyUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 4, MinSize: 4, Check: b.check, HealthCheckPeriod: -1})
		synctest.Wait()
		time.Sleep(time.Second) // all four idle past CheckAfterIdle
		b.restart()
		// Three are used and released just now; one stays idle long.
		r1, r2, r3 := mustAcquire(t, p), mustAcquire(t, p), mustAcquire(t, p)
		// Each of those was checked (idle > 500ms) and found dead,
		// so each is a new conn; the restart's victims are gone.
		for _, r := range []*Resource[*conn]{r1, r2, r3} {
			if r.Value().dead.Load() {
				t.Fatal("dead conn handed out")
			}
			release(r)
		}
		// The remaining old conn is suspect: checked even though the
		// stack order hands out the just-released ones first.
		var got []*Resource[*conn]
		for range 4 {
			r := mustAcquire(t, p)
			if r.Value().dead.Load() {
				t.Fatalf("dead conn %d handed out", r.Value().id)
			}
			got = append(got, r)
		}
		for _, r := range got {
			release(r)
		}
		if s := p.Stats(); s.Destroyed.CheckFailed != 4 {
			t.Errorf("CheckFailed = %d, want 4", s.Destroyed.CheckFailed)
		}
	})
}

func TestBackgroundHealthCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 4, MinSize: 3, Check: b.check, HealthCheckPeriod: 30 * time.Second})
		synctest.Wait()
		time.Sleep(31 * time.Second)
		synctest.Wait()
		if _, checks, _ := b.count(); checks != 3 {
			t.Errorf("checks after one period = %d, want 3", checks)
		}
		b.restart()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		s := p.Stats()
		if s.Destroyed.CheckFailed != 3 || s.Idle != 3 {
			t.Errorf("after restart and a period: %+v; want 3 replaced in the background", s)
		}
		for _, c := range b.conns[3:] {
			if c.dead.Load() {
				t.Error("replacement conn dead")
			}
		}
	})
}

func TestMaxIdleMaxUsesReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		var resets atomic.Int64
		p := newPool(t, b, Config[*conn]{MaxSize: 4, MaxIdle: 2, MaxUses: 3,
			Reset: func(_ context.Context, c *conn) error {
				if resets.Add(1) == 5 {
					return errors.New("reset failed")
				}
				return nil
			}})
		var rs []*Resource[*conn]
		for range 4 {
			rs = append(rs, mustAcquire(t, p))
		}
		for _, r := range rs {
			release(r)
		}
		s := p.Stats()
		if s.Idle != 2 || s.Destroyed.Idle != 2 {
			t.Fatalf("after releasing 4 with MaxIdle 2: %+v", s)
		}
		// Reset #5 fails: that conn is destroyed as broken.
		release(mustAcquire(t, p))
		if s := p.Stats(); s.Destroyed.Broken != 1 {
			t.Errorf("Broken = %d, want 1 after a failed Reset", s.Destroyed.Broken)
		}
		// MaxUses: the same conn is lent 3 times, then destroyed.
		for range 3 {
			release(mustAcquire(t, p))
		}
		r := mustAcquire(t, p)
		release(r)
		if s := p.Stats(); s.Destroyed.MaxUses == 0 {
			t.Errorf("MaxUses destroyed nothing: %+v", s.Destroyed)
		}
	})
}

// logBuffer is a slog handler target that tests can read safely.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestLeakDetection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		b := &backend{}
		p := newPool(t, b, Config[*conn]{Name: "db", MaxSize: 1, LeakThreshold: time.Minute,
			AcquireTimeout: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		r := leakyHandler(t, p)
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if strings.Contains(logs.String(), "LeakThreshold") {
			t.Fatal("leak reported before the threshold")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		out := logs.String()
		if !strings.Contains(out, "held longer than LeakThreshold") || !strings.Contains(out, "leakyHandler") {
			t.Fatalf("leak report missing or without the acquiring stack:\n%s", out)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if n := strings.Count(logs.String(), "held longer than LeakThreshold"); n != 1 {
			t.Errorf("leak reported %d times, want once", n)
		}
		_, err := p.Acquire(context.Background())
		var te *TimeoutError
		if !errors.As(err, &te) || !strings.Contains(te.LongestHolder, "leakyHandler") || te.LongestHeld < 6*time.Minute {
			t.Errorf("timeout error does not name the longest holder: %v", err)
		}
		if s := p.Stats(); s.Leaks != 1 {
			t.Errorf("Leaks = %d, want 1", s.Leaks)
		}
		release(r)
	})
}

// leakyHandler acquires and "forgets" to release: its name must show up in
// the leak report.
func leakyHandler(t *testing.T, p *Pool[*conn]) *Resource[*conn] {
	return mustAcquire(t, p)
}

func TestDoubleReleaseIsReportedAndHarmless(t *testing.T) {
	var logs logBuffer
	b := &backend{}
	p := newPool(t, b, Config[*conn]{MaxSize: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r := mustAcquire(t, p)
	release(r)
	r.Release()
	r.Destroy()
	if n := strings.Count(logs.String(), "not in use"); n != 2 {
		t.Errorf("misuse reported %d times, want 2:\n%s", n, logs.String())
	}
	s := p.Stats()
	if s.Idle != 1 || s.InUse != 0 || s.Open != 1 || s.Destroyed.Total() != 0 {
		t.Errorf("stats after double release = %+v; want one idle conn", s)
	}
	r1, r2 := mustAcquire(t, p), mustAcquire(t, p)
	if r1.Value() == r2.Value() {
		t.Fatal("the same conn lent twice")
	}
	release(r1)
	release(r2)
}

func TestMaxWaitersFailsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 1, MaxWaiters: 2})
		held := mustAcquire(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		for range 2 {
			go p.Acquire(ctx)
		}
		synctest.Wait()
		_, err := p.Acquire(context.Background())
		if !errors.Is(err, ErrWaitQueueFull) || !strings.Contains(err.Error(), "MaxWaiters 2") {
			t.Errorf("err = %v, want ErrWaitQueueFull naming MaxWaiters", err)
		}
		cancel()
		synctest.Wait()
		if s := p.Stats(); s.Rejected != 1 || s.Canceled != 2 {
			t.Errorf("Rejected = %d, Canceled = %d; want 1, 2", s.Rejected, s.Canceled)
		}
		release(held)
	})
}

func TestCloseFailsWaitersAndWaitsForHolders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p, err := New(Config[*conn]{MaxSize: 2, MinSize: 1, Create: b.create, Destroy: b.destroy,
			IdleTimeout: time.Minute, Check: b.check})
		if err != nil {
			t.Fatal(err)
		}
		r1, r2 := mustAcquire(t, p), mustAcquire(t, p)
		errc := make(chan error)
		go func() {
			_, err := p.Acquire(context.Background())
			errc <- err
		}()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		closeErr := make(chan error)
		go func() { closeErr <- p.Close(ctx) }()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("waiter got %v, want ErrClosed", err)
		}
		if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Acquire after Close: %v, want ErrClosed", err)
		}
		release(r1)
		if err := <-closeErr; err == nil || !strings.Contains(err.Error(), "1 resources still open") {
			t.Errorf("Close with one holder past ctx: %v", err)
		}
		release(r2)
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, _, destroys := b.count(); destroys != 2 {
			t.Errorf("destroys = %d, want 2", destroys)
		}
		if s := p.Stats(); s.Open != 0 || s.Destroyed.Closed != 2 {
			t.Errorf("after Close: %+v", s)
		}
	})
}

// recorder is an Observer for tests.
type recorder struct {
	NopObserver
	mu                                          sync.Mutex
	created, createErrs, acquired, released, to int
	waited                                      time.Duration
	onDestroy                                   func(DestroyReason, time.Duration)
	events                                      []string // pool names seen, per event
}

func (o *recorder) Created(_ context.Context, e CreateEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, "created "+e.Pool)
	if e.Err != nil {
		o.createErrs++
	} else {
		o.created++
	}
}
func (o *recorder) Destroyed(e DestroyEvent) {
	if o.onDestroy != nil {
		o.onDestroy(e.Reason, e.Age)
	}
}
func (o *recorder) Acquired(_ context.Context, e AcquireEvent) {
	o.mu.Lock()
	o.acquired++
	o.waited += e.Wait
	o.events = append(o.events, "acquired "+e.Pool)
	o.mu.Unlock()
}
func (o *recorder) Released(e ReleaseEvent) {
	o.mu.Lock()
	o.released++
	o.events = append(o.events, "released "+e.Pool)
	o.mu.Unlock()
}
func (o *recorder) TimedOut(_ context.Context, e AcquireEvent) {
	o.mu.Lock()
	o.to++
	o.events = append(o.events, "timedout "+e.Pool)
	o.mu.Unlock()
}

func TestObserverSeesEveryEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		o := &recorder{}
		p := newPool(t, b, Config[*conn]{MaxSize: 1, Observer: o, AcquireTimeout: time.Second})
		r := mustAcquire(t, p)
		go func() { time.Sleep(300 * time.Millisecond); release(r) }()
		r2 := mustAcquire(t, p) // waits 300ms
		_, err := p.Acquire(context.Background())
		if !errors.Is(err, ErrAcquireTimeout) {
			t.Fatal(err)
		}
		release(r2)
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.created != 1 || o.acquired != 2 || o.released != 2 || o.to != 1 || o.waited != 300*time.Millisecond {
			t.Errorf("observer saw %+v", o)
		}
	})
}

func TestBudgetCapsPoolsTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget, err := NewBudget(4)
		if err != nil {
			t.Fatal(err)
		}
		ba, bb := &backend{}, &backend{}
		a := newPool(t, ba, Config[*conn]{Name: "primary", MaxSize: 4, Budget: budget})
		rep := newPool(t, bb, Config[*conn]{Name: "replica", MaxSize: 4, Budget: budget})
		var held []*Resource[*conn]
		for range 3 {
			held = append(held, mustAcquire(t, a))
		}
		idle := mustAcquire(t, a)
		release(idle) // primary: 3 in use, 1 idle; budget spent
		if budget.Used() != 4 {
			t.Fatalf("Used = %d, want 4", budget.Used())
		}
		// The replica needs one: the primary's idle one is reclaimed.
		r := mustAcquire(t, rep)
		if s := a.Stats(); s.Open != 3 || s.Destroyed.Idle != 1 {
			t.Errorf("primary after reclaim: %+v", s)
		}
		// Now nothing idle anywhere: the replica waits for a release.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := rep.Acquire(ctx); !errors.Is(err, ErrAcquireTimeout) {
			t.Errorf("over budget: err = %v, want a timeout", err)
		}
		got := make(chan *Resource[*conn])
		go func() { got <- mustAcquire(t, rep) }()
		synctest.Wait()
		held[0].Value().inUse.Store(false)
		held[0].Destroy() // frees a budget share for the replica's Create
		r2 := <-got
		if budget.Used() != 4 {
			t.Errorf("Used = %d, want 4", budget.Used())
		}
		release(r)
		release(r2)
		for _, h := range held[1:] {
			release(h)
		}
	})
}

func TestBudgetRefusesMinSizeOverflow(t *testing.T) {
	budget, _ := NewBudget(5)
	b := &backend{}
	p := newPool(t, b, Config[*conn]{Name: "a", MaxSize: 4, MinSize: 3, Budget: budget})
	_ = p
	_, err := New(Config[*conn]{Name: "b", MaxSize: 4, MinSize: 3, Budget: budget, Create: b.create})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "Budget" || !strings.Contains(err.Error(), "6") {
		t.Errorf("err = %v, want a Budget ConfigError (MinSize sum 6 > 5)", err)
	}
	if _, err := NewBudget(0); err == nil {
		t.Error("NewBudget(0) succeeded")
	}
}

func TestFastPathDoesNotAllocate(t *testing.T) {
	b := &backend{}
	for _, cfg := range []Config[*conn]{
		{MaxSize: 2},
		{MaxSize: 2, AcquireTimeout: time.Second},
		{MaxSize: 2, MaxLifetime: time.Hour, IdleTimeout: time.Hour, Check: b.check, Observer: NopObserver{}},
	} {
		p := newPool(t, b, cfg)
		release(mustAcquire(t, p))
		ctx := context.Background()
		if n := testing.AllocsPerRun(1000, func() {
			r, _ := p.Acquire(ctx)
			r.Release()
		}); n != 0 {
			t.Errorf("Acquire+Release allocates %.1f times with %+v", n, cfg)
		}
		if n := testing.AllocsPerRun(1000, func() { _ = p.Stats() }); n != 0 {
			t.Errorf("Stats allocates %.1f times", n)
		}
	}
}

func TestDestroyMakesOlderIdleSuspect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 4, MinSize: 4, Check: b.check, HealthCheckPeriod: -1})
		synctest.Wait()
		var rs []*Resource[*conn]
		for range 4 {
			rs = append(rs, mustAcquire(t, p))
		}
		for _, r := range rs {
			release(r) // all used just now: no idle-time check would run
		}
		b.restart()
		// The first holder finds its conn dead in use and destroys it.
		r := mustAcquire(t, p)
		if !r.Value().dead.Load() {
			t.Fatal("expected the first conn out to be one the restart killed")
		}
		r.Value().inUse.Store(false)
		r.Destroy()
		// Every other old conn is now suspect: checked, found dead, replaced.
		for range 4 {
			r := mustAcquire(t, p)
			if r.Value().dead.Load() {
				t.Fatalf("dead conn %d lent after a Destroy made it suspect", r.Value().id)
			}
			defer release(r)
		}
		if s := p.Stats(); s.Destroyed.CheckFailed != 3 || s.Destroyed.Broken != 1 || s.CheckFailures != 3 {
			t.Errorf("Destroyed = %+v, CheckFailures = %d; want 3 check failures and 1 broken", s.Destroyed, s.CheckFailures)
		}
	})
}

func TestCloseIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 4, MinSize: 1})
		var rs []*Resource[*conn]
		for range 3 {
			rs = append(rs, mustAcquire(t, p))
		}
		release(rs[0])
		release(rs[1])
		if n := p.CloseIdle(); n != 2 {
			t.Errorf("CloseIdle = %d, want 2", n)
		}
		synctest.Wait()
		s := p.Stats()
		if s.InUse != 1 || s.Destroyed.Idle != 2 || s.Idle != 0 || s.Open != 1 {
			t.Errorf("after CloseIdle: %+v; want the one in use kept", s)
		}
		release(rs[2])
	})
}

// A pool at MinSize whose idle resources are past IdleTimeout keeps them:
// its maintainer must sleep, not wake every millisecond to find nothing to
// do (as it once did).
func TestMaintainerSleepsAtMinSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 4, MinSize: 2, IdleTimeout: time.Second})
		synctest.Wait()
		time.Sleep(5 * time.Second) // both idle past IdleTimeout, kept for MinSize
		synctest.Wait()
		p.mu.Lock()
		before := p.passes
		p.mu.Unlock()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		p.mu.Lock()
		n := p.passes - before
		p.mu.Unlock()
		if n > 11 { // at most one per maxMaintainSleep, plus one
			t.Errorf("maintainer ran %d times in 10 idle minutes at MinSize: it spins", n)
		}
		if s := p.Stats(); s.Open != 2 {
			t.Errorf("Open = %d, want MinSize 2", s.Open)
		}
	})
}

func mk(t *testing.T, cfg Config[*conn]) *Pool[*conn] {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func closeT(t *testing.T, p *Pool[*conn]) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// logRecords returns the JSON log records whose message contains msg.
func logRecords(t *testing.T, logs string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, line)
		}
		if m, _ := rec["msg"].(string); strings.Contains(m, msg) {
			out = append(out, rec)
		}
	}
	return out
}

// checkStackList checks that a record names its pool under "pool" and
// carries its stack as a list of "function file:line" frames, one of
// them in fn.
func checkStackList(t *testing.T, rec map[string]any, pool, fn string) {
	t.Helper()
	if rec["pool"] != pool {
		t.Errorf("pool = %v; want %q", rec["pool"], pool)
	}
	frames, ok := rec["stack"].([]any)
	if !ok || len(frames) == 0 {
		t.Fatalf("stack = %#v; want a non-empty list of frames", rec["stack"])
	}
	found := false
	for _, f := range frames {
		s, _ := f.(string)
		fn2, at, ok := strings.Cut(s, " ")
		if !ok || !frameRE.MatchString(s) || !strings.Contains(at, ":") {
			t.Errorf("frame %q; want \"function file:line\"", s)
		}
		if strings.Contains(fn2, "pool.(*Pool") || strings.Contains(fn2, "pool.(*Resource") {
			t.Errorf("frame %q is the pool's own", s)
		}
		found = found || strings.HasSuffix(fn2, "."+fn)
	}
	if !found {
		t.Errorf("no frame in %s: %q", fn, frames)
	}
}

var frameRE = regexp.MustCompile(`^\S+ \S+:\d+$`)

// TestLeakReportStackIsAList: in a JSON log, a leak report's stack is an
// array of frames a log viewer shows one per line, not one string with
// escaped newlines; so is a misuse report's.
func TestLeakReportStackIsAList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		p := newPool(t, &backend{}, Config[*conn]{Name: "db", MaxSize: 2, LeakThreshold: time.Minute,
			Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		r := leakyHandler(t, p)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		recs := logRecords(t, logs.String(), "held longer than LeakThreshold")
		if len(recs) != 1 {
			t.Fatalf("%d leak reports; want 1:\n%s", len(recs), logs.String())
		}
		checkStackList(t, recs[0], "db", "leakyHandler")
		release(r)
		doubleRelease(r)
		recs = logRecords(t, logs.String(), "not in use")
		if len(recs) != 1 {
			t.Fatalf("%d misuse reports; want 1:\n%s", len(recs), logs.String())
		}
		checkStackList(t, recs[0], "db", "doubleRelease")
	})
}

// doubleRelease releases r a second time: its name must show up in the
// misuse report.
func doubleRelease(r *Resource[*conn]) { r.Release() }
