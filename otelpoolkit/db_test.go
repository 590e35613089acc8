package otelpoolkit_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

// newPool opens a pool.Pool of ints reported to h as kind: its Create
// takes createTime and fails while *down is true.
func newPool(t *testing.T, h *harness, kind, name string, cfg pool.Config[int], createTime time.Duration, down *bool) *pool.Pool[int] {
	t.Helper()
	var p *pool.Pool[int]
	tp, err := h.tel.Pool(telemetry.Source{
		Kind:   kind,
		Name:   name,
		Stats:  func() pool.Stats { return p.Stats() },
		Config: func() telemetry.PoolConfig { return telemetry.ConfigOf(p.Config()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tp.Close)
	cfg.Name = name
	cfg.Observer = tp.Observer("")
	cfg.Create = func(ctx context.Context) (int, error) {
		time.Sleep(createTime)
		if down != nil && *down {
			return 0, errors.New("connection refused")
		}
		return 1, nil
	}
	p, err = pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// TestDBMetrics checks every db.client.connection.* instrument, name by
// name, with its unit, kind and attributes, through a pool's life: two
// connects of 10ms, a holder of 30ms, a caller that times out after 50ms,
// and a release beyond MaxIdle.
func TestDBMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		p := newPool(t, h, telemetry.KindSQL, "orders", pool.Config[int]{MinSize: 0, MaxSize: 2, MaxIdle: 1}, 10*time.Millisecond, nil)

		ctx := context.Background()
		r1, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		timedOut := make(chan error)
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := p.Acquire(ctx)
			timedOut <- err
		}()
		synctest.Wait() // the third caller waits

		const pn = "db.client.connection.pool.name=orders"
		got := h.collect(t)
		equal(t, "count while one waits", sum(t, got, "db.client.connection.count", "{connection}", false),
			map[string]int64{pn + ",db.client.connection.state=idle": 0, pn + ",db.client.connection.state=used": 2})
		equal(t, "pending_requests", sum(t, got, "db.client.connection.pending_requests", "{request}", false),
			map[string]int64{pn: 1})

		if err := <-timedOut; !errors.Is(err, pool.ErrAcquireTimeout) {
			t.Fatalf("third Acquire: %v; want ErrAcquireTimeout", err)
		}
		time.Sleep(40 * time.Millisecond) // now 110ms: the timeout came at 70ms
		r1.Release()
		r2.Release() // beyond MaxIdle: destroyed

		got = h.collect(t)
		equal(t, "count", sum(t, got, "db.client.connection.count", "{connection}", false),
			map[string]int64{pn + ",db.client.connection.state=idle": 1, pn + ",db.client.connection.state=used": 0})
		equal(t, "idle.max", sum(t, got, "db.client.connection.idle.max", "{connection}", false), map[string]int64{pn: 1})
		equal(t, "idle.min", sum(t, got, "db.client.connection.idle.min", "{connection}", false), map[string]int64{pn: 0})
		equal(t, "max", sum(t, got, "db.client.connection.max", "{connection}", false), map[string]int64{pn: 2})
		equal(t, "pending_requests", sum(t, got, "db.client.connection.pending_requests", "{request}", false), map[string]int64{pn: 0})
		equal(t, "timeouts", sum(t, got, "db.client.connection.timeouts", "{timeout}", true), map[string]int64{pn: 1})
		equal(t, "create_time", hist(t, got, "db.client.connection.create_time"), map[string]hpoint{pn: {2, 0.02}})
		// r1 waited for its connect (10ms), r2 likewise.
		equal(t, "wait_time", hist(t, got, "db.client.connection.wait_time"), map[string]hpoint{pn: {2, 0.02}})
		// r1 held from 10ms to 110ms, r2 from 20ms to 110ms.
		equal(t, "use_time", hist(t, got, "db.client.connection.use_time"), map[string]hpoint{pn: {2, 0.19}})

		for name, m := range got {
			if m.Description == "" {
				t.Errorf("%s: no description", name)
			}
		}
		if len(got) != 9 {
			t.Errorf("reported %v; want the 9 db.client.connection.* instruments", names(got))
		}
	})
}
