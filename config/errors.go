package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Error is one thing wrong with a configuration: a syntax error, an unknown
// field, a value of the wrong type, a bad environment override, or a value
// that the product's validation refuses. [Load] and [Parse] return every
// Error they find, joined with errors.Join and sorted by position (file
// errors by line, then environment errors by variable); errors.As finds
// the first.
//
// Its message reads "FILE:LINE: PATH: what is wrong", where PATH is the
// field as written in the file ("services.pay.transport.max_size"), never
// a Go field name; a value that came from the environment reads
// "env VARIABLE: PATH: what is wrong".
type Error struct {
	File   string // the file's name as given to Load or Parse
	Line   int    // 1-based line of the offending key or value; 0 when unknown
	Env    string // the environment variable the value came from, or ""
	Path   string // the field as written in the file; "" for the whole file
	Reason string // what is wrong, and what a valid value looks like
	Err    error  // the underlying error (e.g. a *httpclient.ClientConfigError), or nil
}

func (e *Error) Error() string {
	var where string
	switch {
	case e.Env != "":
		where = "env " + e.Env
	case e.Line > 0:
		where = e.File + ":" + strconv.Itoa(e.Line)
	default:
		where = e.File
	}
	if e.Path != "" {
		where += ": " + e.Path
	}
	return where + ": " + e.Reason
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrUnknownField is matched (errors.Is) by an *Error reporting a key that
// the schema does not have.
var ErrUnknownField = errors.New("config: unknown field")

// joinErrors sorts errs by position and joins them.
func joinErrors(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		// File errors first, by line; then environment errors by variable.
		if c := cmp.Compare(boolInt(a.Env != ""), boolInt(b.Env != "")); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Env, b.Env); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Path, b.Path)
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// quoteValue renders a scalar for a message.
func quoteValue(s string) string { return fmt.Sprintf("%q", s) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
