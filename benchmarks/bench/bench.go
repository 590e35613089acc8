// Package bench is the benchmarks module's small framework: a suite is a
// list of cases grouped by what they compare; the same cases run as
// ordinary Go benchmarks (go test -bench) and through cmd/compare, which
// runs them in one process and prints a table with ratios to each group's
// baseline.
package bench

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// Case is one benchmark of a comparison.
type Case struct {
	Group    string // what is compared, e.g. "acquire-release/uncontended"
	Name     string // the contender, e.g. "poolkit", "puddle"
	Baseline bool   // ratios in the group are relative to this case
	Fn       func(b *testing.B)
}

// Run runs each case as a sub-benchmark of b.
func Run(b *testing.B, cases []Case) {
	for _, c := range cases {
		b.Run(strings.ReplaceAll(c.Group, "/", "_")+"/"+c.Name, c.Fn)
	}
}

// Result is a measured case.
type Result struct {
	Case
	NsPerOp     float64
	AllocsPerOp int64
	BytesPerOp  int64
	Extra       map[string]float64 // b.ReportMetric values
}

// Measure runs every case with testing.Benchmark, each for at least
// benchtime, taking the best (lowest ns/op) of count runs.
func Measure(cases []Case, benchtime time.Duration, count int, progress io.Writer) []Result {
	var out []Result
	for _, c := range cases {
		var best *Result
		for i := 0; i < count; i++ {
			r := testing.Benchmark(func(b *testing.B) {
				b.ReportAllocs()
				c.Fn(b)
			})
			if r.N == 0 {
				fmt.Fprintf(progress, "  %s/%s: FAILED or skipped\n", c.Group, c.Name)
				continue
			}
			res := Result{Case: c, NsPerOp: float64(r.T.Nanoseconds()) / float64(r.N),
				AllocsPerOp: r.AllocsPerOp(), BytesPerOp: r.AllocedBytesPerOp(), Extra: r.Extra}
			if best == nil || res.NsPerOp < best.NsPerOp {
				best = &res
			}
		}
		if best != nil {
			fmt.Fprintf(progress, "  %-44s %-28s %12.1f ns/op\n", c.Group, c.Name, best.NsPerOp)
			out = append(out, *best)
		}
		_ = benchtime
	}
	return out
}

// Print writes results as a Markdown table, a section per group, with each
// case's ns/op and throughput relative to the group's baseline.
func Print(w io.Writer, results []Result) {
	groups := map[string][]Result{}
	var order []string
	for _, r := range results {
		if _, ok := groups[r.Group]; !ok {
			order = append(order, r.Group)
		}
		groups[r.Group] = append(groups[r.Group], r)
	}
	for _, g := range order {
		rs := groups[g]
		var base *Result
		for i := range rs {
			if rs[i].Baseline {
				base = &rs[i]
			}
		}
		extraKeys := map[string]bool{}
		for _, r := range rs {
			for k := range r.Extra {
				extraKeys[k] = true
			}
		}
		keys := make([]string, 0, len(extraKeys))
		for k := range extraKeys {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(w, "\n### %s\n\n", g)
		tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
		hdr := "| contender\t ns/op\t allocs/op\t B/op\t ns/op vs baseline"
		for _, k := range keys {
			hdr += "\t " + k
		}
		fmt.Fprintln(tw, hdr+"\t")
		sep := "|---\t---\t---\t---\t---"
		for range keys {
			sep += "\t---"
		}
		fmt.Fprintln(tw, sep+"\t")
		for _, r := range rs {
			ratio := "—"
			if base != nil && base.NsPerOp > 0 {
				ratio = fmt.Sprintf("%.2f×", r.NsPerOp/base.NsPerOp)
			}
			name := r.Name
			if r.Baseline {
				name += " (baseline)"
			}
			line := fmt.Sprintf("| %s\t %s\t %d\t %d\t %s", name, fmtNs(r.NsPerOp), r.AllocsPerOp, r.BytesPerOp, ratio)
			for _, k := range keys {
				v, ok := r.Extra[k]
				if !ok {
					line += "\t —"
				} else {
					line += "\t " + fmtFloat(v)
				}
			}
			fmt.Fprintln(tw, line+"\t")
		}
		tw.Flush()
	}
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2fms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.1fµs", ns/1e3)
	default:
		return fmt.Sprintf("%.1f", ns)
	}
}

func fmtFloat(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e12 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
