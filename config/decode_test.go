package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// The walker is tested on a small schema of its own, so that these tests
// say what the rules are whatever the products' configs hold.

type small struct {
	Name         string // skipped: the key a section is filed under
	MaxSize      int
	Wait         time.Duration
	Ratio        float64
	On           bool
	BaseURL      string
	Small8       int8
	Count        uint16
	Inner        smallInner
	DisableInner bool       // written inner.disabled
	InnerExtra   smallExtra // written inner.extra
	DisableOther bool       // no struct Other: stays disable_other
	Hook         func()     // code only
	Ptr          *int       // code only
}

type smallInner struct {
	TLSHandshakeTimeout time.Duration
	Level               int
}

type smallExtra struct{ Window time.Duration }

var smallSchema = newSchema(reflect.TypeFor[small](), "Name")

// decodeSmall reads data (YAML or JSON, by name) into a small, with env
// overrides under prefix T.
func decodeSmall(name, data string, env ...string) (small, error) {
	d := &decoder{file: name, env: map[*yaml.Node]string{}}
	root, perr := parse(name, []byte(data), FormatAuto)
	if perr != nil {
		return small{}, joinErrors([]*Error{perr})
	}
	root = applyEnv(root, env, "T", d)
	var s small
	apply(reflect.ValueOf(&s).Elem(), d.group(smallSchema, root, "", nil), nil)
	return s, joinErrors(d.errs)
}

func TestSchemaKeys(t *testing.T) {
	got := smallSchema.paths("", nil)
	want := []string{"max_size", "wait", "ratio", "on", "base_url", "small8", "count",
		"inner.tls_handshake_timeout", "inner.level", "inner.disabled", "inner.extra.window", "disable_other"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("keys:\n got %q\nwant %q", got, want)
	}
}

func TestSnake(t *testing.T) {
	for give, want := range map[string]string{
		"MaxSize": "max_size", "BaseURL": "base_url", "TLSHandshakeTimeout": "tls_handshake_timeout",
		"DSN": "dsn", "HTTP2": "http2", "MinRetriesPerSecond": "min_retries_per_second",
		"KeepAlive": "keep_alive", "MaxResponseHeaderBytes": "max_response_header_bytes", "A": "a",
	} {
		if got := snake(give); got != want {
			t.Errorf("snake(%q) = %q; want %q", give, got, want)
		}
	}
}

