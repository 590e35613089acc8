package httpclient

import (
	"fmt"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/retry"
)

// Preset names a set of numbers for a common traffic shape. A preset is a
// starting point: [Preset.Config] returns a Config to adjust, and a
// services file selects one with "preset" and overrides fields on top (see
// package config). The zero Preset ("") is the plain defaults plus the
// recommended pool limits of [RecommendedTransportConfig]; it is what a
// service of a services file without a preset starts from.
//
// The numbers each preset sets (fields it leaves out keep their default):
//
//	                                    low      steady   bursty   (defaults)
//	Transport.MinSize                   0        4        4        0
//	Transport.MaxSize                   4        32       128      32
//	Transport.IdleTimeout               30s      90s      60s      90s
//	Transport.MaxLifetime               5m       10m      10m      10m
//	Transport.AcquireTimeout            2s       1s       5s       30s
//	Transport.ResponseHeaderTimeout     10s      5s       10s      30s
//	Timeout                             15s      5s       15s      30s
//	Retry.MaxAttempts                   3        3        2        3
//	Retry.InitialBackoff                100ms    50ms     200ms    100ms
//	Retry.MaxBackoff                    2s       1s       2s       5s
//	RetryBudget.Ratio                   0.2      0.2      0.1      0.2
//	Breaker.FailureRatio                0.5      0.5      0.6      0.5
//	Breaker.MinRequests                 5        20       50       20
//	Breaker.ConsecutiveFailures         5        10       20       10
//	Breaker.OpenTimeout                 30s      10s      5s       10s
//	Breaker.HalfOpenProbes              1        3        5        3
//
// Why:
//   - low: a few requests a minute (an admin API, a notifier). Few
//     connections, closed soon when idle; a breaker that can trip on a
//     handful of calls (the ratio rule alone would need more calls than
//     arrive in its window) and waits longer before probing, with one probe.
//   - steady: a constant, moderate rate. Warm connections so that no
//     request pays for a dial, tight timeouts because latency is known, and
//     a short AcquireTimeout: a full pool under steady load is a symptom, so
//     fail fast rather than queue.
//   - bursty: idle, then many concurrent calls. A high MaxSize absorbs the
//     burst, a longer AcquireTimeout lets requests queue for a connection
//     rather than fail, connections beyond MinSize go after a minute idle.
//     Retries are fewer and more spread out, with a smaller budget, since
//     retries during a burst add to the overload; the breaker needs more
//     evidence (50 calls, 60% failing) before it trips, and probes sooner.
type Preset string

// The presets. See [Preset] for the numbers they set.
const (
	PresetLow    Preset = "low"
	PresetSteady Preset = "steady"
	PresetBursty Preset = "bursty"
)

// Presets returns the names of every preset, for documentation and flags.
func Presets() []Preset { return []Preset{PresetLow, PresetSteady, PresetBursty} }

// Config returns a Config for service name at baseURL with the preset's
// numbers set (see [Preset]) and every other field zero (its default).
//
// On failure (an unknown preset) it returns an error that lists the known
// ones. The zero Preset gives the plain defaults with the recommended
// pool limits (the "(defaults)" column above).
func (p Preset) Config(name, baseURL string) (Config, error) {
	c := Config{Name: name, BaseURL: baseURL}
	if err := p.apply(&c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// apply sets the preset's numbers on c.
func (p Preset) apply(c *Config) error {
	type numbers struct {
		minSize, maxSize                 int
		idle, lifetime, acquire, headers time.Duration
		timeout                          time.Duration
		attempts                         int
		initialBackoff, maxBackoff       time.Duration
		budgetRatio                      float64
		failureRatio                     float64
		minRequests, consecutive, probes int
		openTimeout                      time.Duration
	}
	var n numbers
	switch p {
	case "":
		// The plain defaults, with the recommended pool limits (a zero
		// limit means what it means in pool.Config: never, no limit).
		c.Transport.IdleTimeout = DefaultIdleTimeout
		c.Transport.MaxLifetime = DefaultMaxLifetime
		c.Transport.AcquireTimeout = DefaultAcquireTimeout
		return nil
	case PresetLow:
		n = numbers{0, 4, 30 * time.Second, 5 * time.Minute, 2 * time.Second, 10 * time.Second,
			15 * time.Second, 3, 100 * time.Millisecond, 2 * time.Second, 0.2,
			0.5, 5, 5, 1, 30 * time.Second}
	case PresetSteady:
		n = numbers{4, 32, 90 * time.Second, 10 * time.Minute, time.Second, 5 * time.Second,
			5 * time.Second, 3, 50 * time.Millisecond, time.Second, 0.2,
			0.5, 20, 10, 3, 10 * time.Second}
	case PresetBursty:
		n = numbers{4, 128, 60 * time.Second, 10 * time.Minute, 5 * time.Second, 10 * time.Second,
			15 * time.Second, 2, 200 * time.Millisecond, 2 * time.Second, 0.1,
			0.6, 50, 20, 5, 5 * time.Second}
	default:
		return fmt.Errorf("httpclient: unknown preset %q (have %q, %q, %q)", string(p), PresetLow, PresetSteady, PresetBursty)
	}
	c.Transport.MinSize = n.minSize
	c.Transport.MaxSize = n.maxSize
	c.Transport.IdleTimeout = n.idle
	c.Transport.MaxLifetime = n.lifetime
	c.Transport.AcquireTimeout = n.acquire
	c.Transport.ResponseHeaderTimeout = n.headers
	c.Timeout = n.timeout
	c.Retry = retry.Policy{MaxAttempts: n.attempts, InitialBackoff: n.initialBackoff, MaxBackoff: n.maxBackoff}
	c.RetryBudget = retry.BudgetConfig{Ratio: n.budgetRatio}
	c.Breaker = breaker.Settings{FailureRatio: n.failureRatio, MinRequests: n.minRequests,
		ConsecutiveFailures: n.consecutive, HalfOpenProbes: n.probes, OpenTimeout: n.openTimeout}
	return nil
}
