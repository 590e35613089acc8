package httpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/retry"
	"github.com/poolkit/poolkit/telemetry"
)

// DefaultTimeout bounds a whole request made through a [Client] (every
// attempt, the waits between them and the reading of the response body)
// when Config.Timeout is zero: currently 30s.
const DefaultTimeout = 30 * time.Second

// Config describes one downstream service and how to call it: the
// connections (Transport), a timeout for the whole request, a circuit
// breaker and a retry policy with a budget. [NewClient] builds a [Client]
// from it.
//
// The zero value of every field but Name is a sensible setup: pooled
// connections with the Transport defaults, a DefaultTimeout bound, the
// breaker's defaults, three attempts with full-jitter backoff, and a retry
// budget of 20% of requests. A [Preset] gives numbers tuned for a traffic
// shape; package config reads Configs from a YAML or JSON file.
type Config struct {
	// Name names the service in errors, in the breaker's OpenError and in
	// metrics. Required.
	Name string

	// BaseURL is the absolute http or https URL that [Client.NewRequest]
	// resolves paths against, e.g. "https://payment.internal/v1/". It may
	// carry a path but no query or fragment. Zero: none, so NewRequest takes
	// absolute URLs only. Requests made through [Client.HTTP] always carry
	// their own absolute URL.
	BaseURL string

	// Transport configures the pooled connections (per origin); see
	// [TransportConfig]. It must be zero when Base is set.
	Transport TransportConfig

	// Base, when set, is the round-tripper at the bottom of the chain in
	// place of the pooled Transport: the client's timeout, retries and
	// breaker (and Wrap) are layered over it. It is for an SDK whose
	// users bring their own *http.Client: pass that client's Transport
	// (http.DefaultTransport when it is nil). Base makes the connections,
	// so every Transport field must be zero (Validate names the first one
	// set); Client.Transport returns nil and Client.Stats has no Origins.
	// The client does not own Base: Close leaves it open (later requests
	// through the client fail with ErrClosed all the same). Base must be
	// safe for concurrent use. Zero: a pooled Transport from Transport.
	Base http.RoundTripper

	// Wrap, when set, wraps the bottom of the chain (the pooled Transport,
	// or Base) once, when the client is built; what it returns sits under
	// the breaker and retries:
	//
	//	telemetry → timeout → retry → breaker → Wrap(…) → Transport or Base
	//
	// so its round-tripper is called once per attempt, with the attempt's
	// request, and never for a call the breaker refused. Use it for what
	// must happen on every attempt: an auth header (clone the request
	// before changing it, as the http.RoundTripper contract asks), a span
	// per attempt (otelhttp.NewTransport). Its errors count as the
	// service's failures in the breaker, as the Transport's do. To wrap
	// the whole chain instead (once per request, retries included), wrap
	// Client.HTTP().Transport. Returning nil is refused by NewClient with
	// a *ClientConfigError for the field "Wrap". Zero: nothing in between.
	Wrap func(http.RoundTripper) http.RoundTripper

	// Timeout bounds a whole request: every attempt, the backoff between
	// them, and the reading of the response body until it is closed. A
	// request whose context has an earlier deadline keeps it. Zero:
	// DefaultTimeout. Negative: no bound beyond the request's context.
	Timeout time.Duration

	// Breaker configures the service's circuit breaker; zero fields take
	// breaker's defaults. Its Classify is not used (the breaker sits on the
	// HTTP chain and classifies responses with breaker.ClassifyHTTP).
	Breaker breaker.Settings

	// DisableBreaker removes the breaker from the chain. Zero: breaker on.
	DisableBreaker bool

	// Retry configures retries; zero fields take retry's defaults. Whatever
	// Retry.Retryable says, a call the breaker refused (breaker.ErrOpen) is
	// never retried. If Retry.Budget is set it is used as is (share one
	// Budget between clients that way); otherwise RetryBudget configures a
	// budget of the client's own.
	Retry retry.Policy

	// RetryBudget configures the client's retry budget when Retry.Budget
	// is nil; zero fields take retry's defaults (20% of requests plus 10
	// retries a second, over 10s).
	RetryBudget retry.BudgetConfig

	// DisableRetryBudget turns the budget off: only Retry.MaxAttempts bounds
	// retries. Zero: budget on. Ignored when Retry.Budget is set.
	DisableRetryBudget bool

	// DisableRetry removes retries from the chain (Retry.MaxAttempts = 1
	// has the same effect on behaviour). Zero: retries on.
	DisableRetry bool

	// Telemetry, when set, gets what the client does under its Name
	// (metrics.For(reg) for Prometheus, otelpoolkit for OpenTelemetry):
	// request durations (the outermost layer of the chain, so retries and
	// waits included), the per-origin pools (read at collection time, and
	// their events), the breaker's state, transitions and rejections, and
	// retry attempts and budget refusals. [NewClient] fails with its error
	// when it refuses the service (a client of the same Name already
	// reports there: telemetry.ErrDuplicate). An Observer already set in
	// Transport gets every event beside it; one set in Breaker or Retry is
	// kept and that layer then reports nothing to Telemetry. Close stops
	// the reporting. Zero: no telemetry.
	Telemetry telemetry.Telemetry
}

