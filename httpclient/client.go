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
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/retry"
	"github.com/prometheus/client_golang/prometheus"
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
// shape; [LoadServices] reads Configs from a file.
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
	// [TransportConfig].
	Transport TransportConfig

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

	// Registerer, when set, gets the client's Prometheus metrics (see
	// package metrics), labelled with Name: request durations (the
	// outermost layer of the chain, so retries and waits included), the
	// per-origin pool gauges, counters and histograms (wait, use, create
	// time), breaker state, transitions and rejections, and retry attempts
	// and budget refusals. Every client given the same Registerer shares
	// one metrics.Metrics: the first registers it, the next ones find it
	// (prometheus.AlreadyRegisteredError) and add themselves to it; two
	// clients of the same Name on one Registerer are refused. An Observer
	// already set in Transport gets every event beside metrics; one set in
	// Breaker or Retry is kept and those layers then report no metrics.
	// Close removes the client's series. Zero: no metrics.
	Registerer prometheus.Registerer
}

// ClientConfigError reports a Config field that cannot work. [Config.Validate]
// and [NewClient] return it (joined with the others when several fields
// are bad); [LoadServices] returns it for a service of a file.
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
	if _, err := c.Transport.withDefaults(); err != nil {
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
//	metrics → timeout → retry → breaker → pooled Transport
//
// Metrics (with Config.Registerer) times what the caller sees; the
// timeout layer bounds the whole request (Config.Timeout); retry
// retries what is safe to retry, within a budget, and never retries a call
// the breaker refused; the breaker fails fast while the service is down; the
// Transport pools connections per origin.
//
// A Client is safe for concurrent use. Create it with [NewClient] and Close
// it when done; the zero value is not usable.
type Client struct {
	name      string
	base      *url.URL // nil without a BaseURL
	http      *http.Client
	transport *Transport
	breaker   *breaker.Breaker // nil when disabled
	metrics   *metrics.Metrics // nil without a Registerer
	closeOnce sync.Once
}

// NewClient returns a Client for cfg. It opens no connection: origins get
// their pool on first use (or from Client.Transport().Warm).
//
// On failure it returns the error of [Config.Validate] (every bad field, as
// *[ClientConfigError]s) and nothing is left open.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{name: cfg.Name}
	if cfg.BaseURL != "" {
		c.base, _ = parseBaseURL(cfg.BaseURL) // validated
	}
	if cfg.Registerer != nil {
		m, err := metrics.Shared(cfg.Registerer)
		if err != nil {
			return nil, fmt.Errorf("httpclient: service %q: %w", cfg.Name, err)
		}
		c.metrics = m
		// The user's own per-origin observer, if any, keeps getting
		// every event beside metrics.
		user, forMetrics := cfg.Transport.Observer, m.OriginObserver(metrics.KindHTTP, cfg.Name)
		cfg.Transport.Observer = func(origin string) pool.Observer {
			var own pool.Observer
			if user != nil {
				own = user(origin)
			}
			return metrics.Observers(own, forMetrics(origin))
		}
		if cfg.Breaker.Observer == nil {
			cfg.Breaker.Observer = m.BreakerObserver()
		}
		if cfg.Retry.Observer == nil {
			cfg.Retry.Observer = m.RetryObserver(cfg.Name)
		}
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
	tr, err := NewTransport(cfg.Transport)
	if err != nil {
		return nil, err // validated; not reached
	}
	c.transport = tr
	if c.metrics != nil {
		tc, _ := cfg.Transport.withDefaults() // validated
		conf := metrics.PoolConfig{
			MinSize: tc.MinSize, MaxSize: tc.MaxSize, MaxIdle: tc.MaxSize,
			IdleTimeout: tc.IdleTimeout, MaxLifetime: tc.MaxLifetime,
			MaxLifetimeJitter: tc.MaxLifetimeJitter, AcquireTimeout: tc.AcquireTimeout,
			Budget: tc.Budget != nil,
		}
		err := c.metrics.Add(metrics.Source{
			Kind: metrics.KindHTTP, Name: cfg.Name,
			Origins: func() map[string]pool.Stats {
				stats := tr.Stats()
				out := make(map[string]pool.Stats, len(stats))
				for origin, s := range stats {
					out[origin] = s.Pool
				}
				return out
			},
			Config: func() metrics.PoolConfig { return conf },
		})
		if err != nil {
			c.metrics = nil // nothing of ours to remove
			return nil, fmt.Errorf("httpclient: service %q: %w", cfg.Name, err)
		}
	}
	var rt http.RoundTripper = tr
	if !cfg.DisableBreaker {
		s := cfg.Breaker
		s.Classify = nil
		b, err := breaker.New(cfg.Name, s)
		if err != nil {
			return nil, err // validated; not reached
		}
		if c.metrics != nil {
			if err := c.metrics.AddBreaker(b); err != nil {
				return nil, fmt.Errorf("httpclient: service %q: %w", cfg.Name, err)
			}
		}
		c.breaker = b
		rt = breaker.NewTransport(rt, b, nil)
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
	if c.metrics != nil {
		rt = c.metrics.InstrumentRoundTripper(cfg.Name, rt)
	}
	return rt, nil
}

// notOpen wraps a Policy.Retryable so that a call the breaker refused is
// never retried: retrying it would only spin until the open timeout.
func notOpen(retryable func(error) bool) func(error) bool {
	if retryable == nil {
		retryable = retry.DefaultRetryable
	}
	return func(err error) bool {
		return !errors.Is(err, breaker.ErrOpen) && retryable(err)
	}
}

// Name returns the service's name, Config.Name.
func (c *Client) Name() string { return c.name }

// HTTP returns the *http.Client that sends requests through the client's
// chain. It is the same *http.Client on every call; pass it to SDKs that
// accept one. Its Timeout is zero: Config.Timeout is applied in the chain,
// so do not set it (it would bound requests a second time).
func (c *Client) HTTP() *http.Client { return c.http }

// Transport returns the pooled Transport at the bottom of the chain, for
// Warm and per-origin Stats. Sending requests through it directly bypasses
// the timeout, retries and breaker.
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
	// "scheme://host:port".
	Origins map[string]OriginStats

	// Breaker is the breaker's state and counts; zero when the breaker is
	// disabled (see BreakerEnabled).
	BreakerEnabled bool
	Breaker        breaker.State
	BreakerCounts  breaker.Counts
}

// Stats returns a snapshot of the client's connections and breaker.
func (c *Client) Stats() ClientStats {
	s := ClientStats{Name: c.name, Origins: c.transport.Stats()}
	if c.breaker != nil {
		s.BreakerEnabled = true
		s.Breaker = c.breaker.State()
		s.BreakerCounts = c.breaker.Counts()
	}
	return s
}

// Close closes the client's Transport: requests in flight fail and later
// ones fail with ErrClosed. With a Registerer, the client's series are
// removed from its metrics, so a client of the same name can be made
// again. It returns the Transport's error; calling it again returns nil.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		if c.metrics != nil {
			c.metrics.Remove(metrics.KindHTTP, c.name)
			c.metrics.RemoveService(c.name)
			if c.breaker != nil {
				c.metrics.RemoveBreaker(c.name)
			}
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