func TestDecodeValues(t *testing.T) {
	tests := []struct {
		name string
		give string // file name, newline, contents
		want small
	}{
		{"yaml", "c.yaml\n" + `
max_size: 12
wait: 1m30s
ratio: 0.25
on: true
base_url: https://x.internal/v1
count: 7
inner:
  tls_handshake_timeout: 500ms
  level: -3
  disabled: true
  extra: {window: 10s}
disable_other: true
`, small{MaxSize: 12, Wait: 90 * time.Second, Ratio: 0.25, On: true, BaseURL: "https://x.internal/v1", Count: 7,
			Inner: smallInner{TLSHandshakeTimeout: 500 * time.Millisecond, Level: -3}, DisableInner: true,
			InnerExtra: smallExtra{Window: 10 * time.Second}, DisableOther: true}},
		{"json", "c.json\n" + `{"max_size": 12, "wait": "-1s", "ratio": 1, "inner": {"extra": {"window": "2h"}}}`,
			small{MaxSize: 12, Wait: -time.Second, Ratio: 1, InnerExtra: smallExtra{Window: 2 * time.Hour}}},
		{"null means not written", "c.yaml\nmax_size: ~\nwait:\ninner: null\n", small{}},
		{"empty yaml", "c.yaml\n", small{}},
		{"empty json", "c.json\n  \n", small{}},
		{"comments only", "c.yaml\n# nothing yet\n", small{}},
		{"yaml integer forms", "c.yaml\nmax_size: 0x10\ncount: 1_000\n", small{MaxSize: 16, Count: 1000}},
		{"integer as a float field", "c.yaml\nratio: 2\n", small{Ratio: 2}},
		{"anchors and merge keys", "c.yaml\n" + `
common: &common
  level: 4
  tls_handshake_timeout: 1s
inner:
  <<: *common
  level: 5
`, small{Inner: smallInner{Level: 5, TLSHandshakeTimeout: time.Second}}},
		{"sniffed json", "c\n" + `  {"max_size": 3}`, small{MaxSize: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, data, _ := strings.Cut(tt.give, "\n")
			got, err := decodeSmall(name, data)
			if tt.name == "anchors and merge keys" {
				// "common" is not a field: the anchor lives under an
				// unknown key, reported; the merge still works.
				if err == nil || !strings.Contains(err.Error(), "c.yaml:2: common: unknown field") {
					t.Fatalf("err = %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		give string   // file name, newline, contents
		want []string // the errors, in order, exactly
	}{
		{"unknown field at its nesting level", "s.yaml\n" + `
max_size: 3
inner:
  levl: 2
`, []string{`s.yaml:4: inner.levl: unknown field (did you mean level?)`}},
		{"unknown field, nothing close", "s.yaml\nzzzzzzzz: 1\n",
			[]string{`s.yaml:1: zzzzzzzz: unknown field`}},
		{"a code-only setting says where it goes", "s.yaml\nmetrics: default\n",
			[]string{`s.yaml:1: metrics: unknown field (metrics and observers are set in code, not in a file: config.Loader{Telemetry: metrics.For(reg)})`}},
		{"unknown nested field in json", "s.json\n" + `{
  "inner": {
    "extra": {"windw": "1s"}
  }
}`, []string{`s.json:3: inner.extra.windw: unknown field (did you mean window?)`}},
		{"bad duration with its line", "s.yaml\n\n\n\nwait: 2x\n",
			[]string{`s.yaml:4: wait: invalid duration "2x": write it with a unit, like "2s", "500ms" or "1m30s"`}},
		{"duration without unit", "s.yaml\n\ninner:\n  tls_handshake_timeout: \"10\"\n",
			[]string{`s.yaml:3: inner.tls_handshake_timeout: invalid duration "10": write it with a unit, like "2s", "500ms" or "1m30s"`}},
		{"duration as a number", "s.json\n\n{\n \"wait\": 5\n}",
			[]string{`s.json:3: wait: invalid duration 5: write it as a string with a unit, like "2s", "500ms" or "1m30s"`}},
		{"string for int", "s.yaml\nmax_size: ten\n", []string{`s.yaml:1: max_size: want an integer, got string "ten"`}},
		{"quoted int", "s.yaml\nmax_size: \"10\"\n", []string{`s.yaml:1: max_size: want an integer, got string "10"`}},
		{"float for int", "s.json\n{\"max_size\": 1.5}", []string{`s.json:1: max_size: want an integer, got number 1.5`}},
		{"int out of range", "s.yaml\nsmall8: 300\n", []string{`s.yaml:1: small8: 300 is out of range`}},
		{"negative uint", "s.yaml\ncount: -1\n", []string{`s.yaml:1: count: want a non-negative integer, got "-1"`}},
		{"yes is not a bool", "s.yaml\non: yes\n", []string{`s.yaml:1: on: want true or false, got string "yes"`}},
		{"number for string", "s.yaml\nbase_url: 12\n", []string{`s.yaml:1: base_url: want a string, got integer 12 (quote it)`}},
		{"list for a value", "s.yaml\nmax_size: [1, 2]\n", []string{`s.yaml:1: max_size: want a single value, got a list`}},
		{"value for a mapping", "s.yaml\ninner: 3\n",
			[]string{`s.yaml:1: inner: want a mapping (of keys such as tls_handshake_timeout, level, disabled), got integer 3`}},
		{"top level not a mapping", "s.yaml\n- a\n- b\n",
			[]string{`s.yaml:1: want a mapping (of keys such as max_size, wait, ratio), got a list`}},
		{"key written twice", "s.yaml\nmax_size: 1\ninner: {}\nmax_size: 2\n",
			[]string{`s.yaml:3: max_size: written twice (first at line 1)`}},
		{"json key written twice", "s.json\n{\"wait\": \"1s\",\n \"wait\": \"2s\"}",
			[]string{`s.json:2: wait: written twice (first at line 1)`}},
		// The YAML library gives the line where the mapping it failed to read
		// began.
		{"yaml syntax", "s.yaml\nmax_size: 1\ninner:\n  level: 1\n bad: 2\n",
			[]string{`s.yaml:3: YAML syntax: did not find expected key`}},
		{"json syntax", "s.json\n{\n  \"max_size\": 1,\n}", []string{`s.json:3: JSON syntax: invalid character '}' looking for beginning of object key string`}},
		{"json cut short", "s.json\n{\"inner\": {\n", []string{`s.json:1: JSON syntax: unexpected end of JSON input`}},
		{"json trailing data", "s.json\n{}\n{}", []string{`s.json:2: JSON syntax: unexpected data after the top-level value`}},
		{"every error, sorted by line", "s.yaml\n" + `
wait: soon
inner:
  level: x
  nope: 1
max_size: 1.5
`, []string{
			`s.yaml:2: wait: invalid duration "soon": write it with a unit, like "2s", "500ms" or "1m30s"`,
			`s.yaml:4: inner.level: want an integer, got string "x"`,
			`s.yaml:5: inner.nope: unknown field`,
			`s.yaml:6: max_size: want an integer, got number 1.5`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, data, _ := strings.Cut(tt.give, "\n")
			_, err := decodeSmall(name, data)
			checkErrors(t, err, tt.want)
		})
	}
}

// checkErrors checks that err joins exactly the *Errors want, in order.
func checkErrors(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %q", want)
	}
	got := strings.Split(err.Error(), "\n")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("errors:\n got %q\nwant %q", got, want)
	}
	for _, e := range flatten(err) {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Errorf("%v is a %T; want a *config.Error", e, e)
		}
	}
}

func TestUnknownFieldIsErrUnknownField(t *testing.T) {
	_, err := decodeSmall("s.yaml", "inner: {levl: 1}\n")
	var ce *Error
	if !errors.Is(err, ErrUnknownField) || !errors.As(err, &ce) || ce.Line != 1 || ce.Path != "inner.levl" {
		t.Fatalf("err = %#v", err)
	}
}

// decodeTree parses YAML data and applies env under prefix T, returning
// the tree.
func decodeTree(t *testing.T, data string, env ...string) (*decoder, *yaml.Node) {
	t.Helper()
	d := &decoder{file: "s.yaml", env: map[*yaml.Node]string{}}
	root, perr := parse("s.yaml", []byte(data), FormatYAML)
	if perr != nil {
		t.Fatal(perr)
	}
	return d, applyEnv(root, env, "T", d)
}

// TestMergeCycle: a mapping that merges itself is an error, not a stack
// overflow, in the file and through an override.
func TestMergeCycle(t *testing.T) {
	_, err := decodeSmall("s.yaml", "inner: &a\n  level: 1\n  <<: *a\n", "T__INNER__TLS_HANDSHAKE_TIMEOUT=1s")
	checkErrors(t, err, []string{`s.yaml:3: inner: << merges a mapping into itself`})
	_, err = decodeSmall("s.yaml", "inner: &a\n  <<: [{level: 1}, *a]\n", "T__INNER__X=1")
	if err == nil || !strings.Contains(err.Error(), "<< merges a mapping into itself") {
		t.Fatalf("err = %v", err)
	}
}
