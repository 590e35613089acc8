package httpclient

import (
	"encoding"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/poolkit/poolkit/retry"
)

const servicesJSON = `{
  "defaults": {
    "timeout": "5s",
    "transport": {"acquire_timeout": "750ms"},
    "retry": {"max_attempts": 2, "budget": {"ratio": 0.05}}
  },
  "services": {
    "payment": {
      "base_url": "https://payment.internal/v1",
      "preset": "steady",
      "breaker": {"open_timeout": "30s"},
      "retry": {"max_attempts": 4}
    },
    "inventory": {
      "base_url": "https://inventory.internal",
      "preset": "bursty",
      "transport": {"max_size": 64, "idle_timeout": "-1s"}
    },
    "notify": {
      "base_url": "http://notify:8080",
      "breaker": {"disabled": true},
      "retry": {"disabled": true}
    }
  }
}`

func TestServicesLoad(t *testing.T) {
	cfgs, err := LoadServices(strings.NewReader(servicesJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 3 {
		t.Fatalf("got %d services; want 3", len(cfgs))
	}

	want := map[string]Config{}
	// payment: steady preset; defaults override it; the service overrides both.
	p, _ := PresetSteady.Config("payment", "https://payment.internal/v1")
	p.Timeout = 5 * time.Second                         // defaults over the preset's 5s (same) ...
	p.Transport.AcquireTimeout = 750 * time.Millisecond // ... and over its 1s
	p.Retry.MaxAttempts = 4                             // the service over the defaults' 2
	p.RetryBudget.Ratio = 0.05                          // defaults over the preset's 0.2
	p.Breaker.OpenTimeout = 30 * time.Second            // the service over the preset's 10s
	want["payment"] = p

	i, _ := PresetBursty.Config("inventory", "https://inventory.internal")
	i.Timeout = 5 * time.Second
	i.Transport.AcquireTimeout = 750 * time.Millisecond
	i.Transport.MaxSize = 64
	i.Transport.IdleTimeout = -time.Second
	i.Retry.MaxAttempts = 2
	i.RetryBudget.Ratio = 0.05
	want["inventory"] = i

	want["notify"] = Config{
		Name: "notify", BaseURL: "http://notify:8080",
		Timeout:        5 * time.Second,
		Transport:      TransportConfig{AcquireTimeout: 750 * time.Millisecond},
		DisableBreaker: true,
		DisableRetry:   true,
		Retry:          retry.Policy{MaxAttempts: 2},
		RetryBudget:    retry.BudgetConfig{Ratio: 0.05},
	}
	for name, w := range want {
		if got := cfgs[name]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, w)
		}
	}
}

