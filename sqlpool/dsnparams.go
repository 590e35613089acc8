package sqlpool

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// The pgxpool parameters a DSN may carry (pgxpool.ParseConfig reads them,
// pgx's stdlib would send them to the server as settings, which fails at
// the first connect). [NewConnectorDSN] and [Open] take them out of the DSN
// and map them onto Config.
var poolParams = map[string]func(cfg *Config, v string) (setField string, err error){
	"pool_max_conns": func(cfg *Config, v string) (string, error) {
		return "MaxSize", setInt(&cfg.MaxSize, v, 1)
	},
	"pool_min_conns": func(cfg *Config, v string) (string, error) {
		return "MinSize", setInt(&cfg.MinSize, v, 0)
	},
	"pool_max_conn_lifetime": func(cfg *Config, v string) (string, error) {
		return "MaxLifetime", setDuration(&cfg.MaxLifetime, v)
	},
	"pool_max_conn_idle_time": func(cfg *Config, v string) (string, error) {
		return "IdleTimeout", setDuration(&cfg.IdleTimeout, v)
	},
	"pool_health_check_period": func(cfg *Config, v string) (string, error) {
		return "HealthCheckPeriod", setDuration(&cfg.HealthCheckPeriod, v)
	},
	"pool_max_conn_lifetime_jitter": func(cfg *Config, v string) (string, error) {
		return "MaxLifetimeJitter", setDuration(&cfg.MaxLifetimeJitter, v)
	},
}

// refusedPoolParams are pgxpool parameters with no counterpart here.
var refusedPoolParams = map[string]string{
	"pool_min_idle_conns": "sqlpool keeps no minimum of idle connections apart from MinSize (pool_min_conns)",
}

// DSNParamError reports a pgxpool-style parameter of a DSN (pool_max_conns
// and the others, see [Open]) that cannot be used: a bad value, or a
// parameter that has no counterpart in [Config].
type DSNParamError struct {
	Param  string // the parameter, as spelled in the DSN
	Value  string // its value
	Reason string
	Err    error // the *ConfigError (or *pool.ConfigError) the value caused, if any
}

// Unwrap returns Err.
func (e *DSNParamError) Unwrap() error { return e.Err }

func (e *DSNParamError) Error() string {
	return fmt.Sprintf("sqlpool: DSN parameter %s=%q: %s", e.Param, e.Value, e.Reason)
}

func setInt(dst *int, v string, min int) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	if n < min {
		return fmt.Errorf("must be >= %d", min)
	}
	*dst = n
	return nil
}

func setDuration(dst *time.Duration, v string) error {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("not a duration such as \"30m\" or \"1h\"")
	}
	if d < 0 {
		return fmt.Errorf("must be >= 0")
	}
	*dst = d
	return nil
}

// dsnParam is one key=value of a DSN, with where it sits in the DSN.
type dsnParam struct {
	key, value string
	start, end int // dsn[start:end] is the whole parameter, to cut out
}

// takePoolParams removes the pgxpool-style parameters from dsn and applies
// them to cfg. A field already set in cfg (non-zero) wins over the DSN,
// as code that overrides a pgxpool.Config parsed from a DSN does; the
// names of such fields are returned, for a warning. A DSN without such
// parameters comes back unchanged.
// takePoolParams cuts the pool_* parameters out of dsn and fills cfg's
// zero fields from them. It returns the DSN without them, the Config
// fields whose DSN value code overrode, and the parameter each field
// filled from the DSN came from.
func takePoolParams(dsn string, cfg *Config) (string, []string, map[string]dsnParam, error) {
	if !strings.Contains(dsn, "pool_") {
		return dsn, nil, nil, nil
	}
	params := splitDSN(dsn)
	var cut []dsnParam
	for _, p := range params {
		if strings.HasPrefix(p.key, "pool_") {
			cut = append(cut, p)
		}
	}
	if len(cut) == 0 {
		return dsn, nil, nil, nil
	}
	var fromDSN Config
	var ignored []string
	filled := make(map[string]dsnParam)
	for _, p := range cut {
		if why, ok := refusedPoolParams[p.key]; ok {
			return "", nil, nil, &DSNParamError{Param: p.key, Value: p.value, Reason: why}
		}
		set, ok := poolParams[p.key]
		if !ok {
			return "", nil, nil, &DSNParamError{Param: p.key, Value: p.value,
				Reason: "unknown pgxpool parameter (known: pool_max_conns, pool_min_conns, pool_max_conn_lifetime, pool_max_conn_idle_time, pool_health_check_period, pool_max_conn_lifetime_jitter)"}
		}
		field, err := set(&fromDSN, p.value)
		if err != nil {
			return "", nil, nil, &DSNParamError{Param: p.key, Value: p.value, Reason: err.Error() + " (sets Config." + field + ")"}
		}
		filled[field] = p
	}
	// Config wins over the DSN, field by field: a field code set (to
	// another value, warned about, or the same) is not the DSN's.
	merge := func(name string, f filling) {
		if f == codeDiffers {
			ignored = append(ignored, name)
		}
		if f != dsnFilled {
			delete(filled, name) // not the DSN's value that is in Config
		}
	}
	merge("MaxSize", fill(&cfg.MaxSize, fromDSN.MaxSize))
	merge("MinSize", fill(&cfg.MinSize, fromDSN.MinSize))
	merge("MaxLifetime", fill(&cfg.MaxLifetime, fromDSN.MaxLifetime))
	merge("IdleTimeout", fill(&cfg.IdleTimeout, fromDSN.IdleTimeout))
	merge("HealthCheckPeriod", fill(&cfg.HealthCheckPeriod, fromDSN.HealthCheckPeriod))
	merge("MaxLifetimeJitter", fill(&cfg.MaxLifetimeJitter, fromDSN.MaxLifetimeJitter))
	// pgxpool's MaxSize default is max(4, CPUs); ours is DefaultMaxSize.
	// A DSN giving only pool_min_conns above it raises MaxSize with it
	// (withDefaults does so for zero MaxSize).

	// Cut the parameters out, last first so offsets hold.
	out := dsn
	for i := len(cut) - 1; i >= 0; i-- {
		out = out[:cut[i].start] + out[cut[i].end:]
	}
	return cleanDSN(out), ignored, filled, nil
}

