package httpclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// Defaults for the zero values of [TransportConfig], and recommended
// values for the pool limits. Zero fields that have a default take it in
// one place, [TransportConfig.withDefaults], used by both [NewTransport]
// and [NewStdTransport].
//
// The pool limits (IdleTimeout, MaxLifetime, AcquireTimeout, ...) keep
// the meaning they have in [pool.Config], zero included: zero IdleTimeout
// is "never", not DefaultIdleTimeout. [RecommendedTransportConfig], the
// presets and the services file set DefaultIdleTimeout,
// DefaultMaxLifetime and DefaultAcquireTimeout explicitly.
const (
	// DefaultMaxSize caps the connections per origin when
	// TransportConfig.MaxSize is zero: currently 32. (pool.Config has no
	// default and refuses zero.)
	DefaultMaxSize = 32

	// DefaultIdleTimeout is the recommended IdleTimeout, which
	// RecommendedTransportConfig and the presets set: currently 90s
	// (net/http's DefaultTransport closes idle connections after the
	// same).
	DefaultIdleTimeout = 90 * time.Second

	// DefaultMaxLifetime is the recommended MaxLifetime, which
	// RecommendedTransportConfig and the presets set, so that DNS changes
	// and load-balancer rebalancing reach long-lived clients: currently
	// 10 minutes.
	DefaultMaxLifetime = 10 * time.Minute

	// DefaultAcquireTimeout is the recommended AcquireTimeout, which
	// RecommendedTransportConfig sets: currently 30s.
	DefaultAcquireTimeout = 30 * time.Second

	// DefaultDialTimeout bounds a TCP connect: currently 10s.
	DefaultDialTimeout = 10 * time.Second

	// DefaultKeepAlive is the TCP keep-alive period: currently 30s.
	DefaultKeepAlive = 30 * time.Second

	// DefaultTLSHandshakeTimeout bounds a TLS handshake: currently 10s.
	DefaultTLSHandshakeTimeout = 10 * time.Second

	// DefaultResponseHeaderTimeout bounds the wait for a response's
	// headers once the request is written: currently 30s.
	DefaultResponseHeaderTimeout = 30 * time.Second

	// DefaultMaxResponseHeaderBytes caps a response's headers: currently
	// 1 MiB.
	DefaultMaxResponseHeaderBytes = 1 << 20

	// DefaultSendPingTimeout is how long an HTTP/2 connection may go
	// without receiving a frame before it sends a health-check PING:
	// currently 15s.
	DefaultSendPingTimeout = 15 * time.Second

	// DefaultPingTimeout is how long an HTTP/2 health-check PING may go
	// unanswered before the connection is closed: currently 10s.
	DefaultPingTimeout = 10 * time.Second
)

// RecommendedTransportConfig returns a TransportConfig with the
// recommended pool limits set: IdleTimeout DefaultIdleTimeout, MaxLifetime
// DefaultMaxLifetime and AcquireTimeout DefaultAcquireTimeout (every other
// field zero: its default). These are the values a zero field meant before
// the pool limits took pool.Config's meaning.
func RecommendedTransportConfig() TransportConfig {
	return TransportConfig{
		IdleTimeout:    DefaultIdleTimeout,
		MaxLifetime:    DefaultMaxLifetime,
		AcquireTimeout: DefaultAcquireTimeout,
	}
}

