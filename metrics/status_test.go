package metrics_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/metrics"
	"github.com/poolkit/poolkit/pool"
)

func TestStatusHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := metrics.New(nil, metrics.Options{})
		if err != nil {
			t.Fatal(err)
		}
		const dsn = "postgres://app:s3cret@db.internal:5432/orders?sslmode=require"
		p, err := pool.New(pool.Config[string]{
			Name:           "orders",
			Create:         func(context.Context) (string, error) { return dsn, nil },
			Check:          func(context.Context, string) error { return nil },
			MinSize:        1,
			MaxSize:        4,
			MaxIdle:        2,
			IdleTimeout:    30 * time.Second,
			MaxLifetime:    time.Hour,
			AcquireTimeout: 1500 * time.Millisecond,
			MaxWaiters:     8,
			MaxUses:        1000,
			LeakThreshold:  time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(context.Background())
		if err := m.Add(metrics.PoolSource(metrics.KindSQL, p)); err != nil {
			t.Fatal(err)
		}
		if err := m.Add(metrics.Source{Kind: metrics.KindHTTP, Name: "inventory",
			Origins: func() map[string]pool.Stats {
				return map[string]pool.Stats{
					"https://b.example:443": {Open: 3, InUse: 2, Idle: 1, MaxSize: 8, Acquires: 40, WaitTime: 250 * time.Millisecond},
					"https://a.example:443": {Open: 1, Waiting: 2, OldestWait: 2 * time.Second, MaxSize: 8, Destroyed: pool.DestroyCounts{Lifetime: 5}},
				}
			}}); err != nil {
			t.Fatal(err)
		}
		b, _ := breaker.New("orders", breaker.Settings{})
		if err := m.AddBreaker(b); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // MinSize: one connection made in the background
		r, err := p.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}

		rec := httptest.NewRecorder()
		m.StatusHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pools", nil))
		r.Release()
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		body := rec.Body.String()
		for _, secret := range []string{"s3cret", "db.internal", "postgres://", `"Create"`, `"Destroy"`, `"Logger"`, `"Observer"`} {
			if strings.Contains(body, secret) {
				t.Errorf("status page contains %q:\n%s", secret, body)
			}
		}

		var page struct {
			Pools []struct {
				Kind, Name, Origin string
				Stats              map[string]any
				Config             map[string]any
			}
			Breakers []struct{ Name, State string }
		}
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&page); err != nil {
			t.Fatal(err)
		}
		if len(page.Pools) != 3 {
			t.Fatalf("got %d pools, want 3:\n%s", len(page.Pools), body)
		}
		// Sorted by kind, name, origin.
		for i, want := range [][3]string{
			{"http", "inventory", "https://a.example:443"},
			{"http", "inventory", "https://b.example:443"},
			{"sql", "orders", ""},
		} {
			got := page.Pools[i]
			if [3]string{got.Kind, got.Name, got.Origin} != want {
				t.Errorf("pool %d = %q/%q/%q, want %q", i, got.Kind, got.Name, got.Origin, want)
			}
		}

		num := func(n int) json.Number { return json.Number(strings.TrimSpace(jsonInt(n))) }
		zeroDestroyed := map[string]any{"Idle": num(0), "Lifetime": num(0), "CheckFailed": num(0), "Broken": num(0), "Closed": num(0), "MaxUses": num(0)}
		stats := func(over map[string]any) map[string]any {
			s := map[string]any{
				"Open": num(0), "Idle": num(0), "InUse": num(0), "Creating": num(0), "Destroying": num(0),
				"Waiting": num(0), "MinSize": num(0), "MaxSize": num(0), "OldestWait": "0s",
				"Acquires": num(0), "WaitedAcquires": num(0), "WaitTime": "0s", "Timeouts": num(0),
				"Canceled": num(0), "Rejected": num(0), "Created": num(0), "CreateErrors": num(0),
				"CheckFailures": num(0), "FailedFast": num(0), "Leaks": num(0), "Destroyed": zeroDestroyed,
			}
			for k, v := range over {
				s[k] = v
			}
			return s
		}
		a := page.Pools[0]
		wantA := stats(map[string]any{"Open": num(1), "Waiting": num(2), "OldestWait": "2s", "MaxSize": num(8),
			"Destroyed": map[string]any{"Idle": num(0), "Lifetime": num(5), "CheckFailed": num(0), "Broken": num(0), "Closed": num(0), "MaxUses": num(0)}})
		if !reflect.DeepEqual(a.Stats, wantA) {
			t.Errorf("a.example stats:\n got %v\nwant %v", a.Stats, wantA)
		}
		if a.Config != nil {
			t.Errorf("a.example has a config without Source.Config: %v", a.Config)
		}
		bst := page.Pools[1]
		wantB := stats(map[string]any{"Open": num(3), "InUse": num(2), "Idle": num(1), "MaxSize": num(8),
			"Acquires": num(40), "WaitTime": "250ms"})
		if !reflect.DeepEqual(bst.Stats, wantB) {
			t.Errorf("b.example stats:\n got %v\nwant %v", bst.Stats, wantB)
		}

		o := page.Pools[2]
		// MinSize 1 made one connection in the background, and the
		// Acquire took it without waiting.
		wantO := stats(map[string]any{"Open": num(1), "InUse": num(1), "MinSize": num(1), "MaxSize": num(4),
			"Acquires": num(1), "Created": num(1)})
		if !reflect.DeepEqual(o.Stats, wantO) {
			t.Errorf("orders stats:\n got %v\nwant %v", o.Stats, wantO)
		}
		wantCfg := map[string]any{
			"MinSize": num(1), "MaxSize": num(4), "MaxIdle": num(2), "MaxWaiters": num(8), "MaxUses": num(1000),
			"MaxConcurrentCreates": num(4),
			"IdleTimeout":          "30s", "MaxLifetime": "1h0m0s", "MaxLifetimeJitter": "6m0s",
			"AcquireTimeout": "1.5s", "CheckAfterIdle": "500ms", "HealthCheckPeriod": "1m0s",
			"CheckTimeout": "5s", "CreateTimeout": "30s", "CreateBackoff": "100ms", "MaxCreateBackoff": "5s",
			"LeakThreshold": "1m0s",
			"Check":         true, "Reset": false, "Budget": false,
		}
		if !reflect.DeepEqual(o.Config, wantCfg) {
			t.Errorf("orders config:\n got %v\nwant %v", o.Config, wantCfg)
		}
		for k := range o.Config {
			if _, ok := wantCfg[k]; !ok {
				t.Errorf("unexpected config field %s", k)
			}
		}
		if want := []struct{ Name, State string }{{"orders", "closed"}}; !reflect.DeepEqual(page.Breakers, want) {
			t.Errorf("breakers = %v, want %v", page.Breakers, want)
		}
	})
}

func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestStatusHandlerMethods(t *testing.T) {
	m, err := metrics.New(nil, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := m.StatusHandler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pools", nil))
	if got, want := strings.TrimSpace(rec.Body.String()), "{\n  \"Pools\": [],\n  \"Breakers\": []\n}"; got != want {
		t.Errorf("empty page = %q, want %q", got, want)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("HEAD", "/debug/pools", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d bytes, want 200 and no body", rec.Code, rec.Body.Len())
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/debug/pools", strings.NewReader("{}")))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow=%q %s, want 405 with Allow: GET, HEAD", res.StatusCode, res.Header.Get("Allow"), body)
	}
}
