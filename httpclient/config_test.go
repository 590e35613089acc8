package httpclient

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpproxy"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name  string
		give  TransportConfig
		field string
	}{
		{"negative MaxSize", TransportConfig{MaxSize: -1}, "MaxSize"},
		{"MinSize above MaxSize", TransportConfig{MinSize: 5, MaxSize: 4}, "MinSize"},
		{"MinSize above default MaxSize", TransportConfig{MinSize: DefaultMaxSize + 1}, "MinSize"},
		{"negative DialTimeout", TransportConfig{DialTimeout: -time.Second}, "DialTimeout"},
		{"jitter past lifetime", TransportConfig{MaxLifetime: time.Second, MaxLifetimeJitter: time.Second}, "MaxLifetimeJitter"},
		{"jitter without lifetime", TransportConfig{MaxLifetimeJitter: time.Second}, "MaxLifetimeJitter"},
		// The pool limits mean what they mean in pool.Config: negative
		// is refused there, so here too.
		{"negative IdleTimeout", TransportConfig{IdleTimeout: -1}, "IdleTimeout"},
		{"negative MaxLifetime", TransportConfig{MaxLifetime: -1}, "MaxLifetime"},
		{"negative AcquireTimeout", TransportConfig{AcquireTimeout: -1}, "AcquireTimeout"},
		{"negative MaxWaiters", TransportConfig{MaxWaiters: -1}, "MaxWaiters"},
		{"negative LeakThreshold", TransportConfig{LeakThreshold: -1}, "LeakThreshold"},
		{"MaxIdle above MaxSize", TransportConfig{MaxSize: 2, MaxIdle: 3}, "MaxIdle"},
		{"insecure in tls.Config only", TransportConfig{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, "TLSClientConfig.InsecureSkipVerify"},
		{"no protocols", TransportConfig{Protocols: new(http.Protocols)}, "Protocols"},
		{"negative MaxResponseHeaderBytes", TransportConfig{MaxResponseHeaderBytes: -1}, "MaxResponseHeaderBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTransport(tt.give)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("NewTransport: %v; want a *ConfigError for %s", err, tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
			if _, err := NewStdTransport(tt.give); !errors.As(err, &ce) {
				t.Errorf("NewStdTransport: %v; want the same *ConfigError", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := TransportConfig{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	// The pool limits keep pool.Config's meaning: zero is never / no
	// limit / the request's context only, not a product default.
	if c.MaxSize != DefaultMaxSize || c.IdleTimeout != 0 || c.MaxLifetime != 0 ||
		c.AcquireTimeout != 0 || c.ResponseHeaderTimeout != DefaultResponseHeaderTimeout ||
		c.SendPingTimeout != DefaultSendPingTimeout || c.Proxy == nil || !c.Protocols.HTTP1() || !c.Protocols.HTTP2() {
		t.Errorf("defaults not applied: %+v", c)
	}
	st, err := NewStdTransport(TransportConfig{MaxSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	if st.MaxConnsPerHost != 7 || st.MaxIdleConnsPerHost != 7 || st.HTTP2 == nil || st.HTTP2.SendPingTimeout != DefaultSendPingTimeout ||
		!st.ForceAttemptHTTP2 || st.TLSHandshakeTimeout == 0 || st.ResponseHeaderTimeout == 0 || st.TLSClientConfig.InsecureSkipVerify {
		t.Errorf("std transport not tuned: %+v", st)
	}
	// Negative means off for the connection settings that allow it.
	c, _ = TransportConfig{SendPingTimeout: -1}.withDefaults()
	if c.SendPingTimeout != 0 {
		t.Errorf("negative SendPingTimeout not turned off: %+v", c)
	}
	r := RecommendedTransportConfig()
	if r.IdleTimeout != DefaultIdleTimeout || r.MaxLifetime != DefaultMaxLifetime || r.AcquireTimeout != DefaultAcquireTimeout {
		t.Errorf("RecommendedTransportConfig() = %+v", r)
	}
}

// TestTLSVerification: a server with a self-signed certificate is refused
// by default and accepted once its CA is configured (or verification is
// turned off in so many words).
func TestTLSVerification(t *testing.T) {
	srv, _, cfg := startServer(t, h2TLS, http.HandlerFunc(okHandler))
	plain := newTransport(t, TransportConfig{Proxy: noProxy})
	if _, _, err := get(plain, srv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("self-signed server accepted by default: %v", err)
	}
	trusting := newTransport(t, cfg)
	if resp, _, err := get(trusting, srv.URL); err != nil || resp.ProtoMajor != 2 {
		t.Fatalf("with the CA: %v %v", resp, err)
	}
	insecure := newTransport(t, TransportConfig{Proxy: noProxy, InsecureSkipVerify: true})
	if _, _, err := get(insecure, srv.URL); err != nil {
		t.Fatalf("with InsecureSkipVerify: %v", err)
	}
}

// TestRedirectAcrossOrigins: an http.Client following a redirect to
// another origin uses a pool per origin.
func TestRedirectAcrossOrigins(t *testing.T) {
	target, _, _ := startServer(t, h1, http.HandlerFunc(okHandler))
	from, _, cfg := startServer(t, h1, http.RedirectHandler(target.URL+"/landed", http.StatusFound))
	tr := newTransport(t, cfg)
	c := &http.Client{Transport: tr}
	resp, err := c.Get(from.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/landed" || resp.StatusCode != 200 {
		t.Fatalf("ended at %v with %d", resp.Request.URL, resp.StatusCode)
	}
	st := tr.Stats()
	if len(st) != 2 || st[originOf(from.URL)].Requests != 1 || st[originOf(target.URL)].Requests != 1 {
		t.Errorf("stats: %+v", st)
	}
}

// TestProxyFromEnvironment: HTTP_PROXY (read through x/net's httpproxy,
// since http.ProxyFromEnvironment caches the environment at first use)
// routes requests through the proxy.
func TestProxyFromEnvironment(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy gets the absolute URL; this one answers itself.
		w.Write([]byte("proxied " + r.URL.String()))
	}))
	t.Cleanup(proxy.Close)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")
	env := httpproxy.FromEnvironment().ProxyFunc()
	tr := newTransport(t, TransportConfig{Proxy: func(r *http.Request) (*url.URL, error) { return env(r.URL) }})
	_, body, err := get(tr, "http://origin.example/path")
	if err != nil || body != "proxied http://origin.example/path" {
		t.Fatalf("got %q, %v", body, err)
	}
}
