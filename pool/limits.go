package pool

import (
	"context"
	"time"
)

// Limits are the sizing and timing knobs that every product of poolkit
// shares with [Config], under the same names and with the same meaning,
// zero included: sqlpool.Config and httpclient.TransportConfig keep them as
// flat fields and convert to Limits in one place, and [Config.SetLimits]
// copies them into a pool's Config, so a name means one thing everywhere.
// A product picks its defaults through documented constants or presets,
// never by giving zero another meaning.
//
// The meaning of each field is documented on the [Config] field of the
// same name.
type Limits struct {
	MinSize        int
	MaxSize        int
	MaxIdle        int
	IdleTimeout    time.Duration
	MaxLifetime    time.Duration
	AcquireTimeout time.Duration
	MaxWaiters     int
	MaxUses        int
	LeakThreshold  time.Duration
}

// Limits returns the Limits fields of cfg.
func (cfg *Config[T]) Limits() Limits {
	return Limits{
		MinSize:        cfg.MinSize,
		MaxSize:        cfg.MaxSize,
		MaxIdle:        cfg.MaxIdle,
		IdleTimeout:    cfg.IdleTimeout,
		MaxLifetime:    cfg.MaxLifetime,
		AcquireTimeout: cfg.AcquireTimeout,
		MaxWaiters:     cfg.MaxWaiters,
		MaxUses:        cfg.MaxUses,
		LeakThreshold:  cfg.LeakThreshold,
	}
}

// SetLimits copies l into the fields of cfg of the same names.
func (cfg *Config[T]) SetLimits(l Limits) {
	cfg.MinSize = l.MinSize
	cfg.MaxSize = l.MaxSize
	cfg.MaxIdle = l.MaxIdle
	cfg.IdleTimeout = l.IdleTimeout
	cfg.MaxLifetime = l.MaxLifetime
	cfg.AcquireTimeout = l.AcquireTimeout
	cfg.MaxWaiters = l.MaxWaiters
	cfg.MaxUses = l.MaxUses
	cfg.LeakThreshold = l.LeakThreshold
}

// Validate reports the first field of l that cannot work, as a
// *ConfigError naming it, with pool as the pool's name in the message. It
// applies the same rules as [New].
func (l Limits) Validate(pool string) error {
	cfg := Config[struct{}]{Create: func(context.Context) (struct{}, error) { return struct{}{}, nil }}
	cfg.SetLimits(l)
	_, err := cfg.validate(pool)
	return err
}
