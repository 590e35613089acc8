package telemetry_test

import (
	"context"
	"testing"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

// TestPendingSource: before the pool is made the Source reads zero stats
// and the config's limits; once made, the pool's own.
func TestPendingSource(t *testing.T) {
	cfg := pool.Config[int]{
		Name:    "own",
		MinSize: 1,
		MaxSize: 3,
		Create:  func(context.Context) (int, error) { return 1, nil },
	}
	src, made := telemetry.PendingSource(telemetry.KindPool, cfg)
	if src.Kind != telemetry.KindPool || src.Name != "own" || src.Origins != nil {
		t.Fatalf("source %+v; want kind pool, name own, no Origins", src)
	}
	if st := src.Stats(); st != (pool.Stats{}) {
		t.Errorf("Stats before the pool is made = %+v; want zero", st)
	}
	if c := src.Config(); c.MaxSize != 3 || c.MinSize != 1 {
		t.Errorf("Config before the pool is made = %+v; want cfg's limits", c)
	}
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	made(p)
	r, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := src.Stats(); st.InUse != 1 || st.MaxSize != 3 {
		t.Errorf("Stats after made = %+v; want the pool's (1 in use of 3)", st)
	}
	r.Release()
	if c := src.Config(); c != telemetry.ConfigOf(p.Config()) {
		t.Errorf("Config after made = %+v; want the pool's effective config %+v", c, telemetry.ConfigOf(p.Config()))
	}
}
