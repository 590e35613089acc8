package config

import (
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
)

// A schema is what a section of the file may contain: the keys of a
// mapping, each either a leaf (a value stored in one field of the Go
// struct the section decodes into) or a nested group.
//
// Schemas are derived from the products' config structs by reflection, so
// a field added to httpclient.Config or sqlpool.Config is in the file
// format at once, under one rule:
//
//   - a key is the Go field name in snake_case (MaxSize: max_size,
//     BaseURL: base_url, TLSHandshakeTimeout: tls_handshake_timeout);
//   - a struct field is a nested mapping (Transport: transport);
//   - only data fields are read: bool, integers, floats, strings and
//     time.Duration (written "2s"); funcs, interfaces, pointers, slices
//     and maps (Telemetry, Observer, Budget, Logger, TLSClientConfig) can
//     be set only in code, and Name is the key the section is filed under;
//   - a bool DisableX beside a struct X is written inside it as
//     x.disabled (DisableBreaker: breaker.disabled);
//   - a struct XY beside a struct X is written inside it as x.y
//     (RetryBudget: retry.budget).
//
// A struct tag `config:"key"` renames a field of this package's own types,
// `config:",inline"` lifts a struct's fields into its parent, and
// `config:"-"` leaves a field out.
type schema struct {
	keys  map[string]*entry
	order []string // keys in the order of the struct's fields
}

// entry is one key of a schema.
type entry struct {
	key    string
	goName string // path of the Go field from the section's root, e.g. "Transport.MaxSize"
	index  []int  // reflect index path from the section's root; nil for a pseudo-field
	typ    reflect.Type
	group  *schema // for a nested mapping; nil for a leaf
}

var durationType = reflect.TypeFor[time.Duration]()

// newSchema returns the schema of struct type t, leaving out the fields
// whose Go paths are in skip ("Name", "Transport.Name").
func newSchema(t reflect.Type, skip ...string) *schema {
	s := buildSchema(t, nil, "")
	s.skip(skip)
	return s
}

func (s *schema) skip(goNames []string) {
	for _, k := range slices.Clone(s.order) {
		e := s.keys[k]
		if slices.Contains(goNames, e.goName) {
			s.remove(k)
		} else if e.group != nil {
			e.group.skip(goNames)
		}
	}
}

func (s *schema) add(e *entry) {
	if s.keys == nil {
		s.keys = map[string]*entry{}
	}
	if _, dup := s.keys[e.key]; dup {
		panic("config: two fields written as " + e.key) // a schema bug, found by the tests
	}
	s.keys[e.key] = e
	s.order = append(s.order, e.key)
}

func (s *schema) remove(key string) {
	delete(s.keys, key)
	s.order = slices.DeleteFunc(s.order, func(k string) bool { return k == key })
}

func buildSchema(t reflect.Type, index []int, goPrefix string) *schema {
	s := &schema{}
	var structs []*entry // nested groups, for the Disable and prefix rules
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, opt, _ := strings.Cut(f.Tag.Get("config"), ",")
		if key == "-" {
			continue
		}
		if key == "" {
			key = snake(f.Name)
		}
		idx := append(slices.Clip(index), i)
		goName := goPrefix + f.Name
		switch {
		case opt == "inline" && f.Type.Kind() == reflect.Struct:
			inner := buildSchema(f.Type, idx, goPrefix)
			for _, k := range inner.order {
				s.add(inner.keys[k])
			}
		case isLeaf(f.Type):
			s.add(&entry{key: key, goName: goName, index: idx, typ: f.Type})
		case f.Type.Kind() == reflect.Struct:
			e := &entry{key: key, goName: goName, index: idx, typ: f.Type, group: buildSchema(f.Type, idx, goName+".")}
			s.add(e)
			structs = append(structs, e)
		}
	}
	// DisableX beside X: x.disabled.
	for _, e := range structs {
		name := e.goName[len(goPrefix):]
		if d, ok := s.keys[snake("Disable"+name)]; ok && d.typ.Kind() == reflect.Bool && d.group == nil {
			s.remove(d.key)
			d.key = "disabled"
			e.group.add(d)
		}
	}
	// XY beside X: x.y (the longest X).
	for _, e := range structs {
		name := e.goName[len(goPrefix):]
		var parent *entry
		for _, p := range structs {
			pn := p.goName[len(goPrefix):]
			if p != e && strings.HasPrefix(name, pn) && len(name) > len(pn) && unicode.IsUpper(rune(name[len(pn)])) &&
				(parent == nil || len(pn) > len(parent.goName)-len(goPrefix)) {
				parent = p
			}
		}
		if parent != nil {
			s.remove(e.key)
			e.key = snake(name[len(parent.goName)-len(goPrefix):])
			parent.group.add(e)
		}
	}
	return s
}

// isLeaf reports whether a field of type t is one value in the file.
func isLeaf(t reflect.Type) bool {
	if t == durationType {
		return true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// snake turns a Go field name into its key: MaxSize: max_size, BaseURL:
// base_url, TLSHandshakeTimeout: tls_handshake_timeout, DSN: dsn.
func snake(name string) string {
	r := []rune(name)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// paths appends the path of every leaf of s, under prefix, to out.
func (s *schema) paths(prefix string, out []string) []string {
	for _, k := range s.order {
		e := s.keys[k]
		if e.group != nil {
			out = e.group.paths(prefix+k+".", out)
		} else {
			out = append(out, prefix+k)
		}
	}
	return out
}

// byGoName returns the leaf whose Go field path is goName, and its path
// within s.
func (s *schema) byGoName(goName string) (*entry, string) {
	for _, k := range s.order {
		e := s.keys[k]
		if e.group == nil {
			if e.goName == goName {
				return e, k
			}
			continue
		}
		if le, p := e.group.byGoName(goName); le != nil {
			return le, k + "." + p
		}
	}
	return nil, ""
}

// suggest returns the key of s closest to key, or "" when none is close.
func (s *schema) suggest(key string) string {
	best, bestD := "", len(key)/2+1
	for _, k := range s.order {
		if d := distance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
