package otelpoolkit_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/poolkit/poolkit/httpclient"
)

// TestHTTPClient: an httpclient.Client given the Telemetry reports its
// requests, its origin's connections and its breaker under the
// conventions' names, and a traced request that waits for a connection
// gets poolkit.connect and poolkit.acquire spans under its own.
func TestHTTPClient(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := httpclient.NewClient(httpclient.Config{Name: "pay", BaseURL: srv.URL, Telemetry: h.tel})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ctx, caller := h.tracer.Start(context.Background(), "checkout")
	for _, path := range []string{"/", "/missing"} {
		req, err := c.NewRequest(ctx, "GET", path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	caller.End()

	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	server := "server.address=127.0.0.1,server.port=" + port + ",url.scheme=http"
	got := h.collect(t)
	counts := make(map[string]uint64)
	for k, p := range hist(t, got, "http.client.request.duration") {
		counts[k] = p.Count
	}
	equal(t, "request.duration", counts, map[string]uint64{
		"http.request.method=GET,http.response.status_code=200,network.protocol.version=1.1,poolkit.service.name=pay," + server:                1,
		"error.type=404,http.request.method=GET,http.response.status_code=404,network.protocol.version=1.1,poolkit.service.name=pay," + server: 1,
	})
	equal(t, "open_connections", sum(t, got, "http.client.open_connections", "{connection}", false), map[string]int64{
		"http.connection.state=active,poolkit.pool.name=pay," + server: 0,
		"http.connection.state=idle,poolkit.pool.name=pay," + server:   1,
	})
	equal(t, "breaker.state", sum(t, got, "poolkit.breaker.state", "{breaker}", false), map[string]int64{
		"poolkit.breaker.state=closed,poolkit.service.name=pay":    1,
		"poolkit.breaker.state=half_open,poolkit.service.name=pay": 0,
		"poolkit.breaker.state=open,poolkit.service.name=pay":      0,
	})

	spans := h.spans.GetSpans()
	root := spanByName(t, spans, "checkout").SpanContext
	for _, name := range []string{"poolkit.connect", "poolkit.acquire"} {
		s := spanByName(t, spans, name)
		if s.Parent.SpanID() != root.SpanID() {
			t.Errorf("%s: parent %v; want the caller's span %v", name, s.Parent.SpanID(), root.SpanID())
		}
		if got := attrOf(s, "server.port").AsInt64(); net.JoinHostPort("127.0.0.1", itoa(got)) != srv.Listener.Addr().String() {
			t.Errorf("%s: server.port %d; want the server's", name, got)
		}
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got = h.collect(t)
	if _, ok := got["http.client.open_connections"]; ok {
		t.Errorf("open_connections still reported after Close")
	}
	if pts := hist(t, got, "http.client.connection.duration"); pts["poolkit.pool.name=pay,"+server].Count != 1 {
		t.Errorf("connection.duration %v; want the one connection, closed with the client", pts)
	}
}

// attemptTracer starts a client span per attempt, as otelhttp.NewTransport
// does, and hands the request on under it.
type attemptTracer struct {
	tracer trace.Tracer
	next   http.RoundTripper
}

func (a attemptTracer) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, span := a.tracer.Start(req.Context(), "HTTP "+req.Method, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	return a.next.RoundTrip(req.WithContext(ctx))
}

// TestHTTPClientAttemptSpans: an otelhttp-style transport put inside the
// chain with Config.Wrap makes a span per attempt, and the pool's spans
// for that attempt sit under it.
func TestHTTPClientAttemptSpans(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	c, err := httpclient.NewClient(httpclient.Config{
		Name:      "pay",
		BaseURL:   srv.URL,
		Telemetry: h.tel,
		Wrap:      func(next http.RoundTripper) http.RoundTripper { return attemptTracer{h.tracer, next} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ctx, caller := h.tracer.Start(context.Background(), "checkout")
	req, err := c.NewRequest(ctx, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	caller.End()

	spans := h.spans.GetSpans()
	attempt := spanByName(t, spans, "HTTP GET")
	if attempt.Parent.SpanID() != spanByName(t, spans, "checkout").SpanContext.SpanID() {
		t.Errorf("HTTP GET is not the caller's child")
	}
	for _, name := range []string{"poolkit.connect", "poolkit.acquire"} {
		if s := spanByName(t, spans, name); s.Parent.SpanID() != attempt.SpanContext.SpanID() {
			t.Errorf("%s: parent %v; want the attempt's span %v", name, s.Parent.SpanID(), attempt.SpanContext.SpanID())
		}
	}
}
