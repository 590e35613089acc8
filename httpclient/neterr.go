package httpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/poolkit/poolkit/internal/replay"
)

// This file is the one place that recognises errors of net/http by their
// text or type name: net/http does not export the errors that tell a
// request which was never sent from one that may have been processed.
// neterr_test.go makes net/http produce each of them, so a change of
// wording in a Go release fails that test instead of silently turning
// replays off.

// progress says how far a request that failed with err on a connection got,
// and whether the failure is one a replay can help with at all: a
// connection that failed under the request. reused says whether the
// connection had served a request before this one; gone whether it has
// since closed or stopped taking requests.
//
// The rules are net/http's (persistConn.shouldRetryRequest and
// http2canRetryError):
//   - HTTP/2: the connection became unusable, or got a GOAWAY, before the
//     request's stream was opened; or the server refused the stream
//     (REFUSED_STREAM): not processed, on any connection;
//   - HTTP/1: nothing of the request was written before the connection
//     failed, on a reused connection: not processed;
//   - the server closed a reused connection before the first byte of the
//     response (HTTP/1), or a reused connection went away under the
//     request (HTTP/2 GOAWAY below its stream, then close): maybe
//     processed;
//   - any other failure of a reused connection that has gone, but a
//     timeout: maybe processed;
//   - anything else (a timeout, a reset stream on a healthy connection, a
//     failure on a fresh connection): no replay.
func progress(err error, reused, gone bool) (replay.Progress, bool) {
	switch msg := err.Error(); {
	case msg == "http2: client conn not usable",
		msg == "http2: Transport received Server's graceful shutdown GOAWAY",
		strings.HasPrefix(msg, "stream error: ") && strings.Contains(msg, "; REFUSED_STREAM"):
		return replay.NotProcessed, true
	}
	if !reused {
		return 0, false
	}
	switch fmt.Sprintf("%T", err) {
	case "http.nothingWrittenError":
		return replay.NotProcessed, true
	case "http.transportReadFromServerError":
		return replay.MaybeProcessed, true
	}
	if err.Error() == "http: server closed idle connection" {
		return replay.MaybeProcessed, true
	}
	if gone && !timedOut(err) {
		// The reused connection closed or went away under the request
		// (an HTTP/2 GOAWAY below its stream, then the close; a server
		// closing a keep-alive connection as the request was written).
		return replay.MaybeProcessed, true
	}
	return 0, false
}

// asReturned is err as net/http's Transport returns it to its caller: the
// wrappers it uses inside to tell a request never written, or a
// connection the server closed, give way to the error under them (io.EOF,
// a *net.OpError), as Transport.roundTrip does. Code that compares
// url.Error.Err with io.EOF, or reads its text, sees what it would see
// with net/http.
func asReturned(err error) error {
	switch fmt.Sprintf("%T", err) {
	case "http.nothingWrittenError", "http.transportReadFromServerError":
		if inner := errors.Unwrap(err); inner != nil {
			return inner
		}
	}
	return err
}

// timedOut reports a timeout or a cancellation: the server is slow or the
// caller gave up, and the connection is not to blame.
func timedOut(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
