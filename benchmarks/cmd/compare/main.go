// Command compare runs poolkit's benchmarks against the alternatives in one
// process and prints Markdown tables with ratios to each group's baseline.
//
//	go run ./cmd/compare                 # every suite
//	go run ./cmd/compare -suite pool     # one suite
//	go run ./cmd/compare -count 3        # best of three runs per case
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/poolkit/poolkit/benchmarks/bench"
	"github.com/poolkit/poolkit/benchmarks/clientbench"
	"github.com/poolkit/poolkit/benchmarks/fleetbench"
	"github.com/poolkit/poolkit/benchmarks/httpbench"
	"github.com/poolkit/poolkit/benchmarks/metricsbench"
	"github.com/poolkit/poolkit/benchmarks/poolbench"
	"github.com/poolkit/poolkit/benchmarks/sqlbench"
)

// suites maps a suite's name to its cases. Each suite lives in its own
// package of this module.
var suites = map[string]func() []bench.Case{
	"pool":    poolbench.Cases,
	"client":  clientbench.Cases,
	"fleet":   fleetbench.Cases,
	"sql":     sqlbench.Cases,
	"http":    httpbench.Cases,
	"metrics": metricsbench.Cases,
}

func main() {
	only := flag.String("suite", "", "comma-separated suites to run (default all: "+strings.Join(names(), ",")+")")
	count := flag.Int("count", 1, "runs per case; the best is kept")
	flag.Parse()
	run := names()
	if *only != "" {
		run = strings.Split(*only, ",")
	}
	fmt.Printf("# poolkit benchmarks\n\n%s, GOMAXPROCS=%d, %s, %s\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.GOOS+"/"+runtime.GOARCH, time.Now().UTC().Format("2006-01-02"))
	for _, s := range run {
		f, ok := suites[s]
		if !ok {
			fmt.Fprintf(os.Stderr, "compare: unknown suite %q (have %s)\n", s, strings.Join(names(), ", "))
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "suite %s:\n", s)
		results := bench.Measure(f(), time.Second, *count, os.Stderr)
		fmt.Printf("\n## suite %s\n", s)
		bench.Print(os.Stdout, results)
	}
}

func names() []string {
	var n []string
	for k := range suites {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
