package sqlpool_test

import (
	"context"
	"errors"
	"testing"

	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/sqlpool"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRegistererReportsPoolAndBreaker(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, db := newSQLite(t, sqlpool.Config{Name: "orders", MaxSize: 3, Registerer: reg})
	ctx := context.Background()
	for range 5 {
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if (l.GetName() == "pool" || l.GetName() == "service") && l.GetValue() == "orders" {
					seen[mf.GetName()] = true
					if mf.GetName() == "poolkit_pool_max_connections" && m.GetGauge().GetValue() != 3 {
						t.Errorf("poolkit_pool_max_connections = %v, want MaxSize 3", m.GetGauge().GetValue())
					}
				}
			}
		}
	}
	for _, name := range []string{"poolkit_pool_max_connections", "poolkit_pool_open_connections", "poolkit_pool_acquires_total", "poolkit_pool_wait_time_seconds", "poolkit_breaker_state"} {
		if !seen[name] {
			t.Errorf("%s not reported for orders; saw %v", name, seen)
		}
	}
	if got := c.Stats().Acquires; got < 5 {
		t.Errorf("Acquires = %d, want >= 5", got)
	}

	// A second connector of the same name on the registry is refused.
	_, err = sqlpool.NewConnectorDSN("sqlite", "file::memory:", sqlpool.Config{Name: "orders", Registerer: reg})
	var ce *sqlpool.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Registerer" || !errors.Is(err, metrics.ErrDuplicate) {
		t.Fatalf("duplicate name: err = %v; want a Registerer ConfigError matching metrics.ErrDuplicate", err)
	}

	// Close removes the series.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	mfs, _ = reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == "orders" {
					t.Errorf("after Close: %s still reported for orders", mf.GetName())
				}
			}
		}
	}
}
