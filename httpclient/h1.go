package httpclient

import (
	"net/http/httptrace"
	"runtime"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// HTTP/1: a request acquires a whole connection from the pool under a
// lease and gives it back when its claim ends.

// lend takes the HTTP/1 connection of res under a new lease. It reports
// false, having destroyed the connection, when it takes no request (the
// server closed it while it was idle): the caller acquires another.
func (c *conn) lend(res *pool.Resource[*conn]) (claim, bool) {
	if err := c.cc.Reserve(); err != nil {
		res.Destroy()
		return claim{}, false
	}
	prev := c.rounds.Add(1) - 1
	info := httptrace.GotConnInfo{Conn: c.nc, Reused: prev > 0, WasIdle: prev > 0}
	if info.WasIdle {
		info.IdleTime = time.Since(time.Unix(0, c.idleSince.Load()))
	}
	c.res = res
	return claim{c: c, lease: c.lease.Add(1), info: info}, true
}

// endLease gives back an HTTP/1 connection held under lease l, unless it
// was given back already. When the response's body has ended but
// net/http's read loop has not yet marked the connection free (it does so
// right after), it waits for that, so the next holder finds it free:
// briefly here, then in a goroutine.
func (c *conn) endLease(l uint64, broken bool) {
	if !broken && c.busy() {
		for range 64 {
			runtime.Gosched()
			if !c.busy() {
				break
			}
		}
		if c.busy() {
			go c.awaitFree(l)
			return
		}
	}
	c.finishLease(l, broken)
}

// busy reports whether net/http still counts a request in flight on an
// open connection.
func (c *conn) busy() bool { return c.cc.InFlight() != 0 && c.cc.Err() == nil }

// awaitFree ends lease l once the connection is free, or destroys it if
// that takes more than a second.
func (c *conn) awaitFree(l uint64) {
	wait := 10 * time.Microsecond
	for waited := time.Duration(0); c.busy(); waited += wait {
		if waited > time.Second {
			c.finishLease(l, true)
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, 10*time.Millisecond)
	}
	c.finishLease(l, false)
}

func (c *conn) finishLease(l uint64, broken bool) {
	// c.res is the holder's until giveBack: read it only once the CAS
	// made this call the one that gives it back.
	if c.lease.CompareAndSwap(l, l+1) {
		c.idleSince.Store(time.Now().UnixNano())
		giveBack(c.res, broken)
	}
}