// ClientConfigError reports a Config field that cannot work. [Config.Validate]
// and [NewClient] return it (joined with the others when several fields
// are bad); package config reports it, at its line, for a service of a file.
type ClientConfigError struct {
	Service string // Config.Name
	Field   string // path in Config, e.g. "Retry.MaxAttempts" or "Transport.MaxSize"
	Value   any    // the value given
	Reason  string // what a valid value looks like
}

func (e *ClientConfigError) Error() string {
	return fmt.Sprintf("httpclient: service %q: %s = %v: %s", e.Service, e.Field, e.Value, e.Reason)
}

// Validate reports every invalid field of c, as *[ClientConfigError]s
// joined with errors.Join (errors.As finds the first), or nil. Zero
// fields are valid: they mean their default. Within Transport, Breaker,
// Retry and RetryBudget, only the first bad field of each is reported.
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, v any, reason string) {
		errs = append(errs, &ClientConfigError{Service: c.Name, Field: field, Value: v, Reason: reason})
	}
	if c.Name == "" {
		bad("Name", `""`, "required")
	}
	if c.BaseURL != "" {
		if _, err := parseBaseURL(c.BaseURL); err != nil {
			bad("BaseURL", c.BaseURL, err.Error())
		}
	}
	if c.Base != nil {
		c.checkBase(bad)
	} else if _, err := c.Transport.withDefaults(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			bad("Transport."+ce.Field, ce.Value, ce.Reason)
		} else {
			bad("Transport", "", err.Error())
		}
	}
	if !c.DisableBreaker {
		if err := c.Breaker.Validate(); err != nil {
			var se *breaker.SettingsError
			if errors.As(err, &se) {
				bad("Breaker."+se.Field, se.Value, se.Reason)
			} else {
				bad("Breaker", "", err.Error())
			}
		}
	}
	if !c.DisableRetry {
		policyErr := func(prefix string, err error) {
			var pe *retry.PolicyError
			if errors.As(err, &pe) {
				// NewBudget names its fields "Budget.Window"; ours is RetryBudget.Window.
				bad(prefix+"."+strings.TrimPrefix(pe.Field, "Budget."), pe.Value, pe.Reason)
			} else {
				bad(prefix, "", err.Error())
			}
		}
		if err := c.Retry.Validate(); err != nil {
			policyErr("Retry", err)
		}
		if c.Retry.Budget == nil && !c.DisableRetryBudget {
			if _, err := retry.NewBudget(c.RetryBudget); err != nil {
				policyErr("RetryBudget", err)
			}
		}
	}
	return errors.Join(errs...)
}

// parseBaseURL parses a Config.BaseURL.
func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New(`must be an absolute "http" or "https" URL`)
	case u.Host == "":
		return nil, errors.New("must have a host")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("must have no query or fragment")
	case u.User != nil:
		return nil, errors.New("must carry no credentials (set an Authorization header instead)")
	}
	return u, nil
}

// Client calls one downstream service. Its [Client.HTTP] *http.Client sends
// requests through a chain of round-trippers, outermost first:
//
//	telemetry → timeout → retry → breaker → Config.Wrap → pooled Transport (or Config.Base)
//
// Telemetry (Config.Telemetry) times what the caller sees; the
// timeout layer bounds the whole request (Config.Timeout); retry
// retries what is safe to retry, within a budget, and never retries a call
// the breaker refused; the breaker fails fast while the service is down;
// Config.Wrap, if set, sees every attempt; the Transport pools connections
// per origin (Config.Base, when set, stands in for it).
//
// A Client is safe for concurrent use. Create it with [NewClient] and Close
// it when done; the zero value is not usable.
type Client struct {
	name      string
	base      *url.URL // nil without a BaseURL
	http      *http.Client
	transport *Transport        // nil with Config.Base
	breaker   *breaker.Breaker  // nil when disabled
	service   telemetry.Service // nil without Config.Telemetry
	pools     telemetry.Pool    // nil without Config.Telemetry or with Config.Base
	closeOnce sync.Once
	// baseClosed is set by Close, for a chain on Config.Base
	baseClosed atomic.Bool
}

