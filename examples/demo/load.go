package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
)

// The targets of the load, in display order.
var targets = []string{"payment", "inventory", "notification", "sql"}

// outcome classifies a finished call.
type outcome int

const (
	ok          outcome = iota
	failedFast          // refused by an open breaker: expected, and cheap
	serverError         // the downstream answered 5xx
	timedOut            // a deadline passed: the request's, or the wait for a connection
	otherError          // anything else: a connection error, a query error
	numOutcomes
)

func classify(err error) outcome {
	var se *statusError
	switch {
	case err == nil:
		return ok
	case errors.Is(err, breaker.ErrOpen):
		return failedFast
	case errors.As(err, &se) && se.code >= 500:
		return serverError
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, pool.ErrAcquireTimeout):
		return timedOut
	default:
		return otherError
	}
}

// tally is what the workers of one target measured in one phase.
type tally struct {
	latencies []time.Duration // of successful calls
	counts    [numOutcomes]int
	lastErr   error // the last error of class otherError, for the report
}

func (t *tally) merge(o *tally) {
	t.latencies = append(t.latencies, o.latencies...)
	for i, c := range o.counts {
		t.counts[i] += c
	}
	if o.lastErr != nil {
		t.lastErr = o.lastErr
	}
}

func (t *tally) calls() int {
	n := 0
	for _, c := range t.counts {
		n += c
	}
	return n
}

func (t *tally) errors() int { return t.calls() - t.counts[ok] }

// percentile returns the p-th percentile (0 < p <= 100) of the latencies,
// which must be sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// failFastPause is how long a worker pauses after a call its breaker refused.
const failFastPause = 20 * time.Millisecond

// counter counts finished calls as they happen, for the live view.
type counter struct{ calls, errs atomic.Int64 }

// load runs workers against targets until stop is closed, then waits for
// the calls in flight to finish (cutting them short would break their
// connections, and the next phase would start with reconnects). ctx bounds
// the calls. do makes one call to a target. Each target gets perTarget
// workers; think is the pause between a worker's calls. live counts finished
// calls per target.
func load(ctx context.Context, stop <-chan struct{}, perTarget int, think time.Duration, do func(ctx context.Context, target string) error, live map[string]*counter) map[string]*tally {
	var mu sync.Mutex
	res := make(map[string]*tally, len(targets))
	for _, t := range targets {
		res[t] = &tally{}
	}
	var wg sync.WaitGroup
	for _, target := range targets {
		for range perTarget {
			wg.Go(func() {
				var mine tally
				for !stopped(stop) && ctx.Err() == nil {
					start := time.Now()
					err := do(ctx, target)
					d := time.Since(start)
					if err != nil && ctx.Err() != nil {
						break // the run was interrupted
					}
					o := classify(err)
					mine.counts[o]++
					if o == ok {
						mine.latencies = append(mine.latencies, d)
					} else if o == otherError {
						mine.lastErr = err
					}
					live[target].calls.Add(1)
					if o != ok {
						live[target].errs.Add(1)
					}
					pause := think
					if o == failedFast {
						// A caller told "the service is down, try again at
						// T" does something else meanwhile; it does not spin.
						pause = max(pause, failFastPause)
					}
					if pause > 0 {
						select {
						case <-stop:
						case <-time.After(pause):
						}
					}
				}
				mu.Lock()
				res[target].merge(&mine)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for _, t := range res {
		slices.Sort(t.latencies)
	}
	return res
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
