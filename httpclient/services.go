package httpclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in configuration files as a string
// that time.ParseDuration accepts: "2s", "500ms", "1m30s", "-1s". Numbers
// are refused (is 5 seconds or nanoseconds?).
//
// It implements encoding.TextUnmarshaler, so YAML and TOML libraries decode
// it from a string, and json.Unmarshaler, so that encoding/json reports a
// bad value with the path of its field.
type Duration time.Duration

// String returns the duration as time.Duration prints it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. On failure it returns
// an error that says how to write a duration, and d is unchanged.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: write it as a number with a unit, like \"2s\", \"500ms\" or \"1m30s\"", b)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalJSON implements json.Unmarshaler: it accepts a JSON string that
// UnmarshalText accepts, and null (no change). Anything else is a
// *json.UnmarshalTypeError, which encoding/json completes with the field's
// path.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	typeErr := func(what string) error {
		return &json.UnmarshalTypeError{Value: what, Type: reflect.TypeFor[Duration]()}
	}
	if len(b) == 0 || b[0] != '"' {
		return typeErr("number " + string(b))
	}
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return typeErr("string " + string(b))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return typeErr("string " + strconv.Quote(s))
	}
	*d = Duration(v)
	return nil
}

// Services is a services file: shared defaults and per-service settings,
// decoded from JSON by [LoadServices] or from YAML (or anything else) by
// the user's library, then turned into Configs by [Services.Configs]:
//
//	{
//	  "defaults": {"timeout": "5s", "retry": {"max_attempts": 2}},
//	  "services": {
//	    "payment":   {"base_url": "https://payment.internal", "preset": "steady",
//	                  "breaker": {"open_timeout": "30s"}},
//	    "inventory": {"base_url": "https://inventory.internal", "preset": "bursty",
//	                  "transport": {"max_size": 64}},
//	    "notify":    {"base_url": "http://notify:8080", "retry": {"disabled": true}}
//	  }
//	}
//
// Each service's Config is built in layers, each overriding the one before
// field by field (a field written in a layer wins, a field left out
// inherits): the plain defaults; the preset (the service's own, else the
// one in "defaults"); the fields written in "defaults"; the fields written
// in the service. So anything written explicitly beats a preset, and a
// service beats the shared defaults.
//
// Field names are the Config field names in snake_case; durations are
// strings ("2s", see [Duration]). The struct tags serve encoding/json and
// YAML libraries alike (`json:"..." yaml:"..."`).
type Services struct {
	Defaults ServiceConfig            `json:"defaults" yaml:"defaults"`
	Services map[string]ServiceConfig `json:"services" yaml:"services"`
}

