package httpclient

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Clients holds one [Client] per service, made by [NewClients]. It is safe
// for concurrent use.
type Clients struct {
	clients map[string]*Client
}

// NewClients returns a Client for each config, keyed as configs is (a
// Config with an empty Name takes its key; one with another Name is an
// error). Use it with the configs of a services file, which package
// github.com/poolkit/poolkit/config reads (YAML or JSON, with presets,
// shared defaults and environment overrides):
//
//	f, err := config.Load("poolkit.yaml")
//	...
//	clients, err := httpclient.NewClients(f.Services) // or f.Clients()
//	...
//	defer clients.Close()
//	payment, _ := clients.Get("payment")
//
// On failure it returns every config's error, joined, sorted by name, and
// closes the clients it made.
func NewClients(configs map[string]Config) (*Clients, error) {
	cs := &Clients{clients: make(map[string]*Client, len(configs))}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		cfg := configs[name]
		if cfg.Name == "" {
			cfg.Name = name
		}
		if cfg.Name != name {
			errs = append(errs, fmt.Errorf("httpclient: NewClients: config %q has Name %q", name, cfg.Name))
			continue
		}
		c, err := NewClient(cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cs.clients[name] = c
	}
	if len(errs) > 0 {
		cs.Close()
		return nil, errors.Join(errs...)
	}
	return cs, nil
}

// Get returns the client of the service called name, and whether there
// is one.
func (cs *Clients) Get(name string) (*Client, bool) {
	c, ok := cs.clients[name]
	return c, ok
}

// Names returns the names of the services, sorted.
func (cs *Clients) Names() []string { return slices.Sorted(maps.Keys(cs.clients)) }

// Close closes every client and returns their errors, joined.
func (cs *Clients) Close() error {
	var errs []error
	for _, name := range cs.Names() {
		errs = append(errs, cs.clients[name].Close())
	}
	return errors.Join(errs...)
}
