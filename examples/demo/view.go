package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/httpclient"
	"github.com/poolkit/poolkit/pool"
)

// hist is a snapshot of a cumulative Prometheus histogram.
type hist struct {
	bounds []float64 // upper bounds, in seconds
	counts []uint64  // cumulative
	total  uint64
}

// since returns h minus an earlier snapshot: the observations in between.
func (h hist) since(prev hist) hist {
	if len(prev.counts) != len(h.counts) {
		return h
	}
	d := hist{bounds: h.bounds, counts: make([]uint64, len(h.counts)), total: h.total - prev.total}
	for i := range h.counts {
		d.counts[i] = h.counts[i] - prev.counts[i]
	}
	return d
}

// quantile returns the upper bound of the bucket that holds quantile q, as
// a duration; ok is false when there are no observations. (The exact value
// is somewhere below the bound: that is what a histogram can tell.)
func (h hist) quantile(q float64) (time.Duration, bool) {
	if h.total == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	for i, c := range h.counts {
		if c >= rank {
			return time.Duration(h.bounds[i] * float64(time.Second)), true
		}
	}
	return time.Duration(math.Inf(1)), true
}

// scrape reads, from the registry the /metrics endpoint serves, the wait-time
// histogram of each pool (summed over origins) and the retries of each
// service: the same numbers a dashboard would plot.
func scrape(g prometheus.Gatherer) (waits map[string]hist, retries map[string]float64) {
	waits, retries = map[string]hist{}, map[string]float64{}
	mfs, err := g.Gather()
	if err != nil {
		return waits, retries
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "poolkit_pool_wait_time_seconds":
			for _, m := range mf.GetMetric() {
				name := label(m, "pool")
				h := waits[name]
				bs := m.GetHistogram().GetBucket()
				if h.counts == nil {
					h.bounds = make([]float64, len(bs))
					h.counts = make([]uint64, len(bs))
				}
				for i, b := range bs {
					if i < len(h.counts) {
						h.bounds[i] = b.GetUpperBound()
						h.counts[i] += b.GetCumulativeCount()
					}
				}
				h.total += m.GetHistogram().GetSampleCount()
				waits[name] = h
			}
		case "poolkit_retry_attempts_total":
			for _, m := range mf.GetMetric() {
				if label(m, "attempt") == "retry" {
					retries[label(m, "service")] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return waits, retries
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// view draws the live table: redrawn in place on a terminal, appended as
// plain lines otherwise (a log, a pipe, a test).
type view struct {
	out     io.Writer
	tty     bool
	reg     prometheus.Gatherer
	clients map[string]*httpclient.Client
	db      *database
	downs   map[string]*downstream
	start   time.Time

	mu        sync.Mutex
	phase     *phase
	live      map[string]*counter
	prevCalls map[string]int64
	prevWaits map[string]hist
	prevAt    time.Time
	drawn     int                      // lines of the table on screen (tty)
	breakers  map[string]breaker.State // last seen
	opened    map[string]time.Duration // when each breaker was first seen open
	peaks     map[string]int           // most connections the pool held open, sampled
}

func newView(out io.Writer, tty bool, reg prometheus.Gatherer, clients map[string]*httpclient.Client, db *database, downs map[string]*downstream) *view {
	return &view{
		out: out, tty: tty, reg: reg, clients: clients, db: db, downs: downs, start: time.Now(),
		breakers: map[string]breaker.State{}, opened: map[string]time.Duration{}, peaks: map[string]int{},
	}
}

// setPhase starts showing a new phase, whose workers count into live.
func (v *view) setPhase(p *phase, live map[string]*counter) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.phase, v.live = p, live
	v.prevCalls, v.prevAt = map[string]int64{}, time.Now()
	v.prevWaits, _ = scrape(v.reg)
	v.eventLocked("%s: %s", p.name, p.describe())
}

// event prints a line above the table.
func (v *view) event(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.eventLocked(format, args...)
}

func (v *view) eventLocked(format string, args ...any) {
	v.clearLocked()
	fmt.Fprintf(v.out, "%6.1fs  %s\n", time.Since(v.start).Seconds(), fmt.Sprintf(format, args...))
}

func (v *view) clearLocked() {
	if v.tty && v.drawn > 0 {
		fmt.Fprintf(v.out, "\x1b[%dA\x1b[J", v.drawn) // up, and erase to the end of the screen
		v.drawn = 0
	}
}

// sample notes peaks and breaker changes; it runs often (every 50ms).
func (v *view) sample() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, name := range targets {
		s, b, ok := v.poolStats(name)
		if !ok {
			continue
		}
		if v.phase != nil && v.phase.pooled {
			v.peaks[name] = max(v.peaks[name], s.Open)
		}
		if old, seen := v.breakers[name]; seen && old != b {
			v.eventLocked("breaker %s: %s → %s", name, old, b)
			if _, was := v.opened[name]; !was && b == breaker.StateOpen {
				v.opened[name] = time.Since(v.start)
			}
		}
		v.breakers[name] = b
	}
}

// sampleUnpooledSQL notes the peak of the unpooled database's connections.
func (v *view) sampleUnpooledSQL() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.peaks["sql"] = max(v.peaks["sql"], v.db.unpooled.Stats().OpenConnections)
}

// poolStats returns the pool's stats (summed over origins for HTTP) and the
// breaker's state.
func (v *view) poolStats(name string) (pool.Stats, breaker.State, bool) {
	if name == "sql" {
		// The database has no breaker: its pool fails callers fast
		// while it is down, and reports it as a closed one here.
		return v.db.conn.Stats().Stats, breaker.StateClosed, true
	}
	c, ok := v.clients[name]
	if !ok {
		return pool.Stats{}, 0, false
	}
	cs := c.Stats()
	var sum pool.Stats
	for _, o := range cs.Origins {
		p := o.Pool
		sum.Open += p.Open
		sum.Idle += p.Idle
		sum.InUse += p.InUse
		sum.Waiting += p.Waiting
		sum.Acquires += p.Acquires
		sum.WaitedAcquires += p.WaitedAcquires
		sum.WaitTime += p.WaitTime
		sum.Timeouts += p.Timeouts
		sum.Created += p.Created
		sum.MaxSize = p.MaxSize
	}
	return sum, cs.Breaker, true
}

// takePeaks returns the sampled peaks since the last call and resets them.
func (v *view) takePeaks() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.peaks
	v.peaks = map[string]int{}
	return p
}

