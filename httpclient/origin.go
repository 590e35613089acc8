package httpclient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// origin is one scheme://host:port: its pool of connections and, for
// HTTP/2, the set of connections taking streams.
type origin struct {
	t      *Transport
	name   string // "scheme://host:port"
	scheme string
	addr   string // host:port, dialed through the base transport
	pool   *pool.Pool[*conn]

	lifetime   bool // MaxLifetime is on: shared connections check expiry
	maxReplays int

	// known is set once a connection has been made, and h2 when one spoke
	// HTTP/2. Until known, requests take turns on gate, so that a burst of
	// first requests to an HTTP/2 origin opens one connection, not MaxSize.
	known atomic.Bool
	h2    atomic.Bool
	gate  chan struct{}

	// growing is set while one request acquires another connection for the
	// shared HTTP/2 set; the others queue on the open connections meanwhile.
	growing atomic.Bool

	// releasing counts shared connections on their way back to the pool:
	// out of the shared set, not yet idle in the pool. A request that
	// finds no stream waits for them rather than dial a connection the
	// pool is about to have idle.
	releasing atomic.Int32

	// entering counts RoundTrip calls inside the origin; evicted is set
	// by Transport.sweepLocked to take the origin out of use, and cleared
	// again if one entered meanwhile. Each side writes its own and then
	// reads the other's, so either the sweep sees the request or the
	// request sees the eviction (and starts over on a new origin).
	entering atomic.Int32
	evicted  atomic.Bool

	mu     sync.Mutex
	shared []*conn            // HTTP/2 connections lent to the origin, taking streams
	all    map[*conn]struct{} // every connection not yet destroyed, for close
	// emptySince is when all last became empty: the origin's creation,
	// or the destroy of its last connection.
	emptySince time.Time

	requests atomic.Uint64 // responses returned
	failures atomic.Uint64 // RoundTrip calls that returned an error
	replays  atomic.Uint64 // requests sent again after a connection failed
}

// conn is a pooled connection.
type conn struct {
	o  *origin
	cc *http.ClientConn
	h2 bool // takes many streams; false: one request at a time

	// rounds counts the requests started on the connection.
	rounds atomic.Uint64

	// HTTP/1: lease is odd while a request holds the connection and is
	// bumped to even by whoever gives it back (the state hook when the
	// response is done, or RoundTrip on failure), so a late or repeated
	// give-back of an earlier lease is a no-op. res is written by the
	// request that takes the lease, before it does.
	lease atomic.Uint64
	res   *pool.Resource[*conn]

	// HTTP/2, guarded by o.mu: whether in o.shared, its lease while there,
	// its expiry, and whether it has stopped taking streams because of it.
	inShared bool
	sres     *pool.Resource[*conn]
	expires  time.Time
	retiring bool
	// pending counts requests that picked the connection and have not yet
	// reserved a stream on it (or are queued on it for one); the
	// connection is not idle while any are.
	pending atomic.Int32
	// streams counts requests holding a stream on the connection: from
	// their reservation until their response body ends (streamBody) or
	// their RoundTrip fails. The connection is idle when it and pending
	// are zero. It is counted here rather than read from the
	// connection's state hook, which net/http runs on every stream's
	// start and end under a per-connection mutex: under load that mutex
	// was the main contention, and each run could start a goroutine.
	streams atomic.Int32
}

func newOrigin(t *Transport, name, scheme, addr string) (*origin, error) {
	o := &origin{
		t: t, name: name, scheme: scheme, addr: addr,
		lifetime:   t.cfg.MaxLifetime > 0,
		maxReplays: maxReplays,
		gate:       make(chan struct{}, 1),
		all:        map[*conn]struct{}{},
		emptySince: time.Now(),
	}
	var obs pool.Observer
	if t.cfg.Observer != nil {
		obs = t.cfg.Observer(name)
	}
	p, err := pool.New(pool.Config[*conn]{
		Name:              "httpclient " + name,
		Create:            o.create,
		Destroy:           o.destroy,
		Check:             checkConn,
		MinSize:           t.cfg.MinSize,
		MaxSize:           t.cfg.MaxSize,
		IdleTimeout:       t.cfg.IdleTimeout,
		MaxLifetime:       t.cfg.MaxLifetime,
		MaxLifetimeJitter: t.cfg.MaxLifetimeJitter,
		AcquireTimeout:    t.cfg.AcquireTimeout,
		CreateTimeout:     t.cfg.DialTimeout + t.cfg.TLSHandshakeTimeout + time.Second,
		Budget:            t.cfg.Budget,
		Observer:          obs,
	})
	if err != nil {
		return nil, err
	}
	o.pool = p
	return o, nil
}

