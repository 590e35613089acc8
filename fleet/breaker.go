package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/poolkit/poolkit/breaker"
)

// DefaultStatePollInterval is how often a process reads the fleet's breaker
// state keys, as a fallback for a missed pub/sub message, when
// BreakerConfig.PollInterval is zero: currently 1s.
const DefaultStatePollInterval = time.Second

// BreakerConfig configures [Breakers]. Client is required; every other zero
// field means its default.
type BreakerConfig struct {
	// Client is the Redis client. Required. Breakers does not close it.
	Client redis.UniversalClient

	// KeyPrefix prefixes the Redis keys and channel. Empty means
	// DefaultKeyPrefix. Processes share breakers by service name under the
	// same prefix.
	KeyPrefix string

	// OpTimeout bounds each Redis call. Zero means DefaultOpTimeout;
	// negative is invalid.
	OpTimeout time.Duration

	// PollInterval: see DefaultStatePollInterval. Zero means the default;
	// negative is invalid.
	PollInterval time.Duration

	// ProbeTTL is how long one process may probe a recovering service
	// before another may take over, and so how long the others hold their
	// breakers open when the prober's verdict never arrives. Zero means the
	// breaker's own OpenTimeout; negative is invalid.
	ProbeTTL time.Duration

	// Logger hears when Redis is lost (breakers then work locally) and
	// found again. Nil means slog.Default().
	Logger *slog.Logger
}

// Breakers shares the state of circuit breakers across the processes of a
// fleet through Redis, with no Redis call on the request path: each
// [breaker.Breaker] decides alone, from memory, as it does without a fleet.
//
//   - When a breaker opens in one process, the process publishes it (Redis
//     pub/sub, plus a state key with an expiry for processes that missed the
//     message or start later); every other process trips its breaker for
//     that service on receipt, typically within milliseconds.
//   - When the open timeout ends, one process wins a probe token (a Redis
//     key set only if absent, expiring after ProbeTTL) and lets its
//     breaker go half-open; the others hold theirs open
//     ([breaker.Breaker.HoldOpen]) until the prober's breaker closes (they
//     are released, and each then checks the recovered service with its own
//     half-open probes) or opens again (they trip again). So a sick service
//     gets HalfOpenProbes probes from the fleet per open timeout, not that
//     many per process.
//   - When Redis cannot be reached, each breaker works locally, as without
//     a fleet; the process logs it and shows it in [Breakers.Stats].
//
// Make breakers with [Breakers.New], or pass [Breakers.Settings] wherever
// breaker.Settings go (httpclient.Config.Breaker). Breakers is safe for
// concurrent use; Close stops its goroutines.
type Breakers struct {
	cfg     BreakerConfig
	rdb     redis.UniversalClient
	log     *slog.Logger
	id      string
	prefix  string
	channel string

	mu       sync.Mutex
	services map[string]*service
	closed   bool

	out  chan message
	stop chan struct{}
	wg   sync.WaitGroup
	seq  atomic.Uint64

	degraded        atomic.Bool
	lastPropagation atomic.Int64
	stats           struct {
		published, received, remoteTrips, probesWon, probesLost, redisErrors atomic.Int64
	}
}

// service is what Breakers knows of one service name in this process.
type service struct {
	name     string
	breakers []attached
	open     time.Duration // OpenTimeout
	probeTTL time.Duration
	timer    *time.Timer // the next probe decision
	lastTrip string      // id of the last trip applied here
}

// message is what processes tell each other on the channel; it is also the
// value of a service's state key while its breaker is open.
type message struct {
	Kind    string `json:"k"` // "open" or "closed"
	Service string `json:"s"`
	Origin  string `json:"o"`           // the process that saw it
	Trip    string `json:"id,omitzero"` // unique per trip
	At      int64  `json:"t"`           // unix nanoseconds at the origin
	Open    int64  `json:"ot,omitzero"` // origin's OpenTimeout, nanoseconds
}

