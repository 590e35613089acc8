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
//   - HTTP/1: a request Acquires a connection, Reserves its slot and sends.
//     The connection goes back to the pool when the response body reaches
//     EOF or is closed (the connection's state hook reports it; it runs
//     synchronously in Body.Close), never earlier; on failure at once,
//     destroyed when the connection is broken. A lease counter makes the
//     give-back happen once even when the hook and the failing request race.
//   - HTTP/2: a connection is Acquired from the pool once and put in the
//     origin's shared set, so MaxSize, the budget, lifetimes and the pool's
//     stats still apply to it. Requests Reserve streams on the first shared
//     connection that has one free (packing requests onto few connections,
//     so the rest go idle); only when all are full does one request at a
//     time Acquire another connection, while the others queue on the least
//     loaded one. A shared connection goes back to the pool when it has
//     nothing in flight (where IdleTimeout and MinSize govern it), is
//     destroyed when it breaks (a lost health PING, say), and at its
//     ExpiresAt stops taking streams and is retired when its last ends.
//     A request's stream counts from its Reserve until its response body
//     reaches EOF or is closed (a small wrapper on the body says so).
//     HTTP/2 connections get no state hook: net/http runs the hook on
//     every stream's start and end under a per-connection mutex, which
//     under load was the main contention and started goroutines.
//
// The hot path takes no lock of the Transport (origins are found in a
// copy-on-write map), starts no goroutine and allocates nothing beyond what
// net/http does but, for HTTP/2, the body wrapper: HTTP/1 costs a pool
// Acquire and Release, HTTP/2 a short critical section per request.
//
// The protocol of a connection is read from the connection itself: a new
// HTTP/1 connection offers one request, an HTTP/2 one many. The first
// requests to an origin take turns until its first connection is made, so a
// burst to an HTTP/2 origin opens one connection, not MaxSize.
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
// longer Reserves) and replaced. A request is sent again on another
// connection when it failed on a connection that had served before and has
// since gone (closed: the server closed it meanwhile), or when net/http
// reports it was never sent (the HTTP/2 connection became unusable or got a
// GOAWAY while the request waited for a stream), and when it is replayable,
// by net/http's rule: GET, HEAD, OPTIONS or TRACE, or an Idempotency-Key
// header, and no body or one that GetBody can produce again; at most
// 8 times. Timeouts, the caller's own cancellation, a stream reset on a
// connection that is still up, and a failure on a fresh connection are
// never replayed: the server may be refusing the request, and replaying it
// would multiply its load. HTTP/2 connections are health-checked with
// PINGs (SendPingTimeout, PingTimeout) and closed when the peer stops
// answering.
//
// # Defaults
//
// TLS verification is on unless TransportConfig.InsecureSkipVerify says
// otherwise; dials, TLS handshakes, response headers and waits for a
// connection are bounded; response headers are capped; bodies are never
// read by the transport. Zero fields take the Default constants.
package httpclient