// maxReplays bounds how many times one request is sent again. Every
// replay follows a connection the server closed or sent away (see
// roundTrip), so the bound only guards against a loop; it is above one
// because a server that caps requests per connection (nginx's
// keepalive_requests) sends GOAWAY to many requests at once, and they race
// for the next connection, which is capped too.
const maxReplays = 8

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

// create dials a connection for the pool.
func (o *origin) create(ctx context.Context) (*conn, error) {
	cc, err := o.t.base.NewClientConn(ctx, o.scheme, o.addr)
	if err != nil {
		return nil, err
	}
	// A new HTTP/1 connection offers one request; an HTTP/2 one offers the
	// streams of its initial limit (100 until the server's SETTINGS say
	// otherwise). An HTTP/2 server that allows a single stream is served
	// one request at a time, as HTTP/1 is, which is what it asks for.
	c := &conn{o: o, cc: cc, h2: cc.Available() > 1}
	o.mu.Lock()
	o.all[c] = struct{}{}
	o.mu.Unlock()
	if c.h2 {
		o.h2.Store(true)
	}
	o.known.Store(true)
	if !c.h2 {
		cc.SetStateHook(c.stateChanged)
	}
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
	c.cc.Close()
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
			res, err := o.pool.Acquire(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if errors.Is(err, pool.ErrClosed) {
					err = ErrClosed
				}
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
		giveBack(res)
	}
	return first
}

// giveBack returns a connection to its pool, destroying it when it takes
// no more requests.
func giveBack(res *pool.Resource[*conn]) {
	if usable(res.Value()) != nil {
		res.Destroy()
		return
	}
	res.Release()
}

// stateChanged is the connection's state hook: it runs when a request on it
// completes, when it can take more, and when it closes.
// It is set on HTTP/1 connections only.
func (c *conn) stateChanged(cc *http.ClientConn) {
	// Read the lease before InFlight: a new lease is taken only after its
	// Reserve, so a lease seen here with nothing in flight is finished.
	l := c.lease.Load()
	if l&1 == 1 && cc.InFlight() == 0 {
		c.endLease(l)
	}
}

// endLease gives back an HTTP/1 connection held under lease l, unless it
// was given back already.
func (c *conn) endLease(l uint64) {
	// c.res is the holder's until giveBack: read it only once the CAS
	// made this call the one that gives it back.
	if c.lease.CompareAndSwap(l, l+1) {
		giveBack(c.res)
	}
}

// leaseBody ends an HTTP/1 lease when its body ends, as a second path
// beside the state hook: net/http runs one hook at a time and drops a call
// that comes while one runs, so a whole request can start and finish inside
// another's hook run and never be seen by one. endLease's CAS makes the
// two paths give the connection back once.
type leaseBody struct {
	io.ReadCloser
	c     *conn
	lease uint64
	done  atomic.Bool
}

func (b *leaseBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end()
	}
	return n, err
}

func (b *leaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

// end gives the connection back when net/http is done with it; when it is
// not yet (its read loop still finishing the response), the state hook
// that follows does it.
func (b *leaseBody) end() {
	if b.c.cc.InFlight() == 0 && b.done.CompareAndSwap(false, true) {
		b.c.endLease(b.lease)
	}
}

// roundTrip sends req to the origin, replaying it on another connection
// when the one it used failed and the request allows it.
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
	r := req
	for replays := 0; ; {
		c, lease, err := o.get(ctx)
		if err != nil {
			closeBody(r)
			o.failures.Add(1)
			return nil, err
		}
		reused := c.rounds.Add(1) > 1
		resp, err := c.cc.RoundTrip(r)
		if c.h2 {
			// A request queued on a full connection held it (pending)
			// until it had its stream; one that had reserved a stream
			// is counted in streams. Move the claim to streams (it
			// then ends with the body) or drop it.
			switch {
			case err == nil && lease != 0:
				c.streams.Add(1)
				c.pending.Add(-1)
			case err != nil && lease != 0:
				c.pending.Add(-1)
				o.sharedChanged(c)
			case err != nil:
				c.streams.Add(-1)
				o.sharedChanged(c)
			}
			if err == nil {
				if resp.Body == http.NoBody || resp.Body == nil {
					c.endStream()
				} else {
					resp.Body = &streamBody{ReadCloser: resp.Body, c: c}
				}
			}
		} else if err != nil {
			c.endLease(lease)
		} else if resp.Body == nil || resp.Body == http.NoBody {
			if c.cc.InFlight() == 0 {
				c.endLease(lease)
			}
		} else {
			resp.Body = &leaseBody{ReadCloser: resp.Body, c: c, lease: lease}
		}
		if err == nil {
			o.requests.Add(1)
			return resp, nil
		}
		// Replay when the connection had served before (the server may
		// have closed it meanwhile) or has gone away since (closed, or a
		// GOAWAY: the server stopped taking requests on it), never for
		// what may be the request's own fault on a healthy connection.
		if replays < o.maxReplays && (notSent(err) || (reused && c.cc.Err() != nil)) && ctx.Err() == nil && retryable(err) {
			if next, ok := rewind(req); ok {
				r = next
				replays++
				o.replays.Add(1)
				continue
			}
		}
		o.failures.Add(1)
		return nil, err
	}
}

