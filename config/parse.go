package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Format is the syntax of a configuration file.
type Format int

const (
	// FormatAuto picks JSON for a name ending in ".json", YAML for ".yaml"
	// or ".yml", and otherwise JSON when the first non-blank byte is '{',
	// else YAML.
	FormatAuto Format = iota
	// FormatYAML reads YAML 1.2 (anchors, aliases and "<<" merge keys
	// included).
	FormatYAML
	// FormatJSON reads strict JSON (RFC 8259: no trailing commas, no
	// comments), with the line of every value known.
	FormatJSON
)

func (f Format) detect(name string, data []byte) Format {
	if f != FormatAuto {
		return f
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return FormatJSON
	case ".yaml", ".yml":
		return FormatYAML
	}
	if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		return FormatJSON
	}
	return FormatYAML
}

// parse returns the top-level node of data (nil for an empty document).
func parse(name string, data []byte, f Format) (*yaml.Node, *Error) {
	if f.detect(name, data) == FormatJSON {
		return parseJSON(name, data)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a syntax error of the YAML library into an *Error with
// its line.
func yamlError(name string, err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Reason: "YAML syntax: " + m[2], Err: err}
	}
	return &Error{File: name, Reason: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: "), Err: err}
}

// lines maps byte offsets to 1-based line numbers.
type lines []int // offsets at which lines start

func newLines(data []byte) lines {
	l := lines{0}
	for i, b := range data {
		if b == '\n' {
			l = append(l, i+1)
		}
	}
	return l
}

func (l lines) at(off int64) int {
	return sort.Search(len(l), func(i int) bool { return int64(l[i]) > off })
}

// parseJSON reads strict JSON into the same node tree the YAML parser
// builds, so that one walker serves both, each node with its line.
func parseJSON(name string, data []byte) (*yaml.Node, *Error) {
	ls := newLines(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	fail := func(err error) *Error {
		var se *json.SyntaxError
		off := dec.InputOffset()
		if errors.As(err, &se) {
			off = min(se.Offset, int64(len(data))-1) // at the offending byte
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = errors.New("unexpected end of JSON input")
			off = int64(len(data)) - 1
		}
		return &Error{File: name, Line: ls.at(max(off, 0)), Reason: "JSON syntax: " + err.Error(), Err: err}
	}
	// The line of the token just read: its last byte is on its line
	// (JSON tokens never span lines).
	line := func() int { return ls.at(dec.InputOffset() - 1) }

	var value func(tok json.Token) (*yaml.Node, *Error)
	value = func(tok json.Token) (*yaml.Node, *Error) {
		n := &yaml.Node{Line: line()}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				n.Kind, n.Tag = yaml.MappingNode, "!!map"
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, fail(err)
					}
					k, ok := kt.(string)
					if !ok {
						return nil, fail(fmt.Errorf("object key %v is not a string", kt))
					}
					kn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k, Line: line()}
					vt, err := dec.Token()
					if err != nil {
						return nil, fail(err)
					}
					vn, e := value(vt)
					if e != nil {
						return nil, e
					}
					n.Content = append(n.Content, kn, vn)
				}
			case '[':
				n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
				for dec.More() {
					t, err := dec.Token()
					if err != nil {
						return nil, fail(err)
					}
					vn, e := value(t)
					if e != nil {
						return nil, e
					}
					n.Content = append(n.Content, vn)
				}
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return nil, fail(err)
			}
		case string:
			n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "!!str", v, yaml.DoubleQuotedStyle
		case json.Number:
			n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!int", v.String()
			if strings.ContainsAny(n.Value, ".eE") {
				n.Tag = "!!float"
			}
		case bool:
			n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!bool", strconv.FormatBool(v)
		case nil:
			n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!null", "null"
		}
		return n, nil
	}

	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fail(err)
	}
	root, e := value(tok)
	if e != nil {
		return nil, e
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fail(err)
		}
		return nil, &Error{File: name, Line: line(), Reason: "JSON syntax: unexpected data after the top-level value"}
	}
	return root, nil
}