// draw prints the table: in place on a terminal, appended otherwise.
func (v *view) draw() {
	v.mu.Lock()
	defer v.mu.Unlock()
	lines := v.tableLocked()
	v.clearLocked()
	for _, l := range lines {
		fmt.Fprintln(v.out, l)
	}
	if v.tty {
		v.drawn = len(lines)
	}
}

// progress prints one line: for logs, where a table every second is noise.
func (v *view) progress() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.phase == nil {
		return
	}
	var parts []string
	total := 0.0
	el := time.Since(v.prevAt).Seconds()
	for _, name := range targets {
		n := v.live[name].calls.Load()
		rate := float64(n-v.prevCalls[name]) / el
		v.prevCalls[name] = n
		total += rate
		s, b, _ := v.poolStats(name)
		part := fmt.Sprintf("%s %d/%d", name, s.InUse, s.Open)
		if v.phase.pooled && s.Waiting > 0 {
			part += fmt.Sprintf(" (%d waiting)", s.Waiting)
		}
		if !v.phase.pooled {
			open := v.db.unpooled.Stats().OpenConnections
			if d, ok := v.downs[name]; ok {
				open, _, _ = d.connStats()
			}
			part = fmt.Sprintf("%s %d conns", name, open)
		}
		if v.phase.pooled && b != breaker.StateClosed {
			part += " [" + b.String() + "]"
		}
		parts = append(parts, part)
	}
	v.prevAt = time.Now()
	v.prevWaits, _ = scrape(v.reg)
	fmt.Fprintf(v.out, "%6.1fs  %-15s %6.0f calls/s  in use/open: %s\n", time.Since(v.start).Seconds(), v.phase.name, total, strings.Join(parts, ", "))
}

func (v *view) tableLocked() []string {
	if v.phase == nil {
		return nil
	}
	el := time.Since(v.prevAt).Seconds()
	waits, retries := scrape(v.reg)
	lines := []string{
		fmt.Sprintf("%-17s %5s %5s %6s %8s %9s %-10s %7s %8s %7s", "pool", "open", "idle", "in use", "waiting", "p99 wait", "breaker", "retries", "calls/s", "errors"),
	}
	for _, name := range targets {
		label := "http " + name
		if name == "sql" {
			label = "sql orders"
		}
		n := v.live[name].calls.Load()
		rate := float64(n-v.prevCalls[name]) / el
		v.prevCalls[name] = n
		errs := v.live[name].errs.Load()
		if !v.phase.pooled {
			open := "-"
			if d, ok := v.downs[name]; ok {
				o, _, _ := d.connStats()
				open = fmt.Sprint(o)
			} else if name == "sql" {
				open = fmt.Sprint(v.db.unpooled.Stats().OpenConnections)
			}
			lines = append(lines, fmt.Sprintf("%-17s %5s %5s %6s %8s %9s %-10s %7s %8.0f %7d", label, open, "-", "-", "-", "-", "-", "-", rate, errs))
			continue
		}
		s, b, _ := v.poolStats(name)
		p99 := "-"
		key := name // the pool label its metrics carry
		if name == "sql" {
			key = sqlPoolName
		}
		if q, ok := waits[key].since(v.prevWaits[key]).quantile(0.99); ok {
			p99 = "≤" + fmtDur(q)
		}
		br := b.String()
		if name == "sql" {
			br = "-" // no breaker: the pool fails callers fast while the database is down
		}
		lines = append(lines, fmt.Sprintf("%-17s %5d %5d %6d %8d %9s %-10s %7.0f %8.0f %7d", label, s.Open, s.Idle, s.InUse, s.Waiting, p99, br, retries[name], rate, errs))
	}
	v.prevWaits, v.prevAt = waits, time.Now()
	mode := "pooled"
	if !v.phase.pooled {
		mode = "unpooled: open = connections the servers see"
	}
	lines = append(lines, fmt.Sprintf("%6.1fs  %s (%s)", time.Since(v.start).Seconds(), v.phase.name, mode))
	return lines
}

// fmtDur prints a duration with 2-3 significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
