package httpbench

import (
	"testing"

	"github.com/poolkit/poolkit/benchmarks/bench"
)

func BenchmarkHTTP(b *testing.B) { bench.Run(b, Cases()) }
