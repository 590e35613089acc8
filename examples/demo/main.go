// Command demo runs poolkit the way a service would, and measures it.
//
// It starts three downstream services in-process (payment, inventory and
// notification, on loopback HTTPS ports, each with its own latency; the
// notification service answers 503 for a while in the middle of each steady
// phase) and an embedded SQLite database, calls them through per-service
// httpclient Clients (built from an embedded services file with presets and
// overrides) and a sqlpool-backed *sql.DB, under a steady load and then a
// burst, and shows the pools live: open, idle, in use, waiting, p99 wait,
// breaker states, retries. /metrics and /debug/pools are served while it runs.
//
// Then it runs the same load without a pool (a new connection per request:
// keep-alives off for HTTP, connect-per-query for SQL) and prints the
// scorecard: latency percentiles, throughput, peak connections, time waiting
// for a connection, errors and timeouts, pooled against unpooled.
//
//	go run ./examples/demo
//	go run ./examples/demo -duration 40s -concurrency 16
//	go run ./examples/demo -postgres 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/poolkit/poolkit/httpclient"
	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
)

// options configure a run.
type options struct {
	Duration    time.Duration // the whole run, pooled and unpooled
	Concurrency int           // workers per target in the steady phases; the burst has 4×
	Postgres    string        // a PostgreSQL DSN instead of the embedded SQLite
	Listen      string        // where to serve /metrics and /debug/pools
	TTY         bool          // redraw the table in place
}

func main() {
	var o options
	flag.DurationVar(&o.Duration, "duration", 24*time.Second, "how long to run, pooled and unpooled phases together")
	flag.IntVar(&o.Concurrency, "concurrency", 8, "workers per target in the steady phases (the burst runs 4×)")
	flag.StringVar(&o.Postgres, "postgres", "", "PostgreSQL DSN for the SQL part (default: an embedded SQLite file)")
	flag.StringVar(&o.Listen, "listen", "127.0.0.1:0", "address for /metrics and /debug/pools")
	flag.Parse()
	log.SetFlags(0)
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		o.TTY = true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, o, os.Stdout); err != nil {
		log.Fatalf("demo: %v", err)
	}
}

// phase is one stretch of load.
type phase struct {
	name     string
	pooled   bool
	burst    bool
	duration time.Duration
	workers  int           // per target
	think    time.Duration // pause between a worker's calls
	failFrom time.Duration // notification answers 503 from failFrom to failTo (both zero: never)
	failTo   time.Duration
}

func (p *phase) describe() string {
	s := fmt.Sprintf("%d workers per target", p.workers)
	if p.think > 0 {
		s += fmt.Sprintf(", %v between calls", p.think)
	} else {
		s += ", back to back"
	}
	if p.pooled {
		s += ", pooled clients"
	} else {
		s += ", a new connection per call"
	}
	return s + fmt.Sprintf(", for %v", p.duration.Round(100*time.Millisecond))
}

// phaseResult is what one phase measured.
type phaseResult struct {
	*phase
	elapsed  time.Duration
	tallies  map[string]*tally
	peak     map[string]int           // most connections open at once
	opened   map[string]int           // connections opened
	waitTime map[string]time.Duration // total time spent waiting for a connection
	p99Wait  map[string]time.Duration // from the wait histogram (bucket bound)
	timeouts map[string]uint64        // pool acquire timeouts
}

// report is what a run measured, for the scorecard and the tests.
type report struct {
	phases        []*phaseResult
	maxSize       map[string]int           // configured MaxSize per target
	breakerOpened map[string]time.Duration // since the start, when first seen open
	failWindow    [2]time.Duration         // notification's first failure window, since the start
	start         time.Time
	httpRatio     [2]float64 // pooled / unpooled throughput: steady, burst
	sqlRatio      [2]float64
}

