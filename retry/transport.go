package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/poolkit/poolkit/internal/replay"
)

// MaxDrainBytes is how much of a retried response's body [Transport] reads
// and discards before closing it, so that the connection can be reused for
// the next attempt: currently 64 KiB. A longer body is closed unread, which
// costs the connection but never an unbounded read.
const MaxDrainBytes = 64 << 10

// Transport is an [http.RoundTripper] that retries requests according to a
// [Policy]. Create it with [NewTransport]; it is safe for concurrent use.
//
// A request is retried only if it is safe to send twice: its method is
// GET, HEAD, OPTIONS, TRACE, PUT or DELETE, or it carries an Idempotency-Key
// (or X-Idempotency-Key) header. A POST or PATCH without one is sent once. A
// request with a body is retried only if req.GetBody can rewind it (as
// http.NewRequest arranges for in-memory bodies); every retry sends the
// whole body again. A request that may not be retried goes to the next
// transport once, untouched (and is not counted by the budget).
//
// An attempt is retried when the next transport returns an error that
// Policy.Retryable accepts (by default anything but the caller's
// cancellation), or a response whose status is retryable: by default 429,
// 502, 503 and 504 (see [WithRetryStatuses]). A Retry-After header on such a
// response, in delta seconds or as an HTTP date, replaces the backoff,
// capped by Policy.RetryAfterCap. Before a retry the response body is
// drained (up to [MaxDrainBytes]) and closed, so the connection is reused.
//
// When retrying stops, the caller gets the last response if there is one
// (with its body unread), otherwise an *[Error] wrapping the last transport
// error. The request's context bounds everything (see [Do]); Transport never
// closes the next transport's idle connections.
type Transport struct {
	next     http.RoundTripper
	policy   Policy // defaults applied
	statuses map[int]bool
}

var _ http.RoundTripper = (*Transport)(nil)

// TransportOption changes how a [Transport] decides to retry.
type TransportOption func(*Transport)

// WithRetryStatuses replaces the response statuses that are retried (by
// default 429, 502, 503, 504). With no codes, no response is retried, only
// transport errors.
func WithRetryStatuses(codes ...int) TransportOption {
	return func(t *Transport) {
		t.statuses = make(map[int]bool, len(codes))
		for _, c := range codes {
			t.statuses[c] = true
		}
	}
}

// NewTransport returns a Transport that sends requests through next
// (nil means [http.DefaultTransport]) and retries them according to p.
//
// On failure it returns a *[PolicyError] naming the invalid field of p.
func NewTransport(next http.RoundTripper, p Policy, opts ...TransportOption) (*Transport, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if next == nil {
		next = http.DefaultTransport
	}
	t := &Transport{next: next, policy: p.withDefaults()}
	WithRetryStatuses(
		http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout,
	)(t)
	for _, o := range opts {
		o(t)
	}
	return t, nil
}

// statusError is a response whose status is to be retried, travelling
// through the retry loop as an error.
type statusError struct {
	resp       *http.Response
	retryAfter time.Duration
	cancel     context.CancelFunc // of the attempt's timeout, if any
	drained    bool
}

func (e *statusError) Error() string { return "retry: HTTP " + e.resp.Status }

// RetryAfter returns the response's Retry-After, or 0.
func (e *statusError) RetryAfter() time.Duration { return e.retryAfter }

// drain reads the body up to MaxDrainBytes and closes it, so that the
// connection goes back to the next transport's pool.
func (e *statusError) drain() {
	if e.drained {
		return
	}
	e.drained = true
	io.CopyN(io.Discard, e.resp.Body, MaxDrainBytes)
	e.resp.Body.Close()
	if e.cancel != nil {
		e.cancel()
	}
}

// parseRetryAfter returns the wait a Retry-After header asks for, or 0 if it
// is absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(365*24*time.Hour/time.Second) { // avoid overflow; capped anyway
			secs = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// cancelBody cancels the attempt's timeout context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// RoundTrip implements [http.RoundTripper]. See [Transport].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !replay.Allowed(req, replay.MaybeProcessed) {
		return t.next.RoundTrip(req)
	}
	p := t.policy
	attemptTimeout := p.AttemptTimeout
	p.AttemptTimeout = 0 // applied below, so that it also covers the returned body
	retryable := p.Retryable
	p.Retryable = func(err error) bool {
		var se *statusError
		return errors.As(err, &se) || retryable(err)
	}

	first := true
	attempt := func(ctx context.Context) (*http.Response, error) {
		r := req
		if !first && req.Body != nil && req.Body != http.NoBody {
			next, err := replay.Rewind(req)
			if err != nil {
				return nil, Permanent(fmt.Errorf("retry: rewinding request body: %w", err))
			}
			r = next.WithContext(ctx)
		}
		first = false
		var cancel context.CancelFunc
		if attemptTimeout > 0 {
			var actx context.Context
			actx, cancel = context.WithTimeout(ctx, attemptTimeout)
			r = r.WithContext(actx)
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil {
			if cancel != nil {
				cancel()
			}
			return nil, err
		}
		if t.statuses[resp.StatusCode] {
			return nil, &statusError{
				resp:       resp,
				retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
				cancel:     cancel,
			}
		}
		if cancel != nil {
			resp.Body = &cancelBody{resp.Body, cancel}
		}
		return resp, nil
	}
	beforeRetry := func(err error) {
		var se *statusError
		if errors.As(err, &se) {
			se.drain()
		}
	}

	resp, err := run(req.Context(), p, attempt, beforeRetry)
	if err == nil {
		return resp, nil
	}
	var se *statusError
	if errors.As(err, &se) && !se.drained {
		if se.cancel != nil {
			se.resp.Body = &cancelBody{se.resp.Body, se.cancel}
		}
		return se.resp, nil // the last response, body unread
	}
	return nil, err
}
