package metricsbench

import (
	"testing"

	"github.com/poolkit/poolkit/benchmarks/bench"
)

func BenchmarkMetrics(b *testing.B) { bench.Run(b, Cases()) }
