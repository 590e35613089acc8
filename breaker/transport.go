package breaker

import "net/http"

// Transport is an [http.RoundTripper] that sends requests through a
// [Breaker]. Create it with [NewTransport]; it is safe for concurrent use.
//
// While the breaker is open (or half-open with all probes taken) RoundTrip
// fails at once with an *[OpenError] and closes the request body, without
// calling the next transport. Otherwise the outcome of the round trip is
// classified when the response headers arrive (the body is not read): by
// default a status >= 500 or a connection error is a failure, and the
// response is still returned to the caller as is; a 4xx or the caller's
// cancellation is excluded.
type Transport struct {
	next     http.RoundTripper
	breaker  *Breaker
	classify HTTPClassifier
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport returns a Transport that guards next with b. A nil next
// means [http.DefaultTransport]; a nil classify means [ClassifyHTTP]. It
// panics if b is nil.
func NewTransport(next http.RoundTripper, b *Breaker, classify HTTPClassifier) *Transport {
	if b == nil {
		panic("breaker: NewTransport with nil *Breaker")
	}
	if next == nil {
		next = http.DefaultTransport
	}
	if classify == nil {
		classify = ClassifyHTTP
	}
	return &Transport{next: next, breaker: b, classify: classify}
}

// RoundTrip implements [http.RoundTripper]. See [Transport].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	done, err := t.breaker.allow()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	finished := false
	defer func() {
		if !finished { // next panicked: free the probe slot
			done(Failure)
		}
	}()
	resp, err := t.next.RoundTrip(req)
	finished = true
	done(t.classify(resp, err))
	return resp, err
}
