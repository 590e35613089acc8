package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"
	"time"
)

// A *sql.DB from this package closes its driver connection after every
// use (SetMaxIdleConns(0), see the package doc), and database/sql closes
// a connection's statements with it: a statement from db.Prepare would be
// prepared again, one more round trip, every time it runs. So the driver's
// statements are kept, per physical connection and keyed by query text,
// after database/sql closes them; the next Prepare of the same text on
// that connection gets the kept one at no cost. They are closed with the
// connection.
//
// An entry is lent to one statement of database/sql at a time (out); a
// second Prepare of the same text while it is out gets a statement of its
// own, closed as usual. Only the connection's holder touches the cache.

// cachedStmt is a driver statement kept prepared on a connection.
type cachedStmt struct {
	query      string
	s          driver.Stmt
	out        bool // lent to a statement of the connection's holder
	stale      bool // found unusable on the server: closed when given back
	prev, next *cachedStmt
}

// stmtCache is a connection's kept statements, least recently used first
// to go when more than max are kept.
type stmtCache struct {
	max  int
	m    map[string]*cachedStmt
	head cachedStmt // sentinel of the use-ordered list: head.next is the most recent
}

func newStmtCache(max int) *stmtCache {
	c := &stmtCache{max: max, m: make(map[string]*cachedStmt)}
	c.head.next, c.head.prev = &c.head, &c.head
	return c
}

func (c *stmtCache) unlink(e *cachedStmt) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *stmtCache) pushFront(e *cachedStmt) {
	e.prev, e.next = &c.head, c.head.next
	c.head.next.prev = e
	c.head.next = e
}

// get returns the entry for query, marked most recently used, or nil.
func (c *stmtCache) get(query string) *cachedStmt {
	e := c.m[query]
	if e != nil && c.head.next != e {
		c.unlink(e)
		c.pushFront(e)
	}
	return e
}

// add keeps s for query and returns its entry, closing the least recently
// used entries not out beyond max. It returns nil, keeping nothing, when
// every kept statement is out.
func (c *stmtCache) add(query string, s driver.Stmt) *cachedStmt {
	for len(c.m) >= c.max {
		victim := c.head.prev
		for victim != &c.head && victim.out {
			victim = victim.prev
		}
		if victim == &c.head {
			return nil
		}
		c.drop(victim)
	}
	e := &cachedStmt{query: query, s: s}
	c.m[query] = e
	c.pushFront(e)
	return e
}

// drop forgets e and closes its statement.
func (c *stmtCache) drop(e *cachedStmt) error {
	if c.m[e.query] == e {
		delete(c.m, e.query)
	}
	c.unlink(e)
	return e.s.Close()
}

// checkInAll gives back every entry still out (their statements were not
// closed before the connection), dropping the stale ones.
func (c *stmtCache) checkInAll() {
	for e := c.head.next; e != &c.head; {
		next := e.next
		if e.out {
			e.out = false
			if e.stale {
				c.drop(e)
			}
		}
		e = next
	}
}

// closeAll closes every kept statement. A nil cache has none.
func (c *stmtCache) closeAll() {
	if c == nil {
		return
	}
	for e := c.head.next; e != &c.head; {
		next := e.next
		c.drop(e)
		e = next
	}
}

// stmtGone reports whether err says that a prepared statement no longer
// exists on the server or can no longer run as prepared: PostgreSQL's
// SQLSTATE 26000 (invalid statement name, e.g. after DEALLOCATE or DISCARD
// ALL) and 0A000 ("cached plan must not change result type" after a
// schema change), MySQL's "Unknown prepared statement handler" and
// "Prepared statement needs to be re-prepared".
func stmtGone(err error) bool {
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		switch st.SQLState() {
		case "26000", "0A000":
			return true
		}
	}
	return strings.Contains(strings.ToLower(err.Error()), "prepared statement")
}

// deadlineCtx is a context.Context with a deadline, that a connection
// reuses for every reset it runs: bounding a reset with
// context.WithTimeout would allocate three times per query.
type deadlineCtx struct {
	mu       sync.Mutex
	deadline time.Time
	done     chan struct{}
	err      error
	armed    bool
	timer    *time.Timer
}

var _ context.Context = (*deadlineCtx)(nil)

// start arms the context to expire in d and returns it.
func (c *deadlineCtx) start(d time.Duration) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil || c.err != nil {
		c.done = make(chan struct{})
		c.err = nil
	}
	c.deadline = time.Now().Add(d)
	c.armed = true
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.fire)
	} else {
		c.timer.Reset(d)
	}
	return c
}

// end disarms the context after its use.
func (c *deadlineCtx) end() {
	c.mu.Lock()
	c.armed = false
	c.mu.Unlock()
	c.timer.Stop()
}

// stop releases the timer for good.
func (c *deadlineCtx) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
	if c.timer != nil {
		c.timer.Stop()
	}
}

func (c *deadlineCtx) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A timer of an earlier use may fire late: only the current use's
	// deadline counts.
	if !c.armed || time.Now().Before(c.deadline) || c.err != nil {
		return
	}
	c.err = context.DeadlineExceeded
	close(c.done)
}

func (c *deadlineCtx) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, true
}

func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *deadlineCtx) Value(any) any { return nil }