// NewClient returns a Client for cfg. It opens no connection: origins get
// their pool on first use (or from Client.Transport().Warm).
//
// On failure it returns the error of [Config.Validate] (every bad field, as
// *[ClientConfigError]s), or a *ClientConfigError for "Wrap" when
// Config.Wrap returned nil, and nothing is left open.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{name: cfg.Name}
	if cfg.BaseURL != "" {
		c.base, _ = parseBaseURL(cfg.BaseURL) // validated
	}
	if cfg.Telemetry != nil {
		svc, err := cfg.Telemetry.Service(cfg.Name)
		if err != nil {
			return nil, fmt.Errorf("httpclient: service %q: Telemetry: %w", cfg.Name, err)
		}
		c.service = svc
		// The user's own per-origin observer, if any, keeps getting
		// every event beside telemetry. Origins get their pool on a
		// request, after build has set c.pools.
		user := cfg.Transport.Observer
		cfg.Transport.Observer = func(origin string) pool.Observer {
			var own pool.Observer
			if user != nil {
				own = user(origin)
			}
			var tel pool.Observer
			if c.pools != nil {
				tel = c.pools.Observer(origin)
			}
			return telemetry.Observers(own, tel)
		}
		if cfg.Breaker.Observer == nil {
			cfg.Breaker.Observer = svc.BreakerObserver()
		}
		if cfg.Retry.Observer == nil {
			cfg.Retry.Observer = svc.RetryObserver()
		}
	}
	if cfg.Transport.Name == "" {
		cfg.Transport.Name = cfg.Name
	}
	rt, err := c.build(cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.http = &http.Client{Transport: rt}
	return c, nil
}

// build makes the chain for cfg (validated, observers set), recording in c
// what Close must undo.
func (c *Client) build(cfg Config) (http.RoundTripper, error) {
	rt, err := c.bottom(cfg)
	if err != nil {
		return nil, err
	}
	if tr := c.transport; tr != nil && cfg.Telemetry != nil {
		conf := tr.poolStatus()
		c.pools, err = cfg.Telemetry.Pool(telemetry.Source{
			Kind: telemetry.KindHTTP, Name: cfg.Name,
			Origins: func() map[string]pool.Stats {
				stats := tr.Stats()
				out := make(map[string]pool.Stats, len(stats))
				for origin, s := range stats {
					out[origin] = s.Pool
				}
				return out
			},
			Config: func() telemetry.PoolConfig { return conf },
		})
		if err != nil {
			return nil, fmt.Errorf("httpclient: service %q: Telemetry: %w", cfg.Name, err)
		}
	}
	if !cfg.DisableBreaker {
		s := cfg.Breaker
		s.Classify = nil
		b, err := breaker.New(cfg.Name, s)
		if err != nil {
			return nil, err // validated; not reached
		}
		if c.service != nil {
			c.service.Breaker(b)
		}
		c.breaker = b
		rt = breaker.NewTransport(rt, b, classifyHTTP)
	}
	if !cfg.DisableRetry {
		p := cfg.Retry
		p.Retryable = notOpen(p.Retryable)
		if p.Budget == nil && !cfg.DisableRetryBudget {
			p.Budget, err = retry.NewBudget(cfg.RetryBudget)
			if err != nil {
				return nil, err // validated; not reached
			}
		}
		rt, err = retry.NewTransport(rt, p)
		if err != nil {
			return nil, err // validated; not reached
		}
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if timeout > 0 {
		rt = &timeoutTransport{next: rt, timeout: timeout}
	}
	if c.service != nil {
		rt = c.service.RoundTripper(rt)
	}
	return rt, nil
}

// notOpen wraps a Policy.Retryable so that a call the breaker refused, or
// one made after Close, is never retried: retrying it would only spin
// until the open timeout, or fail the same way.
func notOpen(retryable func(error) bool) func(error) bool {
	if retryable == nil {
		retryable = retry.DefaultRetryable
	}
	return func(err error) bool {
		return !errors.Is(err, breaker.ErrOpen) && !errors.Is(err, ErrClosed) && retryable(err)
	}
}

// classifyHTTP is the breaker's classifier: breaker.ClassifyHTTP, but a
// wait for one of the client's own connections that timed out or found
// the wait queue full, and a closed client, say nothing of the
// downstream's health and are Excluded. (A dial that fails is the
// downstream's fault and still counts.)
func classifyHTTP(resp *http.Response, err error) breaker.Outcome {
	if err != nil && (errors.Is(err, pool.ErrAcquireTimeout) || errors.Is(err, pool.ErrWaitQueueFull) || errors.Is(err, ErrClosed)) {
		var te *pool.TimeoutError
		if !errors.As(err, &te) || te.LastCreateErr == nil {
			return breaker.Excluded
		}
	}
	return breaker.ClassifyHTTP(resp, err)
}

// Name returns the service's name, Config.Name.
func (c *Client) Name() string { return c.name }

// HTTP returns the *http.Client that sends requests through the client's
// chain. It is the same *http.Client on every call; pass it to SDKs that
// accept one. Its Timeout is zero: Config.Timeout is applied in the chain,
// so do not set it (it would bound requests a second time).
func (c *Client) HTTP() *http.Client { return c.http }

// Transport returns the pooled Transport at the bottom of the chain, for
// Warm and per-origin Stats, or nil when Config.Base stands in for it.
// Sending requests through it directly bypasses the timeout, retries,
// breaker and Config.Wrap.
func (c *Client) Transport() *Transport { return c.transport }

// Breaker returns the service's circuit breaker, or nil when
// Config.DisableBreaker is set.
func (c *Client) Breaker() *breaker.Breaker { return c.breaker }

// NewRequest returns a request for method and target, bound to ctx, with
// body (which may be nil) as http.NewRequestWithContext makes it: in-memory
// bodies (*bytes.Buffer, *bytes.Reader, *strings.Reader) can be rewound,
// so such a request can be retried when its method allows.
//
// target is a path, optionally with a query ("orders/42?full=1"), appended
// to the BaseURL's path: with BaseURL "https://pay.internal/v1", both
// "orders" and "/orders" give "https://pay.internal/v1/orders". Without a
// BaseURL, target must be an absolute URL. With one, an absolute target is
// refused, so that a client named for one service does not silently call
// another.
func (c *Client) NewRequest(ctx context.Context, method, target string, body io.Reader) (*http.Request, error) {
	u, err := c.resolve(target)
	if err != nil {
		return nil, err
	}
	return http.NewRequestWithContext(ctx, method, u, body)
}

func (c *Client) resolve(target string) (string, error) {
	if c.base == nil {
		return target, nil
	}
	ref, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("httpclient: service %q: request target %q: %w", c.name, target, err)
	}
	if ref.Scheme != "" || ref.Host != "" {
		return "", fmt.Errorf("httpclient: service %q: request target %q: must be a path relative to BaseURL %s", c.name, target, c.base)
	}
	u := *c.base
	p := strings.TrimPrefix(ref.EscapedPath(), "/")
	if p != "" {
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
			if u.RawPath != "" {
				u.RawPath += "/"
			}
		}
		joined, err := url.Parse(u.EscapedPath() + p)
		if err != nil {
			return "", fmt.Errorf("httpclient: service %q: request target %q: %w", c.name, target, err)
		}
		u.Path, u.RawPath = joined.Path, joined.RawPath
	}
	u.RawQuery = ref.RawQuery
	return u.String(), nil
}

