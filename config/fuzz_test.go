package config

import (
	"errors"
	"testing"
)

// FuzzParse checks that any input, YAML or JSON, gives a File or errors
// that are all *Error, and never a panic.
func FuzzParse(f *testing.F) {
	f.Add(servicesYAML, false)
	f.Add(servicesJSON, true)
	f.Add("a: &a {b: *a}\nservices: {x: *a}\n", false)
	f.Add("services: {a: {<<: [{timeout: 1s}, {preset: low}]}}\n", false)
	f.Add(`{"services": {"a": {"transport": {"max_size": 1e3}}}}`, true)
	f.Fuzz(func(t *testing.T, data string, isJSON bool) {
		name := "f.yaml"
		if isJSON {
			name = "f.json"
		}
		file, err := Loader{Environ: []string{"POOLKIT__SERVICES__A__TIMEOUT=1s"}}.Parse(name, []byte(data))
		if (file == nil) == (err == nil) {
			t.Fatalf("file %v, err %v: want exactly one", file, err)
		}
		for _, e := range flatten(err) {
			if e == nil {
				continue
			}
			var ce *Error
			if !errors.As(e, &ce) {
				t.Fatalf("error %v is a %T", e, e)
			}
		}
	})
}
