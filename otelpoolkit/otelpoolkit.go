package otelpoolkit

import (
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/poolkit/poolkit/telemetry"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/poolkit/poolkit/otelpoolkit"

// Options are the providers [New] reports to.
type Options struct {
	// MeterProvider makes the meter. Nil: otel.GetMeterProvider(), the
	// global one (which forwards to whatever is set globally later).
	MeterProvider metric.MeterProvider
	// TracerProvider makes the tracer. Nil: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
}

// New returns a Telemetry that reports to OpenTelemetry. It creates its
// instruments once, here; each Pool and Service then registers a callback,
// which its Close unregisters. On failure (the meter refused an
// instrument), it returns the error and no Telemetry.
//
// A Telemetry reports each pool name and each service name once at a
// time: a second Pool of the same name (among the database-style kinds,
// which share their series, or among HTTP pools), or a second Service of
// the same name, gets an error wrapping [telemetry.ErrDuplicate] until the
// first is closed.
func New(opts Options) (telemetry.Telemetry, error) {
	mp, tp := opts.MeterProvider, opts.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t := &tel{
		meter:    mp.Meter(ScopeName),
		tracer:   tp.Tracer(ScopeName),
		pools:    make(map[string]struct{}),
		services: make(map[string]struct{}),
	}
	if err := t.inst.init(t.meter); err != nil {
		return nil, fmt.Errorf("otelpoolkit: %w", err)
	}
	return t, nil
}

type tel struct {
	meter  metric.Meter
	tracer trace.Tracer
	inst   instruments

	mu       sync.Mutex
	pools    map[string]struct{} // "db " or "http " + name
	services map[string]struct{}
}

var _ telemetry.Telemetry = (*tel)(nil)

// Pool implements [telemetry.Telemetry]. Source.Name is required and
// exactly one of Source.Stats and Source.Origins; Kind http needs Origins
// (server.address and server.port come from its keys), and the other kinds
// need Stats.
func (t *tel) Pool(src telemetry.Source) (telemetry.Pool, error) {
	if src.Kind == "" {
		src.Kind = telemetry.KindPool
	}
	if src.Name == "" {
		return nil, fmt.Errorf("otelpoolkit: Source.Name is empty (kind %q); it names the pool in every series", src.Kind)
	}
	if (src.Stats == nil) == (src.Origins == nil) {
		return nil, fmt.Errorf("otelpoolkit: pool %q: exactly one of Source.Stats and Source.Origins must be set", src.Name)
	}
	ns := "db "
	if src.Kind == telemetry.KindHTTP {
		ns = "http "
		if src.Origins == nil {
			return nil, fmt.Errorf("otelpoolkit: pool %q: Source.Origins is required for Kind %q (server.address and server.port come from its keys); Source.Stats is not enough", src.Name, src.Kind)
		}
	} else if src.Stats == nil {
		return nil, fmt.Errorf("otelpoolkit: pool %q: Source.Origins is only for Kind %q; Kind %q needs Source.Stats", src.Name, telemetry.KindHTTP, src.Kind)
	}
	key := ns + src.Name
	if err := t.claim(t.pools, key); err != nil {
		return nil, fmt.Errorf("otelpoolkit: pool %q (kind %q): %w", src.Name, src.Kind, err)
	}
	release := func() { t.release(t.pools, key) }
	var (
		p   telemetry.Pool
		err error
	)
	if ns == "http " {
		p, err = t.newHTTPPool(src, release)
	} else {
		p, err = t.newDBPool(src, release)
	}
	if err != nil {
		release()
		return nil, fmt.Errorf("otelpoolkit: pool %q: %w", src.Name, err)
	}
	return p, nil
}

// Service implements [telemetry.Telemetry]. The name is required.
func (t *tel) Service(name string) (telemetry.Service, error) {
	if name == "" {
		return nil, errors.New("otelpoolkit: service name is empty; it names the service in every series")
	}
	if err := t.claim(t.services, name); err != nil {
		return nil, fmt.Errorf("otelpoolkit: service %q: %w", name, err)
	}
	return t.newService(name), nil
}

func (t *tel) claim(m map[string]struct{}, key string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := m[key]; ok {
		return telemetry.ErrDuplicate
	}
	m[key] = struct{}{}
	return nil
}

func (t *tel) release(m map[string]struct{}, key string) {
	t.mu.Lock()
	delete(m, key)
	t.mu.Unlock()
}
