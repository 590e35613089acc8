package otelpoolkit

import (
	"context"
	"net/url"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

// dbPool reports a pool under the database connection-pool conventions.
type dbPool struct {
	src     telemetry.Source
	obs     *observer
	reg     metric.Registration
	release func()
	once    sync.Once

	// Precomputed so that a collection does not allocate them.
	pool, idle, used metric.ObserveOption
}

func (t *tel) newDBPool(src telemetry.Source, release func()) (*dbPool, error) {
	name := attribute.String(attrDBPoolName, src.Name)
	poolSet := attribute.NewSet(name)
	p := &dbPool{
		src:     src,
		release: release,
		pool:    metric.WithAttributeSet(poolSet),
		idle:    metric.WithAttributeSet(attribute.NewSet(name, attribute.String(attrDBState, "idle"))),
		used:    metric.WithAttributeSet(attribute.NewSet(name, attribute.String(attrDBState, "used"))),
	}
	in := &t.inst
	p.obs = &observer{
		t:         t,
		kind:      src.Kind,
		opts:      []metric.RecordOption{metric.WithAttributeSet(poolSet)},
		spanAttrs: []attribute.KeyValue{attribute.String(attrPoolName, src.Name), name},
		create:    in.dbCreateTime,
		wait:      in.dbWaitTime,
		use:       in.dbUseTime,
	}
	reg, err := t.meter.RegisterCallback(p.collect,
		in.dbCount, in.dbIdleMax, in.dbIdleMin, in.dbMax, in.dbPending, in.dbTimeouts)
	if err != nil {
		return nil, err
	}
	p.reg = reg
	return p, nil
}

func (p *dbPool) collect(_ context.Context, o metric.Observer) error {
	in := &p.obs.t.inst
	st := p.src.Stats()
	o.ObserveInt64(in.dbCount, int64(st.Idle), p.idle)
	o.ObserveInt64(in.dbCount, int64(st.InUse), p.used)
	o.ObserveInt64(in.dbIdleMin, int64(st.MinSize), p.pool)
	o.ObserveInt64(in.dbMax, int64(st.MaxSize), p.pool)
	o.ObserveInt64(in.dbPending, int64(st.Waiting), p.pool)
	o.ObserveInt64(in.dbTimeouts, int64(st.Timeouts), p.pool)
	if p.src.Config != nil {
		o.ObserveInt64(in.dbIdleMax, int64(p.src.Config().MaxIdle), p.pool)
	}
	return nil
}

// Observer returns the pool's observer; origin is ignored (a database
// pool is one pool).
func (p *dbPool) Observer(string) pool.Observer { return p.obs }

// Close unregisters the pool's callback, so its counts, limits and
// timeouts are no longer reported, and frees its name. The histograms'
// series stay until the reader forgets them (cumulative readers keep
// them). Close is idempotent.
func (p *dbPool) Close() {
	p.once.Do(func() {
		_ = p.reg.Unregister()
		p.release()
	})
}

// httpPool reports an httpclient Transport's per-origin pools under the
// HTTP client conventions.
type httpPool struct {
	t       *tel
	src     telemetry.Source
	reg     metric.Registration
	release func()
	once    sync.Once

	mu      sync.Mutex
	origins map[string]*originAttrs // cache for collections; pruned to the origins last seen
}

// originAttrs are the attributes of one origin's series.
type originAttrs struct {
	kvs          []attribute.KeyValue // poolkit.pool.name, server.address, server.port, url.scheme
	active, idle metric.ObserveOption
	seen         bool
}

func (t *tel) newHTTPPool(src telemetry.Source, release func()) (*httpPool, error) {
	p := &httpPool{t: t, src: src, release: release, origins: make(map[string]*originAttrs)}
	reg, err := t.meter.RegisterCallback(p.collect, t.inst.httpOpen)
	if err != nil {
		return nil, err
	}
	p.reg = reg
	return p, nil
}

func (p *httpPool) attrsLocked(origin string) *originAttrs {
	a := p.origins[origin]
	if a == nil {
		kvs := originKVs(p.src.Name, origin)
		a = &originAttrs{
			kvs:    kvs,
			active: metric.WithAttributeSet(attribute.NewSet(append(kvs[:len(kvs):len(kvs)], attribute.String(attrHTTPState, "active"))...)),
			idle:   metric.WithAttributeSet(attribute.NewSet(append(kvs[:len(kvs):len(kvs)], attribute.String(attrHTTPState, "idle"))...)),
		}
		p.origins[origin] = a
	}
	return a
}

func (p *httpPool) collect(_ context.Context, o metric.Observer) error {
	origins := p.src.Origins()
	p.mu.Lock()
	defer p.mu.Unlock()
	for origin, st := range origins {
		a := p.attrsLocked(origin)
		a.seen = true
		o.ObserveInt64(p.t.inst.httpOpen, int64(st.InUse), a.active)
		o.ObserveInt64(p.t.inst.httpOpen, int64(st.Idle), a.idle)
	}
	for origin, a := range p.origins {
		if !a.seen {
			delete(p.origins, origin)
		}
		a.seen = false
	}
	return nil
}

// Observer returns the observer of the pool of origin.
func (p *httpPool) Observer(origin string) pool.Observer {
	kvs := originKVs(p.src.Name, origin)
	set := attribute.NewSet(kvs...)
	return &observer{
		t:         p.t,
		kind:      p.src.Kind,
		opts:      []metric.RecordOption{metric.WithAttributeSet(set)},
		spanAttrs: kvs,
		age:       p.t.inst.httpConnDuration,
	}
}

// Close unregisters the pool's callback and frees its name; see
// [dbPool.Close].
func (p *httpPool) Close() {
	p.once.Do(func() {
		_ = p.reg.Unregister()
		p.release()
	})
}

// originKVs returns the attributes of origin ("scheme://host:port"):
// poolkit.pool.name, server.address, server.port and url.scheme. A port
// left out is the scheme's default; an origin that does not parse is
// reported whole as server.address.
func originKVs(name, origin string) []attribute.KeyValue {
	kvs := []attribute.KeyValue{attribute.String(attrPoolName, name)}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return append(kvs, attribute.String(attrAddress, origin))
	}
	kvs = append(kvs, attribute.String(attrAddress, u.Hostname()))
	if port := portOf(u.Scheme, u.Port()); port > 0 {
		kvs = append(kvs, attribute.Int(attrPort, port))
	}
	return append(kvs, attribute.String(attrScheme, u.Scheme))
}

// portOf returns port as a number, or the default port of scheme when
// port is empty; 0 when there is neither.
func portOf(scheme, port string) int {
	if port == "" {
		switch scheme {
		case "http", "ws":
			return 80
		case "https", "wss":
			return 443
		}
		return 0
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	return n
}
