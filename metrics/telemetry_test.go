package metrics_test

import (
	"errors"
	"testing"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

func TestForNilIsNoTelemetry(t *testing.T) {
	if tel := metrics.For(nil); tel != nil {
		t.Fatalf("For(nil) = %v; want nil", tel)
	}
}

// TestForSharesOneMetrics: two For of one registry report through one
// Metrics, so names clash across them; another registry is separate;
// Close gives the name back.
func TestForSharesOneMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := metrics.For(reg), metrics.For(reg)
	src := telemetry.Source{Kind: telemetry.KindSQL, Name: "orders", Stats: func() pool.Stats { return pool.Stats{Open: 2} }}
	h, err := a.Pool(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pool(src); !errors.Is(err, telemetry.ErrDuplicate) {
		t.Fatalf("second Pool(orders) = %v; want telemetry.ErrDuplicate", err)
	}
	if _, err := metrics.For(prometheus.NewRegistry()).Pool(src); err != nil {
		t.Fatalf("Pool(orders) on another registry: %v", err)
	}
	if got := gauge(t, reg, "poolkit_pool_open_connections"); got != 2 {
		t.Errorf("open connections = %v; want 2", got)
	}
	h.Close()
	h.Close()
	if got := gauge(t, reg, "poolkit_pool_open_connections"); got != -1 {
		t.Errorf("after Close: open connections still reported (%v)", got)
	}
	if _, err := b.Pool(src); err != nil {
		t.Fatalf("Pool(orders) after Close: %v", err)
	}

	s, err := a.Service("payment")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Service("payment"); !errors.Is(err, telemetry.ErrDuplicate) {
		t.Fatalf("second Service(payment) = %v; want telemetry.ErrDuplicate", err)
	}
	br, err := breaker.New("payment", breaker.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	s.Breaker(br)
	if got := gauge(t, reg, "poolkit_breaker_state"); got != 1 {
		t.Errorf("breaker state series sum = %v; want 1 (closed)", got)
	}
	s.Close()
	if got := gauge(t, reg, "poolkit_breaker_state"); got != -1 {
		t.Errorf("after Close: breaker state still reported (%v)", got)
	}
	if _, err := b.Service("payment"); err != nil {
		t.Fatalf("Service(payment) after Close: %v", err)
	}
}

// TestForErrors: a registry that refuses, and a name a breaker holds,
// surface from Pool and Service.
func TestForErrors(t *testing.T) {
	src := telemetry.Source{Name: "x", Stats: func() pool.Stats { return pool.Stats{} }}
	if _, err := metrics.For(refusing{}).Pool(src); !errors.Is(err, errRefused) {
		t.Errorf("Pool on a refusing registry = %v; want its error", err)
	}
	if _, err := metrics.For(refusing{}).Service("x"); !errors.Is(err, errRefused) {
		t.Errorf("Service on a refusing registry = %v; want its error", err)
	}
	m, err := metrics.New(nil, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	br, _ := breaker.New("db", breaker.Settings{})
	if err := m.AddBreaker(br); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Telemetry().Service("db"); !errors.Is(err, telemetry.ErrDuplicate) {
		t.Errorf("Service(db) with a breaker db added = %v; want telemetry.ErrDuplicate", err)
	}
	if _, err := m.Telemetry().Pool(telemetry.Source{Name: "x"}); err == nil {
		t.Error("Pool of a Source with neither Stats nor Origins: no error")
	}
}

// gauge returns the sum of the series of name in reg, or -1 when there is
// none.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue()
		}
		return sum
	}
	return -1
}