// ServiceConfig is one service in a services file (or its "defaults").
// Every field is optional: nil means "not written here", so it inherits.
type ServiceConfig struct {
	Preset    *Preset          `json:"preset,omitempty" yaml:"preset,omitempty"`
	BaseURL   *string          `json:"base_url,omitempty" yaml:"base_url,omitempty"`
	Timeout   *Duration        `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	Transport ServiceTransport `json:"transport,omitzero" yaml:"transport,omitempty"`
	Breaker   ServiceBreaker   `json:"breaker,omitzero" yaml:"breaker,omitempty"`
	Retry     ServiceRetry     `json:"retry,omitzero" yaml:"retry,omitempty"`
}

// ServiceTransport is the "transport" section of a [ServiceConfig]: the
// fields of [TransportConfig] that a file can carry.
type ServiceTransport struct {
	MinSize                *int      `json:"min_size,omitempty" yaml:"min_size,omitempty"`
	MaxSize                *int      `json:"max_size,omitempty" yaml:"max_size,omitempty"`
	IdleTimeout            *Duration `json:"idle_timeout,omitempty" yaml:"idle_timeout,omitempty"`
	MaxLifetime            *Duration `json:"max_lifetime,omitempty" yaml:"max_lifetime,omitempty"`
	MaxLifetimeJitter      *Duration `json:"max_lifetime_jitter,omitempty" yaml:"max_lifetime_jitter,omitempty"`
	AcquireTimeout         *Duration `json:"acquire_timeout,omitempty" yaml:"acquire_timeout,omitempty"`
	DialTimeout            *Duration `json:"dial_timeout,omitempty" yaml:"dial_timeout,omitempty"`
	KeepAlive              *Duration `json:"keep_alive,omitempty" yaml:"keep_alive,omitempty"`
	TLSHandshakeTimeout    *Duration `json:"tls_handshake_timeout,omitempty" yaml:"tls_handshake_timeout,omitempty"`
	ResponseHeaderTimeout  *Duration `json:"response_header_timeout,omitempty" yaml:"response_header_timeout,omitempty"`
	MaxResponseHeaderBytes *int64    `json:"max_response_header_bytes,omitempty" yaml:"max_response_header_bytes,omitempty"`
	SendPingTimeout        *Duration `json:"send_ping_timeout,omitempty" yaml:"send_ping_timeout,omitempty"`
	PingTimeout            *Duration `json:"ping_timeout,omitempty" yaml:"ping_timeout,omitempty"`
	DisableCompression     *bool     `json:"disable_compression,omitempty" yaml:"disable_compression,omitempty"`
}

// ServiceBreaker is the "breaker" section of a [ServiceConfig]: the fields
// of breaker.Settings, and Disabled for Config.DisableBreaker.
type ServiceBreaker struct {
	Disabled            *bool     `json:"disabled,omitempty" yaml:"disabled,omitempty"`
	FailureRatio        *float64  `json:"failure_ratio,omitempty" yaml:"failure_ratio,omitempty"`
	MinRequests         *int      `json:"min_requests,omitempty" yaml:"min_requests,omitempty"`
	ConsecutiveFailures *int      `json:"consecutive_failures,omitempty" yaml:"consecutive_failures,omitempty"`
	Interval            *Duration `json:"interval,omitempty" yaml:"interval,omitempty"`
	BucketPeriod        *Duration `json:"bucket_period,omitempty" yaml:"bucket_period,omitempty"`
	OpenTimeout         *Duration `json:"open_timeout,omitempty" yaml:"open_timeout,omitempty"`
	HalfOpenProbes      *int      `json:"half_open_probes,omitempty" yaml:"half_open_probes,omitempty"`
}

// ServiceRetry is the "retry" section of a [ServiceConfig]: the fields of
// retry.Policy, Disabled for Config.DisableRetry, and the budget.
type ServiceRetry struct {
	Disabled       *bool              `json:"disabled,omitempty" yaml:"disabled,omitempty"`
	MaxAttempts    *int               `json:"max_attempts,omitempty" yaml:"max_attempts,omitempty"`
	InitialBackoff *Duration          `json:"initial_backoff,omitempty" yaml:"initial_backoff,omitempty"`
	MaxBackoff     *Duration          `json:"max_backoff,omitempty" yaml:"max_backoff,omitempty"`
	Multiplier     *float64           `json:"multiplier,omitempty" yaml:"multiplier,omitempty"`
	AttemptTimeout *Duration          `json:"attempt_timeout,omitempty" yaml:"attempt_timeout,omitempty"`
	RetryAfterCap  *Duration          `json:"retry_after_cap,omitempty" yaml:"retry_after_cap,omitempty"`
	Budget         ServiceRetryBudget `json:"budget,omitzero" yaml:"budget,omitempty"`
}

// ServiceRetryBudget is the "budget" section of a [ServiceRetry]: the
// fields of retry.BudgetConfig, and Disabled for Config.DisableRetryBudget.
type ServiceRetryBudget struct {
	Disabled            *bool     `json:"disabled,omitempty" yaml:"disabled,omitempty"`
	Ratio               *float64  `json:"ratio,omitempty" yaml:"ratio,omitempty"`
	MinRetriesPerSecond *float64  `json:"min_retries_per_second,omitempty" yaml:"min_retries_per_second,omitempty"`
	Window              *Duration `json:"window,omitempty" yaml:"window,omitempty"`
}

// LoadServices reads a services file in JSON (see [Services]) and returns
// the Config of each service, keyed by name, with Config.Name set to it.
//
// Unknown fields are errors (a misspelt field would otherwise be ignored in
// silence). On failure it returns an error naming the field by its path in
// the file ("services.payment.retry.initial_backoff"), or the errors of
// [Services.Configs].
func LoadServices(r io.Reader) (map[string]Config, error) {
	var top struct {
		Defaults json.RawMessage            `json:"defaults"`
		Services map[string]json.RawMessage `json:"services"`
	}
	if err := decodeStrict(r, &top); err != nil {
		return nil, fileError("", err)
	}
	var s Services
	var errs []error
	if top.Defaults != nil {
		if err := decodeStrict(bytes.NewReader(top.Defaults), &s.Defaults); err != nil {
			errs = append(errs, fileError("defaults", err))
		}
	}
	s.Services = make(map[string]ServiceConfig, len(top.Services))
	for _, name := range slices.Sorted(maps.Keys(top.Services)) {
		var sc ServiceConfig
		if err := decodeStrict(bytes.NewReader(top.Services[name]), &sc); err != nil {
			errs = append(errs, fileError("services."+name, err))
			continue
		}
		s.Services[name] = sc
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s.Configs()
}

// decodeStrict decodes one JSON value from r into v, refusing unknown
// fields and trailing data.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the top-level value")
	}
	return nil
}

// FileError reports a services file that could not be decoded: Path is
// where in the file ("services.payment.retry.initial_backoff", or "" for
// the whole file), Err what is wrong.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string {
	if e.Path == "" {
		return "httpclient: services file: " + e.Err.Error()
	}
	return "httpclient: services file: " + e.Path + ": " + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

// fileError turns a decoding error of the section at prefix into a
// *FileError with the full path of the bad field.
func fileError(prefix string, err error) error {
	join := func(parts ...string) string {
		var nonEmpty []string
		for _, p := range parts {
			if p != "" {
				nonEmpty = append(nonEmpty, p)
			}
		}
		return strings.Join(nonEmpty, ".")
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		msg := fmt.Sprintf("cannot use %s as %s", te.Value, te.Type)
		if te.Type == reflect.TypeFor[Duration]() {
			msg = fmt.Sprintf("invalid duration: %s; write it as a string with a unit, like \"2s\", \"500ms\" or \"1m30s\"", te.Value)
		}
		return &FileError{Path: join(prefix, te.Field), Err: errors.New(msg)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &FileError{Path: prefix, Err: fmt.Errorf("%w (at byte %d of this section)", err, se.Offset)}
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &FileError{Path: prefix, Err: fmt.Errorf("unknown field %s", msg)}
	}
	return &FileError{Path: prefix, Err: err}
}

// Configs returns the Config of each service, keyed by name, with
// Config.Name set to it, built as described in [Services].
//
// On failure it returns every error found, joined, sorted by service: an
// unknown preset (a *FileError at "services.NAME.preset"), and the
// *[ClientConfigError]s of [Config.Validate].
func (s Services) Configs() (map[string]Config, error) {
	out := make(map[string]Config, len(s.Services))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(s.Services)) {
		sc := s.Services[name]
		if name == "" {
			errs = append(errs, &FileError{Path: "services", Err: errors.New("a service has an empty name")})
			continue
		}
		c := Config{Name: name}
		preset, where := s.Defaults.Preset, "defaults.preset"
		if sc.Preset != nil {
			preset, where = sc.Preset, "services."+name+".preset"
		}
		if preset != nil {
			if err := preset.apply(&c); err != nil {
				errs = append(errs, &FileError{Path: where, Err: err})
				continue
			}
		}
		s.Defaults.applyTo(&c)
		sc.applyTo(&c)
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		out[name] = c
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// set copies *src into *dst when src is written.
func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// setDur copies *src into *dst when src is written.
func setDur(dst *time.Duration, src *Duration) {
	if src != nil {
		*dst = time.Duration(*src)
	}
}

// applyTo overrides the fields of c that sc writes.
func (sc ServiceConfig) applyTo(c *Config) {
	set(&c.BaseURL, sc.BaseURL)
	setDur(&c.Timeout, sc.Timeout)

	t, tc := sc.Transport, &c.Transport
	set(&tc.MinSize, t.MinSize)
	set(&tc.MaxSize, t.MaxSize)
	setDur(&tc.IdleTimeout, t.IdleTimeout)
	setDur(&tc.MaxLifetime, t.MaxLifetime)
	setDur(&tc.MaxLifetimeJitter, t.MaxLifetimeJitter)
	setDur(&tc.AcquireTimeout, t.AcquireTimeout)
	setDur(&tc.DialTimeout, t.DialTimeout)
	setDur(&tc.KeepAlive, t.KeepAlive)
	setDur(&tc.TLSHandshakeTimeout, t.TLSHandshakeTimeout)
	setDur(&tc.ResponseHeaderTimeout, t.ResponseHeaderTimeout)
	set(&tc.MaxResponseHeaderBytes, t.MaxResponseHeaderBytes)
	setDur(&tc.SendPingTimeout, t.SendPingTimeout)
	setDur(&tc.PingTimeout, t.PingTimeout)
	set(&tc.DisableCompression, t.DisableCompression)

	b, bc := sc.Breaker, &c.Breaker
	set(&c.DisableBreaker, b.Disabled)
	set(&bc.FailureRatio, b.FailureRatio)
	set(&bc.MinRequests, b.MinRequests)
	set(&bc.ConsecutiveFailures, b.ConsecutiveFailures)
	setDur(&bc.Interval, b.Interval)
	setDur(&bc.BucketPeriod, b.BucketPeriod)
	setDur(&bc.OpenTimeout, b.OpenTimeout)
	set(&bc.HalfOpenProbes, b.HalfOpenProbes)

	r, rc := sc.Retry, &c.Retry
	set(&c.DisableRetry, r.Disabled)
	set(&rc.MaxAttempts, r.MaxAttempts)
	setDur(&rc.InitialBackoff, r.InitialBackoff)
	setDur(&rc.MaxBackoff, r.MaxBackoff)
	set(&rc.Multiplier, r.Multiplier)
	setDur(&rc.AttemptTimeout, r.AttemptTimeout)
	setDur(&rc.RetryAfterCap, r.RetryAfterCap)

	bg, bgc := r.Budget, &c.RetryBudget
	set(&c.DisableRetryBudget, bg.Disabled)
	set(&bgc.Ratio, bg.Ratio)
	set(&bgc.MinRetriesPerSecond, bg.MinRetriesPerSecond)
	setDur(&bgc.Window, bg.Window)
}

// Clients holds one [Client] per service, made by [NewClients]. It is safe
// for concurrent use.
type Clients struct {
	clients map[string]*Client
}

// NewClients returns a Client for each config, keyed as configs is (a
// Config with an empty Name takes its key; one with another Name is an
// error). Use it with [LoadServices]:
//
//	cfgs, err := httpclient.LoadServices(f)
//	...
//	clients, err := httpclient.NewClients(cfgs)
//	...
//	defer clients.Close()
//	payment, _ := clients.Get("payment")
//
// On failure it returns every config's error, joined, sorted by name, and
// closes the clients it made.
func NewClients(configs map[string]Config) (*Clients, error) {
	cs := &Clients{clients: make(map[string]*Client, len(configs))}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		cfg := configs[name]
		if cfg.Name == "" {
			cfg.Name = name
		}
		if cfg.Name != name {
			errs = append(errs, fmt.Errorf("httpclient: NewClients: config %q has Name %q", name, cfg.Name))
			continue
		}
		c, err := NewClient(cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cs.clients[name] = c
	}
	if len(errs) > 0 {
		cs.Close()
		return nil, errors.Join(errs...)
	}
	return cs, nil
}

// Get returns the client of the service called name, and whether there
// is one.
func (cs *Clients) Get(name string) (*Client, bool) {
	c, ok := cs.clients[name]
	return c, ok
}

// Names returns the names of the services, sorted.
func (cs *Clients) Names() []string { return slices.Sorted(maps.Keys(cs.clients)) }

// Close closes every client and returns their errors, joined.
func (cs *Clients) Close() error {
	var errs []error
	for _, name := range cs.Names() {
		errs = append(errs, cs.clients[name].Close())
	}
	return errors.Join(errs...)
}
