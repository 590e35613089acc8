package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// origin is where a value was written.
type origin struct {
	path string // as written in the file
	line int
	env  string // the environment variable, when it came from there
}

// assign is one value to store in one field of a section's struct.
type assign struct {
	e  *entry
	v  reflect.Value
	at origin
}

// decoder walks node trees along schemas and collects errors.
type decoder struct {
	file string
	env  map[*yaml.Node]string // nodes set from the environment, to the variable
	errs []*Error
}

func (d *decoder) fail(n *yaml.Node, path, reason string, err error) {
	e := &Error{File: d.file, Path: path, Reason: reason, Err: err}
	if v, ok := d.env[n]; ok {
		e.Env = v
	} else if n != nil {
		e.Line = n.Line
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) originOf(n *yaml.Node, path string) origin {
	if v, ok := d.env[n]; ok {
		return origin{path: path, env: v}
	}
	return origin{path: path, line: n.Line}
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// pair is one key and value of a mapping.
type pair struct{ k, v *yaml.Node }

// pairs returns the entries of mapping n, with "<<" merge keys expanded
// (merged entries first, so that explicit ones override them), reporting
// keys that are not strings and keys written twice.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	return d.pairsIn(n, path, map[*yaml.Node]bool{n: true})
}

// pairsIn is pairs, with the mappings being merged (to refuse a mapping
// that merges itself).
func (d *decoder) pairsIn(n *yaml.Node, path string, merging map[*yaml.Node]bool) []pair {
	var merged, explicit []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			for _, m := range d.mergeSources(v, path) {
				if merging[m] {
					d.fail(k, path, "<< merges a mapping into itself", nil)
					continue
				}
				merging[m] = true
				merged = append(merged, d.pairsIn(m, path, merging)...)
				delete(merging, m)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode || (k.ShortTag() != "!!str" && d.env[k] == "") {
			d.fail(k, path, "a key must be a string", nil)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, join(path, k.Value), fmt.Sprintf("written twice (first at line %d)", first.Line), nil)
			continue
		}
		seen[k.Value] = k
		explicit = append(explicit, pair{k, v})
	}
	if len(merged) == 0 {
		return explicit
	}
	out := make([]pair, 0, len(merged)+len(explicit))
	for _, p := range merged {
		if seen[p.k.Value] == nil {
			out = append(out, p)
			seen[p.k.Value] = p.k
		}
	}
	return append(out, explicit...)
}

// mergeSources returns the mappings a "<<" key with value v merges,
// reporting anything else.
func (d *decoder) mergeSources(v *yaml.Node, path string) []*yaml.Node {
	v = deref(v)
	bad := func(n *yaml.Node) { d.fail(n, path, "<< merges mappings only, got "+describe(n), nil) }
	switch v.Kind {
	case yaml.MappingNode:
	case yaml.SequenceNode:
		for _, m := range v.Content {
			if m = deref(m); m.Kind != yaml.MappingNode {
				bad(m)
			}
		}
	default:
		bad(v)
	}
	return mergeMaps(v)
}

