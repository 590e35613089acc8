package otelpoolkit_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

// spanByName returns the one span named name.
func spanByName(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans named %q in %v; want 1", len(found), name, spanNames(spans))
	}
	return found[0]
}

func spanNames(spans tracetest.SpanStubs) []string {
	var ns []string
	for _, s := range spans {
		ns = append(ns, s.Name)
	}
	return ns
}

func attrOf(s tracetest.SpanStub, k string) attribute.Value {
	for _, kv := range s.Attributes {
		if string(kv.Key) == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestSpansAcquireAndConnect: a traced caller that waits for a connect
// gets a poolkit.connect and a poolkit.acquire span, both children of its
// own span, each as long as what it covers.
func TestSpansAcquireAndConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		p := newPool(t, h, telemetry.KindSQL, "orders", pool.Config[int]{MaxSize: 1}, 10*time.Millisecond, nil)

		ctx, caller := h.tracer.Start(context.Background(), "handle request")
		r, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r.Release()
		r, err = p.Acquire(ctx) // served at once: no span
		if err != nil {
			t.Fatal(err)
		}
		r.Release()
		caller.End()

		spans := h.spans.GetSpans()
		if len(spans) != 3 {
			t.Fatalf("spans %v; want poolkit.connect, poolkit.acquire, handle request", spanNames(spans))
		}
		parent := spanByName(t, spans, "handle request").SpanContext
		for _, name := range []string{"poolkit.connect", "poolkit.acquire"} {
			s := spanByName(t, spans, name)
			if s.Parent.SpanID() != parent.SpanID() || s.SpanContext.TraceID() != parent.TraceID() {
				t.Errorf("%s: parent %v; want the caller's span %v", name, s.Parent.SpanID(), parent.SpanID())
			}
			if d := s.EndTime.Sub(s.StartTime); d != 10*time.Millisecond {
				t.Errorf("%s: lasted %v; want 10ms", name, d)
			}
			if s.Status.Code != codes.Unset {
				t.Errorf("%s: status %v; want unset", name, s.Status)
			}
			for k, want := range map[string]string{"poolkit.pool.name": "orders", "db.client.connection.pool.name": "orders"} {
				if got := attrOf(s, k).AsString(); got != want {
					t.Errorf("%s: %s = %q; want %q", name, k, got, want)
				}
			}
		}

		// The histograms got the caller's ctx: their exemplars point at
		// its trace.
		got := h.collect(t)
		for _, name := range []string{"db.client.connection.wait_time", "db.client.connection.create_time"} {
			dps := got[name].Data.(metricdata.Histogram[float64]).DataPoints
			if len(dps) != 1 || len(dps[0].Exemplars) == 0 {
				t.Errorf("%s: no exemplar in %v", name, dps)
				continue
			}
			if tid := trace.TraceID(dps[0].Exemplars[0].TraceID); tid != parent.TraceID() {
				t.Errorf("%s: exemplar of trace %v; want the caller's %v", name, tid, parent.TraceID())
			}
		}
	})
}

// TestSpansNeedACaller: a caller without a span, and the pool's own
// connects (MinSize), make no span.
func TestSpansNeedACaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		p := newPool(t, h, telemetry.KindPool, "warm", pool.Config[int]{MinSize: 1, MaxSize: 2}, 10*time.Millisecond, nil)
		synctest.Wait() // MinSize's connect
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		r1, err := p.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r2, err := p.Acquire(context.Background()) // waits for a connect, untraced
		if err != nil {
			t.Fatal(err)
		}
		r1.Release()
		r2.Release()
		if st := p.Stats(); st.Created != 2 || st.WaitedAcquires != 1 {
			t.Fatalf("created %d, waited %d; want 2 and 1", st.Created, st.WaitedAcquires)
		}
		if spans := h.spans.GetSpans(); len(spans) != 0 {
			t.Errorf("spans %v; want none", spanNames(spans))
		}
	})
}

// TestSpanAcquireTimeout: a traced caller that times out gets a failed
// poolkit.acquire span as long as its wait.
func TestSpanAcquireTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		p := newPool(t, h, telemetry.KindSQL, "orders", pool.Config[int]{MaxSize: 1}, 0, nil)
		held, err := p.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer held.Release()

		ctx, caller := h.tracer.Start(context.Background(), "handle request")
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := p.Acquire(ctx); !errors.Is(err, pool.ErrAcquireTimeout) {
			t.Fatalf("Acquire: %v; want ErrAcquireTimeout", err)
		}
		caller.End()

		s := spanByName(t, h.spans.GetSpans(), "poolkit.acquire")
		if s.Status.Code != codes.Error {
			t.Errorf("status %v; want Error", s.Status)
		}
		if got := attrOf(s, "error.type").AsString(); got != "timeout" {
			t.Errorf("error.type %q; want timeout", got)
		}
		if d := s.EndTime.Sub(s.StartTime); d != 50*time.Millisecond {
			t.Errorf("lasted %v; want 50ms", d)
		}
		if len(s.Events) != 1 || s.Events[0].Name != "exception" {
			t.Errorf("events %v; want one exception", s.Events)
		}
	})
}

// TestSpanConnectFailed: a connect that fails records its error on the
// poolkit.connect span, under the caller's.
func TestSpanConnectFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		down := true
		p := newPool(t, h, telemetry.KindSQL, "orders", pool.Config[int]{MaxSize: 1}, 5*time.Millisecond, &down)

		ctx, caller := h.tracer.Start(context.Background(), "handle request")
		if _, err := p.Acquire(ctx); err == nil || err.Error() == "" {
			t.Fatalf("Acquire: %v; want the connect's error", err)
		}
		caller.End()

		spans := h.spans.GetSpans()
		s := spanByName(t, spans, "poolkit.connect")
		if s.Parent.SpanID() != spanByName(t, spans, "handle request").SpanContext.SpanID() {
			t.Errorf("connect span is not the caller's child")
		}
		if s.Status.Code != codes.Error || s.Status.Description != "connection refused" {
			t.Errorf("status %v; want Error: connection refused", s.Status)
		}
		if got := attrOf(s, "error.type").AsString(); got != "*errors.errorString" {
			t.Errorf("error.type %q; want *errors.errorString", got)
		}
		got := h.collect(t)
		if m, ok := got["db.client.connection.create_time"]; ok {
			t.Errorf("create_time %v; want nothing for a failed connect", m.Data)
		}
	})
}
