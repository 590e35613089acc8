package main

import (
	"crypto/x509"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// profile is how a fake downstream behaves: a base latency, a spread on
// top of it, and a rare slow request (the long tail every real service has).
type profile struct {
	latency   time.Duration // every request takes at least this
	jitter    time.Duration // plus up to this, uniformly
	slowEvery int           // one request in slowEvery is slow (0: never)
	slow      time.Duration // how slow
}

// downstream is an in-process HTTPS service on a loopback port. It counts its
// open connections as the server sees them (http.Server.ConnState), so the
// scorecard compares pooled and unpooled clients by the same measure.
type downstream struct {
	name    string
	srv     *httptest.Server
	prof    profile
	failing atomic.Bool // answer 503 while set

	mu       sync.Mutex
	conns    int // open now
	peak     int // most open at once since resetPeak
	accepted int // connections accepted since resetPeak
}

// startDownstream starts a service. It speaks HTTPS (HTTP/1.1) with
// httptest's self-signed certificate: connections to real services are TLS,
// and the handshake is what a new connection costs most.
func startDownstream(name string, prof profile) *downstream {
	d := &downstream{name: name, prof: prof}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(d.serve))
	srv.Config.ConnState = d.connState
	srv.Config.ErrorLog = discardLogger() // handshakes cut short at shutdown
	srv.StartTLS()
	d.srv = srv
	return d
}

func (d *downstream) serve(w http.ResponseWriter, r *http.Request) {
	// Read the request body (a payment, a notification) before answering.
	io.Copy(io.Discard, r.Body)
	lat := d.prof.latency
	if d.prof.jitter > 0 {
		lat += rand.N(d.prof.jitter)
	}
	if d.prof.slowEvery > 0 && rand.N(d.prof.slowEvery) == 0 {
		lat = d.prof.slow
	}
	time.Sleep(lat)
	if d.failing.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":"unavailable"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"service":%q,"ok":true}`, d.name)
}

func (d *downstream) connState(_ net.Conn, s http.ConnState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch s {
	case http.StateNew:
		d.conns++
		d.accepted++
		d.peak = max(d.peak, d.conns)
	case http.StateClosed, http.StateHijacked:
		d.conns--
	}
}

// connStats returns the connections open now, the most open at once and
// the connections accepted since the last resetPeak.
func (d *downstream) connStats() (open, peak, accepted int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns, d.peak, d.accepted
}

func (d *downstream) resetPeak() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.peak, d.accepted = d.conns, 0
}

func (d *downstream) url() string { return d.srv.URL }

func (d *downstream) certificate() *x509.Certificate { return d.srv.Certificate() }

func (d *downstream) close() { d.srv.Close() }
