package httpclient

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolkit/poolkit/internal/replay"
	"github.com/poolkit/poolkit/pool"
)

// origin is one scheme://host:port: its pool of connections and, for
// HTTP/2, the set of connections taking streams (h2.go). HTTP/1 leases are
// in h1.go; a request's hold on either is a claim (claim.go).
type origin struct {
	t      *Transport
	name   string // "scheme://host:port"
	scheme string
	addr   string // host:port, dialed through the base transport
	pool   *pool.Pool[*conn]

	lifetime       bool          // MaxLifetime is on: shared connections check expiry
	acquireTimeout time.Duration // AcquireTimeout; 0: the request's ctx only
	leak           time.Duration // LeakThreshold; 0: off
	maxWaiters     int           // MaxWaiters, for the HTTP/2 stream queue; 0: unbounded
	logger         *slog.Logger

	// known is set once a connection has been made, and h2 when one spoke
	// HTTP/2. Until known, requests take turns on gate, so that a burst of
	// first requests to an HTTP/2 origin opens one connection, not
	// MaxSize, and shares it once it arrives.
	known atomic.Bool
	h2    atomic.Bool
	gate  chan struct{}

	// entering counts RoundTrip calls inside the origin; evicted is set
	// by Transport.sweepLocked to take the origin out of use, and cleared
	// again if one entered meanwhile. Each side writes its own and then
	// reads the other's, so either the sweep sees the request or the
	// request sees the eviction (and starts over on a new origin).
	entering atomic.Int32
	evicted  atomic.Bool

	// waiting counts requests queued for an HTTP/2 stream (or about to
	// be): a stream that ends looks at the queue only when it is not 0.
	waiting atomic.Int32

	// rotateAfter is how many requests the server was seen to process on
	// an HTTP/2 connection before sending the rest away (nginx's
	// keepalive_requests), learnt from its GOAWAYs and REFUSED_STREAMs,
	// and rotateUntil when that lesson expires (unix nanoseconds): until
	// then a connection takes no more than rotateAfter requests, so
	// requests wait for a connection that will process them instead of
	// piling onto one that sends them away.
	rotateAfter atomic.Uint64
	rotateUntil atomic.Int64

	mu     sync.Mutex
	closed bool
	all    map[*conn]struct{} // every connection not yet destroyed, for close
	// emptySince is when all last became empty: the origin's creation,
	// or the destroy of its last connection.
	emptySince time.Time
	shared     []*conn     // HTTP/2 connections lent to the origin, taking streams
	waiters    []*waiter   // requests waiting for a stream, oldest first
	growing    bool        // a request is acquiring a connection for shared
	hints      []*dialHint // traced requests waiting for a dial, oldest first

	requests atomic.Uint64 // responses returned
	failures atomic.Uint64 // RoundTrip calls that returned an error
	replays  atomic.Uint64 // requests sent again after a connection failed
}

// conn is a pooled connection.
type conn struct {
	o  *origin
	cc *http.ClientConn
	nc net.Conn // as dialed (under TLS, when there is TLS), for httptrace
	h2 bool     // takes many streams; false: one request at a time

	// rounds counts the requests started on the connection; idleSince is
	// when it last had none in flight (unix nanoseconds).
	rounds    atomic.Uint64
	idleSince atomic.Int64
	// served counts the responses the connection returned.
	served atomic.Uint64

	// hijacked is set when a 101 Switching Protocols response handed the
	// connection to the caller: destroy then leaves it open.
	hijacked atomic.Bool

	// HTTP/1 (h1.go): lease is odd while a request holds the connection
	// and is bumped to even by the one call that gives it back, so a late
	// or repeated give-back of an earlier lease is a no-op. res is written
	// by the request that takes the lease, before it does.
	lease atomic.Uint64
	res   *pool.Resource[*conn]

	// HTTP/2 (h2.go), guarded by o.mu: whether in o.shared, its lease
	// while there, its expiry, and whether it has stopped taking streams
	// because of it.
	inShared bool
	sres     *pool.Resource[*conn]
	expires  time.Time
	retiring bool
	// streams counts the requests holding a stream on the connection,
	// from their reservation (under o.mu) until their claim ends.
	streams atomic.Int32
}