// TransportConfig configures a [Transport] (and the plain *http.Transport of
// [NewStdTransport]). Every field has a documented zero value; the zero
// TransportConfig works: verified TLS, HTTP/1.1 and HTTP/2, proxies from
// the environment, bounded dials and handshakes, DefaultMaxSize
// connections per origin kept until they break. For idle timeouts and
// lifetimes too, start from [RecommendedTransportConfig] or a [Preset].
//
// The pool fields (MinSize through LeakThreshold) apply to each origin
// (scheme, host and port) separately and mean exactly what the fields of
// the same name mean in [pool.Config], zero and negative values included;
// they become the origin pool's [pool.Limits] in one place. The others
// configure the connections themselves.
type TransportConfig struct {
	// Name names the Transport (a service, say) in its pools' names, so
	// in errors and logs: an origin's pool is called "NAME
	// scheme://host:port". Zero: "httpclient".
	Name string

	// MinSize is how many connections each origin keeps open, created in
	// the background once the origin is first used (or by
	// [Transport.Warm]). Zero: none.
	MinSize int

	// MaxSize caps the open connections per origin, counting those being
	// dialed. A request that finds none free waits, first come first
	// served, until one is (HTTP/1) or until a stream is free (HTTP/2).
	// Zero: DefaultMaxSize.
	MaxSize int

	// MaxIdle caps the idle connections per origin; one given back while
	// MaxIdle are idle is closed. Zero: MaxSize.
	MaxIdle int

	// IdleTimeout closes a connection idle for longer, never taking an
	// origin below MinSize. Zero: never (see DefaultIdleTimeout for the
	// recommended value).
	IdleTimeout time.Duration

	// MaxLifetime retires a connection at this age minus a random jitter
	// (see MaxLifetimeJitter), without interrupting a request: an HTTP/1
	// connection is closed when its response is done, an HTTP/2 one
	// stops taking new streams and is closed when its last one ends.
	// Zero: no limit (see DefaultMaxLifetime for the recommended value).
	MaxLifetime time.Duration

	// MaxLifetimeJitter is the most taken off MaxLifetime per connection,
	// so that connections opened together do not close together. Zero:
	// the pool's default (pool.DefaultLifetimeJitterFraction of
	// MaxLifetime). Negative: none.
	MaxLifetimeJitter time.Duration

	// AcquireTimeout bounds the wait for a connection (or, for HTTP/2, a
	// stream): the wait ends at the request context's deadline or
	// AcquireTimeout after the request started, whichever comes first.
	// A wait ended by AcquireTimeout fails with an error that matches
	// pool.ErrAcquireTimeout and context.DeadlineExceeded and wraps a
	// *pool.TimeoutError naming the origin's pool. Zero: only the
	// request's context bounds the wait (see DefaultAcquireTimeout for
	// the recommended value).
	AcquireTimeout time.Duration

	// MaxWaiters bounds the requests waiting for a connection of one
	// origin; one more fails at once with an error that wraps
	// pool.ErrWaitQueueFull. Zero: unbounded.
	MaxWaiters int

	// MaxUses closes a connection after it has served this many
	// requests (HTTP/1) or been taken from the pool this many times.
	// Zero: unlimited.
	MaxUses int

	// LeakThreshold turns on leak reports: a response whose body is
	// neither read to EOF nor closed this long after RoundTrip returned
	// it is reported once through Logger, with the stack of the goroutine
	// that made the request (it holds a connection, or an HTTP/2 stream,
	// until then). Each request then records its stack (about a
	// microsecond). Zero: off.
	LeakThreshold time.Duration

	// Logger receives leak reports and the pools' background failures.
	// Zero: slog.Default().
	Logger *slog.Logger

	// Budget, when set, caps the open connections of all origins together
	// (and of any other pool sharing it): a *pool.Budget within the
	// process, or a fleet budget. The MinSize of every origin used must
	// fit in it. Optional.
	Budget pool.SharedBudget

	// Observer, when set, is called once per origin, with the origin as
	// "scheme://host:port", when its pool is created; the Observer it
	// returns (nil for none) receives that pool's events. Optional.
	Observer func(origin string) pool.Observer

	// DialTimeout bounds a TCP connect. Zero: DefaultDialTimeout.
	DialTimeout time.Duration

	// DialContext opens the connections (TCP, or anything else: a Unix
	// socket, an in-memory pipe in tests); TLS is run over what it
	// returns for "https" origins. Zero: a net.Dialer with DialTimeout and
	// KeepAlive.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// KeepAlive is the TCP keep-alive period. Zero: DefaultKeepAlive.
	// Negative: keep-alives off.
	KeepAlive time.Duration

	// TLSClientConfig configures TLS; it is cloned, never modified.
	// Setting its InsecureSkipVerify is refused unless InsecureSkipVerify
	// below says so too. Zero: the system roots, verification on.
	TLSClientConfig *tls.Config

	// InsecureSkipVerify turns certificate verification off: any server,
	// or anyone in the middle, is accepted. For tests only. Zero: false.
	InsecureSkipVerify bool

	// TLSHandshakeTimeout bounds a TLS handshake. Zero:
	// DefaultTLSHandshakeTimeout. Negative: none.
	TLSHandshakeTimeout time.Duration

	// ResponseHeaderTimeout bounds the wait for a response's headers
	// after the request is written; the request then fails with an error
	// that says "timeout awaiting response headers". Zero:
	// DefaultResponseHeaderTimeout. Negative: none (the request's context
	// still applies).
	ResponseHeaderTimeout time.Duration

	// MaxResponseHeaderBytes caps the bytes of a response's headers. Zero:
	// DefaultMaxResponseHeaderBytes.
	MaxResponseHeaderBytes int64

	// Proxy picks the proxy for an origin, as http.Transport.Proxy does
	// (it is called with a GET request for "scheme://host/" when a
	// connection is dialed). Zero: http.ProxyFromEnvironment. To use no
	// proxy, set a func that returns nil, nil.
	Proxy func(*http.Request) (*url.URL, error)

	// Protocols are the protocols offered: HTTP/1.1, HTTP/2 over TLS
	// (negotiated with ALPN) and HTTP/2 over cleartext with prior
	// knowledge. As with http.Transport, a "http" origin speaks
	// cleartext HTTP/2 only when UnencryptedHTTP2 is set and HTTP1 is
	// not. Zero (nil): HTTP/1.1 and HTTP/2 over TLS.
	Protocols *http.Protocols

	// SendPingTimeout is how long an HTTP/2 connection may receive no
	// frame before it sends a health-check PING. Zero:
	// DefaultSendPingTimeout. Negative: no health checks.
	SendPingTimeout time.Duration

	// PingTimeout is how long a health-check PING may go unanswered
	// before the connection is closed. Zero: DefaultPingTimeout.
	PingTimeout time.Duration

	// DisableCompression turns off the transparent gzip of net/http (an
	// "Accept-Encoding: gzip" added to requests that have none, and the
	// response decompressed). Zero: compression on.
	DisableCompression bool
}

