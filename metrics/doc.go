// Package metrics exposes poolkit's pools, breakers, retries and HTTP
// clients to Prometheus.
//
// [New] makes a [Metrics] and registers it on the prometheus.Registerer the
// caller passes (none is used otherwise: there is no global state and no
// init). It collects two ways:
//
//   - at scrape time, from the Stats of every [Source] given to
//     [Metrics.Add] (gauges and counters, built with
//     prometheus.NewConstMetric, so they cost nothing between scrapes) and
//     from [breaker.Breaker.State] for every breaker given to
//     [Metrics.AddBreaker] or [Metrics.AddBreakers];
//   - from observers that feed histograms and counters as things happen:
//     [Metrics.PoolObserver] and [Metrics.OriginObserver] (pool.Observer:
//     wait, use, create and lifetime histograms; no allocation, labels
//     resolved once), [Metrics.BreakerObserver] (transitions, rejections),
//     [Metrics.RetryObserver] (attempts, budget refusals) and
//     [Metrics.InstrumentRoundTripper] (request duration).
//
// [Metrics.StatusHandler] serves every source's stats and config as JSON,
// for /debug/pools.
//
// # Wiring
//
// httpclient, sqlpool and package config take a telemetry.Telemetry, which
// [For] makes of a registry in one line (every product given For of the
// same registry reports through one Metrics, the one [Shared] gives):
//
//	httpclient.Config{Name: "payments", Telemetry: metrics.For(reg)}
//	sqlpool.Config{Name: "orders", Telemetry: metrics.For(reg)}
//
// A pool of your own:
//
//	m, _ := metrics.New(reg, metrics.Options{})
//	cfg.Observer = m.PoolObserver(metrics.KindPool, "workers")
//	p, _ := pool.New(cfg)
//	m.Add(metrics.PoolSource(metrics.KindPool, p))
//
// An HTTP client (outermost first: metrics → retry → breaker → transport):
//
//	tcfg.Observer = m.OriginObserver(metrics.KindHTTP, "payments")
//	policy.Observer = m.RetryObserver("payments")
//	settings.Observer = m.BreakerObserver()
//	// ... build the transport t and breaker b, then:
//	m.Add(metrics.Source{Kind: metrics.KindHTTP, Name: "payments", Origins: originStats})
//	m.AddBreaker(b)
//	rt := m.InstrumentRoundTripper("payments", retryTransport)
//
// # Names
//
// All names carry one poolkit_ prefix, base units (_seconds) and _total on
// counters. Pool series are labelled kind ("http", "sql", "pool"), pool
// (the name given) and origin ("scheme://host:port" for per-origin pools,
// else empty); requests service, method (GET, HEAD, POST, PUT, PATCH,
// DELETE, OPTIONS or "other") and status_class ("1xx"…"5xx" or "error");
// breakers and retries service. No label carries a URL path, a query or a
// DSN, so the number of series is fixed by the pools and services you name.
//
// The names and their OpenTelemetry equivalents (METRICS.md holds the same
// table in Markdown):
//
//	Prometheus                                  type       OpenTelemetry                               go_sql_* (GoSQLCollector)
//	poolkit_pool_open_connections               gauge      db.client.connection.count (all states);    go_sql_open_connections
//	                                                       http.client.open_connections (all states)
//	poolkit_pool_idle_connections               gauge      db.client.connection.count{state=idle};     go_sql_idle_connections
//	                                                       http.client.open_connections{state=idle}
//	poolkit_pool_in_use_connections             gauge      db.client.connection.count{state=used};     go_sql_in_use_connections
//	                                                       http.client.open_connections{state=active}
//	poolkit_pool_creating_connections           gauge      -                                           -
//	poolkit_pool_destroying_connections         gauge      -                                           -
//	poolkit_pool_waiting_requests               gauge      db.client.connection.pending_requests       -
//	poolkit_pool_max_connections                gauge      db.client.connection.max                    go_sql_max_open_connections
//	poolkit_pool_max_idle_connections           gauge      db.client.connection.idle.max               -
//	poolkit_pool_min_connections                gauge      db.client.connection.idle.min (MinSize)     -
//	poolkit_pool_oldest_wait_seconds            gauge      -                                           -
//	poolkit_pool_acquires_total                 counter    - (count of .wait_time)                     -
//	poolkit_pool_waits_total                    counter    -                                           go_sql_wait_count_total
//	poolkit_pool_wait_duration_seconds_total    counter    -                                           go_sql_wait_duration_seconds_total
//	poolkit_pool_timeouts_total                 counter    db.client.connection.timeouts               -
//	poolkit_pool_canceled_total                 counter    -                                           -
//	poolkit_pool_rejected_total                 counter    -                                           -
//	poolkit_pool_created_total                  counter    - (count of .create_time)                   -
//	poolkit_pool_create_errors_total            counter    -                                           -
//	poolkit_pool_failed_fast_total              counter    -                                           -
//	poolkit_pool_budget_max_connections         gauge      - (only for a pool with a budget)           -
//	poolkit_pool_budget_used_connections        gauge      - (only for a pool with a budget)           -
//	poolkit_pool_check_failures_total           counter    -                                           -
//	poolkit_pool_leaks_total                    counter    -                                           -
//	poolkit_pool_destroyed_total{reason}        counter    -                                           reason=idle: go_sql_max_idle_closed_total
//	                                                                                                   reason=lifetime: go_sql_max_lifetime_closed_total
//	poolkit_pool_wait_time_seconds              histogram  db.client.connection.wait_time              -
//	poolkit_pool_use_time_seconds               histogram  db.client.connection.use_time               -
//	poolkit_pool_create_time_seconds            histogram  db.client.connection.create_time            -
//	poolkit_pool_connection_duration_seconds    histogram  http.client.connection.duration             -
//	poolkit_http_client_request_duration_seconds{service,method,status_class}
//	                                            histogram  http.client.request.duration                -
//	poolkit_breaker_state{service,state}        gauge      -                                           -
//	poolkit_breaker_transitions_total{service,from,to}
//	                                            counter    -                                           -
//	poolkit_breaker_rejected_total{service}     counter    -                                           -
//	poolkit_retry_attempts_total{service,attempt,result}
//	                                            counter    -                                           -
//	poolkit_retry_budget_exhausted_total{service}
//	                                            counter    -                                           -
//
// The pool label is OpenTelemetry's db.client.connection.pool.name; origin
// is url.scheme, server.address and server.port together.
//
// The go_sql_* names come from a second collector, [Metrics.GoSQLCollector],
// registered beside the Metrics by those who want them.
// go_sql_max_idle_closed_total counts connections closed while idle, beyond
// MaxIdle or past IdleTimeout alike (the pool does not tell them apart), and
// go_sql_max_idle_time_closed_total is not emitted. Do not register
// client_golang's collectors.NewDBStatsCollector for the same database on
// the same registry: the names would collide (and on a *sql.DB from
// sqlpool, database/sql's own numbers say little: it keeps no idle
// connections there).
//
// # Cost
//
// A pool with an Observer reads its monotonic clock on every Acquire and
// Release, because the held time needs both ends; that is most of what
// turning the observer on costs (benchmarks/metricsbench measures it apart,
// as "pool.NopObserver"). On top of it, an event is one atomic add to a
// bucket and, unless the duration is zero (an Acquire that found an idle
// connection), one compare-and-swap on the sum, with no allocation. The pool
// histograms are a lean implementation of their own for this reason:
// client_golang's Observe makes four atomic operations to keep a hot and a
// cold copy of its counts. Both expose the same Prometheus histogram; ours
// may show a scrape whose _sum is a few observations apart from its buckets,
// which rate() over a scrape interval does not notice.
package metrics