// filling says where a Config field's value came from.
type filling int

const (
	dsnFilled   filling = iota // the DSN's value, code set none
	dsnZero                    // the DSN gave zero (or nothing): whatever code set stays
	codeSame                   // code set it, to the DSN's value
	codeDiffers                // code set it to another value: code wins
)

// fill sets *dst to v, a value from the DSN, when *dst is zero (not set in
// code), and says which it is.
func fill[T int | time.Duration](dst *T, v T) filling {
	switch {
	case v == 0:
		return dsnZero
	case *dst == 0:
		*dst = v
		return dsnFilled
	case *dst != v:
		return codeDiffers
	}
	return codeSame
}

// fromParam returns err as a *DSNParamError when the Config field it names
// was filled from a parameter of the DSN, so that the message names what
// the user wrote (pool_min_conns=5), not a field they never set.
func fromParam(err error, params map[string]dsnParam) error {
	var field string
	var ce *ConfigError
	var pce *pool.ConfigError
	switch {
	case errors.As(err, &ce):
		field = ce.Field
	case errors.As(err, &pce):
		field = pce.Field
	}
	if p, ok := params[field]; ok {
		return &DSNParamError{Param: p.key, Value: p.value, Reason: err.Error(), Err: err}
	}
	return err
}

// cleanDSN tidies the separators left where parameters were cut out.
func cleanDSN(s string) string {
	if q := strings.IndexByte(s, '?'); q >= 0 && !isKeywordDSN(s) {
		head, query := s[:q], s[q+1:]
		var parts []string
		for _, p := range strings.Split(query, "&") {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if len(parts) == 0 {
			return head
		}
		return head + "?" + strings.Join(parts, "&")
	}
	return strings.TrimSpace(s)
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// isKeywordDSN reports whether dsn is in PostgreSQL's keyword/value form
// ("host=db user=app"), not a URL or another driver's form.
func isKeywordDSN(dsn string) bool {
	if strings.Contains(dsn, "://") {
		return false
	}
	eq := strings.IndexByte(dsn, '=')
	if eq < 0 {
		return false
	}
	// The first key must come before any '?' or '/' (MySQL's form is
	// user@tcp(host)/db?k=v; SQLite's file:path?k=v).
	head := dsn[:eq]
	return !strings.ContainsAny(head, "?/@(")
}

// splitDSN returns the parameters of a DSN in URL form (scheme://...?k=v&k=v),
// in keyword/value form (k=v k='v w'), or in a driver form with a query
// string (user@tcp(h)/db?k=v, file:path?k=v).
func splitDSN(dsn string) []dsnParam {
	if isKeywordDSN(dsn) {
		return splitKeywordDSN(dsn)
	}
	q := strings.IndexByte(dsn, '?')
	if q < 0 {
		return nil
	}
	var out []dsnParam
	pos := q + 1
	for pos <= len(dsn) {
		end := strings.IndexByte(dsn[pos:], '&')
		if end < 0 {
			end = len(dsn)
		} else {
			end += pos
		}
		kv := dsn[pos:end]
		if kv != "" {
			k, v, _ := strings.Cut(kv, "=")
			if uk, err := url.QueryUnescape(k); err == nil {
				k = uk
			}
			if uv, err := url.QueryUnescape(v); err == nil {
				v = uv
			}
			out = append(out, dsnParam{key: k, value: v, start: pos, end: end})
		}
		pos = end + 1
	}
	return out
}

// splitKeywordDSN parses libpq's keyword/value form: key = value pairs
// separated by spaces, values optionally single-quoted with backslash
// escapes.
func splitKeywordDSN(s string) []dsnParam {
	var out []dsnParam
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			// Not key=value: leave the rest alone.
			return out
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
			i++ // closing quote
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		end := min(i, len(s))
		for end < len(s) && isSpace(s[end]) {
			end++ // cutting a parameter takes its separator with it
		}
		out = append(out, dsnParam{key: key, value: val.String(), start: start, end: end})
		i = end
	}
	return out
}