// BreakerStats describes [Breakers] in this process.
type BreakerStats struct {
	Published   int64 // state changes this process told the fleet
	Received    int64 // messages from other processes
	RemoteTrips int64 // breakers tripped here because another process's opened
	ProbesWon   int64 // probe turns this process won
	ProbesLost  int64 // probe turns another process had
	RedisErrors int64 // Redis calls that failed or timed out
	Degraded    bool  // Redis unreachable now: breakers work locally
	// LastPropagation is how long the last remote trip took, from the
	// instant the other process's breaker opened to this one's (measured
	// on the two processes' clocks).
	LastPropagation time.Duration
}

// NewBreakers validates cfg and starts the subscription and the state poll.
//
// On failure it returns a *[ConfigError] naming the bad field.
func NewBreakers(cfg BreakerConfig) (*Breakers, error) {
	bad := func(field string, v any, reason string) (*Breakers, error) {
		return nil, &ConfigError{Config: "BreakerConfig", Field: field, Value: v, Reason: reason}
	}
	switch {
	case isNil(cfg.Client):
		return bad("Client", "nil", "required")
	case cfg.OpTimeout < 0:
		return bad("OpTimeout", cfg.OpTimeout, "must be >= 0")
	case cfg.PollInterval < 0:
		return bad("PollInterval", cfg.PollInterval, "must be >= 0")
	case cfg.ProbeTTL < 0:
		return bad("ProbeTTL", cfg.ProbeTTL, "must be >= 0")
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultStatePollInterval
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	f := &Breakers{
		cfg:      cfg,
		rdb:      cfg.Client,
		log:      cfg.Logger,
		id:       hex.EncodeToString(rnd[:]),
		prefix:   cfg.KeyPrefix + "breaker:",
		channel:  cfg.KeyPrefix + "breaker:events",
		services: make(map[string]*service),
		out:      make(chan message, 256),
		stop:     make(chan struct{}),
	}
	sub := f.rdb.Subscribe(context.Background(), f.channel)
	f.wg.Add(2)
	go f.listen(sub)
	go f.loop()
	return f, nil
}

// ID returns the id this process is known by in the fleet's messages.
func (f *Breakers) ID() string { return f.id }

// Settings returns s with an Observer that ties the breaker made from it to
// the fleet (s's own Observer, if any, still hears everything). Use it
// wherever breaker.Settings are taken; each breaker made from it joins the
// fleet under its name.
func (f *Breakers) Settings(s breaker.Settings) breaker.Settings {
	s.Observer = &observer{f: f, next: s.Observer}
	return s
}

// New returns breaker.New(name, f.Settings(s)).
func (f *Breakers) New(name string, s breaker.Settings) (*breaker.Breaker, error) {
	return breaker.New(name, f.Settings(s))
}

// Stats returns a snapshot, without a network call.
func (f *Breakers) Stats() BreakerStats {
	return BreakerStats{
		Published:       f.stats.published.Load(),
		Received:        f.stats.received.Load(),
		RemoteTrips:     f.stats.remoteTrips.Load(),
		ProbesWon:       f.stats.probesWon.Load(),
		ProbesLost:      f.stats.probesLost.Load(),
		RedisErrors:     f.stats.redisErrors.Load(),
		Degraded:        f.degraded.Load(),
		LastPropagation: time.Duration(f.lastPropagation.Load()),
	}
}

// observer ties one breaker to the fleet.
type observer struct {
	f      *Breakers
	next   breaker.Observer
	remote atomic.Int32 // > 0 while the fleet trips the breaker: not news to publish
}

var _ breaker.Attacher = (*observer)(nil)

func (o *observer) Attach(b *breaker.Breaker) { o.f.register(b, o) }

func (o *observer) Rejected(name string) {
	if o.next != nil {
		o.next.Rejected(name)
	}
}

func (o *observer) StateChange(name string, from, to breaker.State) {
	if o.remote.Load() == 0 {
		o.f.localChange(name, to)
	}
	if o.next != nil {
		o.next.StateChange(name, from, to)
	}
}

// attached is a breaker with its fleet observer.
type attached struct {
	b *breaker.Breaker
	o *observer
}

func (f *Breakers) register(b *breaker.Breaker, o *observer) {
	st := b.Settings()
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.services[b.Name()]
	if s == nil {
		s = &service{name: b.Name(), open: st.OpenTimeout, probeTTL: f.cfg.ProbeTTL}
		if s.probeTTL == 0 {
			s.probeTTL = st.OpenTimeout
		}
		f.services[b.Name()] = s
	}
	s.breakers = append(s.breakers, attached{b: b, o: o})
}

func (f *Breakers) stateKey(service string) string { return f.prefix + "{" + service + "}:state" }
func (f *Breakers) probeKey(service string) string { return f.prefix + "{" + service + "}:probe" }

// localChange runs (outside any breaker lock) when a breaker of this process
// changed state by itself.
func (f *Breakers) localChange(name string, to breaker.State) {
	switch to {
	case breaker.StateOpen:
		m := message{Kind: "open", Service: name, Origin: f.id,
			Trip: f.id + ":" + strconv.FormatUint(f.seq.Add(1), 36), At: time.Now().UnixNano()}
		f.mu.Lock()
		if s := f.services[name]; s != nil {
			s.lastTrip = m.Trip
			m.Open = int64(s.open)
			f.scheduleProbeLocked(s)
		}
		f.mu.Unlock()
		f.send(m)
	case breaker.StateClosed:
		f.send(message{Kind: "closed", Service: name, Origin: f.id, At: time.Now().UnixNano()})
	}
}

// send queues m for the loop; it never blocks the breaker's caller.
func (f *Breakers) send(m message) {
	select {
	case f.out <- m:
	default: // the loop is far behind (Redis slow): the state poll catches up
	}
}

// scheduleProbeLocked holds s's breakers open past their open timeout
// until the fleet has decided which process probes, and schedules that
// decision. While Redis is unreachable it does nothing: breakers probe on
// their own, as without a fleet.
func (f *Breakers) scheduleProbeLocked(s *service) {
	if f.closed || f.degraded.Load() {
		return
	}
	at := s.open
	hold := time.Now().Add(at + s.probeTTL)
	for _, a := range s.breakers {
		a.b.HoldOpen(hold)
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = f.afterFunc(at, func() { f.decideProbe(s.name) })
}

// afterFunc is time.AfterFunc whose run Close waits for.
func (f *Breakers) afterFunc(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return
		}
		f.wg.Add(1)
		f.mu.Unlock()
		defer f.wg.Done()
		fn()
	})
}

