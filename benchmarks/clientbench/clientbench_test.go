package clientbench

import (
	"testing"

	"github.com/poolkit/poolkit/benchmarks/bench"
)

func BenchmarkClient(b *testing.B) { bench.Run(b, Cases()) }
