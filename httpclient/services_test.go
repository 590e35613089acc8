package httpclient

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/poolkit/poolkit/retry"
)

// The services file itself is read by package config; see its tests.

func TestServicesNewClients(t *testing.T) {
	payCfg, err := PresetSteady.Config("", "https://payment.internal/v1")
	if err != nil {
		t.Fatal(err)
	}
	payCfg.Breaker.OpenTimeout = 30 * time.Second
	cfgs := map[string]Config{
		"payment":   payCfg,
		"inventory": {BaseURL: "https://inventory.internal"},
		"notify":    {Name: "notify", BaseURL: "http://notify:8080", DisableBreaker: true, DisableRetry: true},
	}
	cs, err := NewClients(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if got := strings.Join(cs.Names(), ","); got != "inventory,notify,payment" {
		t.Fatalf("Names = %s", got)
	}
	pay, ok := cs.Get("payment")
	if !ok || pay.Name() != "payment" || pay.Breaker().Settings().OpenTimeout != 30*time.Second {
		t.Fatalf("Get(payment) = %v, %v", pay, ok)
	}
	notify, _ := cs.Get("notify")
	if notify.Breaker() != nil || notify.HTTP().Transport == nil {
		t.Fatalf("notify has a breaker though disabled")
	}
	req, err := pay.NewRequest(t.Context(), http.MethodGet, "charges", nil)
	if err != nil || req.URL.String() != "https://payment.internal/v1/charges" {
		t.Fatalf("NewRequest = %v, %v", req.URL, err)
	}
	if _, ok := cs.Get("nope"); ok {
		t.Fatal("Get(nope) found a client")
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestServicesNewClientsErrors(t *testing.T) {
	_, err := NewClients(map[string]Config{
		"a": {Name: "b"},
		"c": {Retry: retry.Policy{MaxAttempts: -1}},
		"d": {},
	})
	if err == nil {
		t.Fatal("NewClients succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `config "a" has Name "b"`) ||
		!strings.Contains(lines[1], `service "c": Retry.MaxAttempts = -1`) {
		t.Fatalf("err = %v", err)
	}
	// The valid client "d" was closed again (goleak in TestMain checks that
	// nothing was left running).
}

func TestPresetConfig(t *testing.T) {
	for _, p := range Presets() {
		c, err := p.Config("svc", "https://svc.internal")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("preset %s: %v", p, err)
		}
		if c.Transport.MaxSize == 0 || c.Timeout == 0 || c.Retry.MaxAttempts == 0 || c.Breaker.OpenTimeout == 0 {
			t.Errorf("preset %s leaves core numbers unset: %+v", p, c)
		}
		cl, err := NewClient(c)
		if err != nil {
			t.Fatalf("preset %s: %v", p, err)
		}
		if got := cl.Breaker().Settings(); got.ConsecutiveFailures != c.Breaker.ConsecutiveFailures {
			t.Errorf("preset %s: breaker has %+v", p, got)
		}
		cl.Close()
	}
	want := map[Preset][3]int{PresetLow: {0, 4, 5}, PresetSteady: {4, 32, 20}, PresetBursty: {4, 128, 50}}
	for p, w := range want {
		c, _ := p.Config("s", "")
		if got := [3]int{c.Transport.MinSize, c.Transport.MaxSize, c.Breaker.MinRequests}; got != w {
			t.Errorf("preset %s: MinSize, MaxSize, MinRequests = %v; want %v (update the table on Preset)", p, got, w)
		}
	}
	if c, err := Preset("").Config("s", ""); err != nil || !reflect.DeepEqual(c, Config{Name: "s", Transport: RecommendedTransportConfig()}) {
		t.Errorf(`Preset("").Config = %+v, %v; want the zero Config with the recommended limits`, c, err)
	}
	if _, err := Preset("huge").Config("s", ""); err == nil {
		t.Error(`Preset("huge").Config succeeded`)
	}
}
