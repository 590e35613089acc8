package metrics

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// StatusHandler returns an http.Handler that serves, as indented JSON, every
// source added with [Metrics.Add] (each origin of a per-origin source
// apart) with its Stats and, when known, its PoolConfig, and the state of
// every breaker added: the page usually mounted at /debug/pools.
//
// Field names are those of pool.Stats and [PoolConfig]; durations are
// strings as time.Duration prints them ("30s", "1.5ms"). Only the names
// given to Add and the breakers' names appear: no function, DSN, URL path
// or credential. Pools are sorted by Kind, Name and Origin; breakers by
// name. It answers GET and HEAD, and 405 to any other method. Every request
// reads the Stats afresh; nothing is cached.
//
//	{
//	  "Pools": [
//	    {
//	      "Kind": "sql", "Name": "orders", "Origin": "",
//	      "Stats": {"Open": 2, "Idle": 1, "InUse": 1, ..., "WaitTime": "1.5s", ...},
//	      "Config": {"MinSize": 1, "MaxSize": 10, ..., "IdleTimeout": "5m0s", ...}
//	    }
//	  ],
//	  "Breakers": [{"Name": "orders", "State": "closed"}]
//	}
func (m *Metrics) StatusHandler() http.Handler {
	return http.HandlerFunc(m.serveStatus)
}

func (m *Metrics) serveStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	page := m.status()
	body, err := json.MarshalIndent(page, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(append(body, '\n'))
	}
}

// statusPage is the document StatusHandler serves.
type statusPage struct {
	Pools    []poolStatus
	Breakers []breakerStatus
}

type breakerStatus struct {
	Name  string
	State string
}

type poolStatus struct {
	Kind   string
	Name   string
	Origin string
	Stats  statsJSON
	Config *configJSON `json:",omitempty"`
}

// duration is a time.Duration that marshals as its String.
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

type statsJSON struct {
	Open, Idle, InUse, Creating, Destroying, Waiting int
	MinSize, MaxSize                                 int
	OldestWait                                       duration

	Acquires       uint64
	WaitedAcquires uint64
	WaitTime       duration
	Timeouts       uint64
	Canceled       uint64
	Rejected       uint64
	Created        uint64
	CreateErrors   uint64
	CheckFailures  uint64
	FailedFast     uint64
	Leaks          uint64
	Destroyed      pool.DestroyCounts

	// Budget is the pool's shared budget (size, used, pools, waiting),
	// when it has one.
	Budget *pool.BudgetStats `json:",omitempty"`
}

type configJSON struct {
	MinSize, MaxSize, MaxIdle, MaxWaiters, MaxUses, MaxConcurrentCreates int

	IdleTimeout, MaxLifetime, MaxLifetimeJitter, AcquireTimeout    duration
	CheckAfterIdle, HealthCheckPeriod, CheckTimeout, CreateTimeout duration
	CreateBackoff, MaxCreateBackoff, LeakThreshold                 duration

	Check, Reset, Budget bool
}

func (m *Metrics) status() statusPage {
	page := statusPage{Pools: []poolStatus{}, Breakers: []breakerStatus{}}
	for _, p := range m.snapshot() {
		s := p.Stats
		ps := poolStatus{Kind: p.Kind, Name: p.Name, Origin: p.Origin, Stats: statsJSON{
			Open: s.Open, Idle: s.Idle, InUse: s.InUse, Creating: s.Creating, Destroying: s.Destroying,
			Waiting: s.Waiting, MinSize: s.MinSize, MaxSize: s.MaxSize, OldestWait: duration(s.OldestWait),
			Acquires: s.Acquires, WaitedAcquires: s.WaitedAcquires, WaitTime: duration(s.WaitTime),
			Timeouts: s.Timeouts, Canceled: s.Canceled, Rejected: s.Rejected, Created: s.Created,
			CreateErrors: s.CreateErrors, CheckFailures: s.CheckFailures, FailedFast: s.FailedFast,
			Leaks: s.Leaks, Destroyed: s.Destroyed,
		}}
		if s.Budget.Size > 0 {
			ps.Stats.Budget = &s.Budget
		}
		if c := p.Config; c != nil {
			ps.Config = &configJSON{
				MinSize: c.MinSize, MaxSize: c.MaxSize, MaxIdle: c.MaxIdle, MaxWaiters: c.MaxWaiters,
				MaxUses: c.MaxUses, MaxConcurrentCreates: c.MaxConcurrentCreates,
				IdleTimeout: duration(c.IdleTimeout), MaxLifetime: duration(c.MaxLifetime),
				MaxLifetimeJitter: duration(c.MaxLifetimeJitter), AcquireTimeout: duration(c.AcquireTimeout),
				CheckAfterIdle: duration(c.CheckAfterIdle), HealthCheckPeriod: duration(c.HealthCheckPeriod),
				CheckTimeout: duration(c.CheckTimeout), CreateTimeout: duration(c.CreateTimeout),
				CreateBackoff: duration(c.CreateBackoff), MaxCreateBackoff: duration(c.MaxCreateBackoff),
				LeakThreshold: duration(c.LeakThreshold),
				Check:         c.Check, Reset: c.Reset, Budget: c.Budget,
			}
		}
		page.Pools = append(page.Pools, ps)
	}
	for _, b := range m.breakerList() {
		page.Breakers = append(page.Breakers, breakerStatus{Name: b.Name(), State: b.State().String()})
	}
	return page
}
