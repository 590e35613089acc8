package pool

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestSetLimitsRefusesBadValues(t *testing.T) {
	b := &backend{}
	p := newPool(t, b, Config[*conn]{Name: "db", MinSize: 1, MaxSize: 4, MaxIdle: 2})
	tests := []struct {
		name string
		set  func() error
		want string
	}{
		{"SetMaxSize(0)", func() error { return p.SetMaxSize(0) }, `pool "db": SetMaxSize(n = 0): must be > 0`},
		{"SetMaxSize(-1)", func() error { return p.SetMaxSize(-1) }, "SetMaxSize(n = -1): must be > 0"},
		{"SetMaxSize below MinSize", func() error { return p.SetMinSize(1) }, ""},
		{"SetMinSize(-1)", func() error { return p.SetMinSize(-1) }, "SetMinSize(n = -1): must be >= 0"},
		{"SetMinSize above MaxSize", func() error { return p.SetMinSize(5) }, "SetMinSize(n = 5): must be <= MaxSize (4)"},
		{"SetMinSize above MaxIdle", func() error { return p.SetMinSize(3) }, "SetMinSize(n = 3): must be <= MaxIdle (2)"},
	}
	for _, tt := range tests {
		err := tt.set()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "n" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want a *ConfigError containing %q", tt.name, err, tt.want)
		}
	}
	if err := p.SetMinSize(2); err != nil {
		t.Fatal(err)
	}
	if err := p.SetMaxSize(1); err == nil || !strings.Contains(err.Error(), "must be >= MinSize (2)") {
		t.Errorf("SetMaxSize below MinSize: %v", err)
	}
	if s := p.Stats(); s.MinSize != 2 || s.MaxSize != 4 {
		t.Errorf("a refused change changed the limits: MinSize %d MaxSize %d", s.MinSize, s.MaxSize)
	}
}

// Raising MaxSize serves waiting callers at once.
func TestRaisingMaxSizeServesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 1})
		held := mustAcquire(t, p)
		got := make(chan *Resource[*conn], 2)
		for range 2 {
			go func() { got <- mustAcquire(t, p) }()
		}
		synctest.Wait()
		if s := p.Stats(); s.Waiting != 2 {
			t.Fatalf("Waiting = %d, want 2", s.Waiting)
		}
		if err := p.SetMaxSize(3); err != nil {
			t.Fatal(err)
		}
		r1, r2 := <-got, <-got // served without a Release
		if s, c := p.Stats(), p.Config(); s.MaxSize != 3 || c.MaxSize != 3 || c.MaxIdle != 3 || s.Open != 3 {
			t.Errorf("after SetMaxSize(3): Stats.MaxSize %d, Config MaxSize %d MaxIdle %d, Open %d", s.MaxSize, c.MaxSize, c.MaxIdle, s.Open)
		}
		release(r1)
		release(r2)
		release(held)
	})
}

// Lowering MaxSize never takes a resource from its holder: idle ones go
// now, held ones when they come back, until the pool fits.
func TestLoweringMaxSizeWaitsForHolders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 4})
		var rs []*Resource[*conn]
		for range 4 {
			rs = append(rs, mustAcquire(t, p))
		}
		release(rs[0])
		release(rs[1]) // 2 idle, 2 held
		if err := p.SetMaxSize(1); err != nil {
			t.Fatal(err)
		}
		if s := p.Stats(); s.Idle != 0 || s.InUse != 2 || s.Open != 2 || s.MaxSize != 1 {
			t.Fatalf("after SetMaxSize(1): %+v; want the 2 idle destroyed, the 2 held kept", s)
		}
		for _, r := range rs[2:] {
			if r.Value().destroyed.Load() {
				t.Fatal("a held resource was destroyed")
			}
		}
		// Nothing new while over the cap.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := p.Acquire(ctx); !errors.Is(err, ErrAcquireTimeout) {
			t.Errorf("Acquire over the lowered cap: %v, want a timeout", err)
		}
		release(rs[2]) // over the cap: destroyed
		if !rs[2].Value().destroyed.Load() {
			t.Error("a resource released above the lowered MaxSize was kept")
		}
		release(rs[3]) // the pool fits: kept
		if s := p.Stats(); s.Open != 1 || s.Idle != 1 || s.Destroyed.Idle != 3 {
			t.Errorf("after both came back: %+v; want 1 open and idle", s)
		}
	})
}

// Raising MinSize creates the missing resources; lowering it lets
// IdleTimeout retire them.
func TestSetMinSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 4, IdleTimeout: time.Minute})
		if err := p.SetMinSize(3); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := p.Stats(); s.Idle != 3 || s.MinSize != 3 || p.Config().MinSize != 3 {
			t.Fatalf("after SetMinSize(3): %+v", s)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if s := p.Stats(); s.Idle != 3 {
			t.Fatalf("IdleTimeout went below MinSize: Idle %d", s.Idle)
		}
		if err := p.SetMinSize(1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if s := p.Stats(); s.Idle != 1 || s.Destroyed.Idle != 2 {
			t.Errorf("after SetMinSize(1) and an IdleTimeout: %+v; want 1 kept", s)
		}
	})
}

// Creators started together before Create began to fail do not all wait
// out the backoff: one retries, the others give their slots back, so a
// MaxSize lowered meanwhile holds. (FuzzPool found Open 2 with MaxSize 1:
// two creators asleep in the backoff, and SetMaxSize woke only one.)
func TestOneCreatorRetriesWhileCreateFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &backend{}
		p := newPool(t, b, Config[*conn]{MaxSize: 4})
		held := mustAcquire(t, p)
		b.setDown(errors.New("connection refused"))
		if err := p.SetMinSize(4); err != nil { // three creators at once
			t.Fatal(err)
		}
		synctest.Wait()
		if s := p.Stats(); s.Creating != 1 || s.Open != 2 {
			t.Fatalf("while Create fails: Creating %d, Open %d; want 1 creator retrying beside the held one", s.Creating, s.Open)
		}
		if err := p.SetMinSize(0); err != nil {
			t.Fatal(err)
		}
		if err := p.SetMaxSize(1); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := p.Stats(); s.Open != 1 || s.Creating != 0 {
			t.Fatalf("after SetMaxSize(1): Open %d, Creating %d; want only the held one", s.Open, s.Creating)
		}
		b.setDown(nil)
		release(held)
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
