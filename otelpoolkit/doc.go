// Package otelpoolkit reports poolkit's pools, HTTP services, breakers and
// retries to OpenTelemetry, under the names of OpenTelemetry's semantic
// conventions. [New] returns a [telemetry.Telemetry]; set it as the
// Telemetry of an httpclient or sqlpool config, or feed a pool of your own
// through [telemetry.PoolSource].
//
// # Why a module of its own
//
// otelpoolkit is the module github.com/poolkit/poolkit/otelpoolkit, with its
// own go.mod. A program that does not import it links none of
// OpenTelemetry, and, because the main module's go.mod does not mention
// OpenTelemetry at all, Go's minimal version selection never raises the
// version of go.opentelemetry.io/otel a program already uses merely because
// it depends on poolkit. Only programs that import otelpoolkit get its
// requirements.
//
// # Metrics
//
// A pool of Kind [telemetry.KindSQL], [telemetry.KindPool] or any kind
// other than [telemetry.KindHTTP] is reported with the database client
// connection-pool conventions, each series carrying
// db.client.connection.pool.name (the Source's Name):
//
//	db.client.connection.count             {connection}  up-down counter, db.client.connection.state = idle | used
//	db.client.connection.idle.max          {connection}  up-down counter (needs Source.Config)
//	db.client.connection.idle.min          {connection}  up-down counter (the pool's MinSize)
//	db.client.connection.max               {connection}  up-down counter (the pool's MaxSize)
//	db.client.connection.pending_requests  {request}     up-down counter (Acquire calls waiting)
//	db.client.connection.timeouts          {timeout}     counter (Acquire calls that hit their deadline)
//	db.client.connection.create_time       s             histogram (successful Creates)
//	db.client.connection.wait_time         s             histogram (successful Acquires, zero waits included)
//	db.client.connection.use_time          s             histogram (from Acquire to Release or Destroy)
//
// Connections being created or closed are neither idle nor used, and are
// not counted. The counts, limits, pending requests and timeouts are read from the
// pool's Stats (and Config) when a reader collects, so they cost nothing
// between collections; the histograms are recorded from the pool's
// events, with the caller's ctx, so exemplars can point at its trace.
//
// A pool of Kind [telemetry.KindHTTP] (an httpclient Transport: one pool
// per origin) is reported with the HTTP client conventions, each series
// carrying server.address, server.port and url.scheme (from the origin)
// and poolkit.pool.name (the Source's Name, so that two transports calling
// one origin keep apart):
//
//	http.client.open_connections     {connection}  up-down counter, http.connection.state = active | idle
//	http.client.connection.duration  s             histogram (a connection's age when it is closed)
//
// A Service reports, with poolkit.service.name:
//
//	http.client.request.duration  s          histogram, from Service.RoundTripper: http.request.method,
//	                                         http.response.status_code, error.type, server.address,
//	                                         server.port, url.scheme, network.protocol.version
//	poolkit.breaker.state         {breaker}  up-down counter, poolkit.breaker.state = closed | half_open | open:
//	                                         1 for the breaker's state, 0 for the others
//	poolkit.breaker.rejections    {call}     counter: calls the open breaker refused
//	poolkit.retry.retries         {retry}    counter: attempts after the first
//	poolkit.retry.budget_exhausted {retry}   counter: retries the retry budget refused
//
// The histograms in seconds advise explicit bucket boundaries (those of
// the HTTP conventions, with finer ones below 5 ms for the pool's waits);
// a View can replace them, with an exponential histogram say.
//
// # Traces
//
// Spans are made only under a span the caller already has, so an untraced
// program or a pool's own background work makes none:
//
//   - poolkit.acquire covers an Acquire that waited (in line, for a
//     connect or for a health check): it is started afterwards, back-dated
//     by the wait, as a child of the caller's span. An Acquire that timed
//     out ends it with an error status and error.type "timeout". An
//     Acquire served at once makes no span.
//   - poolkit.connect covers a Create (a dial, a TLS handshake, a
//     database login) that a waiting caller started; the pool hands the
//     caller's values to the event, so the span is a child of the caller's
//     span, beside its poolkit.acquire. A failed connect records the error.
//
// Both carry poolkit.pool.name, and the pool's semantic attributes
// (db.client.connection.pool.name, or server.address, server.port and
// url.scheme).
//
// They compose with the tracing users already have: a driver's own tracer
// (otelpgx on pgx's ConnConfig.Tracer) gets the caller's span in the ctx
// of the connect the caller waits for, so its connect span is the
// caller's child too, not a root; and a per-attempt tracer such as
// otelhttp.NewTransport, put in httpclient's Config.Wrap, parents the
// pool's spans of each attempt.
package otelpoolkit
