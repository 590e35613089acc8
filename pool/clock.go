package pool

import "time"

// mono is a reading of the pool's monotonic clock: nanoseconds since the
// pool's epoch, plus one so that 0 can mean "not read". time.Since on a
// monotonic epoch costs about half of time.Now (one clock read, not two) and
// follows testing/synctest's fake clock.
type mono int64

// now reads the pool's clock; the result is always > 0.
func (p *Pool[T]) now() mono { return mono(time.Since(p.epoch)) + 1 }

// time converts a reading to wall-clock time; 0 gives the zero Time.
func (p *Pool[T]) time(m mono) time.Time {
	if m == 0 {
		return time.Time{}
	}
	return p.epoch.Add(time.Duration(m - 1))
}

// mono converts t (a ctx deadline, say) to a reading; a time before the
// epoch gives 1, the earliest reading.
func (p *Pool[T]) mono(t time.Time) mono {
	return max(mono(t.Sub(p.epoch))+1, 1)
}

func (m mono) sub(o mono) time.Duration { return time.Duration(m - o) }
func (m mono) add(d time.Duration) mono { return m + mono(d) }
