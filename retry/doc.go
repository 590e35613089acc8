// Package retry retries calls with exponential backoff and full jitter,
// within a context's deadline and a per-service retry budget.
//
// [Do] and [DoValue] retry any function of a context. A [Policy] (a plain
// value whose zero is a sensible setup) bounds the attempts and shapes the
// waits: the wait before retry n is drawn uniformly from
// [0, min(MaxBackoff, InitialBackoff*Multiplier^(n-1))], so that clients that
// failed together do not retry together. A wait never runs past the
// context's deadline: when it would, Do returns at once with the last error.
// Errors marked with [Permanent], errors Policy.Retryable rejects, and the
// caller's own cancellation are never retried. The final error is an
// *[Error] saying how many attempts were made and wrapping the last error.
//
// A [Budget], shared by all calls to one service, lets retries add at most a
// fraction of the requests (20% by default, plus a small floor) over a
// sliding window, so that retries cannot multiply the load on a service that
// is already failing. When it refuses, the error matches
// [ErrBudgetExhausted].
//
// [Transport] retries HTTP requests that are safe to repeat (idempotent
// methods, or an Idempotency-Key header), on connection errors and on 429,
// 502, 503 and 504, honouring Retry-After up to a cap, rewinding bodies with
// GetBody and draining retried responses so that connections are reused.
//
// An [Observer] hears of attempts and budget refusals, for metrics. The
// package keeps no goroutines and no global state, and reads the clock only
// when called, so it works inside a testing/synctest bubble.
package retry
