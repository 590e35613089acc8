package otelpoolkit

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/poolkit/poolkit/pool"
)

// Span names.
const (
	spanAcquire = "poolkit.acquire"
	spanConnect = "poolkit.connect"
)

// observer is the pool.Observer of one pool (or one origin's pool): it
// records the histograms its kind has and makes the spans. A nil
// histogram is one the kind does not report.
type observer struct {
	t         *tel
	kind      string
	opts      []metric.RecordOption // the pool's attribute set, made once
	spanAttrs []attribute.KeyValue

	create, wait, use metric.Float64Histogram // database kinds
	age               metric.Float64Histogram // http: http.client.connection.duration
}

var _ pool.Observer = (*observer)(nil)

// Created records a successful Create's duration and, when a traced
// caller's wait started it, a poolkit.connect span under the caller's.
func (o *observer) Created(ctx context.Context, e pool.CreateEvent) {
	if o.create != nil && e.Err == nil {
		o.create.Record(ctx, e.Duration.Seconds(), o.opts...)
	}
	if traced(ctx) {
		o.span(ctx, spanConnect, e.Duration, e.Err, "")
	}
}

// Destroyed records an HTTP connection's age.
func (o *observer) Destroyed(e pool.DestroyEvent) {
	if o.age != nil {
		o.age.Record(context.Background(), e.Age.Seconds(), o.opts...)
	}
}

// Acquired records the wait (zero included) and, when the caller is
// traced and waited, a poolkit.acquire span covering the wait.
func (o *observer) Acquired(ctx context.Context, e pool.AcquireEvent) {
	if o.wait != nil {
		o.wait.Record(ctx, e.Wait.Seconds(), o.opts...)
	}
	if e.Waited && traced(ctx) {
		o.span(ctx, spanAcquire, e.Wait, nil, "")
	}
}

// Released records how long the connection was held.
func (o *observer) Released(e pool.ReleaseEvent) {
	if o.use != nil {
		o.use.Record(context.Background(), e.Held.Seconds(), o.opts...)
	}
}

// TimedOut makes a failed poolkit.acquire span for a traced caller. The
// timeouts themselves are counted from Stats.Timeouts.
func (o *observer) TimedOut(ctx context.Context, e pool.AcquireEvent) {
	if traced(ctx) {
		o.span(ctx, spanAcquire, e.Wait, pool.ErrAcquireTimeout, "timeout")
	}
}

// traced reports whether ctx carries a span to put ours under.
func traced(ctx context.Context) bool {
	return trace.SpanContextFromContext(ctx).IsValid()
}

// span records a span named name that ended now and lasted d, as a child
// of ctx's span. A non-nil err marks it failed, with error.type errType
// (or one derived from err when errType is empty).
func (o *observer) span(ctx context.Context, name string, d time.Duration, err error, errType string) {
	end := time.Now()
	_, s := o.t.tracer.Start(ctx, name,
		trace.WithTimestamp(end.Add(-d)),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(o.spanAttrs...))
	if err != nil {
		if errType == "" {
			s.SetAttributes(semconv.ErrorType(err))
		} else {
			s.SetAttributes(attribute.String(attrErrorType, errType))
		}
		s.RecordError(err, trace.WithTimestamp(end))
		s.SetStatus(codes.Error, err.Error())
	}
	s.End(trace.WithTimestamp(end))
}
