package httpclient

import (
	"net"
	"net/http"
)

// NewStdTransport returns a plain *http.Transport tuned from cfg: the
// baseline the pool-backed [Transport] is measured against, and a sound
// choice where per-origin stats, warm connections and lifetimes are not
// needed.
//
// It applies the same defaults and validation as [NewTransport]. MaxSize
// becomes both MaxConnsPerHost and MaxIdleConnsPerHost (so a burst does
// not dial connections that are closed right after: the classic churn of
// DefaultTransport, whose MaxIdleConnsPerHost is 2), IdleTimeout becomes
// IdleConnTimeout, HTTP/2 is attempted over TLS and health-checked with
// PINGs, and the dial, TLS handshake and response-header waits are
// bounded. MinSize, MaxLifetime, MaxLifetimeJitter, AcquireTimeout,
// Budget and Observer have no equivalent in http.Transport and are
// ignored.
//
// On failure it returns a *ConfigError naming the field.
func NewStdTransport(cfg TransportConfig) (*http.Transport, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := c.baseTransport()
	t.MaxConnsPerHost = c.MaxSize
	t.MaxIdleConnsPerHost = c.MaxSize
	t.MaxIdleConns = 0 // no limit across hosts; MaxIdleConnsPerHost bounds each
	t.IdleConnTimeout = c.IdleTimeout
	return t, nil
}

// baseTransport builds the http.Transport that dials, runs TLS and ALPN,
// and goes through proxies. c has its defaults applied.
func (c *TransportConfig) baseTransport() *http.Transport {
	dial := c.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: c.DialTimeout, KeepAlive: c.KeepAlive}).DialContext
	}
	t := &http.Transport{
		Proxy:                  c.Proxy,
		DialContext:            dial,
		TLSClientConfig:        c.tlsConfig(),
		TLSHandshakeTimeout:    c.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  c.ResponseHeaderTimeout,
		ExpectContinueTimeout:  defaultExpectContinueTimeout,
		MaxResponseHeaderBytes: c.MaxResponseHeaderBytes,
		DisableCompression:     c.DisableCompression,
		ForceAttemptHTTP2:      true,
		Protocols:              c.Protocols,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: c.SendPingTimeout,
			PingTimeout:     c.PingTimeout,
		},
	}
	return t
}

// defaultExpectContinueTimeout is DefaultTransport's: how long a request
// with "Expect: 100-continue" waits before sending its body anyway.
const defaultExpectContinueTimeout = 1e9 // 1s
