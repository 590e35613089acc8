package poolbench

import (
	"testing"

	"github.com/poolkit/poolkit/benchmarks/bench"
)

func BenchmarkPool(b *testing.B) { bench.Run(b, Cases()) }