func TestServicesPresetLayers(t *testing.T) {
	tests := []struct {
		name string
		give string
		want func(c Config) bool
	}{
		{"defaults preset applies", `{"defaults": {"preset": "low"}, "services": {"a": {}}}`,
			func(c Config) bool { return c.Transport.MaxSize == 4 && c.Breaker.HalfOpenProbes == 1 }},
		{"service preset beats defaults preset", `{"defaults": {"preset": "low"}, "services": {"a": {"preset": "bursty"}}}`,
			func(c Config) bool { return c.Transport.MaxSize == 128 }},
		{"defaults field beats service preset", `{"defaults": {"transport": {"max_size": 7}}, "services": {"a": {"preset": "bursty"}}}`,
			func(c Config) bool { return c.Transport.MaxSize == 7 && c.Transport.MinSize == 4 }},
		{"explicit zero overrides preset", `{"services": {"a": {"preset": "steady", "transport": {"min_size": 0}}}}`,
			func(c Config) bool { return c.Transport.MinSize == 0 && c.Transport.MaxSize == 32 }},
		{"empty preset is the defaults", `{"defaults": {"preset": "bursty"}, "services": {"a": {"preset": ""}}}`,
			func(c Config) bool { return reflect.DeepEqual(c, Config{Name: "a"}) }},
		{"no defaults", `{"services": {"a": {"timeout": "1m30s"}}}`,
			func(c Config) bool { return reflect.DeepEqual(c, Config{Name: "a", Timeout: 90 * time.Second}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgs, err := LoadServices(strings.NewReader(tt.give))
			if err != nil {
				t.Fatal(err)
			}
			if c := cfgs["a"]; !tt.want(c) {
				t.Fatalf("config = %+v", c)
			}
		})
	}
}

func TestServicesLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []string
	}{
		{"bad duration", `{"services": {"payment": {"retry": {"initial_backoff": "2x"}}}}`,
			[]string{`httpclient: services file: services.payment.retry.initial_backoff: invalid duration: string "2x"; write it as a string with a unit`}},
		{"duration as number", `{"services": {"payment": {"timeout": 5}}}`,
			[]string{`services.payment.timeout: invalid duration: number 5;`}},
		{"duration without unit", `{"defaults": {"breaker": {"open_timeout": "10"}}, "services": {}}`,
			[]string{`services file: defaults.breaker.open_timeout: invalid duration: string "10"`}},
		{"nested budget duration", `{"services": {"a": {"retry": {"budget": {"window": "soon"}}}}}`,
			[]string{`services.a.retry.budget.window: invalid duration: string "soon"`}},
		{"int as string", `{"services": {"a": {"transport": {"max_size": "ten"}}}}`,
			[]string{`services.a.transport.max_size: cannot use string as int`}},
		{"unknown field", `{"services": {"a": {"transport": {"max_szie": 3}}}}`,
			[]string{`services file: services.a: unknown field "max_szie"`}},
		{"unknown top-level field", `{"service": {}}`,
			[]string{`services file: unknown field "service"`}},
		{"syntax", `{"services": {"a": {"timeout": }}}`,
			[]string{`services file: invalid character '}'`}},
		{"trailing data", `{"services": {}} {}`,
			[]string{`services file: unexpected data after the top-level value`}},
		{"unknown preset", `{"services": {"a": {"preset": "huge"}}}`,
			[]string{`services file: services.a.preset: httpclient: unknown preset "huge" (have "low", "steady", "bursty")`}},
		{"unknown defaults preset", `{"defaults": {"preset": "huge"}, "services": {"a": {}}}`,
			[]string{`services file: defaults.preset: httpclient: unknown preset "huge"`}},
		{"invalid value", `{"services": {"payment": {"retry": {"max_attempts": -1}}}}`,
			[]string{`httpclient: service "payment": Retry.MaxAttempts = -1: must be >= 0`}},
		{"invalid from defaults", `{"defaults": {"transport": {"max_size": -2}}, "services": {"a": {}, "b": {}}}`,
			[]string{`service "a": Transport.MaxSize = -2`, `service "b": Transport.MaxSize = -2`}},
		{"several services, sorted", `{"services": {"z": {"timeout": "1"}, "b": {"base_url": "nope"}, "a": {"retry": {"multiplier": 0.1}}}}`,
			[]string{`services.z.timeout: invalid duration`}},
		{"several valid-form errors, sorted", `{"services": {"b": {"base_url": "nope"}, "a": {"retry": {"multiplier": 0.1}}}}`,
			[]string{`service "a": Retry.Multiplier = 0.1`, `service "b": BaseURL = nope`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgs, err := LoadServices(strings.NewReader(tt.give))
			if err == nil {
				t.Fatalf("LoadServices = %+v; want an error", cfgs)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("LoadServices error:\n%v\nwant %d errors", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("error %d = %q\nwant it to contain %q", i, lines[i], w)
				}
			}
			var fe *FileError
			var ce *ClientConfigError
			if !errors.As(err, &fe) && !errors.As(err, &ce) {
				t.Errorf("error is %T; want a *FileError or *ClientConfigError inside", err)
			}
		})
	}
}

func TestServicesDuration(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || time.Duration(d) != 90*time.Second {
		t.Fatalf("UnmarshalText(1m30s) = %v, %v", d, err)
	}
	if err := d.UnmarshalText([]byte("90")); err == nil || !strings.Contains(err.Error(), `invalid duration "90"`) {
		t.Fatalf("UnmarshalText(90) = %v; want an error", err)
	}
	if time.Duration(d) != 90*time.Second {
		t.Fatalf("a failed UnmarshalText changed d to %v", d)
	}
	b, err := Duration(1500 * time.Millisecond).MarshalText()
	if err != nil || string(b) != "1.5s" {
		t.Fatalf("MarshalText = %s, %v", b, err)
	}
	if err := d.UnmarshalJSON([]byte("null")); err != nil || time.Duration(d) != 90*time.Second {
		t.Fatalf("UnmarshalJSON(null) = %v, %v; want no change", d, err)
	}
}

// TestServicesTags checks that every field of the file structs has the same
// json and yaml name, in snake_case, so that a YAML library decodes the same
// files as LoadServices.
func TestServicesTags(t *testing.T) {
	var check func(typ reflect.Type)
	seen := map[reflect.Type]bool{}
	check = func(typ reflect.Type) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		for f := range typ.Fields() {
			j, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			y, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if j == "" || j != y || j != snake(f.Name) {
				t.Errorf("%s.%s: json %q, yaml %q; want both %q", typ.Name(), f.Name, j, y, snake(f.Name))
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Map {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				check(ft)
			}
		}
	}
	check(reflect.TypeFor[Services]())
}

// snake turns a Go field name into snake_case ("BaseURL" → "base_url",
// "TLSHandshakeTimeout" → "tls_handshake_timeout").
func snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		upper := c >= 'A' && c <= 'Z'
		if upper && i > 0 {
			prevLower := r[i-1] >= 'a' && r[i-1] <= 'z'
			nextLower := i+1 < len(r) && r[i+1] >= 'a' && r[i+1] <= 'z'
			if prevLower || nextLower {
				b.WriteByte('_')
			}
		}
		b.WriteString(strings.ToLower(string(c)))
	}
	return b.String()
}

