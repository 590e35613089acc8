package otelpoolkit_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/poolkit/poolkit/sqlpool"
)

// pgTracer is a pgx tracer as otelpgx writes one: a span per connect and
// per query, under whatever span the ctx pgx is given carries.
type pgTracer struct{ tracer trace.Tracer }

func (pt pgTracer) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	ctx, _ = pt.tracer.Start(ctx, "pgx.connect", trace.WithSpanKind(trace.SpanKindClient))
	return ctx
}

func (pgTracer) TraceConnectEnd(ctx context.Context, d pgx.TraceConnectEndData) {
	end(ctx, d.Err)
}

func (pt pgTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	ctx, _ = pt.tracer.Start(ctx, "pgx.query", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.String("db.query.text", d.SQL)))
	return ctx
}

func (pgTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	end(ctx, d.Err)
}

func end(ctx context.Context, err error) {
	s := trace.SpanFromContext(ctx)
	if err != nil {
		s.RecordError(err)
		s.SetStatus(codes.Error, err.Error())
	}
	s.End()
}

func postgresDSN() string {
	if d := os.Getenv("POOLKIT_POSTGRES_DSN"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// openPG opens a *sql.DB on an sqlpool connector over pgx, whose
// ConnConfig.Tracer is tracer, reported to h through Config.Telemetry. It skips without a server,
// or fails when POOLKIT_REQUIRE_DB=1.
func openPG(t *testing.T, h *harness, name string, tracer pgx.QueryTracer) *sql.DB {
	t.Helper()
	cc, err := pgx.ParseConfig(postgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	probe, err := pgx.ConnectConfig(context.Background(), cc)
	if err != nil {
		if os.Getenv("POOLKIT_REQUIRE_DB") == "1" {
			t.Fatalf("PostgreSQL at %s: %v", postgresDSN(), err)
		}
		t.Skipf("PostgreSQL at %s not reachable (POOLKIT_REQUIRE_DB=1 makes this a failure): %v", postgresDSN(), err)
	}
	probe.Close(context.Background())
	cc.Tracer = tracer

	c, err := sqlpool.NewConnector(stdlib.GetConnector(*cc), sqlpool.Config{Name: name, MaxSize: 2, MaxIdle: 1, Telemetry: h.tel})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	t.Cleanup(func() { db.Close() })
	return db
}

// TestPgxTracingComposes: pgx's own tracer (as otelpgx installs it) on an
// sqlpool connector sees the caller's span in the ctx of the connect the
// caller waits for, so its connect span is the caller's child, not a
// root; poolkit's own poolkit.connect and poolkit.acquire spans sit beside
// it, and the query span too.
func TestPgxTracingComposes(t *testing.T) {
	h := newHarness(t)
	db := openPG(t, h, "pg", pgTracer{h.tracer})

	ctx, caller := h.tracer.Start(context.Background(), "handle request")
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	caller.End()

	spans := h.spans.GetSpans()
	root := spanByName(t, spans, "handle request").SpanContext
	seen := make(map[string]bool)
	for _, s := range spans {
		if s.Name == "handle request" {
			continue
		}
		label := s.Name
		if q := attrOf(s, "db.query.text").AsString(); q != "" {
			label += " " + q
		}
		seen[label] = true
		// Every span, the sizing query sqlpool runs inside the connect
		// included, is the caller's child.
		if s.SpanContext.TraceID() != root.TraceID() || s.Parent.SpanID() != root.SpanID() {
			t.Errorf("%s: trace %v parent %v; want a child of the caller's span %v", label, s.SpanContext.TraceID(), s.Parent.SpanID(), root.SpanID())
		}
		if s.Status.Code == codes.Error {
			t.Errorf("%s: %v", label, s.Status)
		}
	}
	for _, want := range []string{"pgx.connect", "poolkit.connect", "poolkit.acquire", "pgx.query SELECT 1"} {
		if !seen[want] {
			t.Errorf("no %s span in %v", want, spanNames(spans))
		}
	}
	pc, pk := spanByName(t, spans, "pgx.connect"), spanByName(t, spans, "poolkit.connect")
	// poolkit.connect covers the whole Create, pgx's connect inside it
	// (within the clock's rounding of the back-dated start).
	if pc.StartTime.Before(pk.StartTime.Add(-time.Millisecond)) || pc.EndTime.After(pk.EndTime) {
		t.Errorf("pgx.connect [%v, %v] is not within poolkit.connect [%v, %v]", pc.StartTime, pc.EndTime, pk.StartTime, pk.EndTime)
	}

	// sqlpool reports its pool as kind sql, with its limits.
	const pg = "db.client.connection.pool.name=pg"
	got := h.collect(t)
	if pts := hist(t, got, "db.client.connection.create_time"); pts[pg].Count != 1 {
		t.Errorf("create_time %v; want one connect of pool pg", pts)
	}
	if pts := hist(t, got, "db.client.connection.use_time"); pts[pg].Count != 1 {
		t.Errorf("use_time %v; want the query's one use", pts)
	}
	equal(t, "count", sum(t, got, "db.client.connection.count", "{connection}", false),
		map[string]int64{pg + ",db.client.connection.state=idle": 1, pg + ",db.client.connection.state=used": 0})
	equal(t, "max", sum(t, got, "db.client.connection.max", "{connection}", false), map[string]int64{pg: 2})
	equal(t, "idle.max", sum(t, got, "db.client.connection.idle.max", "{connection}", false), map[string]int64{pg: 1})
}
