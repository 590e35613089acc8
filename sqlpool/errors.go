package sqlpool

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
)

// TimeoutError is returned by [Connector.Connect] (and so by the *sql.DB
// methods) when no connection came from the pool before the deadline: a
// pool timeout, not a query or connect timeout. It says what the pool
// looked like. errors.Is matches it against pool.ErrAcquireTimeout and
// context.DeadlineExceeded; errors.As finds the *pool.TimeoutError.
type TimeoutError struct {
	Connector string // the connector's name
	// Breaker is always breaker.StateClosed.
	//
	// Deprecated: there is no connect breaker any more.
	Breaker breaker.State
	Err     *pool.TimeoutError // the pool's error, with its stats
}

func (e *TimeoutError) Error() string {
	var b strings.Builder
	st := e.Err.State
	fmt.Fprintf(&b, "sqlpool: timeout waiting for a connection from pool %q after %v (pool timeout: open %d/%d, in use %d, idle %d, connecting %d, waiting %d)",
		e.Connector, e.Err.Waited.Round(time.Millisecond), st.Open, st.MaxSize, st.InUse, st.Idle, st.Creating, st.Waiting)
	if e.Err.LastCreateErr != nil {
		fmt.Fprintf(&b, "; last connect error: %v", e.Err.LastCreateErr)
	}
	if e.Err.LongestHolder != "" {
		fmt.Fprintf(&b, "; longest holder (held %v) acquired at:\n%s", e.Err.LongestHeld.Round(time.Millisecond), e.Err.LongestHolder)
	}
	return b.String()
}

// Unwrap returns the pool's *pool.TimeoutError.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Timeout reports true, as net.Error's Timeout does for a timeout.
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports true, as net's timeouts do; with Timeout it makes the
// error a net.Error.
func (e *TimeoutError) Temporary() bool { return true }

// ConnectError is returned by [Connector.Connect] when connecting to the
// database failed: for the caller, or just before it while the database
// is down (the pool fails callers fast then). It wraps a
// *pool.CreateError, then the driver's error.
type ConnectError struct {
	Connector string
	Err       error
}

func (e *ConnectError) Error() string {
	var ce *pool.CreateError
	if errors.As(e.Err, &ce) {
		return fmt.Sprintf("sqlpool %q: connect to database: %v", e.Connector, ce.Err)
	}
	return fmt.Sprintf("sqlpool %q: connect to database: %v", e.Connector, e.Err)
}

// Unwrap returns the underlying error.
func (e *ConnectError) Unwrap() error { return e.Err }

// redactedError is an error whose message had secrets removed. It unwraps
// to the original, for errors.Is and errors.As; only its own message is
// formatted by this package.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

const redacted = "xxxxx"

// redact returns err with every secret replaced in its message, or err
// itself when its message holds none.
func redact(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	msg := err.Error()
	out := redactString(msg, secrets)
	if out == msg {
		return err
	}
	return &redactedError{msg: out, err: err}
}

func redactString(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}

func (c *Connector) redactErr(err error) error { return redact(err, c.secrets) }

var kvPassword = regexp.MustCompile(`(?i)(?:^|[\s&?;])password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&;]*)`)

// dsnSecrets returns the passwords found in a DSN, in the URL
// (postgres://u:p@h/db?password=p), key=value (password=p) and MySQL
// (u:p@tcp(h)/db) forms, raw and decoded, longest first.
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		s = strings.Trim(s, "'")
		if len(s) >= 2 {
			out = append(out, s)
		}
	}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
			add(url.PathEscape(p))
			add(url.QueryEscape(p))
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		add(m[1])
		if d, err := url.QueryUnescape(m[1]); err == nil {
			add(d)
		}
	}
	// MySQL: [user[:password]@][net[(addr)]]/dbname — the password runs
	// from the first ':' to the last '@' before the last '/'.
	if slash := strings.LastIndex(dsn, "/"); slash > 0 && !strings.Contains(dsn, "://") {
		if at := strings.LastIndex(dsn[:slash], "@"); at > 0 {
			if colon := strings.Index(dsn[:at], ":"); colon >= 0 {
				add(dsn[colon+1 : at])
			}
		}
	}
	// Replace longer secrets first, so a shorter one inside a longer one
	// does not leave parts of it behind.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
