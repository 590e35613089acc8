package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name string
		file string // YAML
		env  []string
		want small
	}{
		{"sets a field the file has",
			"max_size: 3\n", []string{"T__MAX_SIZE=32"}, small{MaxSize: 32}},
		{"adds a field the file lacks",
			"max_size: 3\n", []string{"T__WAIT=2s"}, small{MaxSize: 3, Wait: 2 * time.Second}},
		{"nested, creating the mappings",
			"", []string{"T__INNER__EXTRA__WINDOW=1m", "T__INNER__DISABLED=true"},
			small{InnerExtra: smallExtra{Window: time.Minute}, DisableInner: true}},
		{"lower case segments",
			"inner: {level: 1}\n", []string{"T__inner__level=2"}, small{Inner: smallInner{Level: 2}}},
		{"each kind read from its string",
			"", []string{"T__RATIO=0.5", "T__ON=1", "T__COUNT=9", "T__BASE_URL=http://a:80", "T__INNER__TLS_HANDSHAKE_TIMEOUT=-1s"},
			small{Ratio: 0.5, On: true, Count: 9, BaseURL: "http://a:80", Inner: smallInner{TLSHandshakeTimeout: -time.Second}}},
		{"a string field may be emptied",
			"base_url: http://a\n", []string{"T__BASE_URL="}, small{}},
		{"replaces a null in the file",
			"inner:\nmax_size:\n", []string{"T__INNER__LEVEL=3", "T__MAX_SIZE=4"}, small{MaxSize: 4, Inner: smallInner{Level: 3}}},
		{"other variables ignored",
			"max_size: 3\n", []string{"T_MAX_SIZE=9", "TT__MAX_SIZE=9", "PATH=/bin", "t__max_size=9"}, small{MaxSize: 3}},
		{"through a merge, without changing the merged mapping",
			"x: &x {level: 1, tls_handshake_timeout: 1s}\ninner:\n  <<: *x\n", []string{"T__INNER__LEVEL=7"},
			small{Inner: smallInner{Level: 7, TLSHandshakeTimeout: time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeSmall("s.yaml", tt.file, tt.env...)
			if err != nil && !strings.HasPrefix(tt.name, "through a merge") {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestEnvAliasCopied checks that an override reaches only the path it
// names, not every place an anchor is used.
func TestEnvAliasCopied(t *testing.T) {
	d, root := decodeTree(t, "a: &a {level: 1}\nb: *a\n", "T__B__LEVEL=2")
	_ = d
	a := root.Content[1].Content[1].Value
	if a != "1" {
		t.Fatalf("the override changed the anchored mapping: a.level = %s", a)
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
		want []string
	}{
		{"unknown field names the variable", "", []string{"T__INNER__LEVL=1"},
			[]string{`env T__INNER__LEVL: inner.levl: unknown field (did you mean level?)`}},
		{"bad duration", "wait: 1s\n", []string{"T__WAIT=2x"},
			[]string{`env T__WAIT: wait: invalid duration "2x": write it with a unit, like "2s", "500ms" or "1m30s"`}},
		{"bad int", "", []string{"T__MAX_SIZE=lots"}, []string{`env T__MAX_SIZE: max_size: want an integer, got "lots"`}},
		{"empty int", "", []string{"T__MAX_SIZE="}, []string{`env T__MAX_SIZE: max_size: want an integer, got ""`}},
		{"bad bool", "", []string{"T__ON=yes"}, []string{`env T__ON: on: want true or false, got "yes"`}},
		{"bad float", "", []string{"T__RATIO=NaN"}, []string{`env T__RATIO: ratio: want a number, got "NaN"`}},
		{"value for a mapping", "", []string{"T__INNER=3"},
			[]string{`env T__INNER: inner: want a mapping (of keys such as tls_handshake_timeout, level, disabled), got string "3"`}},
		{"through a value of the file", "max_size: 3\n", []string{"T__MAX_SIZE__X=1"},
			[]string{`env T__MAX_SIZE__X: max_size: is integer 3 in the file (line 1), not a mapping, so it has no x`}},
		{"empty segment", "", []string{"T__INNER____LEVEL=1"},
			[]string{`env T__INNER____LEVEL: empty path segment; write T__SECTION__NAME__FIELD, segments separated by two underscores`}},
		{"two variables for one field", "", []string{"T__MAX_SIZE=1", "T__max_size=2"},
			[]string{`env T__max_size: max_size: also set by T__MAX_SIZE`}},
		{"file errors first, then variables in order", "wait: x\n", []string{"T__ON=2", "T__MAX_SIZE=q"}, []string{
			`s.yaml:1: wait: invalid duration "x": write it with a unit, like "2s", "500ms" or "1m30s"`,
			`env T__MAX_SIZE: max_size: want an integer, got "q"`,
			`env T__ON: on: want true or false, got "2"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeSmall("s.yaml", tt.file, tt.env...)
			checkErrors(t, err, tt.want)
		})
	}
}
