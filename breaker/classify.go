package breaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
)

// Outcome is what a finished call means to a breaker.
type Outcome int

const (
	// Success counts towards closing the breaker.
	Success Outcome = iota
	// Failure counts towards opening the breaker.
	Failure
	// Excluded is counted as neither: the call says nothing about the
	// health of the downstream (a 4xx, the caller's own cancellation).
	Excluded
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Excluded:
		return "excluded"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Classifier decides the outcome of a call from the error it returned. It is
// called once per call, without any lock held, and must be safe for
// concurrent use.
type Classifier func(err error) Outcome

// HTTPClassifier decides the outcome of an HTTP round trip from its response
// and error, exactly one of which is usually non-nil. It must not read or
// close resp.Body.
type HTTPClassifier func(resp *http.Response, err error) Outcome

// Classify is the default [Classifier]:
//
//   - nil is a Success;
//   - the caller's own cancellation (context.Canceled anywhere in the chain)
//     is Excluded: the caller gave up, the downstream did nothing wrong;
//   - timeouts (context.DeadlineExceeded, a net.Error whose Timeout is
//     true) and connection errors (*net.OpError, io.ErrUnexpectedEOF,
//     io.EOF, ECONNRESET, ECONNREFUSED, ECONNABORTED, EPIPE, ETIMEDOUT,
//     EHOSTUNREACH, ENETUNREACH) are Failures;
//   - every other error is a Failure too: a breaker guards a call that is
//     expected to succeed, so an unknown error counts against it. Use a
//     custom Classifier to exclude application errors (validation, not
//     found) that say nothing about the downstream's health.
func Classify(err error) Outcome {
	if err == nil {
		return Success
	}
	if errors.Is(err, context.Canceled) {
		return Excluded
	}
	return Failure
}

// IsConnectionError reports whether err is a timeout or a failure to reach or
// keep talking to the peer: the errors [Classify] and [ClassifyHTTP] treat as
// the downstream's fault. The caller's own cancellation is not one.
func IsConnectionError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// ClassifyHTTP is the default [HTTPClassifier]:
//
//   - a transport error is classified by [Classify] (the caller's
//     cancellation is Excluded, timeouts and connection errors are
//     Failures);
//   - a response with status >= 500 is a Failure;
//   - a 4xx response is Excluded: the request was wrong, not the server
//     (this includes 429; a retry policy handles it);
//   - anything else (1xx, 2xx, 3xx) is a Success.
func ClassifyHTTP(resp *http.Response, err error) Outcome {
	if err != nil {
		return Classify(err)
	}
	switch {
	case resp == nil:
		return Failure
	case resp.StatusCode >= 500:
		return Failure
	case resp.StatusCode >= 400:
		return Excluded
	}
	return Success
}
