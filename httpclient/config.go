package httpclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// Defaults for the zero values of [TransportConfig]. They are applied in one
// place, [TransportConfig.withDefaults], used by both [NewTransport] and
// [NewStdTransport].
const (
	// DefaultMaxSize caps the connections per origin when
	// TransportConfig.MaxSize is zero: currently 32.
	DefaultMaxSize = 32

	// DefaultIdleTimeout closes a connection idle for longer: currently 90s
	// (net/http's DefaultTransport uses the same).
	DefaultIdleTimeout = 90 * time.Second

	// DefaultMaxLifetime retires a connection at this age, so that DNS
	// changes and load-balancer rebalancing reach long-lived clients:
	// currently 10 minutes.
	DefaultMaxLifetime = 10 * time.Minute

	// DefaultAcquireTimeout bounds the wait for a connection when the
	// request's context has no deadline: currently 30s.
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

// TransportConfig configures a [Transport] (and the plain *http.Transport of
// [NewStdTransport]). Every field has a documented zero value; the zero
// TransportConfig is a sensible setup: verified TLS, HTTP/1.1 and HTTP/2,
// proxies from the environment, bounded waits everywhere.
//
// The pool fields apply to each origin (scheme, host and port) separately
// and carry the names of [pool.Config]; the others configure the
// connections themselves.
type TransportConfig struct {
	// MinSize is how many connections each origin keeps open, created in
	// the background once the origin is first used (or by
	// [Transport.Warm]). Zero: none.
	MinSize int

	// MaxSize caps the open connections per origin, counting those being
	// dialed. A request that finds none free waits, first come first
	// served, until one is (HTTP/1) or until a stream is free (HTTP/2).
	// Zero: DefaultMaxSize.
	MaxSize int

	// IdleTimeout closes a connection idle for longer, never taking an
	// origin below MinSize. Zero: DefaultIdleTimeout. Negative: never.
	IdleTimeout time.Duration

	// MaxLifetime retires a connection at this age minus a random jitter
	// (see MaxLifetimeJitter), without interrupting a request: an HTTP/1
	// connection is closed when its response is done, an HTTP/2 one
	// stops taking new streams and is closed when its last one ends.
	// Zero: DefaultMaxLifetime. Negative: no limit.
	MaxLifetime time.Duration

	// MaxLifetimeJitter is the most taken off MaxLifetime per connection,
	// so that connections opened together do not close together. Zero:
	// the pool's default (pool.DefaultLifetimeJitterFraction of
	// MaxLifetime). Negative: none.
	MaxLifetimeJitter time.Duration

	// AcquireTimeout bounds the wait for a connection when the request's
	// context has no deadline; the request then fails with an error that
	// matches pool.ErrAcquireTimeout and context.DeadlineExceeded and wraps
	// a *pool.TimeoutError. Zero: DefaultAcquireTimeout. Negative: only
	// the request's context bounds the wait.
	AcquireTimeout time.Duration

	// Budget, when set, caps the open connections of all origins together
	// (and of any other pool sharing it). The MinSize of every origin used
	// must fit in it. Optional.
	Budget *pool.Budget

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

// withDefaults validates c and returns it with every zero field that has a
// default replaced by it, and every negative "off" duration turned into 0.
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
	if c.MinSize < 0 {
		return bad("MinSize", c.MinSize, "must be >= 0")
	}
	if c.MinSize > c.MaxSize {
		return bad("MinSize", c.MinSize, fmt.Sprintf("must be <= MaxSize (%d)", c.MaxSize))
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
	orDefault(&c.IdleTimeout, DefaultIdleTimeout)
	orDefault(&c.MaxLifetime, DefaultMaxLifetime)
	orDefault(&c.AcquireTimeout, DefaultAcquireTimeout)
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
	if c.MaxLifetime > 0 && c.MaxLifetimeJitter >= c.MaxLifetime {
		return bad("MaxLifetimeJitter", c.MaxLifetimeJitter, fmt.Sprintf("must be < MaxLifetime (%v)", c.MaxLifetime))
	}
	if c.MaxLifetime == 0 && c.MaxLifetimeJitter > 0 {
		return bad("MaxLifetimeJitter", c.MaxLifetimeJitter, "set while MaxLifetime is off")
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
