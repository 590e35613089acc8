package breaker

import (
	"slices"
	"sync"
)

// Registry hands out one [Breaker] per service name, creating it on first
// use. It is safe for concurrent use. The zero Registry is valid and gives
// every service zero (default) [Settings]; there is no global registry.
type Registry struct {
	settings func(service string) Settings

	mu       sync.RWMutex
	breakers map[string]*Breaker
}

// NewRegistry returns a Registry that asks settings for the Settings of a
// service the first time the service is seen. settings may be nil (every
// service gets default Settings). It is called without any lock held and
// may be called more than once for a service that several goroutines ask
// for at the same time; only one resulting Breaker is kept.
func NewRegistry(settings func(service string) Settings) *Registry {
	return &Registry{settings: settings}
}

// Get returns the breaker for service, creating it if needed.
//
// On failure (service is empty or its Settings are invalid), it returns the
// error of [New] and remembers nothing, so a later Get tries again.
func (r *Registry) Get(service string) (*Breaker, error) {
	r.mu.RLock()
	b, ok := r.breakers[service]
	r.mu.RUnlock()
	if ok {
		return b, nil
	}
	var s Settings
	if r.settings != nil {
		s = r.settings(service)
	}
	nb, err := New(service, s)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.breakers[service]; ok {
		return b, nil
	}
	if r.breakers == nil {
		r.breakers = make(map[string]*Breaker)
	}
	r.breakers[service] = nb
	return nb, nil
}

// Lookup returns the breaker for service if it has been created.
func (r *Registry) Lookup(service string) (*Breaker, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	b, ok := r.breakers[service]
	return b, ok
}

// Names returns the names of the services that have a breaker, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	names := make([]string, 0, len(r.breakers))
	for name := range r.breakers {
		names = append(names, name)
	}
	r.mu.RUnlock()
	slices.Sort(names)
	return names
}
