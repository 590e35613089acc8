package config

import (
	"errors"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/poolkit/poolkit/httpclient"
	"github.com/poolkit/poolkit/sqlpool"
)

const servicesYAML = `# shared by every service
defaults:
  timeout: 5s
  transport:
    acquire_timeout: 750ms
  retry:
    max_attempts: 2
    budget: {ratio: 0.05}

services:
  payment:
    base_url: https://payment.internal/v1
    preset: steady
    breaker:
      open_timeout: 30s
    retry:
      max_attempts: 4
  inventory:
    base_url: https://inventory.internal
    preset: bursty
    transport:
      max_size: 64
      idle_timeout: 2m
  notify:
    base_url: http://notify:8080
    breaker: {disabled: true}
    retry: {disabled: true}

database_defaults:
  driver: pgx
  connect_timeout: 5s

databases:
  main:
    dsn: postgres://app@db.internal/app
    min_size: 2
    max_size: 16
    idle_timeout: 5m
    check_query: SELECT 1
  cache:
    driver: sqlite
    dsn: file:cache.db
    max_lifetime: 30m
`

// The same file in JSON.
const servicesJSON = `{
  "defaults": {
    "timeout": "5s",
    "transport": {"acquire_timeout": "750ms"},
    "retry": {"max_attempts": 2, "budget": {"ratio": 0.05}}
  },
  "services": {
    "payment": {"base_url": "https://payment.internal/v1", "preset": "steady",
                "breaker": {"open_timeout": "30s"}, "retry": {"max_attempts": 4}},
    "inventory": {"base_url": "https://inventory.internal", "preset": "bursty",
                  "transport": {"max_size": 64, "idle_timeout": "2m"}},
    "notify": {"base_url": "http://notify:8080", "breaker": {"disabled": true}, "retry": {"disabled": true}}
  },
  "database_defaults": {"driver": "pgx", "connect_timeout": "5s"},
  "databases": {
    "main": {"dsn": "postgres://app@db.internal/app", "min_size": 2, "max_size": 16,
             "idle_timeout": "5m", "check_query": "SELECT 1"},
    "cache": {"driver": "sqlite", "dsn": "file:cache.db", "max_lifetime": "30m"}
  }
}`

// wantServices is what servicesYAML says, built by hand from the presets.
func wantFile(t *testing.T) *File {
	t.Helper()
	preset := func(p httpclient.Preset, name, url string) httpclient.Config {
		c, err := p.Config(name, url)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// payment: steady preset; defaults override it; the service overrides both.
	p := preset(httpclient.PresetSteady, "payment", "https://payment.internal/v1")
	p.Timeout = 5 * time.Second
	p.Transport.AcquireTimeout = 750 * time.Millisecond
	p.Retry.MaxAttempts = 4 // the service's, over the defaults' 2
	p.RetryBudget.Ratio = 0.05
	p.Breaker.OpenTimeout = 30 * time.Second

	i := preset(httpclient.PresetBursty, "inventory", "https://inventory.internal")
	i.Timeout = 5 * time.Second
	i.Transport.AcquireTimeout = 750 * time.Millisecond
	i.Transport.MaxSize = 64
	i.Transport.IdleTimeout = 2 * time.Minute
	i.Retry.MaxAttempts = 2
	i.RetryBudget.Ratio = 0.05

	// notify: no preset, so the plain defaults under the file's.
	n := preset("", "notify", "http://notify:8080")
	n.Timeout = 5 * time.Second
	n.Transport.AcquireTimeout = 750 * time.Millisecond
	n.DisableBreaker = true
	n.DisableRetry = true
	n.Retry.MaxAttempts = 2
	n.RetryBudget.Ratio = 0.05

	main := Database{Driver: "pgx", DSN: "postgres://app@db.internal/app", Config: sqlpool.Config{
		Name: "main", MinSize: 2, MaxSize: 16, IdleTimeout: 5 * time.Minute, CheckQuery: "SELECT 1"}}
	main.Config.ConnectTimeout = 5 * time.Second
	cache := Database{Driver: "sqlite", DSN: "file:cache.db", Config: sqlpool.Config{Name: "cache", MaxLifetime: 30 * time.Minute}}
	cache.Config.ConnectTimeout = 5 * time.Second

	return &File{
		Services:  map[string]httpclient.Config{"payment": p, "inventory": i, "notify": n},
		Databases: map[string]Database{"main": main, "cache": cache},
	}
}

func TestParseFile(t *testing.T) {
	for _, tt := range []struct{ name, data string }{
		{"services.yaml", servicesYAML},
		{"services.json", servicesJSON},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Loader{NoEnv: true}.Parse(tt.name, []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			want := wantFile(t)
			for name, w := range want.Services {
				if g := got.Services[name]; !reflect.DeepEqual(g, w) {
					t.Errorf("service %s:\n got %+v\nwant %+v", name, g, w)
				}
			}
			for name, w := range want.Databases {
				if g := got.Databases[name]; !reflect.DeepEqual(g, w) {
					t.Errorf("database %s:\n got %+v\nwant %+v", name, g, w)
				}
			}
			if len(got.Services) != len(want.Services) || len(got.Databases) != len(want.Databases) {
				t.Errorf("got %d services, %d databases; want %d, %d",
					len(got.Services), len(got.Databases), len(want.Services), len(want.Databases))
			}
		})
	}
}

