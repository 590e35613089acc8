package httpclient

import (
	"fmt"
	"net/http"
	"reflect"
	"sync/atomic"
)

// This file holds the bottom of a Client's chain: Config.Base, which stands
// in for the pooled Transport, and Config.Wrap, which puts a user's
// round-tripper under the breaker and retries.

// checkBase reports, through bad, what cannot work in a Config whose Base
// is set: a nil pointer as Base, and any Transport setting, since Base
// makes the connections and would silently ignore them. Only the first
// non-zero Transport field is reported, as for other Transport errors.
func (c Config) checkBase(bad func(field string, v any, reason string)) {
	if isNilRoundTripper(c.Base) {
		bad("Base", fmt.Sprintf("(%T)(nil)", c.Base), "a nil round-tripper; leave Base unset for pooled connections")
	}
	v := reflect.ValueOf(c.Transport)
	for i := range v.NumField() {
		f := v.Field(i)
		if f.IsZero() {
			continue
		}
		var shown any = "set"
		switch f.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int64, reflect.String:
			shown = f.Interface()
		}
		bad("Transport."+v.Type().Field(i).Name, shown,
			"must be zero when Base is set: Base makes the connections (configure them on Base, or leave Base unset)")
		return
	}
}

// isNilRoundTripper reports whether rt is nil, or a nil pointer (or func,
// map, ...) in a non-nil interface, which would panic on the first request.
func isNilRoundTripper(rt http.RoundTripper) bool {
	if rt == nil {
		return true
	}
	switch v := reflect.ValueOf(rt); v.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Slice, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// bottom returns the round-tripper that the breaker wraps: cfg.Base, or a
// new pooled Transport (recorded in c.transport for Stats and Close),
// wrapped by cfg.Wrap when set.
func (c *Client) bottom(cfg Config) (http.RoundTripper, error) {
	var rt http.RoundTripper
	if cfg.Base != nil {
		// Base belongs to the caller and Close leaves it open; closedGuard
		// keeps Close's promise that later requests fail with ErrClosed.
		rt = &closedGuard{next: cfg.Base, closed: &c.baseClosed}
	} else {
		tr, err := NewTransport(cfg.Transport)
		if err != nil {
			return nil, err // validated; not reached
		}
		c.transport = tr
		rt = tr
	}
	if cfg.Wrap != nil {
		wrapped := cfg.Wrap(rt)
		if isNilRoundTripper(wrapped) {
			return nil, &ClientConfigError{Service: cfg.Name, Field: "Wrap", Value: fmt.Sprintf("func returning (%T)(nil)", wrapped),
				Reason: "must return a round-tripper (return its argument to add nothing)"}
		}
		rt = wrapped
	}
	return rt, nil
}

// closedGuard fails requests with ErrClosed once the Client is closed; it
// sits on Config.Base, which the Client does not close.
type closedGuard struct {
	next   http.RoundTripper
	closed *atomic.Bool
}

func (g *closedGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.closed.Load() {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, ErrClosed
	}
	return g.next.RoundTrip(req)
}

var _ http.RoundTripper = (*closedGuard)(nil)