// ConfigError reports a TransportConfig field that cannot work.
// [NewTransport] and [NewStdTransport] return it.
type ConfigError struct {
	Field  string // as spelled in TransportConfig
	Value  any    // the value given
	Reason string // what is wrong with it
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("httpclient: TransportConfig.%s = %v: %s", e.Field, e.Value, e.Reason)
}

// withDefaults validates c and returns it with every zero field that has
// a default replaced by it, and every negative "off" duration of the
// connection fields turned into 0. The pool limits are left as written
// (but MaxSize, whose zero is DefaultMaxSize) and validated by the pool's
// own rules (see limits).
func (c TransportConfig) withDefaults() (TransportConfig, error) {
	bad := func(field string, v any, reason string) (TransportConfig, error) {
		return TransportConfig{}, &ConfigError{Field: field, Value: v, Reason: reason}
	}
	if c.MaxSize < 0 {
		return bad("MaxSize", c.MaxSize, "must be >= 0 (0 means DefaultMaxSize)")
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if err := c.limits().Validate(c.poolName("")); err != nil {
		var pe *pool.ConfigError
		if errors.As(err, &pe) {
			return bad(pe.Field, pe.Value, pe.Reason)
		}
		return TransportConfig{}, err
	}
	if c.MaxLifetimeJitter > 0 && c.MaxLifetime == 0 {
		return bad("MaxLifetimeJitter", c.MaxLifetimeJitter, "set while MaxLifetime is 0 (no limit)")
	}
	if c.MaxLifetime > 0 && c.MaxLifetimeJitter >= c.MaxLifetime {
		return bad("MaxLifetimeJitter", c.MaxLifetimeJitter, fmt.Sprintf("must be < MaxLifetime (%v)", c.MaxLifetime))
	}
	if c.LeakThreshold < 0 {
		return bad("LeakThreshold", c.LeakThreshold, "must be >= 0 (0 means off)")
	}
	if c.MaxResponseHeaderBytes < 0 {
		return bad("MaxResponseHeaderBytes", c.MaxResponseHeaderBytes, "must be >= 0")
	}
	if c.DialTimeout < 0 {
		return bad("DialTimeout", c.DialTimeout, "must be >= 0 (an unbounded dial is not offered)")
	}
	if c.PingTimeout < 0 {
		return bad("PingTimeout", c.PingTimeout, "must be >= 0")
	}
	if c.TLSClientConfig != nil && c.TLSClientConfig.InsecureSkipVerify && !c.InsecureSkipVerify {
		return bad("TLSClientConfig.InsecureSkipVerify", true,
			"refused: set TransportConfig.InsecureSkipVerify too to turn certificate verification off")
	}
	orDefault := func(d *time.Duration, def time.Duration) {
		switch {
		case *d == 0:
			*d = def
		case *d < 0:
			*d = 0
		}
	}
	orDefault(&c.KeepAlive, DefaultKeepAlive)
	orDefault(&c.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	orDefault(&c.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	orDefault(&c.SendPingTimeout, DefaultSendPingTimeout)
	if c.KeepAlive == 0 {
		c.KeepAlive = -1 // net.Dialer: negative disables keep-alives
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.MaxResponseHeaderBytes == 0 {
		c.MaxResponseHeaderBytes = DefaultMaxResponseHeaderBytes
	}
	if c.Proxy == nil {
		c.Proxy = http.ProxyFromEnvironment
	}
	if c.Protocols == nil {
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		c.Protocols = p
	} else {
		p := *c.Protocols
		if !p.HTTP1() && !p.HTTP2() && !p.UnencryptedHTTP2() {
			return bad("Protocols", p, "no protocol enabled")
		}
		c.Protocols = &p
	}
	return c, nil
}

// limits is the one place the pool fields of c become a pool's
// [pool.Limits]. LeakThreshold stays with the Transport, which reports
// leaks per request: an HTTP/2 connection held by many requests for a long
// time is not a leak.
func (c *TransportConfig) limits() pool.Limits {
	return pool.Limits{
		MinSize:        c.MinSize,
		MaxSize:        c.MaxSize,
		MaxIdle:        c.MaxIdle,
		IdleTimeout:    c.IdleTimeout,
		MaxLifetime:    c.MaxLifetime,
		AcquireTimeout: c.AcquireTimeout,
		MaxWaiters:     c.MaxWaiters,
		MaxUses:        c.MaxUses,
	}
}

// poolName is the name of the pool of origin ("scheme://host:port").
func (c *TransportConfig) poolName(origin string) string {
	name := c.Name
	if name == "" {
		name = "httpclient"
	}
	if origin == "" {
		return name
	}
	return name + " " + origin
}

// tlsConfig returns the TLS config to dial with: a clone of
// TLSClientConfig (or a new one) with InsecureSkipVerify only when the
// config says so in so many words.
func (c *TransportConfig) tlsConfig() *tls.Config {
	var t *tls.Config
	if c.TLSClientConfig != nil {
		t = c.TLSClientConfig.Clone()
	} else {
		t = &tls.Config{}
	}
	t.InsecureSkipVerify = c.InsecureSkipVerify
	return t
}