// notSent reports whether err is one of the errors net/http's HTTP/2 code
// returns before it writes anything of a request, the ones its own
// transport retries on (http2canRetryError): the connection became
// unusable (a GOAWAY, a close) while the request waited for a stream.
// net/http does not export them, so their text is the only handle; should
// the wording change, this returns false and such a request fails instead
// of being replayed, which the nginx test would show.
func notSent(err error) bool {
	switch err.Error() {
	case "http2: client conn not usable",
		"http2: Transport received Server's graceful shutdown GOAWAY":
		return true
	}
	return false
}

// retryable reports whether a request that failed with err on a reused
// connection may be sent again (when it is replayable): any failure of the
// connection except a timeout, which says the server is slow, not gone.
func retryable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// rewind returns the request to send again after req failed, and whether
// it may be sent again: net/http's rule for replayable requests.
func rewind(req *http.Request) (*http.Request, bool) {
	if !replayable(req) {
		return nil, false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return req, true
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	r := *req
	r.Body = body
	return &r, true
}

// replayable is net/http's Request.isReplayable: an idempotent method, or
// an Idempotency-Key, and a body that is empty or can be had again.
func replayable(r *http.Request) bool {
	if r.Body != nil && r.Body != http.NoBody && r.GetBody == nil {
		return false
	}
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, k := r.Header["Idempotency-Key"]
	_, x := r.Header["X-Idempotency-Key"]
	return k || x
}

// get returns a connection with a request slot for the caller. For HTTP/1
// it returns the lease the caller holds; for HTTP/2 a lease of 1 means the
// caller is queued on a full connection and counted in its pending (0: it
// holds a reserved stream).
func (o *origin) get(ctx context.Context) (*conn, uint64, error) {
	if !o.known.Load() {
		// The first connection: take turns until one exists. The turn
		// counts toward AcquireTimeout, which bounds the whole wait.
		var timeout <-chan struct{}
		if _, ok := ctx.Deadline(); !ok {
			if d := o.pool.Config().AcquireTimeout; d > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, d)
				defer cancel()
				timeout = ctx.Done()
			}
		}
		start := time.Now()
		select {
		case o.gate <- struct{}{}:
		case <-ctx.Done():
			if timeout != nil && context.Cause(ctx) == context.DeadlineExceeded {
				return nil, 0, &pool.TimeoutError{Pool: o.pool.Name(), Waited: time.Since(start), State: o.pool.Stats()}
			}
			return nil, 0, context.Cause(ctx)
		}
		if o.known.Load() {
			<-o.gate
		} else {
			defer func() { <-o.gate }()
		}
	}
	for {
		grow := false
		if o.h2.Load() {
			if c := o.pickShared(); c != nil {
				return c, 0, nil
			}
			if o.releasing.Load() > 0 {
				runtime.Gosched()
				continue
			}
			var c *conn
			if grow, c = o.queueShared(); c != nil {
				return c, 1, nil
			}
		}
		c, lease, err := o.acquire(ctx)
		if grow {
			o.growing.Store(false)
		}
		if err != nil {
			if errors.Is(err, pool.ErrClosed) {
				err = ErrClosed
			}
			return nil, 0, err
		}
		if c != nil {
			return c, lease, nil
		}
	}
}

// acquire takes a connection from the pool: an HTTP/1 one under a new
// lease, or an HTTP/2 one into the shared set with a stream reserved. It
// returns a nil conn and error when the connection it got was unusable
// (it has been given back; try again).
func (o *origin) acquire(ctx context.Context) (*conn, uint64, error) {
	res, err := o.pool.Acquire(ctx)
	if err != nil {
		return nil, 0, err
	}
	c := res.Value()
	if err := c.cc.Reserve(); err != nil {
		res.Destroy()
		return nil, 0, nil
	}
	if c.h2 {
		c.streams.Add(1)
		o.mu.Lock()
		c.inShared = true
		c.sres = res
		c.retiring = false
		if o.lifetime {
			c.expires = res.ExpiresAt()
		}
		o.shared = append(o.shared, c)
		o.mu.Unlock()
		return c, 0, nil
	}
	c.res = res
	l := c.lease.Add(1)
	return c, l, nil
}

