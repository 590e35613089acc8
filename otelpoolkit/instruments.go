package otelpoolkit

import (
	"errors"

	"go.opentelemetry.io/otel/metric"
)

// Names of the instruments and attributes, as the semantic conventions
// spell them (and poolkit.* for those the conventions have no name for).
const (
	dbCount           = "db.client.connection.count"
	dbIdleMax         = "db.client.connection.idle.max"
	dbIdleMin         = "db.client.connection.idle.min"
	dbMax             = "db.client.connection.max"
	dbPendingRequests = "db.client.connection.pending_requests"
	dbTimeouts        = "db.client.connection.timeouts"
	dbCreateTime      = "db.client.connection.create_time"
	dbWaitTime        = "db.client.connection.wait_time"
	dbUseTime         = "db.client.connection.use_time"

	httpOpenConnections    = "http.client.open_connections"
	httpConnectionDuration = "http.client.connection.duration"
	httpRequestDuration    = "http.client.request.duration"

	breakerState         = "poolkit.breaker.state"
	breakerRejections    = "poolkit.breaker.rejections"
	retryRetries         = "poolkit.retry.retries"
	retryBudgetExhausted = "poolkit.retry.budget_exhausted"

	attrDBPoolName   = "db.client.connection.pool.name"
	attrDBState      = "db.client.connection.state"
	attrHTTPState    = "http.connection.state"
	attrAddress      = "server.address"
	attrPort         = "server.port"
	attrScheme       = "url.scheme"
	attrMethod       = "http.request.method"
	attrStatus       = "http.response.status_code"
	attrErrorType    = "error.type"
	attrProtoVersion = "network.protocol.version"
	attrPoolName     = "poolkit.pool.name"
	attrServiceName  = "poolkit.service.name"
	attrBreakerState = "poolkit.breaker.state"
)

// httpBuckets are the explicit boundaries the HTTP conventions advise for
// http.client.request.duration.
var httpBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// poolBuckets add sub-millisecond boundaries to httpBuckets: most waits
// for a pooled connection are far below 5 ms, and the conventions advise
// none for the connection-pool histograms.
var poolBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// instruments are made once per Telemetry and shared by its pools and
// services, which tell their series apart by attributes.
type instruments struct {
	dbCount, dbIdleMax, dbIdleMin, dbMax, dbPending metric.Int64ObservableUpDownCounter
	dbTimeouts                                      metric.Int64ObservableCounter
	dbCreateTime, dbWaitTime, dbUseTime             metric.Float64Histogram

	httpOpen         metric.Int64ObservableUpDownCounter
	httpConnDuration metric.Float64Histogram
	httpReqDuration  metric.Float64Histogram

	breakerState      metric.Int64ObservableUpDownCounter
	breakerRejections metric.Int64Counter
	retryRetries      metric.Int64Counter
	retryBudget       metric.Int64Counter
}

func (in *instruments) init(m metric.Meter) error {
	var errs []error
	oudc := func(name, unit, desc string) metric.Int64ObservableUpDownCounter {
		i, err := m.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return i
	}
	hist := func(name, desc string, buckets []float64) metric.Float64Histogram {
		i, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(buckets...))
		errs = append(errs, err)
		return i
	}
	counter := func(name, unit, desc string) metric.Int64Counter {
		i, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return i
	}

	in.dbCount = oudc(dbCount, "{connection}", "The number of connections that are currently in state described by the `state` attribute.")
	in.dbIdleMax = oudc(dbIdleMax, "{connection}", "The maximum number of idle open connections allowed.")
	in.dbIdleMin = oudc(dbIdleMin, "{connection}", "The minimum number of idle open connections allowed.")
	in.dbMax = oudc(dbMax, "{connection}", "The maximum number of open connections allowed.")
	in.dbPending = oudc(dbPendingRequests, "{request}", "The number of current pending requests for an open connection.")
	var err error
	in.dbTimeouts, err = m.Int64ObservableCounter(dbTimeouts, metric.WithUnit("{timeout}"),
		metric.WithDescription("The number of connection timeouts that have occurred trying to obtain a connection from the pool."))
	errs = append(errs, err)
	in.dbCreateTime = hist(dbCreateTime, "The time it took to create a new connection.", poolBuckets)
	in.dbWaitTime = hist(dbWaitTime, "The time it took to obtain an open connection from the pool.", poolBuckets)
	in.dbUseTime = hist(dbUseTime, "The time between borrowing a connection and returning it to the pool.", poolBuckets)

	in.httpOpen = oudc(httpOpenConnections, "{connection}", "Number of outbound HTTP connections that are currently active or idle on the client.")
	in.httpConnDuration = hist(httpConnectionDuration, "The duration of the successfully established outbound HTTP connections.", httpBuckets)
	in.httpReqDuration = hist(httpRequestDuration, "Duration of HTTP client requests.", httpBuckets)

	in.breakerState = oudc(breakerState, "{breaker}", "The state of the service's circuit breaker: 1 for the state it is in, 0 for the others.")
	in.breakerRejections = counter(breakerRejections, "{call}", "Calls the service's circuit breaker refused.")
	in.retryRetries = counter(retryRetries, "{retry}", "Attempts after the first made for the service's calls.")
	in.retryBudget = counter(retryBudgetExhausted, "{retry}", "Retries the service's retry budget refused.")
	return errors.Join(errs...)
}
