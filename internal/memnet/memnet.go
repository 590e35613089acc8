// Package memnet is an in-memory network for poolkit's tests: a listener
// whose connections are net.Pipe pairs, so real HTTP servers and clients can
// run inside a testing/synctest bubble, where real sockets cannot.
package memnet

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
)

// Listener is an in-memory net.Listener; DialContext connects to it.
type Listener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

// NewListener returns an open Listener.
func NewListener() *Listener {
	return &Listener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for the next DialContext, or returns net.ErrClosed once the
// listener is closed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops the listener; it is safe to call more than once.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Addr returns a made-up loopback address.
func (l *Listener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

// DialContext returns the client end of a new connection whose server end
// the next Accept returns. Network and address are ignored.
func (l *Listener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Serve serves h over a new in-memory listener and returns an
// *http.Transport that dials it. Everything is shut down when the test ends.
func Serve(t testing.TB, h http.Handler) *http.Transport {
	t.Helper()
	l := NewListener()
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	tr := &http.Transport{DialContext: l.DialContext}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		<-done
	})
	return tr
}