// decodeYAMLish decodes a document as a YAML library hands it over
// (map[string]any of strings, ints, floats and bools) into v the way
// YAML libraries do: by `yaml` tags, through encoding.TextUnmarshaler for
// scalars of types that implement it. It stands in for a YAML dependency
// the library must not have.
func decodeYAMLish(doc any, v reflect.Value, path string) error {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		s, ok := doc.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", path, doc)
		}
		if err := tu.UnmarshalText([]byte(s)); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		m, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want a mapping, got %T", path, doc)
		}
		known := map[string]bool{}
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			known[name] = true
			if sub, ok := m[name]; ok {
				if err := decodeYAMLish(sub, v.Field(i), path+"."+name); err != nil {
					return err
				}
			}
		}
		for k := range m {
			if !known[k] {
				return fmt.Errorf("%s: unknown field %q", path, k)
			}
		}
	case reflect.Map:
		m, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want a mapping, got %T", path, doc)
		}
		v.Set(reflect.MakeMap(v.Type()))
		for k, sub := range m {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := decodeYAMLish(sub, e, path+"."+k); err != nil {
				return err
			}
			v.SetMapIndex(reflect.ValueOf(k), e)
		}
	case reflect.String, reflect.Int, reflect.Int64, reflect.Float64, reflect.Bool:
		dv := reflect.ValueOf(doc)
		if v.Kind() == reflect.Float64 && dv.Kind() == reflect.Int {
			dv = reflect.ValueOf(float64(doc.(int)))
		}
		if !dv.Type().ConvertibleTo(v.Type()) || (dv.Kind() == reflect.String) != (v.Kind() == reflect.String) {
			return fmt.Errorf("%s: cannot use %T as %s", path, doc, v.Type())
		}
		v.Set(dv.Convert(v.Type()))
	default:
		return fmt.Errorf("%s: unexpected kind %s", path, v.Kind())
	}
	return nil
}

// TestServicesYAML decodes the YAML form of servicesJSON, as a YAML library
// would, and gets the same Configs as LoadServices.
//
//	defaults:
//	  timeout: 5s
//	  transport: {acquire_timeout: 750ms}
//	  retry: {max_attempts: 2, budget: {ratio: 0.05}}
//	services:
//	  payment: ...
func TestServicesYAML(t *testing.T) {
	doc := map[string]any{
		"defaults": map[string]any{
			"timeout":   "5s",
			"transport": map[string]any{"acquire_timeout": "750ms"},
			"retry":     map[string]any{"max_attempts": 2, "budget": map[string]any{"ratio": 0.05}},
		},
		"services": map[string]any{
			"payment": map[string]any{
				"base_url": "https://payment.internal/v1",
				"preset":   "steady",
				"breaker":  map[string]any{"open_timeout": "30s"},
				"retry":    map[string]any{"max_attempts": 4},
			},
			"inventory": map[string]any{
				"base_url":  "https://inventory.internal",
				"preset":    "bursty",
				"transport": map[string]any{"max_size": 64, "idle_timeout": "-1s"},
			},
			"notify": map[string]any{
				"base_url": "http://notify:8080",
				"breaker":  map[string]any{"disabled": true},
				"retry":    map[string]any{"disabled": true},
			},
		},
	}
	var s Services
	if err := decodeYAMLish(doc, reflect.ValueOf(&s).Elem(), "$"); err != nil {
		t.Fatal(err)
	}
	fromYAML, err := s.Configs()
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := LoadServices(strings.NewReader(servicesJSON))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Fatalf("YAML and JSON differ:\n%+v\n%+v", fromYAML, fromJSON)
	}

	// A bad duration is reported by the YAML library with its path.
	bad := map[string]any{"services": map[string]any{"a": map[string]any{"timeout": "2 seconds"}}}
	err = decodeYAMLish(bad, reflect.ValueOf(&Services{}).Elem(), "$")
	if err == nil || !strings.Contains(err.Error(), `$.services.a.timeout: invalid duration "2 seconds"`) {
		t.Fatalf("bad duration: err = %v", err)
	}
}

func TestServicesNewClients(t *testing.T) {
	cfgs, err := LoadServices(strings.NewReader(servicesJSON))
	if err != nil {
		t.Fatal(err)
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
	if c, err := Preset("").Config("s", ""); err != nil || !reflect.DeepEqual(c, Config{Name: "s"}) {
		t.Errorf(`Preset("").Config = %+v, %v; want the zero Config`, c, err)
	}
	if _, err := Preset("huge").Config("s", ""); err == nil {
		t.Error(`Preset("huge").Config succeeded`)
	}
}