// run runs the demo, writing to out, and returns what it measured. It
// returns an error when something could not be set up, not when the
// services misbehave (that is what the demo is about).
func run(ctx context.Context, o options, out io.Writer) (*report, error) {
	if o.Duration <= 0 {
		o.Duration = 24 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// The downstreams: each with its own latency profile.
	downs := map[string]*downstream{
		"payment":      startDownstream("payment", profile{latency: 2 * time.Millisecond, jitter: time.Millisecond, slowEvery: 200, slow: 25 * time.Millisecond}),
		"inventory":    startDownstream("inventory", profile{latency: 500 * time.Microsecond, jitter: time.Millisecond, slowEvery: 100, slow: 10 * time.Millisecond}),
		"notification": startDownstream("notification", profile{latency: 3 * time.Millisecond, jitter: 2 * time.Millisecond}),
	}
	defer func() {
		for _, d := range downs {
			d.close()
		}
	}()
	roots := x509.NewCertPool()
	for _, d := range downs {
		roots.AddCert(d.certificate())
	}

	// One registry for everything: the clients find the Metrics made here
	// (they share one per registry), and the SQL pool reports into it.
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{})
	if err != nil {
		return nil, err
	}
	clients, cfgs, err := newClients(downs, roots, reg)
	if err != nil {
		return nil, err
	}
	defer clients.Close()
	byName := map[string]*httpclient.Client{}
	for _, name := range clients.Names() {
		byName[name], _ = clients.Get(name)
	}

	dir, err := os.MkdirTemp("", "poolkit-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := openDatabase(ctx, o.Postgres, dir, reg, logger)
	if err != nil {
		return nil, err
	}
	defer db.close()

	// /metrics and /debug/pools, while the demo runs.
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/debug/pools", m.StatusHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	unpooled := map[string]*http.Client{}
	for name, cfg := range cfgs {
		unpooled[name] = newUnpooled(roots, cfg)
	}

	sqlName := "SQLite (embedded, in " + dir + ")"
	if o.Postgres != "" {
		sqlName = "PostgreSQL (-postgres)"
	}
	fmt.Fprintf(out, "poolkit demo: payment, inventory, notification on loopback HTTPS; database: %s\n", sqlName)
	fmt.Fprintf(out, "metrics: http://%s/metrics   pool status: http://%s/debug/pools\n", ln.Addr(), ln.Addr())
	maxSize := map[string]int{"sql": db.conn.Config().MaxSize}
	for _, name := range clients.Names() {
		c := cfgs[name]
		t := c.Transport
		fmt.Fprintf(out, "  %-12s pool min %d max %d, acquire timeout %v, timeout %v, breaker opens for %v\n",
			name, t.MinSize, t.MaxSize, t.AcquireTimeout, c.Timeout, c.Breaker.OpenTimeout)
		maxSize[name] = t.MaxSize
	}
	fmt.Fprintf(out, "  %-12s pool min %d max %d (sqlpool)\n", "sql", db.conn.Config().MinSize, db.conn.Config().MaxSize)

	// Warm the pools to their MinSize, as a service does at startup.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	for _, name := range clients.Names() {
		c := byName[name]
		if err := c.Transport().Warm(wctx, cfgs[name].BaseURL); err != nil {
			cancel()
			return nil, err
		}
	}
	cancel()

	// The load profile: steady, then a burst; pooled, then the same
	// without a pool.
	steady, burst := o.Duration*35/100, o.Duration*15/100
	var phases []*phase
	for _, pooled := range []bool{true, false} {
		prefix := "pooled"
		if !pooled {
			prefix = "unpooled"
		}
		phases = append(phases,
			&phase{name: prefix + " steady", pooled: pooled, duration: steady, workers: o.Concurrency, think: 2 * time.Millisecond,
				failFrom: steady * 30 / 100, failTo: steady * 65 / 100},
			&phase{name: prefix + " burst", pooled: pooled, burst: true, duration: burst, workers: 4 * o.Concurrency})
	}

	v := newView(out, o.TTY, reg, byName, db, downs)
	rep := &report{maxSize: maxSize, start: v.start}
	fmt.Fprintln(out)
	closedPooled := false
	for _, p := range phases {
		if ctx.Err() != nil {
			break
		}
		if !p.pooled && !closedPooled {
			// Close the pooled clients before the baseline runs, so
			// that the connections the servers count are the
			// baseline's alone.
			closedPooled = true
			clients.Close()
		}
		res := runPhase(ctx, p, v, byName, unpooled, db, downs)
		if p.failTo > 0 && rep.failWindow[1] == 0 {
			rep.failWindow = [2]time.Duration{res.failStart, res.failEnd}
		}
		rep.phases = append(rep.phases, res.phaseResult)
	}
	v.mu.Lock()
	v.clearLocked()
	rep.breakerOpened = v.opened
	v.mu.Unlock()
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	rep.score(out)
	return rep, nil
}

type runResult struct {
	*phaseResult
	failStart, failEnd time.Duration // since the view's start
}