// probeScript takes the probe token of a service, or renews it for its
// holder.
//
//	KEYS[1] probe key; ARGV[1] process id, ARGV[2] ttl ms; returns 1 if ours
var probeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// decideProbe runs when the open timeout of service name ends here: the
// process that gets the probe token lets its breakers go half-open; the
// others keep holding theirs until the verdict, or until the token expires
// and they try again.
func (f *Breakers) decideProbe(name string) {
	f.mu.Lock()
	s := f.services[name]
	ttl := s.probeTTL
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.OpTimeout)
	won, err := probeScript.Run(ctx, f.rdb, []string{f.probeKey(name)}, f.id, ttl.Milliseconds()).Int()
	cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.redisFailedLocked(err)
		f.releaseLocked(s)
		return
	}
	f.redisOK()
	if won == 1 {
		f.stats.probesWon.Add(1)
		f.releaseLocked(s)
		return
	}
	f.stats.probesLost.Add(1)
	hold := time.Now().Add(ttl)
	for _, a := range s.breakers {
		a.b.HoldOpen(hold)
	}
	if !f.closed {
		s.timer = f.afterFunc(ttl, func() { f.decideProbe(name) })
	}
}

// releaseLocked lifts the fleet's hold on s's breakers.
func (f *Breakers) releaseLocked(s *service) {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	for _, a := range s.breakers {
		a.b.HoldOpen(time.Time{})
	}
}