// pickShared reserves a stream on the first shared connection that has
// one free, packing streams onto few connections so that the others go
// idle and back to the pool. It returns nil when none has.
func (o *origin) pickShared() *conn {
	for tries := 0; tries < 4; tries++ {
		var now time.Time
		if o.lifetime {
			now = time.Now()
		}
		var c *conn
		var done []*conn
		o.mu.Lock()
		for _, s := range o.shared {
			if s.retiring {
				continue
			}
			if o.lifetime && !s.expires.IsZero() && !now.Before(s.expires) {
				// Expired: no new streams; it goes when the last ends.
				s.retiring = true
				done = append(done, s)
				continue
			}
			if s.cc.Available()-int(s.pending.Load()) > 0 {
				c = s
				break
			}
		}
		if c != nil {
			c.pending.Add(1)
		}
		o.mu.Unlock()
		for _, s := range done {
			o.sharedChanged(s)
		}
		if c == nil {
			return nil
		}
		err := c.cc.Reserve()
		if err == nil {
			c.streams.Add(1) // before pending drops: never idle meanwhile
			c.pending.Add(-1)
			return c
		}
		c.pending.Add(-1)
		o.sharedChanged(c)
	}
	return nil
}

// queueShared is for a request that found every shared connection busy.
// When no other request is adding a connection and the pool can lend one,
// it returns grow true: the caller acquires one and then clears growing.
// Otherwise it returns the least-loaded shared connection, on which the
// caller queues for a stream (counted in its pending), or nil when there
// is none: the caller then waits in the pool.
func (o *origin) queueShared() (grow bool, c *conn) {
	if o.growing.CompareAndSwap(false, true) {
		st := o.pool.Stats()
		if st.Idle > 0 || st.Open < st.MaxSize {
			return true, nil
		}
		o.growing.Store(false)
	}
	var best *conn
	bestLoad := 0
	o.mu.Lock()
	for _, s := range o.shared {
		if s.retiring || s.cc.Err() != nil {
			continue
		}
		if load := s.cc.InFlight() + int(s.pending.Load()); best == nil || load < bestLoad {
			best, bestLoad = s, load
		}
	}
	if best != nil {
		best.pending.Add(1)
	}
	o.mu.Unlock()
	return false, best
}

// sharedChanged takes an HTTP/2 connection out of the shared set when it
// is closed, or idle (no stream in flight, none pending); it then goes
// back to the pool, which retires it there if it has expired.
func (o *origin) sharedChanged(c *conn) {
	// Leave a busy connection without taking o.mu, which every request
	// takes: whatever makes it idle later calls again (the end of its
	// last stream, a pending request leaving), and the check is redone
	// under o.mu.
	if (c.pending.Load() != 0 || c.streams.Load() != 0) && c.cc.Err() == nil {
		return
	}
	o.mu.Lock()
	if !c.inShared {
		o.mu.Unlock()
		return
	}
	broken := c.cc.Err() != nil
	if !broken && (c.pending.Load() != 0 || c.streams.Load() != 0) {
		o.mu.Unlock()
		return
	}
	c.inShared = false
	res := c.sres
	c.sres = nil
	if i := slices.Index(o.shared, c); i >= 0 {
		o.shared = slices.Delete(o.shared, i, i+1)
	}
	o.releasing.Add(1)
	o.mu.Unlock()
	if broken {
		res.Destroy()
	} else {
		giveBack(res)
	}
	o.releasing.Add(-1)
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

// endStream ends a request's claim on a shared HTTP/2 connection.
func (c *conn) endStream() {
	if c.streams.Add(-1) == 0 {
		c.o.sharedChanged(c)
	}
}

// streamBody is the body of a response on a shared HTTP/2 connection: its
// end (EOF or an error while reading, or Close) ends the request's claim
// on the connection, once.
type streamBody struct {
	io.ReadCloser
	c    *conn
	done atomic.Bool
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end()
	}
	return n, err
}

func (b *streamBody) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

func (b *streamBody) end() {
	if b.done.CompareAndSwap(false, true) {
		b.c.endStream()
	}
}

// close closes every connection of the origin and its pool.
func (o *origin) close() error {
	o.mu.Lock()
	cs := make([]*conn, 0, len(o.all))
	for c := range o.all {
		cs = append(cs, c)
	}
	o.mu.Unlock()
	// Closing an HTTP/1 connection runs its state hook, which gives it
	// back; a shared HTTP/2 one has no hook: hand it back here (it is
	// destroyed, being closed), or Close would wait for its caller.
	for _, c := range cs {
		c.cc.Close()
		if c.h2 {
			o.sharedChanged(c)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return o.pool.Close(ctx)
}
