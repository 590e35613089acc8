package httpclient

import (
	"io"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// claim is a request's hold on a connection: an HTTP/1 connection leased
// whole (h1.go), or one stream of a shared HTTP/2 connection (h2.go). Its
// end is the only way a connection goes back: a request that fails ends
// it at once, a response ends it when its body is read to EOF or closed
// (or at once when it has none), and Transport.Close ends the claims still
// open itself.
type claim struct {
	c     *conn
	lease uint64 // HTTP/1: the lease taken; unused for HTTP/2
	info  httptrace.GotConnInfo
}

// end gives the claim back. broken closes the connection (for HTTP/1:
// destroys it; for HTTP/2 it goes when it has no stream left and its
// Err is set); a connection that reports an error is closed anyway.
func (cl *claim) end(broken bool) {
	if cl.c.h2 {
		cl.c.endStream()
		return
	}
	cl.c.endLease(cl.lease, broken)
}

// respond hands resp to the caller with its body wrapped so that its end
// ends the claim, once. A 101 Switching Protocols response keeps its
// writable body (an io.ReadWriteCloser, as net/http gives it): the caller
// owns the connection from then on, and it leaves the pool. stack, when
// leak reports are on, is where the request was made.
func (cl claim) respond(resp *http.Response, stack []uintptr) *http.Response {
	if resp.StatusCode == http.StatusSwitchingProtocols && !cl.c.h2 {
		cl.c.hijacked.Store(true)
		cl.end(true)
		return resp
	}
	// A response that closes its connection ("Connection: close") ends
	// the claim by closing it: no wait for net/http to do so.
	last := resp.Close && !cl.c.h2
	if resp.Body == nil || resp.Body == http.NoBody {
		cl.end(last)
		return resp
	}
	b := &body{ReadCloser: resp.Body, cl: cl, last: last}
	if stack != nil {
		b.watch(resp, stack)
	}
	resp.Body = b
	return resp
}

// body is a response body whose end (EOF or an error while reading, or
// Close) ends the request's claim, once: the one once-only wrapper for
// both protocols.
type body struct {
	io.ReadCloser
	cl   claim
	last bool // the connection closes after this response
	done atomic.Bool
	leak *time.Timer
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end()
	}
	return n, err
}

func (b *body) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

func (b *body) end() {
	if b.done.CompareAndSwap(false, true) {
		if b.leak != nil {
			b.leak.Stop()
		}
		b.cl.end(b.last)
	}
}

// watch reports the body through the origin's Logger, with the stack
// that made the request, if it is still open after LeakThreshold.
func (b *body) watch(resp *http.Response, stack []uintptr) {
	o := b.cl.c.o
	method, url := "", ""
	if r := resp.Request; r != nil {
		method = r.Method
		if r.URL != nil {
			url = r.URL.Redacted()
		}
	}
	b.leak = time.AfterFunc(o.leak, func() {
		if b.done.Load() {
			return
		}
		o.logger.Warn("httpclient: response body neither read to EOF nor closed; it holds a connection",
			"pool", o.pool.Name(), "method", method, "url", url, "after", o.leak,
			"stack", stackFrames(stack))
	})
}

// callers records the stack of the goroutine making a request, for leak
// reports.
func callers() []uintptr {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs)
	return pcs[:n]
}

// stackFrames returns pcs as one "function file:line" string per frame,
// which a log handler renders as a list (a JSON array).
func stackFrames(pcs []uintptr) []string {
	var out []string
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		out = append(out, f.Function+" "+f.File+":"+strconv.Itoa(f.Line))
		if !more {
			return out
		}
	}
}
