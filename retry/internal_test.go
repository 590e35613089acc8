package retry

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoffBoundGrowsAndCaps(t *testing.T) {
	p := Policy{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Multiplier: 2}.withDefaults()
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.backoffBound(i + 1); got != w*time.Millisecond {
			t.Errorf("backoffBound(%d) = %v; want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := p.backoffBound(10000); got != time.Second {
		t.Errorf("backoffBound(10000) = %v; want the cap", got)
	}
}

func TestBackoffIsFullJitter(t *testing.T) {
	p := Policy{InitialBackoff: time.Second, MaxBackoff: time.Second}.withDefaults()
	var below, above int
	for range 1000 {
		d := p.backoff(1)
		if d < 0 || d > time.Second {
			t.Fatalf("backoff(1) = %v; want within [0, 1s]", d)
		}
		if d < time.Second/2 {
			below++
		} else {
			above++
		}
	}
	// Uniform over [0, 1s]: both halves get a fair share (the chance of
	// either getting under 300 of 1000 is below 1e-30).
	if below < 300 || above < 300 {
		t.Errorf("%d draws below 0.5s, %d above; want roughly uniform", below, above)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		give string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"7", 7 * time.Second},
		{"3600", time.Hour},
		{"99999999999999", 365 * 24 * time.Hour},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.give, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v; want %v", tt.give, got, tt.want)
		}
	}
}
