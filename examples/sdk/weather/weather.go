// Package weather is a tiny internal client library for a weather service,
// written the way a team's SDK embeds poolkit: its own constructor and
// Config, with poolkit's pooled client, breaker, retries and metrics behind
// them, so that callers configure a weather client, not a connection pool.
package weather

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/httpclient"
	"github.com/poolkit/poolkit/telemetry"
)

// Defaults for the zero fields of Config.
const (
	// DefaultTimeout bounds a call, retries included: currently 2s.
	DefaultTimeout = 2 * time.Second
	// DefaultMaxConns caps the connections to the service: currently 8.
	DefaultMaxConns = 8
)

// Config configures a Client. BaseURL is required; every other zero field
// means its default.
type Config struct {
	// BaseURL is where the weather service listens, e.g.
	// "https://weather.internal/api/". Required.
	BaseURL string
	// Timeout bounds a call, retries included. Zero: DefaultTimeout.
	Timeout time.Duration
	// MaxConns caps the open connections. Zero: DefaultMaxConns. It must
	// be zero when HTTPClient is set.
	MaxConns int
	// HTTPClient, when set, is the caller's own client: its Transport
	// (http.DefaultTransport when nil) makes the connections, with this
	// SDK's retries, breaker and Timeout layered over it. Its Timeout,
	// Jar and CheckRedirect are not used. Zero: the SDK pools its own
	// connections.
	HTTPClient *http.Client
	// Telemetry, when set, gets the client's metrics under the service
	// name "weather" (metrics.For(reg) for Prometheus). Zero: no metrics,
	// and this package links no metrics backend.
	Telemetry telemetry.Telemetry
}

// ErrUnavailable is matched (errors.Is) by the error of a call that failed
// because the weather service is down or refusing calls (its breaker is
// open): callers may fall back to a cached forecast.
var ErrUnavailable = errors.New("weather: service unavailable")

// Forecast is the weather for a city.
type Forecast struct {
	City    string  `json:"city"`
	TempC   float64 `json:"temp_c"`
	Summary string  `json:"summary"`
}

// Client calls the weather service. It is safe for concurrent use; Close it
// when done.
type Client struct {
	c *httpclient.Client
}

// New returns a Client for cfg. It opens no connection.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("weather: Config.BaseURL is required")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.HTTPClient != nil && cfg.MaxConns != 0 {
		return nil, errors.New("weather: Config.MaxConns must be zero when Config.HTTPClient is set (that client makes the connections)")
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	// Start from the preset for a steady, moderate rate and set what this
	// SDK's users may change; everything else keeps poolkit's defaults.
	hc, err := httpclient.PresetSteady.Config("weather", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	hc.Timeout = cfg.Timeout
	hc.Transport.MaxSize = cfg.MaxConns
	hc.Transport.MinSize = min(hc.Transport.MinSize, cfg.MaxConns)
	if cfg.HTTPClient != nil {
		// The caller's transport makes the connections; poolkit layers
		// its timeout, retries and breaker over it.
		hc.Base = cfg.HTTPClient.Transport
		if hc.Base == nil {
			hc.Base = http.DefaultTransport
		}
		hc.Transport = httpclient.TransportConfig{}
	}
	hc.Telemetry = cfg.Telemetry
	c, err := httpclient.NewClient(hc)
	if err != nil {
		// poolkit's error names poolkit's field (Transport.MaxSize); say
		// which of ours it came from.
		return nil, fmt.Errorf("weather: invalid Config: %w", err)
	}
	return &Client{c: c}, nil
}

// Forecast returns the forecast for city. On failure the error matches
// ErrUnavailable when the service is down or its breaker is open.
func (c *Client) Forecast(ctx context.Context, city string) (Forecast, error) {
	req, err := c.c.NewRequest(ctx, http.MethodGet, "forecast?city="+url.QueryEscape(city), nil)
	if err != nil {
		return Forecast{}, err
	}
	resp, err := c.c.Do(req)
	if err != nil {
		if errors.Is(err, breaker.ErrOpen) || breaker.IsConnectionError(err) {
			return Forecast{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return Forecast{}, fmt.Errorf("weather: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Forecast{}, fmt.Errorf("weather: reading the response: %w", err)
	}
	switch {
	case resp.StatusCode >= 500:
		return Forecast{}, fmt.Errorf("%w: %s", ErrUnavailable, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return Forecast{}, fmt.Errorf("weather: %s: %s", resp.Status, body)
	}
	var f Forecast
	if err := json.Unmarshal(body, &f); err != nil {
		return Forecast{}, fmt.Errorf("weather: decoding the forecast: %w", err)
	}
	return f, nil
}

// Stats reports the client's connections, for the SDK's users' status pages.
// With Config.HTTPClient the connections are that client's, and only
// Breaker is set.
type Stats struct {
	Open, Idle, InUse, Waiting int
	Requests                   uint64
	Breaker                    string
}

// Stats returns a snapshot of the client's connections and breaker.
func (c *Client) Stats() Stats {
	cs := c.c.Stats()
	s := Stats{Breaker: cs.Breaker.String()}
	for _, o := range cs.Origins {
		s.Open += o.Pool.Open
		s.Idle += o.Pool.Idle
		s.InUse += o.Pool.InUse
		s.Waiting += o.Pool.Waiting
		s.Requests += o.Requests
	}
	return s
}

// Close closes the client's connections.
func (c *Client) Close() error { return c.c.Close() }
