package sqlpool_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/sqlpool"
)

// MaxWaiters bounds the callers waiting for a connection: one more fails
// at once with pool.ErrWaitQueueFull.
func TestMaxWaiters(t *testing.T) {
	c, db, _ := newPG(t, sqlpool.Config{MaxSize: 1, MaxWaiters: 1, AcquireTimeout: 30 * time.Second})
	ctx := context.Background()
	held, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		conn, err := db.Conn(ctx)
		if err == nil {
			conn.Close()
		}
		waiting <- err
	}()
	waitFor(t, func() bool { return c.Stats().Waiting == 1 }, "one caller waiting")
	_, err = db.Conn(ctx)
	if !errors.Is(err, pool.ErrWaitQueueFull) {
		t.Fatalf("a second waiter with MaxWaiters 1: %v; want pool.ErrWaitQueueFull", err)
	}
	held.Close()
	if err := <-waiting; err != nil {
		t.Fatalf("the waiter: %v", err)
	}
	if c.Config().MaxWaiters != 1 {
		t.Fatalf("Config().MaxWaiters = %d", c.Config().MaxWaiters)
	}
}

// MaxUses closes a connection after it has been lent that many times.
func TestMaxUses(t *testing.T) {
	c, db, _ := newPG(t, sqlpool.Config{MaxSize: 1, MaxUses: 3})
	pids := map[int]int{}
	for range 9 {
		var pid int
		if err := db.QueryRow("SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids[pid]++
	}
	if len(pids) != 3 {
		t.Fatalf("9 queries with MaxUses 3 ran on %d sessions (%v); want 3", len(pids), pids)
	}
	if st := c.Stats(); st.Destroyed.MaxUses < 2 {
		t.Fatalf("destroyed for max uses: %d; want >= 2", st.Destroyed.MaxUses)
	}
}

// Bad limits are refused with an error naming the field, as pool's are.
func TestLimitsRefused(t *testing.T) {
	for _, cfg := range []struct {
		field string
		cfg   sqlpool.Config
	}{
		{"MaxWaiters", sqlpool.Config{MaxWaiters: -1}},
		{"MaxUses", sqlpool.Config{MaxUses: -1}},
		{"MinSize", sqlpool.Config{MinSize: 5, MaxSize: 2}},
		{"IdleTimeout", sqlpool.Config{IdleTimeout: -time.Second}},
	} {
		_, err := sqlpool.NewConnector(stubConnector{}, cfg.cfg)
		var ce *pool.ConfigError
		if !errors.As(err, &ce) || ce.Field != cfg.field {
			t.Errorf("%+v: %v; want a *pool.ConfigError naming %s", cfg.cfg, err, cfg.field)
		}
	}
}

// stubConnector is a driver.Connector that never connects, for Configs
// that must be refused before any connect.
type stubConnector struct{}

func (stubConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("stub: no connects")
}
func (stubConnector) Driver() driver.Driver { return nil }

// MaxSize and MinSize change at run time, as db.SetMaxOpenConns does for
// database/sql: raising MaxSize serves a waiting caller; MinSize opens
// connections in the background; a bad value is refused, naming it.
func TestSetMaxSizeAndMinSize(t *testing.T) {
	c, db, app := newPG(t, sqlpool.Config{MaxSize: 1, AcquireTimeout: 30 * time.Second})
	admin := plainDB(t, "pgx", postgresDSN())
	ctx := context.Background()
	held, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	got := make(chan error, 1)
	go func() { got <- db.PingContext(ctx) }()
	waitFor(t, func() bool { return c.Stats().Waiting == 1 }, "a caller waiting at MaxSize 1")
	if err := c.SetMaxSize(3); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the waiting caller after SetMaxSize(3): %v", err)
	}
	if err := c.SetMinSize(3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return pgSessions(t, admin, app) == 3 }, "3 sessions after SetMinSize(3)")
	if cfg := c.Config(); cfg.MaxSize != 3 || cfg.MinSize != 3 {
		t.Fatalf("Config() after the changes: MaxSize %d MinSize %d", cfg.MaxSize, cfg.MinSize)
	}
	var ce *pool.ConfigError
	if err := c.SetMaxSize(0); !errors.As(err, &ce) {
		t.Fatalf("SetMaxSize(0): %v; want a *pool.ConfigError", err)
	}
	if err := c.SetMinSize(4); !errors.As(err, &ce) {
		t.Fatalf("SetMinSize(4) above MaxSize 3: %v; want a *pool.ConfigError", err)
	}
}