func TestPresetLayers(t *testing.T) {
	steady, _ := httpclient.PresetSteady.Config("a", "")
	bursty, _ := httpclient.PresetBursty.Config("a", "")
	low, _ := httpclient.PresetLow.Config("a", "")
	plain, _ := httpclient.Preset("").Config("a", "")
	tests := []struct {
		name string
		give string
		want func(c httpclient.Config) bool
	}{
		{"defaults preset applies", "defaults: {preset: low}\nservices: {a: }\n",
			func(c httpclient.Config) bool { return reflect.DeepEqual(c, low) }},
		{"service preset beats defaults preset", "defaults: {preset: low}\nservices: {a: {preset: bursty}}\n",
			func(c httpclient.Config) bool { return reflect.DeepEqual(c, bursty) }},
		{"defaults field beats service preset", "defaults: {transport: {max_size: 7}}\nservices: {a: {preset: bursty}}\n",
			func(c httpclient.Config) bool {
				return c.Transport.MaxSize == 7 && c.Transport.MinSize == bursty.Transport.MinSize
			}},
		{"explicit zero beats preset", "services: {a: {preset: steady, transport: {min_size: 0}}}\n",
			func(c httpclient.Config) bool {
				return c.Transport.MinSize == 0 && c.Transport.MaxSize == steady.Transport.MaxSize
			}},
		{"empty preset is the plain defaults", "defaults: {preset: bursty}\nservices: {a: {preset: \"\"}}\n",
			func(c httpclient.Config) bool { return reflect.DeepEqual(c, plain) }},
		{"service with nothing written", "services:\n  a:\n",
			func(c httpclient.Config) bool { return reflect.DeepEqual(c, plain) }},
		{"zero limit means what it means in pool", "services: {a: {transport: {idle_timeout: 0s, acquire_timeout: 0s}}}\n",
			func(c httpclient.Config) bool {
				return c.Transport.IdleTimeout == 0 && c.Transport.AcquireTimeout == 0 &&
					c.Transport.MaxLifetime == plain.Transport.MaxLifetime
			}},
		{"env preset beats the file's", "services: {a: {preset: low}}\n",
			func(c httpclient.Config) bool { return reflect.DeepEqual(c, steady) }},
		{"env in defaults reaches every service", "defaults: {timeout: 1s}\nservices: {a: {preset: steady}}\n",
			func(c httpclient.Config) bool { return c.Timeout == 42*time.Second }},
	}
	envs := map[string][]string{
		"env preset beats the file's":           {"POOLKIT__SERVICES__A__PRESET=steady"},
		"env in defaults reaches every service": {"POOLKIT__DEFAULTS__TIMEOUT=42s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Loader{Environ: envs[tt.name]}.Parse("s.yaml", []byte(tt.give))
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := f.Services["a"]; !ok || !tt.want(c) {
				t.Fatalf("config = %+v", c)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name string
		give string // YAML unless it starts with '{'
		env  []string
		want []string
	}{
		{"nested unknown field at its level", `
services:
  pay:
    transport:
      max_sise: 3
`, nil, []string{`s.yaml:5: services.pay.transport.max_sise: unknown field (did you mean max_size?)`}},
		{"unknown field in json", `{"services": {"pay": {
  "transport": {"max_sise": 3}}}}`, nil,
			[]string{`s.json:2: services.pay.transport.max_sise: unknown field (did you mean max_size?)`}},
		{"unknown top-level field", "service: {}\n", nil,
			[]string{`s.yaml:1: service: unknown field (the top level has defaults, services, database_defaults, databases)`}},
		{"bad duration", "services:\n  pay:\n    retry:\n      initial_backoff: 2x\n", nil,
			[]string{`s.yaml:4: services.pay.retry.initial_backoff: invalid duration "2x": write it with a unit, like "2s", "500ms" or "1m30s"`}},
		{"bad duration in defaults", "defaults:\n  breaker: {open_timeout: 10}\nservices: {a: , b: }\n", nil,
			[]string{`s.yaml:2: defaults.breaker.open_timeout: invalid duration 10: write it as a string with a unit, like "2s", "500ms" or "1m30s"`}},
		{"type error", "services: {a: {transport: {max_size: ten}}}\n", nil,
			[]string{`s.yaml:1: services.a.transport.max_size: want an integer, got string "ten"`}},
		{"services not a mapping", "services: [a, b]\n", nil,
			[]string{`s.yaml:1: services: want a mapping (of service names), got a list`}},
		{"unknown preset", "services:\n  a:\n    preset: huge\n", nil,
			[]string{`s.yaml:3: services.a.preset: httpclient: unknown preset "huge" (have "low", "steady", "bursty")`}},
		{"unknown preset from env", "services: {a: }\n", []string{"POOLKIT__DEFAULTS__PRESET=huge"},
			[]string{`env POOLKIT__DEFAULTS__PRESET: defaults.preset: httpclient: unknown preset "huge" (have "low", "steady", "bursty")`}},
		{"invalid value, at its line, in file names", "services:\n  pay:\n    retry:\n      max_attempts: -1\n", nil,
			[]string{`s.yaml:4: services.pay.retry.max_attempts: -1: must be >= 0`}},
		{"invalid value from defaults, once per service", "defaults:\n  transport: {max_size: -2}\nservices: {a: , b: }\n", nil, []string{
			`s.yaml:2: defaults.transport.max_size: -2: must be >= 0 (0 means DefaultMaxSize) (in services.a)`,
			`s.yaml:2: defaults.transport.max_size: -2: must be >= 0 (0 means DefaultMaxSize) (in services.b)`,
		}},
		{"invalid against a preset's value", "services:\n  a:\n    preset: bursty\n    transport: {max_size: 2}\n", nil,
			[]string{`s.yaml:3: services.a.transport.min_size: 4, set by preset "bursty": must be <= max_size (2)`}},
		{"invalid value from env", "services: {pay: }\n", []string{"POOLKIT__SERVICES__PAY__BASE_URL=ftp://x"},
			[]string{`env POOLKIT__SERVICES__PAY__BASE_URL: services.pay.base_url: ftp://x: must be an absolute "http" or "https" URL`}},
		{"bad env override", "services: {pay: }\n", []string{"POOLKIT__SERVICES__PAY__TRANSPORT__MAX_SIZE=32x"},
			[]string{`env POOLKIT__SERVICES__PAY__TRANSPORT__MAX_SIZE: services.pay.transport.max_size: want an integer, got "32x"`}},
		{"unknown env field", "", []string{"POOLKIT__SERVICES__PAY__TRANSPORT__MAX_SISE=1"},
			[]string{`env POOLKIT__SERVICES__PAY__TRANSPORT__MAX_SISE: services.pay.transport.max_sise: unknown field (did you mean max_size?)`}},
		{"database without driver", "databases:\n  main:\n    dsn: x\n", nil,
			[]string{`s.yaml:2: databases.main.driver: required: the database/sql driver name, such as pgx, mysql or sqlite`}},
		{"database limits", "databases:\n  main:\n    driver: pgx\n    max_size: 2\n    min_size: 5\n", nil,
			[]string{`s.yaml:5: databases.main.min_size: 5: must be <= max_size (2)`}},
		{"database breaker", "database_defaults:\n  breaker:\n    failure_ratio: 2\ndatabases: {main: {driver: pgx}}\n", nil,
			[]string{`s.yaml:2: database_defaults.breaker: unknown field`}},
		{"the transport's name is the service's", "services: {a: {transport: {name: x}}}\n", nil,
			[]string{`s.yaml:1: services.a.transport.name: unknown field`}},
		{"database unknown field", "databases:\n  main:\n    driver: pgx\n    max_conns: 3\n", nil,
			[]string{`s.yaml:4: databases.main.max_conns: unknown field`}},
		{"every error, in file order", `
defaults:
  timeout: soon
services:
  a:
    transport: {nope: 1}
    retry: {max_attempts: -1}
databases:
  db: {driver: pgx, max_size: -1}
`, nil, []string{
			`s.yaml:3: defaults.timeout: invalid duration "soon": write it with a unit, like "2s", "500ms" or "1m30s"`,
			`s.yaml:6: services.a.transport.nope: unknown field`,
			`s.yaml:7: services.a.retry.max_attempts: -1: must be >= 0`,
			`s.yaml:9: databases.db.max_size: -1: must be >= 0 (0 means DefaultMaxSize)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "s.yaml"
			if strings.HasPrefix(tt.give, "{") {
				name = "s.json"
			}
			f, err := Loader{Environ: tt.env}.Parse(name, []byte(tt.give))
			if f != nil {
				t.Errorf("Parse returned a File with its error")
			}
			checkErrorsPrefix(t, err, tt.want)
		})
	}
}

// checkErrorsPrefix checks that err joins one *Error per want, in order,
// each starting with its want, and that none names a Go field.
func checkErrorsPrefix(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %q", want)
	}
	got := strings.Split(err.Error(), "\n")
	if len(got) != len(want) {
		t.Fatalf("errors:\n got %q\nwant %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d:\n got %q\nwant %q...", i, got[i], want[i])
		}
		if m := goField.FindString(got[i]); m != "" {
			t.Errorf("error %d names a Go field (%s): %q", i, m, got[i])
		}
	}
	for _, e := range flatten(err) {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Errorf("%v is a %T; want a *config.Error", e, e)
		}
	}
}

var goField = regexp.MustCompile(`\b(Config|Transport|Retry|RetryBudget|Breaker)\.[A-Z]|\b(MaxSize|MinSize|BaseURL|MaxAttempts)\b`)

// TestValidationErrorUnwraps checks that the product's own error stays
// reachable.
func TestValidationErrorUnwraps(t *testing.T) {
	_, err := Loader{NoEnv: true}.Parse("s.yaml", []byte("services: {a: {retry: {max_attempts: -1}}}\n"))
	var ce *httpclient.ClientConfigError
	if !errors.As(err, &ce) || ce.Field != "Retry.MaxAttempts" {
		t.Fatalf("err = %v; want a *httpclient.ClientConfigError inside", err)
	}
}

func TestEnvServiceNames(t *testing.T) {
	file := "services:\n  pay-v2: {timeout: 1s}\n  Inventory: {timeout: 1s}\n"
	f, err := Loader{Environ: []string{
		"POOLKIT__SERVICES__PAY_V2__TIMEOUT=2s",                 // '-' written as '_'
		"POOLKIT__SERVICES__INVENTORY__TIMEOUT=3s",              // any case
		"POOLKIT__SERVICES__SEARCH__BASE_URL=http://search:80/", // a new service, named in lower case
		"POOLKIT__DATABASES__MAIN__DRIVER=sqlite",               // a new database
	}}.Parse("s.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Services["pay-v2"].Timeout; got != 2*time.Second {
		t.Errorf("pay-v2 timeout = %v", got)
	}
	if got := f.Services["Inventory"].Timeout; got != 3*time.Second {
		t.Errorf("Inventory timeout = %v", got)
	}
	if got := f.Services["search"]; got.BaseURL != "http://search:80/" || got.Name != "search" {
		t.Errorf("search = %+v", got)
	}
	if got := f.Databases["main"]; got.Driver != "sqlite" || got.Config.Name != "main" {
		t.Errorf("main = %+v", got)
	}

	_, err = Loader{Environ: []string{"POOLKIT__SERVICES__A_B__TIMEOUT=2s"}}.Parse("s.yaml",
		[]byte("services:\n  a-b: {}\n  a_b: {}\n"))
	checkErrorsPrefix(t, err, []string{`env POOLKIT__SERVICES__A_B__TIMEOUT: services.a_b: matches more than one key of the file`})
}

// TestEnvPrefix checks Loader.EnvPrefix and Loader.NoEnv.
func TestEnvPrefix(t *testing.T) {
	env := []string{"POOLKIT__SERVICES__A__TIMEOUT=2s", "APP__SERVICES__A__TIMEOUT=3s"}
	for _, tt := range []struct {
		l    Loader
		want time.Duration
	}{
		{Loader{Environ: env}, 2 * time.Second},
		{Loader{Environ: env, EnvPrefix: "APP"}, 3 * time.Second},
		{Loader{Environ: env, NoEnv: true}, time.Second},
	} {
		f, err := tt.l.Parse("s.yaml", []byte("services: {a: {timeout: 1s}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Services["a"].Timeout; got != tt.want {
			t.Errorf("%+v: timeout = %v; want %v", tt.l, got, tt.want)
		}
	}
}

// TestProductsDoNotImportYAML keeps the YAML library out of the products:
// only this package reads files.
func TestProductsDoNotImportYAML(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test=false",
		"github.com/poolkit/poolkit/httpclient", "github.com/poolkit/poolkit/sqlpool").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "yaml") {
			t.Errorf("httpclient or sqlpool depends on %s", p)
		}
	}
}

// TestServiceKeysKept checks that every key of the services file as
// httpclient.LoadServices read it is still read, so files written for it
// keep working.
func TestServiceKeysKept(t *testing.T) {
	have := map[string]bool{}
	for _, p := range serviceSchema.paths("", nil) {
		have[p] = true
	}
	for _, k := range []string{
		"preset", "base_url", "timeout",
		"transport.min_size", "transport.max_size", "transport.idle_timeout", "transport.max_lifetime",
		"transport.max_lifetime_jitter", "transport.acquire_timeout", "transport.dial_timeout",
		"transport.keep_alive", "transport.tls_handshake_timeout", "transport.response_header_timeout",
		"transport.max_response_header_bytes", "transport.send_ping_timeout", "transport.ping_timeout",
		"transport.disable_compression",
		"breaker.disabled", "breaker.failure_ratio", "breaker.min_requests", "breaker.consecutive_failures",
		"breaker.interval", "breaker.bucket_period", "breaker.open_timeout", "breaker.half_open_probes",
		"retry.disabled", "retry.max_attempts", "retry.initial_backoff", "retry.max_backoff", "retry.multiplier",
		"retry.attempt_timeout", "retry.retry_after_cap",
		"retry.budget.disabled", "retry.budget.ratio", "retry.budget.min_retries_per_second", "retry.budget.window",
	} {
		if !have[k] {
			t.Errorf("services file key %s is no longer read", k)
		}
	}
}