// Do sends req through the client's chain: c.HTTP().Do(req).
func (c *Client) Do(req *http.Request) (*http.Response, error) { return c.http.Do(req) }

// ClientStats is a snapshot of a Client.
type ClientStats struct {
	// Name is the service's name.
	Name string

	// Origins holds the Transport's per-origin stats, keyed by
	// "scheme://host:port"; nil with Config.Base.
	Origins map[string]OriginStats

	// Breaker is the breaker's state and counts; zero when the breaker is
	// disabled (see BreakerEnabled).
	BreakerEnabled bool
	Breaker        breaker.State
	BreakerCounts  breaker.Counts
}

// Stats returns a snapshot of the client's connections and breaker.
func (c *Client) Stats() ClientStats {
	s := ClientStats{Name: c.name}
	if c.transport != nil {
		s.Origins = c.transport.Stats()
	}
	if c.breaker != nil {
		s.BreakerEnabled = true
		s.Breaker = c.breaker.State()
		s.BreakerCounts = c.breaker.Counts()
	}
	return s
}

// Close closes the client's Transport: requests in flight fail and later
// ones fail with ErrClosed. A Config.Base is left open (it is the
// caller's), but later requests through the client fail with ErrClosed.
// With a Telemetry, the client stops reporting there (its series are
// removed), so a client of the same name can be made again. It returns
// the Transport's error; calling it again returns nil.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.baseClosed.Store(true)
		if c.pools != nil {
			c.pools.Close()
		}
		if c.service != nil {
			c.service.Close()
		}
		if c.transport != nil {
			err = c.transport.Close()
		}
	})
	return err
}

// timeoutTransport bounds a whole request, body included, with a deadline
// on its context. It is what http.Client.Timeout does, without the
// goroutine and timer http.Client needs for a RoundTripper it does not
// know.
type timeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline := time.Now().Add(t.timeout)
	if d, ok := ctx.Deadline(); ok && !d.After(deadline) {
		return t.next.RoundTrip(req) // the caller's deadline is sooner
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose cancels the request's deadline context when the body is
// closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

var (
	_ http.RoundTripper = (*timeoutTransport)(nil)
	_ io.ReadCloser     = (*cancelOnClose)(nil)
)
