package httpclient

import "github.com/poolkit/poolkit/pool"

// OriginStats is a snapshot of one origin. Pool is taken under the pool's
// lock and is consistent in itself; the other fields are read around it.
type OriginStats struct {
	// Origin is "scheme://host:port".
	Origin string

	// Protocol is "HTTP/2" once a connection to the origin has spoken it,
	// else "HTTP/1.1" once one has been made; "" before.
	Protocol string

	// Pool is the connection pool's snapshot: Open, Idle, InUse,
	// Creating, Waiting and OldestWait (gauges); Acquires,
	// WaitedAcquires, WaitTime, Timeouts, Created, CreateErrors and
	// Destroyed by reason (counters). Connections are counted: an HTTP/1
	// connection is in use while it serves a request, an HTTP/2 one while
	// it is in the shared set.
	Pool pool.Stats

	// Shared is how many HTTP/2 connections take streams (counted in
	// Pool.InUse).
	Shared int

	// InFlight is how many requests are in flight, from the wait for
	// response headers to the end of the body: one per HTTP/1
	// connection in use, plus the streams on shared HTTP/2 connections.
	InFlight int

	// Counters, cumulative since the origin was first used.
	Requests uint64 // responses returned
	Failures uint64 // requests that failed
	Replays  uint64 // requests sent again on another connection after theirs failed
}

func (o *origin) stats() OriginStats {
	s := OriginStats{
		Origin:   o.name,
		Pool:     o.pool.Stats(),
		Requests: o.requests.Load(),
		Failures: o.failures.Load(),
		Replays:  o.replays.Load(),
	}
	switch {
	case o.h2.Load():
		s.Protocol = "HTTP/2"
	case o.known.Load():
		s.Protocol = "HTTP/1.1"
	}
	o.mu.Lock()
	shared := append([]*conn(nil), o.shared...)
	o.mu.Unlock()
	s.Shared = len(shared)
	for _, c := range shared {
		s.InFlight += c.cc.InFlight()
	}
	s.InFlight += max(0, s.Pool.InUse-len(shared))
	return s
}
