package fleetbench

import (
	"testing"

	"github.com/poolkit/poolkit/benchmarks/bench"
)

func BenchmarkFleet(b *testing.B) { bench.Run(b, Cases()) }
