package config

import (
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// DefaultEnvPrefix starts the names of the environment variables that
// override the file: currently "POOLKIT".
const DefaultEnvPrefix = "POOLKIT"

// envKey normalises a key for matching a variable's segment: lower case,
// with '-' and '.' read as '_'.
func envKey(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '.':
			return '_'
		}
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// applyEnv writes the overrides of environ (as os.Environ returns it) into
// the tree at root, returning the (possibly new) root. Each variable
// PREFIX__SEG1__SEG2__…=value sets the key at path seg1.seg2.… (matched
// as envKey says) to value; the nodes it creates are recorded in d.env, so
// that errors found in them name the variable. Nodes shared through YAML
// aliases or merge keys are copied before they are changed, so an override
// reaches only the path it names.
func applyEnv(root *yaml.Node, environ []string, prefix string, d *decoder) *yaml.Node {
	pfx := prefix + "__"
	var vars []string
	for _, kv := range environ {
		if strings.HasPrefix(kv, pfx) {
			vars = append(vars, kv)
		}
	}
	if len(vars) == 0 {
		return root
	}
	slices.Sort(vars)
	if root == nil {
		root = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	if root.Kind != yaml.MappingNode {
		return root // the file's own error says what is wrong
	}
	setBy := map[*yaml.Node]string{}
	for _, kv := range vars {
		name, value, _ := strings.Cut(kv, "=")
		segs := strings.Split(strings.TrimPrefix(name, pfx), "__")
		fail := func(path, reason string) {
			d.errs = append(d.errs, &Error{File: d.file, Env: name, Path: path, Reason: reason})
		}
		if slices.Contains(segs, "") {
			fail("", fmt.Sprintf("empty path segment; write %s__SECTION__NAME__FIELD, segments separated by two underscores", prefix))
			continue
		}
		cur, path := root, ""
		for i, seg := range segs {
			last := i == len(segs)-1
			ki, ok := findKey(cur, seg, d)
			if !ok {
				fail(join(path, strings.ToLower(seg)), "matches more than one key of the file")
				break
			}
			if ki < 0 { // a new key
				k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.ToLower(seg)}
				d.env[k] = name
				var v *yaml.Node
				if last {
					v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
				} else {
					v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				}
				d.env[v] = name
				cur.Content = append(cur.Content, k, v)
				ki = len(cur.Content) - 2
			}
			k := cur.Content[ki]
			path = join(path, k.Value)
			if last {
				if prev, dup := setBy[k]; dup {
					fail(path, "also set by "+prev)
					break
				}
				setBy[k] = name
				v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
				d.env[v] = name
				cur.Content[ki+1] = v
				break
			}
			v := deref(cur.Content[ki+1])
			switch {
			case isNull(v) && d.env[v] == "":
				v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line}
			case v.Kind == yaml.MappingNode:
				if d.env[v] == "" { // copied, since an alias or merge may share it
					v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line, Content: slices.Clone(v.Content)}
				}
			default:
				where := ""
				if v.Line > 0 {
					where = fmt.Sprintf(" (line %d)", v.Line)
				}
				fail(path, fmt.Sprintf("is %s in the file%s, not a mapping, so it has no %s", describe(v), where, strings.ToLower(segs[i+1])))
				v = nil
			}
			if v == nil {
				break
			}
			cur.Content[ki+1] = v
			cur = v
		}
	}
	return root
}

// findKey returns the index in m.Content of the key that seg names, or -1
// when there is none; ok is false when several match. A key found only
// through a "<<" merge is added to m itself (an explicit key overrides a
// merged one), pointing at the merged value, which the caller replaces or
// copies before changing it.
func findKey(m *yaml.Node, seg string, d *decoder) (int, bool) {
	return findKeyIn(m, seg, d, map[*yaml.Node]bool{m: true})
}

func findKeyIn(m *yaml.Node, seg string, d *decoder, merging map[*yaml.Node]bool) (int, bool) {
	want := envKey(seg)
	found := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind == yaml.ScalarNode && k.ShortTag() != "!!merge" && envKey(k.Value) == want {
			if found >= 0 {
				return -1, false
			}
			found = i
		}
	}
	if found >= 0 {
		return found, true
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
			continue
		}
		for _, src := range mergeMaps(m.Content[i+1]) {
			if merging[src] {
				continue // reported when the mapping is read
			}
			merging[src] = true
			j, ok := findKeyIn(src, seg, d, merging)
			delete(merging, src)
			if ok && j >= 0 {
				// Copied into m: the caller replaces or copies the value.
				m.Content = append(m.Content, src.Content[j], src.Content[j+1])
				return len(m.Content) - 2, true
			}
		}
	}
	return -1, true
}
