package httpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

// ErrClosed is returned by RoundTrip and Warm after [Transport.Close].
var ErrClosed = errors.New("httpclient: transport closed")

// Transport is an http.RoundTripper that keeps one [pool.Pool] of
// connections per origin (scheme, host and port). See the package
// documentation for how HTTP/1 and HTTP/2 connections are shared.
//
// A Transport is safe for concurrent use. Create it with [NewTransport];
// the zero value is not usable.
type Transport struct {
	cfg  TransportConfig // defaults applied
	base *http.Transport // dials, runs TLS, ALPN and proxies

	// origins maps a request's raw scheme and URL.Host to its origin. It is
	// copied on write (under mu) so that RoundTrip reads it without a lock.
	origins atomic.Pointer[map[originKey]*origin]

	mu        sync.Mutex
	closed    bool
	byOrigin  map[string]*origin // canonical "scheme://host:port"
	lastSweep time.Time          // of origins empty for evictAfter
	// evictAfter is how long an origin stays empty before it is evicted:
	// max(IdleTimeout, minEvictAfter).
	evictAfter time.Duration
}

var _ http.RoundTripper = (*Transport)(nil)

type originKey struct{ scheme, host string }

// NewTransport returns a Transport for cfg, or a *ConfigError naming the
// first field of cfg that cannot work. It opens no connection: origins get
// their pool on first use (or from [Transport.Warm]).
func NewTransport(cfg TransportConfig) (*Transport, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Transport{
		cfg: c, byOrigin: map[string]*origin{},
		evictAfter: max(c.IdleTimeout, minEvictAfter), lastSweep: time.Now(),
	}
	t.base = c.baseTransport()
	dial := t.base.DialContext
	t.base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if slot, ok := ctx.Value(dialSlotKey{}).(*dialSlot); ok && err == nil {
			slot.nc = nc
		}
		return nc, err
	}
	t.origins.Store(&map[originKey]*origin{})
	return t, nil
}

// RoundTrip implements [http.RoundTripper]: it sends req on a pooled
// connection to req.URL's origin and returns the response. The connection
// serves other requests again once the response body has been read to EOF
// or closed, so the caller must close it, as with any RoundTripper.
//
// req's context bounds the whole call: the wait for a connection (or, when
// it has no deadline, TransportConfig.AcquireTimeout does), the dial, and
// the exchange. A replayable request (GET, HEAD, OPTIONS or TRACE, or one
// with an Idempotency-Key header, whose body is empty or can be rewound
// with GetBody) that fails on a connection that had already served a
// request (typically one the server had just closed) is sent again on
// another connection.
//
// Errors: those of net/http, ErrClosed, and the pool's: an error matching
// pool.ErrAcquireTimeout when no connection could be had in time (a
// *pool.TimeoutError, which says how the origin's pool looked), or a
// *pool.CreateError wrapping the dial error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	o, err := t.originFor(req.URL)
	for err == nil {
		resp, rerr := o.roundTrip(req)
		if rerr != errEvicted {
			return resp, rerr
		}
		// Evicted under our feet: nothing was sent. newOrigin waits for
		// the sweep that evicted it and makes a new one.
		o, err = t.newOrigin(originKey{req.URL.Scheme, req.URL.Host})
	}
	closeBody(req)
	return nil, err
}

// originFor returns the origin of u, creating it on first use.
func (t *Transport) originFor(u *url.URL) (*origin, error) {
	if u == nil {
		return nil, errors.New("httpclient: nil Request.URL")
	}
	k := originKey{u.Scheme, u.Host}
	if o := (*t.origins.Load())[k]; o != nil {
		return o, nil
	}
	return t.newOrigin(k)
}

func (t *Transport) newOrigin(k originKey) (*origin, error) {
	name, addr, err := canonical(k.scheme, k.host)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, ErrClosed
	}
	evicted := t.sweepLocked()
	o := t.byOrigin[name]
	if o == nil {
		o, err = newOrigin(t, name, k.scheme, addr)
		if err != nil {
			t.mu.Unlock()
			closeOrigins(evicted)
			return nil, err
		}
		t.byOrigin[name] = o
	}
	old := *t.origins.Load()
	m := make(map[originKey]*origin, len(old)+1)
	for kk, v := range old {
		if !v.evicted.Load() {
			m[kk] = v
		}
	}
	m[k] = o
	t.origins.Store(&m)
	t.mu.Unlock()
	closeOrigins(evicted)
	return o, nil
}

// minEvictAfter is the least time an origin stays empty before it is
// evicted.
const minEvictAfter = time.Minute

// sweepLocked evicts the origins that have been empty (no connection open
// or being dialed, no request in flight or waiting) for evictAfter, so
// that a Transport that calls many hosts does not keep one pool per host
// it ever called. It runs when an origin is added and from Stats, at most
// once per quarter of evictAfter, so it costs the hot path nothing. It
// removes them from byOrigin (and from origins when the caller stores the
// copy it makes; the caller rebuilds it when the result is not empty) and
// returns them for closing after t.mu is released.
func (t *Transport) sweepLocked() []*origin {
	now := time.Now()
	if now.Sub(t.lastSweep) < t.evictAfter/4 {
		return nil
	}
	t.lastSweep = now
	cutoff := now.Add(-t.evictAfter)
	var evicted []*origin
	for name, o := range t.byOrigin {
		if o.tryEvict(cutoff) {
			delete(t.byOrigin, name)
			evicted = append(evicted, o)
		}
	}
	return evicted
}

// closeOrigins closes evicted origins: they have no connection, so this
// only stops their pools.
func closeOrigins(os []*origin) {
	for _, o := range os {
		o.close()
	}
}

