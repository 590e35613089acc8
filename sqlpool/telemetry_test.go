package sqlpool_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/sqlpool"
	"github.com/poolkit/poolkit/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// poolSeries returns the value of each series of reg labelled pool=name
// (histograms: their sample count).
func poolSeries(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "pool" || l.GetValue() != name {
					continue
				}
				switch {
				case m.Histogram != nil:
					out[mf.GetName()] += float64(m.Histogram.GetSampleCount())
				case m.Counter != nil:
					out[mf.GetName()] += m.Counter.GetValue()
				case m.Gauge != nil:
					out[mf.GetName()] += m.Gauge.GetValue()
				}
			}
		}
	}
	return out
}

// checkReported runs five queries on db and checks what reg shows of the
// connector name, whose MaxSize is 3.
func checkReported(t *testing.T, reg *prometheus.Registry, db *sql.DB, name string) {
	t.Helper()
	for range 5 {
		var one int
		if err := db.QueryRowContext(t.Context(), "SELECT 1").Scan(&one); err != nil {
			t.Fatal(err)
		}
	}
	got := poolSeries(t, reg, name)
	for series, want := range map[string]float64{
		"poolkit_pool_max_connections":     3,
		"poolkit_pool_open_connections":    1,
		"poolkit_pool_idle_connections":    1,
		"poolkit_pool_acquires_total":      5,
		"poolkit_pool_wait_time_seconds":   5,
		"poolkit_pool_use_time_seconds":    5,
		"poolkit_pool_create_time_seconds": 1,
	} {
		if got[series] != want {
			t.Errorf("%s{pool=%q} = %v; want %v (all: %v)", series, name, got[series], want, got)
		}
	}
}

func TestTelemetryPrometheusSQLite(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, db := newSQLite(t, sqlpool.Config{Name: "orders", MaxSize: 3, Telemetry: metrics.For(reg)})
	checkReported(t, reg, db, "orders")

	// A second connector of the same name on the registry is refused.
	_, err := sqlpool.NewConnectorDSN("sqlite", "file::memory:", sqlpool.Config{Name: "orders", Telemetry: metrics.For(reg)})
	var ce *sqlpool.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Telemetry" || !errors.Is(err, telemetry.ErrDuplicate) {
		t.Fatalf("duplicate name: err = %v; want a Telemetry ConfigError matching telemetry.ErrDuplicate", err)
	}

	// Close removes the series, and frees the name.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := poolSeries(t, reg, "orders"); len(got) != 0 {
		t.Errorf("after Close: still reported for orders: %v", got)
	}
	again, err := sqlpool.NewConnectorDSN("sqlite", "file::memory:", sqlpool.Config{Name: "orders", Telemetry: metrics.For(reg)})
	if err != nil {
		t.Fatalf("after Close, a connector of the same name: %v", err)
	}
	again.Close()
}

// TestTelemetryPrometheusPostgres: the same through pgx's database/sql
// driver on a real PostgreSQL, and Shutdown stops the reporting too.
func TestTelemetryPrometheusPostgres(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, db, _ := newPG(t, sqlpool.Config{Name: "ledger", MaxSize: 3, Telemetry: metrics.For(reg)})
	checkReported(t, reg, db, "ledger")
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := poolSeries(t, reg, "ledger"); len(got) != 0 {
		t.Errorf("after Shutdown: still reported for ledger: %v", got)
	}
}
