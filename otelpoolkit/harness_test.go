package otelpoolkit_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/poolkit/poolkit/otelpoolkit"
	"github.com/poolkit/poolkit/telemetry"
)

// harness is a Telemetry on an SDK meter provider read by hand and a
// tracer provider that keeps every span in memory.
type harness struct {
	tel    telemetry.Telemetry
	reader *sdkmetric.ManualReader
	spans  *tracetest.InMemoryExporter
	tracer trace.Tracer // the test's own, for the callers' spans
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	tel, err := otelpoolkit.New(otelpoolkit.Options{MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{tel: tel, reader: reader, spans: spans, tracer: tp.Tracer("test")}
}

// collect returns the metrics of otelpoolkit's scope, by name.
func (h *harness) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelpoolkit.ScopeName {
			t.Errorf("scope %q; want %q", sm.Scope.Name, otelpoolkit.ScopeName)
		}
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	return got
}

// key spells an attribute set as "k=v,k=v", sorted by key.
func key(s attribute.Set) string {
	kvs := s.ToSlice()
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = string(kv.Key) + "=" + kv.Value.String()
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// sum checks that metric name is an int64 sum (monotonic or not, as
// said) in unit, and returns its points by attribute key.
func sum(t *testing.T, got map[string]metricdata.Metrics, name, unit string, monotonic bool) map[string]int64 {
	t.Helper()
	m, ok := got[name]
	if !ok {
		t.Errorf("%s: not reported (have %v)", name, names(got))
		return nil
	}
	if m.Unit != unit {
		t.Errorf("%s: unit %q; want %q", name, m.Unit, unit)
	}
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Errorf("%s: %T; want metricdata.Sum[int64]", name, m.Data)
		return nil
	}
	if s.IsMonotonic != monotonic {
		t.Errorf("%s: monotonic %v; want %v", name, s.IsMonotonic, monotonic)
	}
	pts := make(map[string]int64)
	for _, p := range s.DataPoints {
		pts[key(p.Attributes)] = p.Value
	}
	return pts
}

// hpoint is what a test checks of a histogram's point.
type hpoint struct {
	Count uint64
	Sum   float64
}

// hist checks that metric name is a float64 histogram in seconds and
// returns its points by attribute key.
func hist(t *testing.T, got map[string]metricdata.Metrics, name string) map[string]hpoint {
	t.Helper()
	m, ok := got[name]
	if !ok {
		t.Errorf("%s: not reported (have %v)", name, names(got))
		return nil
	}
	if m.Unit != "s" {
		t.Errorf("%s: unit %q; want %q", name, m.Unit, "s")
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Errorf("%s: %T; want metricdata.Histogram[float64]", name, m.Data)
		return nil
	}
	pts := make(map[string]hpoint)
	for _, p := range h.DataPoints {
		pts[key(p.Attributes)] = hpoint{p.Count, math.Round(p.Sum*1e6) / 1e6} // to the µs
	}
	return pts
}

func names(got map[string]metricdata.Metrics) []string {
	var ns []string
	for n := range got {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// equal reports a difference between two maps.
func equal[V comparable](t *testing.T, name string, got, want map[string]V) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got  %v\n want %v", name, got, want)
	}
}
