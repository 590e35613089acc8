package sqlbench

import (
	"testing"

	"github.com/poolkit/poolkit/benchmarks/bench"
)

func BenchmarkSQL(b *testing.B) { bench.Run(b, Cases()) }
