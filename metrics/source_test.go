package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAddErrors(t *testing.T) {
	m, err := metrics.New(nil, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stats := func() pool.Stats { return pool.Stats{} }
	origins := func() map[string]pool.Stats { return nil }
	tests := []struct {
		give    metrics.Source
		wantErr bool
	}{
		{metrics.Source{Name: "a", Stats: stats}, false},
		{metrics.Source{Kind: metrics.KindPool, Name: "a", Stats: stats}, true}, // zero Kind is KindPool
		{metrics.Source{Kind: metrics.KindSQL, Name: "a", Stats: stats}, false},
		{metrics.Source{Kind: metrics.KindHTTP, Name: "a", Origins: origins}, false},
		{metrics.Source{Name: "", Stats: stats}, true},
		{metrics.Source{Name: "b"}, true},
		{metrics.Source{Name: "c", Stats: stats, Origins: origins}, true},
		{metrics.Source{Name: "bad\xff", Stats: stats}, true},
		{metrics.Source{Kind: "\xfe", Name: "d", Stats: stats}, true},
	}
	for _, tt := range tests {
		err := m.Add(tt.give)
		if (err != nil) != tt.wantErr {
			t.Errorf("Add(%q/%q) = %v, want error %v", tt.give.Kind, tt.give.Name, err, tt.wantErr)
		}
	}
	if err := m.Add(metrics.Source{Name: "a", Stats: stats}); !errors.Is(err, metrics.ErrDuplicate) {
		t.Errorf("duplicate Add = %v, want ErrDuplicate", err)
	}
	if !m.Remove("", "a") || m.Remove(metrics.KindPool, "a") {
		t.Error("Remove(\"\", a) then Remove(pool, a): want true, false")
	}
	if err := m.Add(metrics.Source{Name: "a", Stats: stats}); err != nil {
		t.Errorf("Add after Remove = %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := metrics.New(nil, metrics.Options{WaitBuckets: []float64{1, 0.5}}); err == nil {
		t.Error("New with decreasing WaitBuckets: no error")
	}
	if _, err := metrics.New(nil, metrics.Options{RequestBuckets: []float64{1, 1}}); err == nil {
		t.Error("New with repeated RequestBuckets: no error")
	}
	reg := prometheus.NewRegistry()
	m1, err := metrics.New(reg, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := metrics.New(reg, metrics.Options{WaitBuckets: []float64{1}})
	var are prometheus.AlreadyRegisteredError
	if m2 != nil || !errors.As(err, &are) || are.ExistingCollector != m1 {
		t.Errorf("second New on the same registry = %v, %v; want nil and an AlreadyRegisteredError holding the first", m2, err)
	}
}

// TestOriginsAndRemove checks the per-origin source, the per-origin
// observers, and that Remove drops both the gauges and the histograms.
func TestOriginsAndRemove(t *testing.T) {
	m, err := metrics.New(nil, metrics.Options{WaitBuckets: []float64{0.001}})
	if err != nil {
		t.Fatal(err)
	}
	origins := map[string]pool.Stats{
		"https://api.example:443": {Open: 2, InUse: 1, Idle: 1, MaxSize: 4},
		"http://10.0.0.1:8080":    {Open: 1, Idle: 1, MaxSize: 4},
	}
	if err := m.Add(metrics.Source{Kind: metrics.KindHTTP, Name: "api",
		Origins: func() map[string]pool.Stats { return origins }}); err != nil {
		t.Fatal(err)
	}
	obs := m.OriginObserver(metrics.KindHTTP, "api")
	ctx := context.Background()
	obs("https://api.example:443").Acquired(ctx, pool.AcquireEvent{Pool: "api"})
	obs("https://api.example:443").Acquired(ctx, pool.AcquireEvent{Pool: "api", Wait: 2 * time.Millisecond, Waited: true})
	want := `
# HELP poolkit_pool_open_connections Connections open or being opened or closed: idle + in use + creating + destroying.
# TYPE poolkit_pool_open_connections gauge
poolkit_pool_open_connections{kind="http",origin="http://10.0.0.1:8080",pool="api"} 1
poolkit_pool_open_connections{kind="http",origin="https://api.example:443",pool="api"} 2
# HELP poolkit_pool_wait_time_seconds Time a successful Acquire waited for a connection (zero when one was idle).
# TYPE poolkit_pool_wait_time_seconds histogram
poolkit_pool_wait_time_seconds_bucket{kind="http",origin="https://api.example:443",pool="api",le="0.001"} 1
poolkit_pool_wait_time_seconds_bucket{kind="http",origin="https://api.example:443",pool="api",le="+Inf"} 2
poolkit_pool_wait_time_seconds_sum{kind="http",origin="https://api.example:443",pool="api"} 0.002
poolkit_pool_wait_time_seconds_count{kind="http",origin="https://api.example:443",pool="api"} 2
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want),
		"poolkit_pool_open_connections", "poolkit_pool_wait_time_seconds"); err != nil {
		t.Error(err)
	}
	if !m.Remove(metrics.KindHTTP, "api") {
		t.Fatal("Remove(http, api) = false")
	}
	if n := testutil.CollectAndCount(m); n != 0 {
		t.Errorf("after Remove: %d series, want 0", n)
	}
}

// TestLint populates every metric family and runs promlint over them.
func TestLint(t *testing.T) {
	m, err := metrics.New(nil, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pool.New(pool.Config[int]{Name: "db", MaxSize: 2,
		Create: func(context.Context) (int, error) { return 1, nil }, Observer: m.PoolObserver(metrics.KindSQL, "db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Add(metrics.PoolSource(metrics.KindSQL, p)); err != nil {
		t.Fatal(err)
	}
	r, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.Destroy()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := breaker.New("db", breaker.Settings{ConsecutiveFailures: 1, Observer: m.BreakerObserver()})
	if err := m.AddBreaker(b); err != nil {
		t.Fatal(err)
	}
	_, _ = breaker.Execute(b, func() (int, error) { return 0, errors.New("down") })
	_, _ = breaker.Execute(b, func() (int, error) { return 0, nil })
	ro := m.RetryObserver("api")
	ro.Attempt(1, errors.New("x"))
	ro.BudgetExhausted()
	rt := m.InstrumentRoundTripper("api", fakeRT{status: 200})
	req, _ := http.NewRequest("GET", "http://api.example/", nil)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}

	families := map[string]bool{}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m, m.GoSQLCollector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		families[mf.GetName()] = true
	}
	// 22 pool families + 4 histograms, 8 go_sql, 3 breaker, 2 retry, 1 HTTP.
	if len(families) != 40 {
		t.Errorf("%d families populated, want 40: %v", len(families), families)
	}
	for _, c := range []prometheus.Collector{m, m.GoSQLCollector()} {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

func TestRemoveService(t *testing.T) {
	m, err := metrics.New(nil, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"a", "b"} {
		m.RetryObserver(svc).Attempt(1, nil)
		m.RetryObserver(svc).BudgetExhausted()
		req, _ := http.NewRequest("GET", "http://x/", nil)
		if _, err := m.InstrumentRoundTripper(svc, fakeRT{status: 200}).RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	// Per service: 4 attempt series (made with the observer), 1 budget,
	// 1 request (GET 2xx).
	if n := testutil.CollectAndCount(m); n != 12 {
		t.Fatalf("%d series, want 12", n)
	}
	m.RemoveService("a")
	want := `
# HELP poolkit_retry_attempts_total Attempts made by retry loops: the first of each call and the retries, by result.
# TYPE poolkit_retry_attempts_total counter
poolkit_retry_attempts_total{attempt="first",result="error",service="b"} 0
poolkit_retry_attempts_total{attempt="first",result="success",service="b"} 1
poolkit_retry_attempts_total{attempt="retry",result="error",service="b"} 0
poolkit_retry_attempts_total{attempt="retry",result="success",service="b"} 0
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "poolkit_retry_attempts_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m, requestMetric); n != 1 {
		t.Errorf("%d request series after RemoveService(a), want 1", n)
	}
}

type countingObserver struct {
	pool.NopObserver
	acquired, released, created, destroyed, timedOut int
}

func (c *countingObserver) Acquired(context.Context, pool.AcquireEvent) { c.acquired++ }
func (c *countingObserver) Released(pool.ReleaseEvent)                  { c.released++ }
func (c *countingObserver) Created(context.Context, pool.CreateEvent)   { c.created++ }
func (c *countingObserver) Destroyed(pool.DestroyEvent)                 { c.destroyed++ }
func (c *countingObserver) TimedOut(context.Context, pool.AcquireEvent) { c.timedOut++ }

func TestObservers(t *testing.T) {
	if o := metrics.Observers(nil, nil); o != nil {
		t.Errorf("Observers(nil, nil) = %v, want nil", o)
	}
	a := &countingObserver{}
	if o := metrics.Observers(nil, a); o != a {
		t.Errorf("Observers(nil, a) = %v, want a", o)
	}
	b := &countingObserver{}
	o := metrics.Observers(a, nil, b)
	ctx := context.Background()
	o.Acquired(ctx, pool.AcquireEvent{})
	o.Released(pool.ReleaseEvent{})
	o.Created(ctx, pool.CreateEvent{})
	o.Destroyed(pool.DestroyEvent{Reason: pool.ReasonIdle})
	o.TimedOut(ctx, pool.AcquireEvent{})
	for _, c := range []*countingObserver{a, b} {
		if *c != (countingObserver{acquired: 1, released: 1, created: 1, destroyed: 1, timedOut: 1}) {
			t.Errorf("observer saw %+v, want one of each", *c)
		}
	}
}
