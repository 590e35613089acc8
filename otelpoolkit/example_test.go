package otelpoolkit_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/poolkit/poolkit/otelpoolkit"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

// A pool of your own, reported to OpenTelemetry: a traced caller that
// waits for a connection gets a poolkit.connect and a poolkit.acquire
// span under its own, and the pool's counts are read at collection.
func Example() {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	tel, err := otelpoolkit.New(otelpoolkit.Options{MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		log.Fatal(err)
	}

	// The Source reads the pool's stats at collection time; the pool
	// sends its events to the Source's observer. The observer goes into
	// the pool's Config, so the Source comes first and reads the pool
	// once it is made.
	cfg := pool.Config[string]{
		Name:    "backends",
		MaxSize: 4,
		Create:  func(ctx context.Context) (string, error) { return "conn", nil },
	}
	src, made := telemetry.PendingSource(telemetry.KindPool, cfg)
	reported, err := tel.Pool(src)
	if err != nil {
		log.Fatal(err)
	}
	defer reported.Close()
	cfg.Observer = reported.Observer("")
	p, err := pool.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	made(p)

	ctx, span := tp.Tracer("app").Start(context.Background(), "GET /checkout")
	r, err := p.Acquire(ctx) // the pool is empty: it connects while the caller waits
	if err != nil {
		log.Fatal(err)
	}
	span.End()

	byID := make(map[string]string)
	for _, s := range spans.GetSpans() {
		byID[s.SpanContext.SpanID().String()] = s.Name
	}
	for _, s := range spans.GetSpans() {
		parent := byID[s.Parent.SpanID().String()]
		if parent == "" {
			parent = "(root)"
		}
		fmt.Printf("%s, child of %s\n", s.Name, parent)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name != "db.client.connection.count" {
			continue
		}
		var lines []string
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			state, _ := dp.Attributes.Value("db.client.connection.state")
			name, _ := dp.Attributes.Value("db.client.connection.pool.name")
			lines = append(lines, fmt.Sprintf("%s{pool.name=%s, state=%s} %d %s", m.Name, name.AsString(), state.AsString(), dp.Value, m.Unit))
		}
		slices.Sort(lines)
		fmt.Println(strings.Join(lines, "\n"))
	}
	r.Release()
	// Output:
	// poolkit.connect, child of GET /checkout
	// poolkit.acquire, child of GET /checkout
	// GET /checkout, child of (root)
	// db.client.connection.count{pool.name=backends, state=idle} 0 {connection}
	// db.client.connection.count{pool.name=backends, state=used} 1 {connection}
}
