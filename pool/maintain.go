package pool

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// maxStack is how many frames leak detection records per Acquire.
const maxStack = 32

// maxMaintainSleep bounds the maintainer's sleep when nothing is due.
const maxMaintainSleep = time.Minute

// maintain runs in the background while the pool is open: it retires idle
// resources past IdleTimeout or MaxLifetime, checks idle resources every
// HealthCheckPeriod (and suspect ones at once) and reports leaks. It sleeps
// until the next thing is due, or until poked.
func (p *Pool[T]) maintain() {
	defer p.wg.Done()
	t := time.NewTimer(maxMaintainSleep)
	defer t.Stop()
	for {
		t.Reset(p.maintainOnce())
		select {
		case <-p.done:
			return
		case <-t.C:
		case <-p.wake:
		}
	}
}

type leak struct {
	held  time.Duration
	stack []string // stackFrames
}

// maintainOnce does what is due now and returns how long to sleep.
func (p *Pool[T]) maintainOnce() time.Duration {
	now := p.now()
	next := now.add(maxMaintainSleep)
	due := func(t mono) {
		if t < next {
			next = t
		}
	}
	var (
		retire  []*Resource[T]
		reasons []DestroyReason
		check   []*Resource[T]
		leaks   []leak
	)
	p.mu.Lock()
	p.passes++
	if p.closed {
		p.mu.Unlock()
		return maxMaintainSleep
	}
	// Walk the idle stack from the bottom (least recently used). Keep the
	// ones that stay; idle timeouts never take the pool below MinSize.
	canRetire := p.open - p.destroying - p.minSize
	p.idle.Retain(func(r *Resource[T]) bool {
		switch {
		case r.expired(now):
			p.removeLocked(r, ReasonLifetime)
			retire, reasons = append(retire, r), append(reasons, ReasonLifetime)
			canRetire--
			return false
		case p.cfg.IdleTimeout > 0 && canRetire > 0 && now.sub(r.lastUsed) >= p.cfg.IdleTimeout:
			p.removeLocked(r, ReasonIdle)
			retire, reasons = append(retire, r), append(reasons, ReasonIdle)
			canRetire--
			return false
		case p.s.healthCheckPeriod > 0 && (p.suspectLocked(r) ||
			(now.sub(r.lastChecked) >= p.s.healthCheckPeriod && now.sub(r.lastUsed) >= p.s.checkAfterIdle)):
			r.state = stateChecking
			p.inUse++
			check = append(check, r)
			return false
		}
		if r.expires != 0 {
			due(r.expires)
		}
		// At MinSize an idle timeout retires nothing: waking for it
		// would spin. A release or a new resource wakes us again.
		if p.cfg.IdleTimeout > 0 && canRetire > 0 {
			due(r.lastUsed.add(p.cfg.IdleTimeout))
		}
		if p.s.healthCheckPeriod > 0 {
			due(max(r.lastChecked.add(p.s.healthCheckPeriod), r.lastUsed.add(p.s.checkAfterIdle)))
		}
		return true
	})
	if len(check) > 0 {
		due(now.add(p.s.healthCheckPeriod))
	}
	if p.cfg.LeakThreshold > 0 {
		for _, r := range p.all {
			if r.state != stateInUse || r.leakReported || r.acquired == 0 || len(r.stack) == 0 {
				continue
			}
			if held := now.sub(r.acquired); held >= p.cfg.LeakThreshold {
				r.leakReported = true
				p.stats.Leaks++
				leaks = append(leaks, leak{held: held, stack: stackFrames(r.stack)})
			} else {
				due(r.acquired.add(p.cfg.LeakThreshold))
			}
		}
	}
	p.spawnCreatorsLocked(context.Background())
	p.wakeAt = next
	p.mu.Unlock()

	for i, r := range retire {
		p.destroy(r, reasons[i])
	}
	for _, l := range leaks {
		p.log.Warn("pool: resource held longer than LeakThreshold; acquired at the stack below",
			slog.String("pool", p.name), slog.Duration("held", l.held),
			slog.Duration("threshold", p.cfg.LeakThreshold), slog.Any("stack", l.stack))
	}
	failed := false
	for _, r := range check {
		if !p.checkInBackground(r) {
			failed = true
		}
	}
	if failed {
		// Older resources became suspect: look at them now.
		p.mu.Lock()
		p.wakeAt = 0
		p.mu.Unlock()
		return 0
	}
	p.mu.Lock()
	next = p.wakeAt // releases may have moved it earlier
	p.mu.Unlock()
	return max(next.sub(p.now()), time.Millisecond)
}

