// Package httpclient is poolkit's HTTP transport: an [http.RoundTripper]
// that keeps one [pool.Pool] of connections per origin (scheme, host and
// port), built on [http.Transport.NewClientConn] (Go 1.26). An
// http.Transport built from [TransportConfig] dials, runs TLS and ALPN, and
// goes through proxies; the pool decides which connection serves a request.
//
// What it adds to net/http: per-origin stats (open, idle, in use, waiting,
// wait time, connections created and closed by reason), MinSize warm
// connections and [Transport.Warm], a hard cap per origin with a FIFO wait
// and a timeout error that says what the pool looked like, a connection
// lifetime (with jitter) that never interrupts a request in flight, and a
// [pool.Budget] shared by origins. [NewStdTransport] builds the tuned plain
// *http.Transport this is measured against.
//
// # HTTP/1 and HTTP/2 on an exclusive pool
//
// pool.Pool lends a resource to one holder at a time. That is exactly an
// HTTP/1 connection, and not an HTTP/2 one, which carries many requests at
// once. Two designs were weighed: teaching the pool resources with a
// capacity (lend the same resource up to N times), or keeping the pool
// exclusive and sharing HTTP/2 connections beside it. This package does the
// latter, because it keeps the pool's contract (Release means "free",
// lifetimes and idle timeouts act on free resources, FIFO hand-off of a
// whole resource) simple and well tested, and because HTTP/2 stream limits
// change under our feet (SETTINGS, GOAWAY), which only the connection knows:
// [http.ClientConn.Reserve] is the authority on capacity, and a pool
// counter would duplicate it.
//
// The code is split by protocol, behind one claim type (claim.go): a
// request's hold on a connection, whose end is the only way a connection
// goes back. A response's body is wrapped once (one wrapper for both
// protocols) so that its EOF or Close ends the claim; a failed request
// ends it at once; Transport.Close ends the claims still open itself, so
// a body never closed cannot keep Close waiting.
//
//   - HTTP/1 (h1.go): a request Acquires a connection from the pool under
//     a lease, Reserves its slot and sends. The claim ends when the
//     response body is done (once net/http has marked the connection
//     free, which it does right after); the connection goes back to the
//     pool, or is destroyed when broken or when the response said
//     "Connection: close". A lease counter makes the give-back happen
//     once whoever ends it.
//   - HTTP/2 (h2.go): a connection is Acquired from the pool once and put
//     in the origin's shared set, so MaxSize, the budget, lifetimes and
//     the pool's stats still apply to it. Requests Reserve streams on the
//     first shared connection that has one free (packing requests onto
//     few connections, so the rest go idle). A request that finds none
//     queues for a stream, first come first served, while at most one
//     request at a time Acquires another connection for the set (when the
//     pool can lend one); streams that end and connections that arrive
//     are handed to the queue in order, so a burst shares a connection
//     being dialed instead of waiting for whole connections. A shared
//     connection goes back to the pool when it has no stream left (where
//     IdleTimeout and MinSize govern it), is destroyed when it breaks (a
//     lost health PING, say) once its streams have ended, and at its
//     ExpiresAt stops taking streams and is retired when its last ends.
//     HTTP/2 connections get no state hook: net/http runs the hook on
//     every stream's start and end under a per-connection mutex, which
//     under load was the main contention.
//
// The wait for a connection or a stream ends at min(the request's
// deadline, AcquireTimeout after the request started), with a
// *pool.TimeoutError naming the origin's pool; MaxWaiters bounds the
// queue of either protocol.
//
// The hot path takes no lock of the Transport (origins are found in a
// copy-on-write map) and starts no goroutine: HTTP/1 costs a pool Acquire
// and Release, HTTP/2 a short critical section per request.
//
// The protocol of a connection is read from the connection itself: a new
// HTTP/1 connection offers one request, an HTTP/2 one many. The first
// requests to an origin take turns until its first connection is made, so a
// burst to an HTTP/2 origin opens one connection, not MaxSize.
//
// # Drop-in behaviour
//
// Errors keep net/http's types: a dial or TLS failure is returned as
// net/http returns it (a *net.OpError, a *tls.CertificateVerificationError),
// not wrapped; only the pool's own failures (a timeout waiting for a
// connection, a full wait queue) carry pool context. httptrace hooks fire as
// with net/http's Transport: GetConn and GotConn (Reused, WasIdle,
// IdleTime) per request, the DNS, connect and TLS hooks for the dial made
// for a traced request, and the request's own. A 101 Switching Protocols
// response keeps net/http's writable Body (an io.ReadWriteCloser); its
// connection leaves the pool, owned by the caller.
//
// # Origins
//
// An origin gets its pool on first use. So that a Transport calling many
// hosts (a crawler, a webhook sender) does not keep a pool for every host
// it ever called, an origin that has been empty for max(IdleTimeout, 1
// minute) — no connection open or being dialed, no request in flight or
// waiting — is evicted: it leaves [Transport.Stats] and, if it is used
// again, starts over with a new pool and counters from zero. An origin
// with MinSize connections is never empty, so never evicted. The check is
// a sweep over the origins made when a new origin is added and from
// Stats, at most once per quarter of that time: no goroutine or timer per
// origin, and nothing on the request path but a counter. A request that
// races with the eviction of its origin starts over on a new one, having
// sent nothing.
//
// # Failed connections
//
// A connection the server closed while idle is noticed before use (it no
// longer Reserves) and replaced. A request that failed under its
// connection is sent again by the replay rule that package retry uses too
// (internal/replay), with net/http's notion of how far it got (neterr.go):
//   - not processed — never written, or an HTTP/2 GOAWAY or REFUSED_STREAM
//     says the server did not process it: sent again whatever its method,
//     when its body is empty or GetBody can rewind it;
//   - maybe processed — the server closed a reused connection before
//     answering: sent again only when idempotent (GET, HEAD, OPTIONS,
//     TRACE, PUT, DELETE, or an Idempotency-Key header) and rewindable;
//   - timeouts, the caller's cancellation, a stream reset on a healthy
//     connection and any failure on a fresh connection: never.
//
// A replay waits for a connection or stream that will take it, never
// spinning: connections that sent requests away take no new ones, and
// when a server is seen to process only so many requests per HTTP/2
// connection (nginx's keepalive_requests), connections take no more than
// that for a minute. At most 8 replays count per request, plus up to 64 of
// requests a connection that served others sent away; one sent away by a
// connection that served nothing waits first (from 1ms, doubling). HTTP/2
// connections are health-checked with PINGs (SendPingTimeout, PingTimeout)
// and closed when the peer stops answering.
//
// # Defaults
//
// TLS verification is on unless TransportConfig.InsecureSkipVerify says
// otherwise; dials, TLS handshakes and response headers are bounded;
// response headers are capped; bodies are never read by the transport.
// The pool limits (MinSize, MaxSize, MaxIdle, IdleTimeout, MaxLifetime,
// AcquireTimeout, MaxWaiters, MaxUses) mean exactly what they mean in
// pool.Config, zero included, and become the origin pool's pool.Limits in
// one place; but MaxSize, whose zero is DefaultMaxSize. Recommended
// lifetimes and waits come from [RecommendedTransportConfig] and the
// presets, never from a zero field. Other zero fields take the Default
// constants.
package httpclient
