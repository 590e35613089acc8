package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// group is a set of targets reported together in the scorecard.
type group struct {
	title   string
	targets []string
}

var groups = []group{
	{"HTTP: payment + inventory", []string{"payment", "inventory"}},
	{"SQL: orders", []string{"sql"}},
}

// find returns the result of the phase with that name.
func (r *report) find(name string) *phaseResult {
	for _, p := range r.phases {
		if p.name == name {
			return p
		}
	}
	return nil
}

// combined merges the tallies of a group's targets in a phase.
func combined(p *phaseResult, g group) *tally {
	var t tally
	for _, name := range g.targets {
		t.merge(p.tallies[name])
	}
	slices.Sort(t.latencies)
	return &t
}

func throughput(p *phaseResult, t *tally) float64 {
	return float64(t.counts[ok]) / p.elapsed.Seconds()
}

// score prints the scorecard and fills in the ratios.
func (r *report) score(out io.Writer) {
	cols := [4]*phaseResult{r.find("pooled steady"), r.find("unpooled steady"), r.find("pooled burst"), r.find("unpooled burst")}
	for _, c := range cols {
		if c == nil {
			return
		}
	}
	fmt.Fprintf(out, "\nscorecard          %21s %21s\n", "steady", "burst")
	fmt.Fprintf(out, "%-26s %10s %10s %10s %10s\n", "", "pooled", "unpooled", "pooled", "unpooled")
	for gi, g := range groups {
		var ts [4]*tally
		for i, c := range cols {
			ts[i] = combined(c, g)
		}
		fmt.Fprintf(out, "%s\n", g.title)
		row := func(label string, f func(i int) string) {
			fmt.Fprintf(out, "  %-24s %10s %10s %10s %10s\n", label, f(0), f(1), f(2), f(3))
		}
		row("throughput (calls/s)", func(i int) string { return fmt.Sprintf("%.0f", throughput(cols[i], ts[i])) })
		for _, q := range []float64{50, 95, 99} {
			row(fmt.Sprintf("p%.0f latency", q), func(i int) string { return fmtDur(percentile(ts[i].latencies, q)) })
		}
		row("peak connections", func(i int) string {
			n := 0
			for _, name := range g.targets {
				n += cols[i].peak[name]
			}
			return fmt.Sprint(n)
		})
		row("connections opened", func(i int) string {
			n := 0
			for _, name := range g.targets {
				n += cols[i].opened[name]
			}
			return fmt.Sprint(n)
		})
		wait := func(i int) time.Duration {
			var d time.Duration
			for _, name := range g.targets {
				d += cols[i].waitTime[name]
			}
			return d
		}
		row("conn wait: total", func(i int) string {
			if !cols[i].pooled {
				return "(dials)"
			}
			return fmtDur(wait(i))
		})
		row("conn wait: mean per call", func(i int) string {
			if !cols[i].pooled || ts[i].calls() == 0 {
				return "-"
			}
			return fmtDur(wait(i) / time.Duration(ts[i].calls()))
		})
		row("errors / timeouts", func(i int) string {
			return fmt.Sprintf("%d / %d", ts[i].errors(), ts[i].counts[timedOut])
		})
		steady := throughput(cols[0], ts[0]) / throughput(cols[1], ts[1])
		burst := throughput(cols[2], ts[2]) / throughput(cols[3], ts[3])
		if gi == 0 {
			r.httpRatio = [2]float64{steady, burst}
		} else {
			r.sqlRatio = [2]float64{steady, burst}
		}
		fmt.Fprintf(out, "  %-24s %21s %21s\n", "pooled ÷ unpooled", fmt.Sprintf("%.1f×", steady), fmt.Sprintf("%.1f×", burst))
	}

	// The notification service: what the breaker did for it.
	fmt.Fprintf(out, "notification (503s from %.1fs to %.1fs)\n", r.failWindow[0].Seconds(), r.failWindow[1].Seconds())
	for _, c := range cols[:2] {
		t := c.tallies["notification"]
		fmt.Fprintf(out, "  %-24s %d calls: %d ok, %d got 503, %d failed fast (breaker open), %d other errors\n",
			c.name, t.calls(), t.counts[ok], t.counts[serverError], t.counts[failedFast], t.counts[timedOut]+t.counts[otherError])
	}
	for _, c := range r.phases {
		for _, name := range targets {
			if e := c.tallies[name].lastErr; e != nil {
				fmt.Fprintf(out, "  %s %s, last other error: %v\n", c.name, name, e)
			}
		}
	}
	if at, ok := r.breakerOpened["notification"]; ok {
		fmt.Fprintf(out, "  breaker opened at %.1fs: callers failed fast instead of waiting on a sick service\n", at.Seconds())
	}
	fmt.Fprintf(out, "\nmeasured: with a pool, HTTP calls went %.1f× (steady) and %.1f× (burst) the rate of a new connection per call;\n", r.httpRatio[0], r.httpRatio[1])
	fmt.Fprintf(out, "          SQL queries %.1f× and %.1f×.\n", r.sqlRatio[0], r.sqlRatio[1])
	if over := r.overMaxSize(); len(over) > 0 {
		fmt.Fprintf(out, "          pooled peaks above MaxSize: %s\n", strings.Join(over, ", "))
	} else {
		fmt.Fprintf(out, "          every pooled peak stayed within its MaxSize.\n")
	}
}

// overMaxSize lists the pools whose peak went above their MaxSize.
func (r *report) overMaxSize() []string {
	var over []string
	for _, p := range r.phases {
		if !p.pooled {
			continue
		}
		for _, name := range targets {
			if p.peak[name] > r.maxSize[name] {
				over = append(over, fmt.Sprintf("%s %s: %d > %d", p.name, name, p.peak[name], r.maxSize[name]))
			}
		}
	}
	return over
}
