package pool

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// brokenConnError marks itself broken, as a driver's error type may.
type brokenConnError struct{}

func (brokenConnError) Error() string { return "broken pipe" }
func (brokenConnError) Broken() bool  { return true }

func TestDoReleasesOrDestroys(t *testing.T) {
	errQuery := errors.New("syntax error")
	tests := []struct {
		name        string
		give        error
		wantDestroy bool
	}{
		{"success", nil, false},
		{"ordinary error", errQuery, false},
		{"ErrBroken", ErrBroken, true},
		{"Broken(err)", Broken(errQuery), true},
		{"wrapped Broken", fmt.Errorf("query: %w", Broken(errQuery)), true},
		{"Broken() bool", fmt.Errorf("read: %w", brokenConnError{}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &backend{}
			p := newPool(t, b, Config[*conn]{MaxSize: 1})
			var got *conn
			err := p.Do(context.Background(), func(c *conn) error { got = c; return tt.give })
			if !errors.Is(err, tt.give) {
				t.Errorf("Do = %v, want fn's error %v", err, tt.give)
			}
			if got.destroyed.Load() != tt.wantDestroy {
				t.Errorf("destroyed = %v, want %v", got.destroyed.Load(), tt.wantDestroy)
			}
			if s := p.Stats(); s.InUse != 0 || s.Destroyed.Broken != map[bool]uint64{true: 1}[tt.wantDestroy] {
				t.Errorf("stats after Do: %+v", s)
			}
		})
	}
}

func TestDoDestroysOnPanic(t *testing.T) {
	b := &backend{}
	p := newPool(t, b, Config[*conn]{MaxSize: 1})
	var got *conn
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want Do to re-panic with fn's value", v)
			}
		}()
		p.Do(context.Background(), func(c *conn) error { got = c; panic("boom") })
	}()
	if !got.destroyed.Load() {
		t.Error("a resource whose user panicked was released, not destroyed")
	}
	if s := p.Stats(); s.InUse != 0 || s.Destroyed.Broken != 1 {
		t.Errorf("stats after a panic in Do: %+v", s)
	}
}

func TestDoReturnsAcquireError(t *testing.T) {
	b := &backend{}
	p := newPool(t, b, Config[*conn]{MaxSize: 1})
	p.Close(context.Background())
	called := false
	if err := p.Do(context.Background(), func(*conn) error { called = true; return nil }); !errors.Is(err, ErrClosed) || called {
		t.Errorf("Do on a closed pool: %v (fn called: %v), want ErrClosed", err, called)
	}
}

func TestIsBroken(t *testing.T) {
	for _, tt := range []struct {
		give error
		want bool
	}{
		{nil, false},
		{errors.New("x"), false},
		{ErrBroken, true},
		{Broken(nil), true},
		{brokenConnError{}, true},
	} {
		if got := IsBroken(tt.give); got != tt.want {
			t.Errorf("IsBroken(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
}
