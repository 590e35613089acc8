package pool

// idleStack holds the idle resources of a pool, the most recently used on
// top: Acquire lends from the top, so the ones at the bottom age out. It is
// guarded by Pool.mu. Popped slots are cleared, so the stack keeps no
// resource alive after it has left.
type idleStack[T any] struct {
	items []*Resource[T]
}

// Len returns how many resources are idle.
func (s *idleStack[T]) Len() int { return len(s.items) }

// Push puts r on top.
func (s *idleStack[T]) Push(r *Resource[T]) { s.items = append(s.items, r) }

// Pop takes the most recently used resource, if any.
func (s *idleStack[T]) Pop() (*Resource[T], bool) {
	n := len(s.items)
	if n == 0 {
		return nil, false
	}
	r := s.items[n-1]
	s.items[n-1] = nil
	s.items = s.items[:n-1]
	return r, true
}

// PopOldest takes the least recently used resource, if any.
func (s *idleStack[T]) PopOldest() (*Resource[T], bool) {
	if len(s.items) == 0 {
		return nil, false
	}
	r := s.items[0]
	n := copy(s.items, s.items[1:])
	s.items[n] = nil
	s.items = s.items[:n]
	return r, true
}

// Retain walks the stack from the bottom (least recently used) and keeps
// the resources for which keep returns true, in order.
func (s *idleStack[T]) Retain(keep func(r *Resource[T]) bool) {
	kept := s.items[:0]
	for _, r := range s.items {
		if keep(r) {
			kept = append(kept, r)
		}
	}
	clear(s.items[len(kept):])
	s.items = kept
}

// Drain takes every idle resource, least recently used first.
func (s *idleStack[T]) Drain() []*Resource[T] {
	all := append([]*Resource[T](nil), s.items...)
	clear(s.items)
	s.items = s.items[:0]
	return all
}
