// Package breaker is a per-service circuit breaker built on
// [github.com/sony/gobreaker/v2].
//
// A [Breaker] guards the calls to one downstream service. It starts closed
// and counts the outcome of every call over a rolling window. It trips open
// when the failure ratio over at least a minimum number of calls, or a run
// of consecutive failures, reaches its threshold (see [Settings]); while open
// it rejects calls at once with an *[OpenError] (errors.Is(err, [ErrOpen]))
// that names the service and when it will try again. After the open timeout
// it lets a few probes through (half-open): if they all succeed it closes,
// on the first failure it opens again.
//
// What counts as a failure is decided by a [Classifier] (or an
// [HTTPClassifier] for [Transport]): timeouts, connection errors and 5xx
// responses are failures; 4xx responses and the caller's own cancellation
// (context.Canceled) are excluded — counted neither as success nor as
// failure.
//
// Calls go through a breaker in one of three ways: [Execute] wraps a
// function (generic over its result, so one breaker per service serves calls
// of any type), [Breaker.Allow] is the two-step form for calls that cannot be
// wrapped, and [Transport] wraps an [net/http.RoundTripper].
//
// A [Registry] hands out one breaker per service name. There is no global
// state.
//
// An [Observer] hears of state changes and rejected calls, for metrics.
// Unlike gobreaker's OnStateChange it is never called with a lock held, so
// it may call [Breaker.State] and [Breaker.Counts].
//
// The breaker keeps no goroutines and reads the clock only when called, so it
// works inside a testing/synctest bubble.
package breaker