// mergeMaps returns the mappings a "<<" key with value v merges.
func mergeMaps(v *yaml.Node) []*yaml.Node {
	v = deref(v)
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, m := range v.Content {
			if m = deref(m); m.Kind == yaml.MappingNode {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// join appends key to path.
func join(path, key string) string {
	if strings.ContainsAny(key, ". \t\"'[]") || key == "" {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping returns the entries of n, which must be a mapping (or null, for
// none).
func (d *decoder) mapping(n *yaml.Node, path, what string) ([]pair, bool) {
	n = deref(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, fmt.Sprintf("want a mapping (%s), got %s", what, describe(n)), nil)
		return nil, false
	}
	return d.pairs(n, path), true
}

// group decodes mapping n along s, appending what it sets to out.
func (d *decoder) group(s *schema, n *yaml.Node, path string, out []assign) []assign {
	ps, _ := d.mapping(n, path, "of keys such as "+strings.Join(firstKeys(s, 3), ", "))
	for _, p := range ps {
		e := s.keys[p.k.Value]
		at := join(path, p.k.Value)
		if e == nil {
			reason := "unknown field"
			if codeOnly[strings.ToLower(p.k.Value)] {
				reason += " (metrics and observers are set in code, not in a file: config.Loader{Telemetry: metrics.For(reg)})"
			} else if g := s.suggest(p.k.Value); g != "" {
				reason += fmt.Sprintf(" (did you mean %s?)", g)
			}
			d.fail(p.k, at, reason, ErrUnknownField)
			continue
		}
		if e.group != nil {
			out = d.group(e.group, p.v, at, out)
			continue
		}
		v := deref(p.v)
		if isNull(v) && d.env[p.v] == "" {
			continue // written as null: not set here
		}
		if rv, ok := d.leaf(e.typ, p.v, at); ok {
			out = append(out, assign{e: e, v: rv, at: d.originOf(p.v, at)})
		}
	}
	return out
}

// codeOnly are keys people write for settings that are code (see the
// package doc): their error says where those settings go.
var codeOnly = map[string]bool{"telemetry": true, "metrics": true, "registerer": true, "observer": true, "prometheus": true, "otel": true, "opentelemetry": true}

func firstKeys(s *schema, n int) []string {
	if len(s.order) < n {
		return s.order
	}
	return s.order[:n]
}

// describe names what a node is, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return "string " + quoteValue(n.Value)
	case "!!int":
		return "integer " + n.Value
	case "!!float":
		return "number " + n.Value
	case "!!bool":
		return "boolean " + n.Value
	case "!!null":
		return "null"
	}
	return n.ShortTag() + " " + quoteValue(n.Value)
}

// leaf decodes scalar n into a value of type t. A node set from the
// environment is a string read as t requires ("32", "true", "2s").
func (d *decoder) leaf(t reflect.Type, n *yaml.Node, path string) (reflect.Value, bool) {
	_, fromEnv := d.env[n]
	n = deref(n)
	rv := reflect.New(t).Elem()
	bad := func(reason string) (reflect.Value, bool) {
		d.fail(n, path, reason, nil)
		return reflect.Value{}, false
	}
	if n.Kind != yaml.ScalarNode {
		return bad("want a single value, got " + describe(n))
	}
	tag := n.ShortTag()
	if fromEnv {
		tag = "" // read the raw string as t requires
	}
	if t == durationType {
		if tag != "" && tag != "!!str" {
			return bad(fmt.Sprintf("invalid duration %s: write it as a string with a unit, like \"2s\", \"500ms\" or \"1m30s\"", n.Value))
		}
		v, err := time.ParseDuration(n.Value)
		if err != nil {
			return bad(fmt.Sprintf("invalid duration %s: write it with a unit, like \"2s\", \"500ms\" or \"1m30s\"", quoteValue(n.Value)))
		}
		rv.SetInt(int64(v))
		return rv, true
	}
	switch t.Kind() {
	case reflect.String:
		if tag != "" && tag != "!!str" {
			return bad(fmt.Sprintf("want a string, got %s (quote it)", describe(n)))
		}
		rv.SetString(n.Value)
	case reflect.Bool:
		if fromEnv {
			b, err := strconv.ParseBool(n.Value)
			if err != nil {
				return bad(fmt.Sprintf("want true or false, got %s", quoteValue(n.Value)))
			}
			rv.SetBool(b)
			break
		}
		var b bool
		if tag != "!!bool" || n.Decode(&b) != nil {
			return bad("want true or false, got " + describe(n))
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		var err error
		if fromEnv {
			i, err = strconv.ParseInt(n.Value, 10, 64)
		} else if tag != "!!int" {
			return bad("want an integer, got " + describe(n))
		} else {
			err = n.Decode(&i)
		}
		if err != nil {
			return bad(fmt.Sprintf("want an integer, got %s", quoteValue(n.Value)))
		}
		if rv.OverflowInt(i) {
			return bad(fmt.Sprintf("%d is out of range", i))
		}
		rv.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		var err error
		if fromEnv {
			u, err = strconv.ParseUint(n.Value, 10, 64)
		} else if tag != "!!int" {
			return bad("want a non-negative integer, got " + describe(n))
		} else {
			err = n.Decode(&u)
		}
		if err != nil {
			return bad(fmt.Sprintf("want a non-negative integer, got %s", quoteValue(n.Value)))
		}
		if rv.OverflowUint(u) {
			return bad(fmt.Sprintf("%d is out of range", u))
		}
		rv.SetUint(u)
	case reflect.Float32, reflect.Float64:
		var f float64
		var err error
		if fromEnv {
			f, err = strconv.ParseFloat(n.Value, 64)
		} else if tag != "!!int" && tag != "!!float" {
			return bad("want a number, got " + describe(n))
		} else {
			err = n.Decode(&f)
		}
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return bad(fmt.Sprintf("want a number, got %s", quoteValue(n.Value)))
		}
		rv.SetFloat(f)
	default:
		return bad("cannot be set from a file") // not reached: the schema holds leaves only
	}
	return rv, true
}

// apply stores the values of as in the struct that root points to, and
// records, per Go field, where its value came from.
func apply(root reflect.Value, as []assign, from map[string]origin) {
	for _, a := range as {
		if a.e.index == nil {
			continue
		}
		root.FieldByIndex(a.e.index).Set(a.v)
		if from != nil {
			from[a.e.goName] = a.at
		}
	}
}
