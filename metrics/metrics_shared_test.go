package metrics_test

import (
	"errors"
	"testing"

	"github.com/poolkit/poolkit/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

func TestSharedReturnsOneMetricsPerRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := metrics.Shared(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := metrics.Shared(reg)
	if err != nil || a != b {
		t.Fatalf("second Shared = %p, %v; want the first %p", b, err, a)
	}
	other, err := metrics.Shared(prometheus.NewRegistry())
	if err != nil || other == a {
		t.Fatalf("Shared on another registry = %p, %v; want a new Metrics", other, err)
	}
	// A registry that refuses for another reason: the error comes back.
	if _, err := metrics.Shared(refusing{}); err == nil || !errors.Is(err, errRefused) {
		t.Fatalf("Shared on a refusing registerer: %v", err)
	}
}

var errRefused = errors.New("refused")

type refusing struct{}

func (refusing) Register(prometheus.Collector) error  { return errRefused }
func (refusing) MustRegister(...prometheus.Collector) {}
func (refusing) Unregister(prometheus.Collector) bool { return false }
