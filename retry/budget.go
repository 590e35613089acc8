package retry

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Defaults used for zero fields of [BudgetConfig]. They follow Linkerd's
// retry budget.
const (
	// DefaultBudgetRatio is the share of requests that may be retried when
	// BudgetConfig.Ratio is zero: currently 0.2 (at most 20% extra load).
	DefaultBudgetRatio = 0.2

	// DefaultMinRetriesPerSecond is the floor of retries allowed regardless
	// of the ratio, so that a quiet service can still retry, when
	// BudgetConfig.MinRetriesPerSecond is zero: currently 10.
	DefaultMinRetriesPerSecond = 10.0

	// DefaultBudgetWindow is how long requests and retries are remembered
	// when BudgetConfig.Window is zero: currently 10s.
	DefaultBudgetWindow = 10 * time.Second
)

// budgetBuckets is the number of slices the window slides by.
const budgetBuckets = 10

// BudgetConfig configures a [Budget]. Every zero field means its default.
type BudgetConfig struct {
	// Ratio is the share of requests (first attempts) that may be retried
	// over the window. Zero means DefaultBudgetRatio; negative, NaN or
	// infinite is invalid. Ratio 1 allows one retry per request on average.
	Ratio float64

	// MinRetriesPerSecond is a floor: MinRetriesPerSecond*Window retries are
	// allowed per window on top of the ratio. Zero means
	// DefaultMinRetriesPerSecond; negative means no floor.
	MinRetriesPerSecond float64

	// Window is how long requests and retries count, sliding in tenths.
	// Zero means DefaultBudgetWindow; below 10ns (negative included) is
	// invalid.
	Window time.Duration
}

// Budget caps retries to a share of requests, per service, so that retries
// cannot multiply an outage: over a sliding window, a retry is allowed only
// while retries < Ratio*requests + MinRetriesPerSecond*Window. Share one
// Budget between every call to a service, through Policy.Budget. It is safe
// for concurrent use; it holds a tiny mutex for a few additions per call.
type Budget struct {
	ratio  float64
	floor  float64 // retries allowed per window regardless of requests
	width  int64   // bucket width, nanoseconds
	config BudgetConfig

	mu      sync.Mutex
	buckets [budgetBuckets]budgetBucket
}

type budgetBucket struct {
	slot              int64 // time slot (now/width) this bucket counts
	requests, retries float64
}

// NewBudget returns a Budget configured by c.
//
// On failure it returns a *[PolicyError] naming the bad BudgetConfig field.
func NewBudget(c BudgetConfig) (*Budget, error) {
	bad := func(field string, v any, reason string) error {
		return &PolicyError{Field: "Budget." + field, Value: v, Reason: reason}
	}
	switch {
	case c.Ratio < 0 || math.IsNaN(c.Ratio) || math.IsInf(c.Ratio, 0):
		return nil, bad("Ratio", c.Ratio, "must be >= 0 and finite")
	case math.IsNaN(c.MinRetriesPerSecond) || math.IsInf(c.MinRetriesPerSecond, 0):
		return nil, bad("MinRetriesPerSecond", c.MinRetriesPerSecond, "must be finite")
	case c.Window != 0 && c.Window < budgetBuckets:
		return nil, bad("Window", c.Window, fmt.Sprintf("must be >= %dns", budgetBuckets))
	}
	if c.Ratio == 0 {
		c.Ratio = DefaultBudgetRatio
	}
	if c.MinRetriesPerSecond == 0 {
		c.MinRetriesPerSecond = DefaultMinRetriesPerSecond
	}
	if c.Window == 0 {
		c.Window = DefaultBudgetWindow
	}
	b := &Budget{
		ratio:  c.Ratio,
		floor:  max(c.MinRetriesPerSecond, 0) * c.Window.Seconds(),
		width:  int64(c.Window / budgetBuckets),
		config: c,
	}
	for i := range b.buckets {
		b.buckets[i].slot = math.MinInt64
	}
	return b, nil
}

// Config returns the budget's configuration with defaults filled in.
func (b *Budget) Config() BudgetConfig { return b.config }

// bucketLocked returns the bucket for now, cleared if it held an old slot,
// and the current slot.
func (b *Budget) bucketLocked(now time.Time) (*budgetBucket, int64) {
	slot := now.UnixNano() / b.width
	bk := &b.buckets[uint64(slot)%budgetBuckets]
	if bk.slot != slot {
		*bk = budgetBucket{slot: slot}
	}
	return bk, slot
}

// recordRequest counts a first attempt.
func (b *Budget) recordRequest(now time.Time) {
	b.mu.Lock()
	bk, _ := b.bucketLocked(now)
	bk.requests++
	b.mu.Unlock()
}

// allowRetry reports whether a retry fits the budget, and counts it if so.
func (b *Budget) allowRetry(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, slot := b.bucketLocked(now)
	var requests, retries float64
	for i := range b.buckets {
		if bk := &b.buckets[i]; bk.slot > slot-budgetBuckets && bk.slot <= slot {
			requests += bk.requests
			retries += bk.retries
		}
	}
	if retries >= b.ratio*requests+b.floor {
		return false
	}
	cur.retries++
	return true
}
