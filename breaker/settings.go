package breaker

import (
	"fmt"
	"math"
	"time"
)

// Defaults used for zero fields of [Settings].
const (
	// DefaultFailureRatio is the failure ratio that trips a breaker when
	// Settings.FailureRatio is zero: currently 0.5.
	DefaultFailureRatio = 0.5

	// DefaultMinRequests is the number of counted (non-excluded) outcomes the
	// window must hold before the failure ratio can trip the breaker, used
	// when Settings.MinRequests is zero: currently 20.
	DefaultMinRequests = 20

	// DefaultConsecutiveFailures is the run of failures that trips a breaker
	// when Settings.ConsecutiveFailures is zero: currently 10.
	DefaultConsecutiveFailures = 10

	// DefaultInterval is the length of the rolling window over which outcomes
	// are counted in the closed state when Settings.Interval is zero:
	// currently 60s.
	DefaultInterval = 60 * time.Second

	// DefaultBuckets is the number of buckets the rolling window is divided
	// into when Settings.BucketPeriod is zero: currently 10, so with the
	// default interval the window slides by 6s.
	DefaultBuckets = 10

	// DefaultOpenTimeout is how long a breaker stays open before it lets
	// probes through, used when Settings.OpenTimeout is zero: currently 10s.
	DefaultOpenTimeout = 10 * time.Second

	// DefaultHalfOpenProbes is the number of probes admitted in the half-open
	// state, all of which must succeed to close the breaker, used when
	// Settings.HalfOpenProbes is zero: currently 3.
	DefaultHalfOpenProbes = 3
)

// Settings configures a [Breaker]. The zero value is a sensible setup: every
// zero field means its documented default. Settings is a plain value; copy it
// freely.
//
// The breaker trips (closed → open) when either rule fires on a failure:
//
//   - the window holds at least MinRequests counted outcomes and the share of
//     failures among them is at least FailureRatio; or
//   - the last ConsecutiveFailures counted outcomes were all failures.
//
// Excluded outcomes (see [Outcome]) are counted in neither.
type Settings struct {
	// FailureRatio is the share of failures, in (0, 1], that trips the
	// breaker once MinRequests outcomes are counted.
	// Zero means DefaultFailureRatio.
	FailureRatio float64

	// MinRequests is the number of counted outcomes the window must hold
	// before FailureRatio applies. Zero means DefaultMinRequests; negative is
	// invalid.
	MinRequests int

	// ConsecutiveFailures is the run of failures that trips the breaker
	// regardless of the ratio. Zero means DefaultConsecutiveFailures; a
	// negative value turns this rule off.
	ConsecutiveFailures int

	// Interval is the length of the rolling window over which outcomes are
	// counted in the closed state. Zero means DefaultInterval; a negative
	// value means counts are never cleared in the closed state (only on a
	// state change).
	Interval time.Duration

	// BucketPeriod is how far the window slides at a time: outcomes older
	// than Interval are forgotten one bucket at a time. Interval is rounded
	// up to a multiple of it. Zero means Interval/DefaultBuckets; a value
	// equal to Interval gives a fixed window cleared every Interval.
	// Negative, or greater than Interval, is invalid; it must be zero when
	// Interval is negative.
	BucketPeriod time.Duration

	// OpenTimeout is how long the breaker stays open before it lets probes
	// through (half-open). Zero means DefaultOpenTimeout; negative is
	// invalid.
	OpenTimeout time.Duration

	// HalfOpenProbes is the number of calls admitted while half-open. The
	// breaker closes when that many succeed in a row and opens again on the
	// first failure. Zero means DefaultHalfOpenProbes; negative is invalid.
	HalfOpenProbes int

	// Classify decides the outcome of a call from its error, for
	// [Breaker.Allow] and [Execute]. Nil means [Classify].
	Classify Classifier

	// Observer is told about state changes and rejected calls. Nil means
	// none. It is never called with a lock held; see [Observer].
	Observer Observer
}

// SettingsError reports an invalid [Settings] field. [New] and
// [Settings.Validate] return it.
type SettingsError struct {
	Field  string // name of the field, e.g. "FailureRatio"
	Value  any    // the offending value
	Reason string // what a valid value looks like
}

func (e *SettingsError) Error() string {
	return fmt.Sprintf("breaker: Settings.%s = %v: %s", e.Field, e.Value, e.Reason)
}

// Validate reports the first invalid field of s as a *[SettingsError], or nil
// when s is valid. Zero fields are valid: they mean their default.
func (s Settings) Validate() error {
	bad := func(field string, v any, reason string) error {
		return &SettingsError{Field: field, Value: v, Reason: reason}
	}
	switch {
	case math.IsNaN(s.FailureRatio) || s.FailureRatio < 0 || s.FailureRatio > 1:
		return bad("FailureRatio", s.FailureRatio, "must be in (0, 1]")
	case s.MinRequests < 0 || s.MinRequests > math.MaxUint32:
		return bad("MinRequests", s.MinRequests, "must be >= 0 and fit in 32 bits")
	case s.ConsecutiveFailures > math.MaxUint32:
		return bad("ConsecutiveFailures", s.ConsecutiveFailures, "must fit in 32 bits")
	case s.BucketPeriod < 0:
		return bad("BucketPeriod", s.BucketPeriod, "must be >= 0")
	case s.Interval < 0 && s.BucketPeriod != 0:
		return bad("BucketPeriod", s.BucketPeriod, "must be 0 when Interval is negative (no window)")
	case s.Interval > 0 && s.BucketPeriod > s.Interval:
		return bad("BucketPeriod", s.BucketPeriod, fmt.Sprintf("must be <= Interval (%v)", s.Interval))
	case s.Interval == 0 && s.BucketPeriod > DefaultInterval:
		return bad("BucketPeriod", s.BucketPeriod, fmt.Sprintf("must be <= Interval (default %v)", DefaultInterval))
	case s.OpenTimeout < 0:
		return bad("OpenTimeout", s.OpenTimeout, "must be >= 0")
	case s.HalfOpenProbes < 0 || s.HalfOpenProbes > math.MaxUint32:
		return bad("HalfOpenProbes", s.HalfOpenProbes, "must be >= 0 and fit in 32 bits")
	}
	return nil
}

// withDefaults returns s with every zero field replaced by its default. It is
// the one place that knows the defaults.
func (s Settings) withDefaults() Settings {
	if s.FailureRatio == 0 {
		s.FailureRatio = DefaultFailureRatio
	}
	if s.MinRequests == 0 {
		s.MinRequests = DefaultMinRequests
	}
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
	if s.BucketPeriod == 0 && s.Interval > 0 {
		s.BucketPeriod = max(s.Interval/DefaultBuckets, 1)
	}
	if s.OpenTimeout == 0 {
		s.OpenTimeout = DefaultOpenTimeout
	}
	if s.HalfOpenProbes == 0 {
		s.HalfOpenProbes = DefaultHalfOpenProbes
	}
	if s.Classify == nil {
		s.Classify = Classify
	}
	return s
}

// readyToTrip is the trip rule of s (with defaults applied) for gobreaker.
func (s Settings) readyToTrip(c Counts) bool {
	if s.ConsecutiveFailures > 0 && c.ConsecutiveFailures >= uint32(s.ConsecutiveFailures) {
		return true
	}
	counted := uint64(c.TotalSuccesses) + uint64(c.TotalFailures)
	if counted == 0 || counted < uint64(s.MinRequests) {
		return false
	}
	return float64(c.TotalFailures) >= s.FailureRatio*float64(counted)
}