// checkInBackground runs Check on r, taken from the idle stack by the
// maintainer, and gives it back or destroys it. It reports whether r passed.
func (p *Pool[T]) checkInBackground(r *Resource[T]) bool {
	ctx, cancel := context.WithTimeout(p.createCtx, p.s.checkTimeout)
	err := p.cfg.Check(ctx, r.value)
	cancel()
	now := p.now()
	p.mu.Lock()
	p.inUse--
	if err != nil || p.closed {
		reason := ReasonClosed
		if err != nil {
			reason = ReasonCheckFailed
			p.stats.CheckFailures++
			if !p.closed {
				p.markSuspectLocked()
			}
		}
		p.removeLocked(r, reason)
		p.mu.Unlock()
		p.destroy(r, reason)
		return err == nil
	}
	r.lastChecked = now
	r.checkedGen = p.suspectGen
	// Give it back without changing its recency: a background check is
	// not a use.
	to, drop := p.putBackLocked(r, now, false)
	p.mu.Unlock()
	p.settle(r, to, drop)
	return true
}

// CloseIdle destroys every idle resource now, as IdleTimeout would (they
// count as destroyed for ReasonIdle), and returns how many. Resources in
// use are left alone; MinSize is refilled in the background as usual. It
// is what http.Client.CloseIdleConnections asks of a transport.
func (p *Pool[T]) CloseIdle() int {
	p.mu.Lock()
	idle := p.idle.Drain()
	for _, r := range idle {
		p.removeLocked(r, ReasonIdle)
	}
	p.mu.Unlock()
	for _, r := range idle {
		p.destroy(r, ReasonIdle)
	}
	return len(idle)
}

// reclaimIdle destroys the least recently used idle resource for a Budget
// sibling, if one can go without taking the pool below MinSize.
func (p *Pool[T]) reclaimIdle() bool {
	p.mu.Lock()
	if p.closed || p.open-p.destroying <= p.minSize {
		p.mu.Unlock()
		return false
	}
	r, ok := p.idle.PopOldest()
	if !ok {
		p.mu.Unlock()
		return false
	}
	p.removeLocked(r, ReasonIdle)
	p.mu.Unlock()
	p.destroy(r, ReasonIdle)
	return true
}

// stackFrames returns pcs as one "function file:line" string per frame,
// skipping the pool's own frames: a leak report's stack, which a log
// handler renders as a list (a JSON array), one frame per element.
func stackFrames(pcs []uintptr) []string {
	var out []string
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "github.com/poolkit/poolkit/pool.") || strings.HasSuffix(f.File, "_test.go") {
			out = append(out, f.Function+" "+f.File+":"+strconv.Itoa(f.Line))
		}
		if !more {
			return out
		}
	}
}

// formatStack renders pcs as "function\n\tfile:line" lines, as
// runtime/debug.Stack does, skipping the pool's own frames: the holder's
// stack in a TimeoutError's message.
func formatStack(pcs []uintptr) string {
	var b strings.Builder
	for i, f := range stackFrames(pcs) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fn, at, _ := strings.Cut(f, " ")
		b.WriteString(fn)
		b.WriteString("\n\t")
		b.WriteString(at)
	}
	return b.String()
}