func newOrigin(t *Transport, name, scheme, addr string) (*origin, error) {
	cfg := &t.cfg
	o := &origin{
		t: t, name: name, scheme: scheme, addr: addr,
		lifetime:       cfg.MaxLifetime > 0,
		acquireTimeout: cfg.AcquireTimeout,
		leak:           cfg.LeakThreshold,
		maxWaiters:     cfg.MaxWaiters,
		logger:         cfg.Logger,
		gate:           make(chan struct{}, 1),
		all:            map[*conn]struct{}{},
		emptySince:     time.Now(),
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	var obs pool.Observer
	if cfg.Observer != nil {
		obs = cfg.Observer(name)
	}
	pc := t.poolConfig(name)
	pc.Create = o.create
	pc.Destroy = o.destroy
	pc.Observer = obs
	p, err := pool.New(pc)
	if err != nil {
		return nil, err
	}
	o.pool = p
	return o, nil
}

// maxReplays bounds how many times one request is sent again. Every
// replay follows a connection the server closed or sent away, and waits
// for a connection (or stream) that takes it, so the bound only guards
// against a loop; it is above one because a server that caps requests
// per connection (nginx's keepalive_requests) sends GOAWAY to many
// requests at once.
const maxReplays = 8

// rotateMemory is how long a learnt per-connection request cap
// (origin.rotateAfter) is kept after it was last seen.
const rotateMemory = time.Minute

// maxFreeReplays bounds the replays of one request that maxReplays does
// not count (see roundTrip).
const maxFreeReplays = 64

var errConnUnavailable = errors.New("httpclient: connection takes no new requests")

// checkConn is the pool's health check of an idle connection: cheap, it
// reads the connection's state (HTTP/2 PINGs run on their own).
func checkConn(_ context.Context, c *conn) error { return usable(c) }

// usable reports why c takes no new request, or nil when it does.
func usable(c *conn) error {
	if err := c.cc.Err(); err != nil {
		return err
	}
	if c.cc.Available() == 0 {
		return errConnUnavailable
	}
	return nil
}

// dialHint carries the context of a traced request waiting for a
// connection, so the dial made for it fires its httptrace hooks (DNS,
// connect, TLS), as net/http's dial for a request does.
type dialHint struct{ ctx context.Context }

// valuesFrom is a context that is ctx for cancellation and deadline, and
// looks values up in vals first: a dial bounded by the pool, traced by the
// request it is made for.
type valuesFrom struct {
	context.Context
	vals context.Context
}

func (c valuesFrom) Value(k any) any {
	if v := c.vals.Value(k); v != nil {
		return v
	}
	return c.Context.Value(k)
}

// dialSlot receives the net.Conn dialed by NewClientConn (see
// Transport.dial).
type dialSlot struct{ nc net.Conn }

type dialSlotKey struct{}

// create dials a connection for the pool.
func (o *origin) create(ctx context.Context) (*conn, error) {
	o.mu.Lock()
	for len(o.hints) > 0 && o.hints[0].ctx.Err() != nil {
		o.hints = o.hints[1:]
	}
	if len(o.hints) > 0 {
		ctx = valuesFrom{ctx, o.hints[0].ctx}
		o.hints = o.hints[1:]
	}
	o.mu.Unlock()
	slot := &dialSlot{}
	ctx = context.WithValue(ctx, dialSlotKey{}, slot)
	cc, err := o.t.base.NewClientConn(ctx, o.scheme, o.addr)
	if err != nil {
		return nil, err
	}
	// A new HTTP/1 connection offers one request; an HTTP/2 one offers the
	// streams of its initial limit (100 until the server's SETTINGS say
	// otherwise). An HTTP/2 server that allows a single stream is served
	// one request at a time, as HTTP/1 is, which is what it asks for.
	c := &conn{o: o, cc: cc, nc: slot.nc, h2: cc.Available() > 1}
	c.idleSince.Store(time.Now().UnixNano())
	o.mu.Lock()
	if o.closed {
		// close has taken its list of connections to close: one made
		// now would be left open, holding its pool's Close.
		o.mu.Unlock()
		cc.Close()
		return nil, ErrClosed
	}
	o.all[c] = struct{}{}
	o.mu.Unlock()
	if c.h2 {
		o.h2.Store(true)
	}
	o.known.Store(true)
	return c, nil
}

// destroy closes a connection for the pool.
func (o *origin) destroy(c *conn) {
	o.mu.Lock()
	delete(o.all, c)
	if len(o.all) == 0 {
		o.emptySince = time.Now()
	}
	o.mu.Unlock()
	if !c.hijacked.Load() {
		c.cc.Close()
	}
}

// acquire takes a connection from the pool, waiting until deadline (zero:
// ctx alone bounds the wait). A traced request leaves a hint so that the
// dial made for it fires its hooks. Errors keep net/http's types: a dial
// or TLS error comes back as net/http would return it, not wrapped in a
// *pool.CreateError; the pool's own failures (a timeout, a full wait
// queue) keep their pool context; a closed pool is ErrClosed.
func (o *origin) acquire(ctx context.Context, deadline time.Time) (*pool.Resource[*conn], error) {
	if !deadline.IsZero() {
		if d, ok := ctx.Deadline(); !ok || deadline.Before(d) {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
	}
	var hint *dialHint
	if httptrace.ContextClientTrace(ctx) != nil {
		hint = &dialHint{ctx: ctx}
		o.mu.Lock()
		o.hints = append(o.hints, hint)
		o.mu.Unlock()
	}
	res, err := o.pool.Acquire(ctx)
	if hint != nil {
		o.mu.Lock()
		for i, h := range o.hints {
			if h == hint {
				o.hints = append(o.hints[:i:i], o.hints[i+1:]...)
				break
			}
		}
		o.mu.Unlock()
	}
	if err != nil {
		return nil, o.poolError(err)
	}
	return res, nil
}

// poolError turns an error of the pool into the one RoundTrip returns.
func (o *origin) poolError(err error) error {
	if errors.Is(err, pool.ErrClosed) {
		return ErrClosed
	}
	var ce *pool.CreateError
	if errors.As(err, &ce) {
		return ce.Err
	}
	return err
}

// waitDeadline is when the wait for a connection started now must end
// because of AcquireTimeout; zero when it is off. The request's context
// bounds the wait too (whichever is sooner).
func (o *origin) waitDeadline() time.Time {
	if o.acquireTimeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(o.acquireTimeout)
}

// timeoutError is the error of a wait for a connection or stream that
// ended at its deadline, started at start.
func (o *origin) timeoutError(start time.Time) error {
	return &pool.TimeoutError{Pool: o.pool.Name(), Waited: time.Since(start), State: o.pool.Stats()}
}

// waitError is the error of a wait that ctx ended: a *pool.TimeoutError
// when a deadline passed (the request's, or AcquireTimeout's), else the
// cancellation's cause.
func (o *origin) waitError(ctx context.Context, start time.Time) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return o.timeoutError(start)
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return ctx.Err()
}

// roundTrip sends req to the origin, replaying it on another connection
// when the one it used failed and the replay rule allows it.
//
// It returns errEvicted, having sent nothing and left req's body alone,
// when the origin has been evicted: the caller starts over on a new one.
func (o *origin) roundTrip(req *http.Request) (*http.Response, error) {
	o.entering.Add(1)
	defer o.entering.Add(-1)
	if o.evicted.Load() {
		return nil, errEvicted
	}
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	var stack []uintptr
	if o.leak > 0 {
		stack = callers()
	}
	r := req
	for replays, free := 0, 0; ; {
		if trace != nil && trace.GetConn != nil {
			trace.GetConn(o.addr)
		}
		cl, err := o.get(ctx, o.waitDeadline())
		if err != nil {
			closeBody(r)
			o.failures.Add(1)
			return nil, err
		}
		if trace != nil && trace.GotConn != nil {
			trace.GotConn(cl.info)
		}
		resp, err := cl.c.cc.RoundTrip(r)
		if err == nil {
			cl.c.served.Add(1)
			o.requests.Add(1)
			return cl.respond(resp, stack), nil
		}
		gone := cl.c.cc.Err() != nil || (cl.c.h2 && cl.c.cc.Available() == 0)
		cl.end(false)
		p, ok := progress(err, cl.info.Reused, gone)
		if ok && ctx.Err() == nil && replay.Allowed(req, p) && o.mayReplay(ctx, cl.c, p, &replays, &free) {
			if next, rerr := replay.Rewind(req); rerr == nil {
				r = next
				o.replays.Add(1)
				continue
			}
		}
		o.failures.Add(1)
		return nil, asReturned(err)
	}
}

// mayReplay counts a replay of a request that failed on c and reports
// whether it may be made. A request the server did not process on a
// connection that served others (a server rotating connections, as
// nginx's keepalive_requests does) is replayed without counting toward
// maxReplays, up to maxFreeReplays: the server is making progress, and
// the replay waits for a connection or stream that takes it. One the
// server did not process on a connection that served nothing waits first
// (1ms, doubling, at most a quarter second, within ctx), so that a server
// refusing everything is not hammered; the others count toward
// maxReplays.
func (o *origin) mayReplay(ctx context.Context, c *conn, p replay.Progress, replays, free *int) bool {
	if n := c.served.Load(); p == replay.NotProcessed && c.h2 && n >= 2 {
		if now := time.Now(); n > o.rotateAfter.Load() || now.UnixNano() > o.rotateUntil.Load() {
			o.rotateAfter.Store(n)
			o.rotateUntil.Store(now.Add(rotateMemory).UnixNano())
		}
	}
	if p == replay.NotProcessed && c.served.Load() == 0 && *replays < maxReplays {
		d := min(time.Millisecond<<*replays, 250*time.Millisecond)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
	if p == replay.NotProcessed && c.served.Load() > 0 && *free < maxFreeReplays {
		*free++
		return true
	}
	if *replays < maxReplays {
		*replays++
		return true
	}
	return false
}

// get returns a claim on a connection with a request slot for the
// caller: an HTTP/1 connection leased whole, or a stream on a shared
// HTTP/2 one. deadline (zero: none) and ctx bound the wait.
func (o *origin) get(ctx context.Context, deadline time.Time) (claim, error) {
	if !o.known.Load() {
		// The first connection: take turns until one exists; the turn
		// counts toward the wait.
		start := time.Now()
		wctx := ctx
		if !deadline.IsZero() {
			var cancel context.CancelFunc
			wctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
		select {
		case o.gate <- struct{}{}:
		case <-wctx.Done():
			return claim{}, o.waitError(wctx, start)
		}
		if o.known.Load() {
			<-o.gate
		} else {
			defer func() { <-o.gate }()
		}
	}
	for {
		if o.h2.Load() {
			return o.getStream(ctx, deadline)
		}
		res, err := o.acquire(ctx, deadline)
		if err != nil {
			return claim{}, err
		}
		c := res.Value()
		if c.h2 {
			// The first connection, or one of an origin that turned
			// HTTP/2: it goes to the shared set.
			if cl, ok := o.share(res); ok {
				return cl, nil
			}
			continue
		}
		if cl, ok := c.lend(res); ok {
			return cl, nil
		}
	}
}

// errEvicted is origin.roundTrip's answer when the origin was evicted
// before the request entered it; RoundTrip never returns it.
var errEvicted = errors.New("httpclient: origin evicted")

// tryEvict evicts the origin when it has been empty since before cutoff:
// no connection open or being dialed, no request waiting or inside
// RoundTrip. Requests in flight hold a connection, so they keep it. It
// reports whether the origin is evicted; the caller then closes it.
func (o *origin) tryEvict(cutoff time.Time) bool {
	if !o.emptyBefore(cutoff) {
		return false
	}
	o.evicted.Store(true)
	if o.entering.Load() == 0 && o.emptyBefore(cutoff) {
		return true
	}
	o.evicted.Store(false)
	return false
}

func (o *origin) emptyBefore(cutoff time.Time) bool {
	o.mu.Lock()
	empty := len(o.all) == 0 && o.emptySince.Before(cutoff)
	o.mu.Unlock()
	if !empty {
		return false
	}
	st := o.pool.Stats()
	return st.Open == 0 && st.Waiting == 0
}

// warm holds n connections of the pool at once (dialing those that are
// not idle), so that n distinct connections are open, then gives them all
// back. It returns the error of the first acquisition that failed.
//
// Like roundTrip, it returns errEvicted, having done nothing, when the
// origin has been evicted.
func (o *origin) warm(ctx context.Context, n int) error {
	o.entering.Add(1)
	defer o.entering.Add(-1)
	if o.evicted.Load() {
		return errEvicted
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		held  []*pool.Resource[*conn]
		first error
	)
	for range n {
		wg.Go(func() {
			res, err := o.acquire(ctx, time.Time{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			held = append(held, res)
		})
	}
	wg.Wait()
	for _, res := range held {
		giveBack(res, false)
	}
	return first
}

// giveBack returns a connection to its pool, destroying it when it is
// broken or takes no more requests.
func giveBack(res *pool.Resource[*conn], broken bool) {
	if broken || usable(res.Value()) != nil {
		res.Destroy()
		return
	}
	res.Release()
}

// close ends every claim on the origin's connections itself (requests in
// flight fail; a body never closed no longer holds its connection),
// closes every connection and fails the requests waiting for a stream,
// then closes the pool.
func (o *origin) close() error {
	o.mu.Lock()
	o.closed = true
	cs := make([]*conn, 0, len(o.all))
	for c := range o.all {
		cs = append(cs, c)
	}
	ws := o.waiters
	o.waiters = nil
	o.mu.Unlock()
	for _, w := range ws {
		w.ch <- waitResult{err: ErrClosed}
	}
	for _, c := range cs {
		c.cc.Close()
		if c.h2 {
			o.unshare(c, true)
		} else if l := c.lease.Load(); l&1 == 1 {
			c.endLease(l, true)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return o.pool.Close(ctx)
}