// runPhase runs one phase while the view shows it.
func runPhase(ctx context.Context, p *phase, v *view, clients map[string]*httpclient.Client, unpooled map[string]*http.Client, db *database, downs map[string]*downstream) runResult {
	live := map[string]*counter{}
	for _, t := range targets {
		live[t] = &counter{}
	}
	for _, d := range downs {
		d.resetPeak()
	}
	v.takePeaks()
	before := statsOf(v)
	sqlBefore := db.db.Stats()
	unpooledBefore := db.unpooled.Stats()
	waitsBefore, _ := scrape(v.reg)
	v.setPhase(p, live)

	seq := map[string]*atomic.Uint64{} // request numbers, per target
	for _, t := range targets {
		seq[t] = new(atomic.Uint64)
	}
	do := func(ctx context.Context, target string) error {
		switch {
		case target == "sql" && p.pooled:
			return db.query(ctx, db.db, seq[target])
		case target == "sql":
			return db.query(ctx, db.unpooled, seq[target])
		case p.pooled:
			return call(ctx, clients[target].HTTP(), downs[target].url(), target, seq[target])
		default:
			return call(ctx, unpooled[target], downs[target].url(), target, seq[target])
		}
	}

	// pctx ends the phase's helpers; the workers stop taking new calls
	// when it ends and finish the calls in flight.
	pctx, cancel := context.WithTimeout(ctx, p.duration)
	defer cancel()
	var rr runResult
	var wg sync.WaitGroup
	// The notification service's bad moment.
	if p.failTo > 0 {
		wg.Go(func() {
			start := time.Now()
			select {
			case <-pctx.Done():
				return
			case <-time.After(p.failFrom):
			}
			downs["notification"].failing.Store(true)
			rr.failStart = time.Since(v.start)
			v.event("notification starts answering 503 (for %v)", (p.failTo - p.failFrom).Round(100*time.Millisecond))
			select {
			case <-pctx.Done():
			case <-time.After(p.failTo - time.Since(start)):
			}
			downs["notification"].failing.Store(false)
			rr.failEnd = time.Since(v.start)
			v.event("notification recovers")
		})
	}
	// The view: samples often, draws every 500ms on a terminal, prints a
	// progress line every 2s otherwise.
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		every := 40 // ticks between progress lines
		if v.tty {
			every = 10
		}
		for i := 1; ; i++ {
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
			v.sample()
			if !p.pooled {
				v.sampleUnpooledSQL()
			}
			if i%every == 0 {
				if v.tty {
					v.draw()
				} else {
					v.progress()
				}
			}
		}
	})
	start := time.Now()
	think := p.think
	tallies := load(ctx, pctx.Done(), p.workers, think, do, live)
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	if !v.tty && p.pooled {
		v.draw() // the table as the phase ended
	}

	after := statsOf(v)
	waitsAfter, _ := scrape(v.reg)
	sqlAfter := db.db.Stats()
	unpooledAfter := db.unpooled.Stats()
	peaks := v.takePeaks()
	res := &phaseResult{
		phase: p, elapsed: elapsed, tallies: tallies,
		peak: map[string]int{}, opened: map[string]int{}, waitTime: map[string]time.Duration{},
		p99Wait: map[string]time.Duration{}, timeouts: map[string]uint64{},
	}
	for name, d := range downs {
		_, peak, accepted := d.connStats()
		res.peak[name], res.opened[name] = peak, accepted
		if p.pooled {
			res.waitTime[name] = after[name].WaitTime - before[name].WaitTime
			res.timeouts[name] = after[name].Timeouts - before[name].Timeouts
			res.p99Wait[name], _ = waitsAfter[name].since(waitsBefore[name]).quantile(0.99)
		}
	}
	res.peak["sql"] = peaks["sql"]
	if p.pooled {
		res.opened["sql"] = int(after["sql"].Created - before["sql"].Created)
		// Callers wait in two places: in the pool, and in database/sql's
		// queue in front of it (it is capped at MaxSize, see sqlpool).
		res.waitTime["sql"] = after["sql"].WaitTime - before["sql"].WaitTime + sqlAfter.WaitDuration - sqlBefore.WaitDuration
		res.timeouts["sql"] = after["sql"].Timeouts - before["sql"].Timeouts
		res.p99Wait["sql"], _ = waitsAfter["sql"].since(waitsBefore["sql"]).quantile(0.99)
	} else {
		res.opened["sql"] = int(unpooledAfter.MaxIdleClosed - unpooledBefore.MaxIdleClosed)
	}
	rr.phaseResult = res
	return rr
}

func statsOf(v *view) map[string]pool.Stats {
	m := map[string]pool.Stats{}
	for _, t := range targets {
		s, _, _ := v.poolStats(t)
		m[t] = s
	}
	return m
}
