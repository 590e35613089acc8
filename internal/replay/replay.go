// Package replay holds the one rule poolkit uses to decide whether an HTTP
// request may be sent again: httpclient's transport replays a request whose
// connection failed under it, and retry's Transport retries one whose
// attempt failed. Both ask [Allowed].
package replay

import (
	"errors"
	"net/http"
)

// Progress says how far a failed attempt may have got at the server.
type Progress int

const (
	// NotProcessed: the request was never written, or the server said it
	// did not process it (an HTTP/2 GOAWAY whose last stream is below the
	// request's, a REFUSED_STREAM). Sending it again is safe whatever its
	// method, as long as its body can be produced again.
	NotProcessed Progress = iota
	// MaybeProcessed: the server may have acted on the request (it was
	// written and then the connection broke, or a response said to
	// retry). Only an idempotent request may be sent again.
	MaybeProcessed
)

// Idempotent reports whether sending req twice has the effect of sending
// it once: its method is idempotent by RFC 9110 section 9.2.2 (GET, HEAD,
// OPTIONS, TRACE, PUT, DELETE; "" means GET), or it carries an
// Idempotency-Key or X-Idempotency-Key header, as net/http accepts.
func Idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	_, k := req.Header["Idempotency-Key"]
	_, x := req.Header["X-Idempotency-Key"]
	return k || x
}

// Rewindable reports whether req's body can be sent again: it has none,
// or GetBody produces it again.
func Rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// Allowed is the replay rule: a request may be sent again when its body
// can be rewound and either the failed attempt was not processed, or the
// request is idempotent.
func Allowed(req *http.Request, p Progress) bool {
	return Rewindable(req) && (p == NotProcessed || Idempotent(req))
}

// Rewind returns the request to send again: req itself when it has no
// body, else a shallow copy carrying a fresh body from GetBody.
func Rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("request body cannot be rewound: Request.GetBody is nil")
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := *req
	r.Body = body
	return &r, nil
}
