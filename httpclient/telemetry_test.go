package httpclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/retry"
	"github.com/poolkit/poolkit/telemetry"
)

// recorder is a Telemetry that records what a client asks of it.
type recorder struct {
	mu                    sync.Mutex
	sources               []telemetry.Source
	services              []string
	breakers              []string
	origins               []string
	acquired              int
	requests              int
	poolClosed, svcClosed int
	poolErr, serviceErr   error
}

func (r *recorder) Pool(src telemetry.Source) (telemetry.Pool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.poolErr != nil {
		return nil, r.poolErr
	}
	r.sources = append(r.sources, src)
	return recPool{r}, nil
}

func (r *recorder) Service(name string) (telemetry.Service, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.serviceErr != nil {
		return nil, r.serviceErr
	}
	r.services = append(r.services, name)
	return recService{r}, nil
}

type recPool struct{ r *recorder }

func (p recPool) Observer(origin string) pool.Observer {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	p.r.origins = append(p.r.origins, origin)
	return p
}
func (p recPool) Created(context.Context, pool.CreateEvent) {}
func (p recPool) Destroyed(pool.DestroyEvent)               {}
func (p recPool) Acquired(context.Context, pool.AcquireEvent) {
	p.r.mu.Lock()
	p.r.acquired++
	p.r.mu.Unlock()
}
func (p recPool) Released(pool.ReleaseEvent)                  {}
func (p recPool) TimedOut(context.Context, pool.AcquireEvent) {}
func (p recPool) Close() {
	p.r.mu.Lock()
	p.r.poolClosed++
	p.r.mu.Unlock()
}

type recService struct{ r *recorder }

func (s recService) BreakerObserver() breaker.Observer { return nil }
func (s recService) RetryObserver() retry.Observer     { return nil }
func (s recService) Breaker(b *breaker.Breaker) {
	s.r.mu.Lock()
	s.r.breakers = append(s.r.breakers, b.Name())
	s.r.mu.Unlock()
}
func (s recService) RoundTripper(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		s.r.mu.Lock()
		s.r.requests++
		s.r.mu.Unlock()
		return next.RoundTrip(req)
	})
}
func (s recService) Close() {
	s.r.mu.Lock()
	s.r.svcClosed++
	s.r.mu.Unlock()
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestClientTelemetry: a client hands its pools, service and breaker to
// Telemetry, feeds it every request and pool event, and closes both
// handles on Close.
func TestClientTelemetry(t *testing.T) {
	rec := &recorder{}
	c, _ := loopClient(t, Config{Name: "payment", Telemetry: rec}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	for range 3 {
		if code, _, err := call(c, t.Context(), http.MethodGet, "/", nil, nil); err != nil || code != 200 {
			t.Fatalf("call = %d, %v", code, err)
		}
	}
	rec.mu.Lock()
	if len(rec.sources) != 1 || rec.sources[0].Kind != telemetry.KindHTTP || rec.sources[0].Name != "payment" || rec.sources[0].Origins == nil || rec.sources[0].Config == nil {
		t.Errorf("sources = %+v; want one http source named payment with Origins and Config", rec.sources)
	}
	if len(rec.services) != 1 || rec.services[0] != "payment" || len(rec.breakers) != 1 || rec.breakers[0] != "payment" {
		t.Errorf("services %v, breakers %v; want [payment] each", rec.services, rec.breakers)
	}
	if len(rec.origins) != 1 || rec.origins[0] != c.base.Scheme+"://"+c.base.Host {
		t.Errorf("observer asked for origins %v; want the server's", rec.origins)
	}
	if rec.acquired != 3 || rec.requests != 3 {
		t.Errorf("telemetry saw %d acquires, %d requests; want 3 each", rec.acquired, rec.requests)
	}
	rec.mu.Unlock()
	if got := len(rec.sources[0].Origins()); got != 1 {
		t.Errorf("Source.Origins has %d origins; want 1", got)
	}
	if got := rec.sources[0].Config().MaxSize; got != DefaultMaxSize {
		t.Errorf("Source.Config().MaxSize = %d; want %d", got, DefaultMaxSize)
	}
	c.Close()
	c.Close()
	if rec.poolClosed != 1 || rec.svcClosed != 1 {
		t.Errorf("after Close: pool closed %d times, service %d; want 1 each", rec.poolClosed, rec.svcClosed)
	}
}

// TestClientTelemetryRefuses: an error from Telemetry fails NewClient
// with it, naming the field, and what was taken is given back.
func TestClientTelemetryRefuses(t *testing.T) {
	refused := errors.New("refused")
	for _, tt := range []struct {
		name string
		rec  *recorder
	}{
		{"service", &recorder{serviceErr: refused}},
		{"pool", &recorder{poolErr: refused}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(Config{Name: "payment", Telemetry: tt.rec})
			if !errors.Is(err, refused) || !strings.Contains(err.Error(), "Telemetry") {
				t.Fatalf("NewClient = %v; want the Telemetry error, naming the field", err)
			}
			if len(tt.rec.services) != tt.rec.svcClosed {
				t.Errorf("%d services taken, %d closed", len(tt.rec.services), tt.rec.svcClosed)
			}
		})
	}
}

// TestClientTelemetryOnBase: over a caller's own round-tripper there is no
// pool to report, but the service is: its requests and its breaker.
func TestClientTelemetryOnBase(t *testing.T) {
	rec := &recorder{}
	base := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
	})
	c, err := NewClient(Config{Name: "sdk", Base: base, Telemetry: rec})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.HTTP().Get("http://sdk.invalid/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.sources) != 0 || len(rec.services) != 1 || len(rec.breakers) != 1 || rec.requests != 1 || rec.svcClosed != 1 {
		t.Errorf("sources %d, services %v, breakers %v, requests %d, services closed %d; want 0, [sdk], [sdk], 1, 1",
			len(rec.sources), rec.services, rec.breakers, rec.requests, rec.svcClosed)
	}
}