// remoteOpen trips this process's breakers for a service whose breaker
// opened in another process.
func (f *Breakers) remoteOpen(m message) {
	f.mu.Lock()
	s := f.services[m.Service]
	if s == nil || s.lastTrip == m.Trip {
		f.mu.Unlock()
		return
	}
	s.lastTrip = m.Trip
	bs := append([]attached(nil), s.breakers...)
	f.mu.Unlock()
	tripped := false
	for _, a := range bs {
		if a.b.State() == breaker.StateOpen {
			continue
		}
		a.o.remote.Add(1)
		if a.b.Trip() {
			tripped = true
		}
		a.o.remote.Add(-1)
	}
	if tripped {
		f.stats.remoteTrips.Add(1)
		f.lastPropagation.Store(time.Now().UnixNano() - m.At)
	}
	f.mu.Lock()
	f.scheduleProbeLocked(s)
	f.mu.Unlock()
}

// remoteClosed releases this process's breakers for a service that
// another process's probes found healthy again.
func (f *Breakers) remoteClosed(m message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.services[m.Service]; s != nil {
		s.lastTrip = ""
		f.releaseLocked(s)
	}
}

func (f *Breakers) handle(payload string) {
	var m message
	if json.Unmarshal([]byte(payload), &m) != nil || m.Origin == f.id {
		return
	}
	f.stats.received.Add(1)
	switch m.Kind {
	case "open":
		f.remoteOpen(m)
	case "closed":
		f.remoteClosed(m)
	}
}

func (f *Breakers) listen(sub *redis.PubSub) {
	defer f.wg.Done()
	// Closed however the loop ends: go-redis keeps a goroutine per open
	// subscription, also after its client was closed.
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-f.stop:
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			f.handle(msg.Payload)
		}
	}
}

// loop publishes this process's state changes and polls the state keys.
func (f *Breakers) loop() {
	defer f.wg.Done()
	t := time.NewTicker(f.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case m := <-f.out:
			f.publish(m)
		case <-t.C:
			f.poll()
		}
	}
}

func (f *Breakers) publish(m message) {
	data, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.OpTimeout)
	defer cancel()
	pipe := f.rdb.Pipeline()
	pipe.Publish(ctx, f.channel, data)
	if m.Kind == "open" {
		f.mu.Lock()
		ttl := time.Duration(m.Open)
		if s := f.services[m.Service]; s != nil {
			ttl += s.probeTTL
		}
		f.mu.Unlock()
		pipe.Set(ctx, f.stateKey(m.Service), data, max(ttl, time.Millisecond))
	} else {
		pipe.Del(ctx, f.stateKey(m.Service), f.probeKey(m.Service))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		f.mu.Lock()
		f.redisFailedLocked(err)
		f.mu.Unlock()
		return
	}
	f.redisOK()
	f.stats.published.Add(1)
}

// poll reads the state keys of this process's services: a trip whose
// message was missed (a reconnect, a process that started late) is applied.
func (f *Breakers) poll() {
	f.mu.Lock()
	keys := make([]string, 0, len(f.services))
	for name := range f.services {
		keys = append(keys, f.stateKey(name))
	}
	f.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.OpTimeout)
	vals, err := f.rdb.MGet(ctx, keys...).Result()
	cancel()
	if err != nil {
		f.mu.Lock()
		f.redisFailedLocked(err)
		f.mu.Unlock()
		return
	}
	f.redisOK()
	for _, v := range vals {
		if sv, ok := v.(string); ok {
			var m message
			if json.Unmarshal([]byte(sv), &m) == nil && m.Origin != f.id && m.Kind == "open" {
				f.remoteOpen(m)
			}
		}
	}
}

func (f *Breakers) redisFailedLocked(err error) {
	f.stats.redisErrors.Add(1)
	if f.degraded.CompareAndSwap(false, true) {
		f.log.Warn("fleet: Redis unreachable; circuit breakers work locally until it answers", "err", err)
		for _, s := range f.services {
			f.releaseLocked(s)
		}
	}
}

func (f *Breakers) redisOK() {
	if f.degraded.CompareAndSwap(true, false) {
		f.log.Info("fleet: Redis answers again; circuit breakers are shared with the fleet")
	}
}

// Close stops sharing: the subscription, the poll and pending probe
// decisions end, and every hold the fleet put on a breaker is lifted. The
// breakers keep working locally.
func (f *Breakers) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	for _, s := range f.services {
		f.releaseLocked(s)
	}
	f.mu.Unlock()
	close(f.stop)
	f.wg.Wait()
	return nil
}
