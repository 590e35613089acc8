package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/poolkit/poolkit/breaker"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name     string
		give     error
		want     breaker.Outcome
		wantConn bool // IsConnectionError
	}{
		{name: "nil", give: nil, want: breaker.Success},
		{name: "canceled", give: context.Canceled, want: breaker.Excluded},
		{name: "wrapped canceled", give: fmt.Errorf("get: %w", context.Canceled), want: breaker.Excluded},
		{name: "deadline", give: context.DeadlineExceeded, want: breaker.Failure, wantConn: true},
		{name: "net timeout", give: fmt.Errorf("read: %w", timeoutErr{}), want: breaker.Failure, wantConn: true},
		{name: "op error", give: opErr, want: breaker.Failure, wantConn: true},
		{name: "unexpected EOF", give: io.ErrUnexpectedEOF, want: breaker.Failure, wantConn: true},
		{name: "reset", give: fmt.Errorf("read: %w", syscall.ECONNRESET), want: breaker.Failure, wantConn: true},
		{name: "refused", give: syscall.ECONNREFUSED, want: breaker.Failure, wantConn: true},
		{name: "other error", give: errors.New("boom"), want: breaker.Failure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := breaker.Classify(tt.give); got != tt.want {
				t.Errorf("Classify(%v) = %v; want %v", tt.give, got, tt.want)
			}
			if got := breaker.IsConnectionError(tt.give); got != tt.wantConn {
				t.Errorf("IsConnectionError(%v) = %v; want %v", tt.give, got, tt.wantConn)
			}
		})
	}
}

func TestClassifyHTTP(t *testing.T) {
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code} }
	tests := []struct {
		name     string
		giveResp *http.Response
		giveErr  error
		want     breaker.Outcome
	}{
		{name: "200", giveResp: resp(200), want: breaker.Success},
		{name: "204", giveResp: resp(204), want: breaker.Success},
		{name: "302", giveResp: resp(302), want: breaker.Success},
		{name: "400", giveResp: resp(400), want: breaker.Excluded},
		{name: "404", giveResp: resp(404), want: breaker.Excluded},
		{name: "429", giveResp: resp(429), want: breaker.Excluded},
		{name: "500", giveResp: resp(500), want: breaker.Failure},
		{name: "502", giveResp: resp(502), want: breaker.Failure},
		{name: "503", giveResp: resp(503), want: breaker.Failure},
		{name: "canceled", giveErr: context.Canceled, want: breaker.Excluded},
		{name: "deadline", giveErr: context.DeadlineExceeded, want: breaker.Failure},
		{name: "reset", giveErr: syscall.ECONNRESET, want: breaker.Failure},
		{name: "nil response and error", want: breaker.Failure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := breaker.ClassifyHTTP(tt.giveResp, tt.giveErr); got != tt.want {
				t.Errorf("ClassifyHTTP() = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestOutcomeAndStateString(t *testing.T) {
	tests := []struct {
		give fmt.Stringer
		want string
	}{
		{breaker.Success, "success"}, {breaker.Failure, "failure"}, {breaker.Excluded, "excluded"},
		{breaker.Outcome(9), "Outcome(9)"},
		{breaker.StateClosed, "closed"}, {breaker.StateHalfOpen, "half-open"}, {breaker.StateOpen, "open"},
		{breaker.State(7), "State(7)"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("String() = %q; want %q", got, tt.want)
		}
	}
}
