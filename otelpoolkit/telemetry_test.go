package otelpoolkit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/semconv/v1.43.0/dbconv"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"

	"github.com/poolkit/poolkit/otelpoolkit"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

func stats() pool.Stats              { return pool.Stats{} }
func origins() map[string]pool.Stats { return nil }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// reportAll makes every instrument record something and collects them.
func reportAll(t *testing.T) map[string]metricdata.Metrics {
	h := newHarness(t)
	p := newPool(t, h, telemetry.KindSQL, "db", pool.Config[int]{MaxSize: 1}, 0, nil)
	r, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.Release()

	const origin = "https://example.com:8443"
	hp, err := h.tel.Pool(telemetry.Source{Kind: telemetry.KindHTTP, Name: "web",
		Origins: func() map[string]pool.Stats { return map[string]pool.Stats{origin: {}} }})
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Close()
	hp.Observer(origin).Destroyed(pool.DestroyEvent{Pool: "web", Age: time.Second})

	svc, err := h.tel.Service("web")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ok := roundTripFunc(func(*http.Request) (*http.Response, error) { return &http.Response{StatusCode: 200}, nil })
	req := httptest.NewRequest("GET", origin+"/", nil)
	if _, err := svc.RoundTripper(ok).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	return h.collect(t)
}

// TestPoolSourceErrors: every bad Source gets an error naming the field.
func TestPoolSourceErrors(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		give telemetry.Source
		want string
	}{
		{"no name", telemetry.Source{Kind: telemetry.KindSQL, Stats: stats}, "Source.Name is empty"},
		{"neither", telemetry.Source{Name: "a"}, "exactly one of Source.Stats and Source.Origins"},
		{"both", telemetry.Source{Name: "a", Stats: stats, Origins: origins}, "exactly one of Source.Stats and Source.Origins"},
		{"http with Stats", telemetry.Source{Kind: telemetry.KindHTTP, Name: "a", Stats: stats}, `Source.Origins is required for Kind "http"`},
		{"sql with Origins", telemetry.Source{Kind: telemetry.KindSQL, Name: "a", Origins: origins}, `Source.Origins is only for Kind "http"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := h.tel.Pool(tt.give)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Pool: %v; want an error containing %q", err, tt.want)
			}
			if p != nil {
				t.Errorf("Pool returned %v with its error", p)
			}
		})
	}
	if _, err := h.tel.Service(""); err == nil || !strings.Contains(err.Error(), "service name is empty") {
		t.Errorf("Service(\"\"): %v; want an error saying the name is empty", err)
	}
}

// TestDuplicates: one name is reported once at a time; database-style
// kinds share their series, so they share their names; Close frees it.
func TestDuplicates(t *testing.T) {
	h := newHarness(t)
	p, err := h.tel.Pool(telemetry.Source{Kind: telemetry.KindSQL, Name: "main", Stats: stats})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{telemetry.KindSQL, telemetry.KindPool, ""} {
		if _, err := h.tel.Pool(telemetry.Source{Kind: kind, Name: "main", Stats: stats}); !errors.Is(err, telemetry.ErrDuplicate) {
			t.Errorf("second pool %q of kind %q: %v; want ErrDuplicate", "main", kind, err)
		}
	}
	hp, err := h.tel.Pool(telemetry.Source{Kind: telemetry.KindHTTP, Name: "main", Origins: origins})
	if err != nil {
		t.Errorf("http pool of a database pool's name: %v; want none (their series differ)", err)
	} else {
		hp.Close()
	}
	p.Close()
	p.Close() // idempotent
	p, err = h.tel.Pool(telemetry.Source{Kind: telemetry.KindPool, Name: "main", Stats: stats})
	if err != nil {
		t.Errorf("pool after Close: %v", err)
	} else {
		p.Close()
	}

	s, err := h.tel.Service("pay")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.tel.Service("pay"); !errors.Is(err, telemetry.ErrDuplicate) {
		t.Errorf("second service: %v; want ErrDuplicate", err)
	}
	s.Close()
	s, err = h.tel.Service("pay")
	if err != nil {
		t.Errorf("service after Close: %v", err)
	} else {
		s.Close()
	}
}

// TestNamesAsSemconv: the instruments carry the name, unit and
// description that OpenTelemetry's own semconv package (v1.43.0, in
// go.opentelemetry.io/otel v1.47) gives them.
func TestNamesAsSemconv(t *testing.T) {
	type inst interface {
		Name() string
		Unit() string
		Description() string
	}
	want := []inst{
		dbconv.ClientConnectionCount{}, dbconv.ClientConnectionIdleMax{}, dbconv.ClientConnectionIdleMin{},
		dbconv.ClientConnectionMax{}, dbconv.ClientConnectionPendingRequests{}, dbconv.ClientConnectionTimeouts{},
		dbconv.ClientConnectionCreateTime{}, dbconv.ClientConnectionWaitTime{}, dbconv.ClientConnectionUseTime{},
		httpconv.ClientOpenConnections{}, httpconv.ClientConnectionDuration{}, httpconv.ClientRequestDuration{},
	}
	got := reportAll(t)
	for _, w := range want {
		m, ok := got[w.Name()]
		if !ok {
			t.Errorf("%s: not reported", w.Name())
			continue
		}
		if m.Unit != w.Unit() || m.Description != w.Description() {
			t.Errorf("%s: unit %q, description %q; semconv says %q, %q", w.Name(), m.Unit, m.Description, w.Unit(), w.Description())
		}
	}
	if otelpoolkit.ScopeName != "github.com/poolkit/poolkit/otelpoolkit" {
		t.Errorf("ScopeName %q; want the module path", otelpoolkit.ScopeName)
	}
}

// TestGlobalProviders: without providers, New reports to the global ones.
func TestGlobalProviders(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	otel.SetMeterProvider(mp)
	defer otel.SetMeterProvider(metricnoop.NewMeterProvider())

	tel, err := otelpoolkit.New(otelpoolkit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := tel.Pool(telemetry.Source{Name: "global", Stats: func() pool.Stats { return pool.Stats{MaxSize: 3} }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h := &harness{reader: reader}
	equal(t, "max", sum(t, h.collect(t), "db.client.connection.max", "{connection}", false),
		map[string]int64{"db.client.connection.pool.name=global": 3})
}
