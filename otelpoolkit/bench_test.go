package otelpoolkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/telemetry"
)

// BenchmarkObserver measures the events of an Acquire and Release as a
// pool sends them, untraced, into the SDK.
func BenchmarkObserver(b *testing.B) {
	for _, kind := range []string{telemetry.KindSQL, telemetry.KindHTTP} {
		b.Run(kind, func(b *testing.B) {
			h := newHarness(b)
			src := telemetry.Source{Kind: kind, Name: "bench", Stats: func() pool.Stats { return pool.Stats{} }}
			if kind == telemetry.KindHTTP {
				src.Stats, src.Origins = nil, func() map[string]pool.Stats { return nil }
			}
			p, err := h.tel.Pool(src)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			o := p.Observer("https://example.com:443")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				o.Acquired(ctx, pool.AcquireEvent{Pool: "bench", Wait: time.Millisecond, Waited: true})
				o.Released(pool.ReleaseEvent{Pool: "bench", Held: time.Millisecond})
			}
		})
	}
}