// canonical returns the origin's name ("scheme://host:port", host in lower
// case) and its dial address.
func canonical(scheme, hostport string) (name, addr string, err error) {
	scheme = strings.ToLower(scheme)
	var port string
	switch scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	default:
		return "", "", fmt.Errorf("httpclient: unsupported protocol scheme %q", scheme)
	}
	if hostport == "" {
		return "", "", errors.New("httpclient: no Host in request URL")
	}
	host := hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host = h
		if p != "" {
			port = p
		}
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
	}
	if host == "" {
		return "", "", fmt.Errorf("httpclient: no host in %q", hostport)
	}
	addr = net.JoinHostPort(strings.ToLower(host), port)
	return scheme + "://" + addr, addr, nil
}

// Warm opens connections to each origin ("https://api.example.com",
// "http://10.0.0.1:8080"; a path is ignored) until at least MinSize, and
// at least one, are open, so that the first requests do not pay for
// dialing. It waits for them, until ctx ends, and returns nil when each
// origin has them, or the errors (joined) of the origins that do not.
func (t *Transport) Warm(ctx context.Context, origins ...string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, s := range origins {
		u, err := url.Parse(s)
		if err != nil {
			fail(fmt.Errorf("httpclient: Warm %q: %w", s, err))
			continue
		}
		o, err := t.originFor(u)
		if err != nil {
			fail(fmt.Errorf("httpclient: Warm %q: %w", s, err))
			continue
		}
		wg.Go(func() {
			name := o.name
			err := o.warm(ctx, max(t.cfg.MinSize, 1))
			for err == errEvicted {
				// o was evicted meanwhile; newOrigin fails (o nil)
				// when the transport closed.
				if o, err = t.newOrigin(originKey{u.Scheme, u.Host}); err == nil {
					err = o.warm(ctx, max(t.cfg.MinSize, 1))
				}
			}
			if err != nil {
				fail(fmt.Errorf("httpclient: Warm %s: %w", name, err))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stats returns a snapshot of every origin used so far, keyed by origin
// ("scheme://host:port").
//
// An origin empty for a while (see the package documentation) is evicted
// and no longer listed; if it is used again, its counters start over.
func (t *Transport) Stats() map[string]OriginStats {
	t.mu.Lock()
	var evicted []*origin
	if !t.closed {
		evicted = t.sweepLocked()
		if len(evicted) > 0 {
			t.dropEvictedLocked()
		}
	}
	os := make([]*origin, 0, len(t.byOrigin))
	for _, o := range t.byOrigin {
		os = append(os, o)
	}
	t.mu.Unlock()
	closeOrigins(evicted)
	m := make(map[string]OriginStats, len(os))
	for _, o := range os {
		m[o.name] = o.stats()
	}
	return m
}

// Close closes the Transport: later requests fail with ErrClosed, every
// connection is closed (requests in flight on them fail) and every
// origin's pool is closed. It waits for the pools' goroutines and returns
// the pools' errors, joined; calling it again returns nil.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	os := make([]*origin, 0, len(t.byOrigin))
	for _, o := range t.byOrigin {
		os = append(os, o)
	}
	t.origins.Store(&map[originKey]*origin{})
	t.mu.Unlock()
	var errs []error
	for _, o := range os {
		errs = append(errs, o.close())
	}
	t.base.CloseIdleConnections()
	return errors.Join(errs...)
}

// dropEvictedLocked stores a copy of origins without the evicted ones.
func (t *Transport) dropEvictedLocked() {
	old := *t.origins.Load()
	m := make(map[originKey]*origin, len(old))
	for k, v := range old {
		if !v.evicted.Load() {
			m[k] = v
		}
	}
	t.origins.Store(&m)
}

// poolConfig is the pool.Config of the origin called name, but its
// Create, Destroy and Observer: the limits of the TransportConfig (one
// conversion, TransportConfig.limits) and what the transport adds.
func (t *Transport) poolConfig(name string) pool.Config[*conn] {
	c := &t.cfg
	pc := pool.Config[*conn]{
		Name:              c.poolName(name),
		Check:             checkConn,
		MaxLifetimeJitter: c.MaxLifetimeJitter,
		CreateTimeout:     c.DialTimeout + c.TLSHandshakeTimeout + time.Second,
		Budget:            c.Budget,
		Logger:            c.Logger,
	}
	pc.SetLimits(c.limits())
	return pc
}

// poolStatus is what a status page shows of an origin's pool: the
// values in effect, defaults applied, as the pool reports them.
func (t *Transport) poolStatus() telemetry.PoolConfig {
	pc := t.poolConfig("")
	pc.MinSize, pc.Budget = 0, nil // neither dial nor join anything
	pc.Create = func(context.Context) (*conn, error) { return nil, errors.New("not used") }
	p, err := pool.New(pc)
	if err != nil {
		return telemetry.ConfigOf(t.poolConfig(""))
	}
	eff := p.Config()
	p.Close(context.Background())
	eff.MinSize, eff.Budget = t.cfg.MinSize, t.cfg.Budget
	eff.LeakThreshold = t.cfg.LeakThreshold
	return telemetry.ConfigOf(eff)
}

// closeBody closes req's body, as a RoundTripper must even on failure.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// closeTimeout bounds how long Close waits for a pool whose connections
// have all been closed: only for their destroy calls to finish.
const closeTimeout = 10 * time.Second

// CloseIdleConnections closes every connection idle in an origin's pool
// (an HTTP/2 connection with no stream in flight is idle there too), as
// http.Client.CloseIdleConnections asks of its transport. Connections in
// use are left alone; MinSize is refilled in the background as usual.
func (t *Transport) CloseIdleConnections() {
	for _, o := range *t.origins.Load() {
		o.pool.CloseIdle()
	}
}
