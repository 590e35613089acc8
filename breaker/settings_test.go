package breaker_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/poolkit/poolkit/breaker"
)

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name      string
		give      breaker.Settings
		wantField string // "" means valid
		wantMsg   string
	}{
		{name: "zero is valid", give: breaker.Settings{}},
		{name: "ratio one", give: breaker.Settings{FailureRatio: 1}},
		{name: "consecutive off", give: breaker.Settings{ConsecutiveFailures: -1}},
		{name: "no window", give: breaker.Settings{Interval: -1}},
		{name: "fixed window", give: breaker.Settings{Interval: time.Second, BucketPeriod: time.Second}},
		{
			name: "ratio above one", give: breaker.Settings{FailureRatio: 1.5},
			wantField: "FailureRatio", wantMsg: "breaker: Settings.FailureRatio = 1.5: must be in (0, 1]",
		},
		{name: "ratio negative", give: breaker.Settings{FailureRatio: -0.1}, wantField: "FailureRatio"},
		{name: "ratio NaN", give: breaker.Settings{FailureRatio: math.NaN()}, wantField: "FailureRatio"},
		{name: "min requests negative", give: breaker.Settings{MinRequests: -1}, wantField: "MinRequests"},
		{name: "consecutive too big", give: breaker.Settings{ConsecutiveFailures: math.MaxUint32 + 1}, wantField: "ConsecutiveFailures"},
		{name: "bucket negative", give: breaker.Settings{BucketPeriod: -time.Second}, wantField: "BucketPeriod"},
		{name: "bucket above interval", give: breaker.Settings{Interval: time.Second, BucketPeriod: 2 * time.Second}, wantField: "BucketPeriod"},
		{name: "bucket above default interval", give: breaker.Settings{BucketPeriod: time.Hour}, wantField: "BucketPeriod"},
		{name: "bucket without window", give: breaker.Settings{Interval: -1, BucketPeriod: time.Second}, wantField: "BucketPeriod"},
		{
			name: "open timeout negative", give: breaker.Settings{OpenTimeout: -time.Second},
			wantField: "OpenTimeout", wantMsg: "breaker: Settings.OpenTimeout = -1s: must be >= 0",
		},
		{name: "probes negative", give: breaker.Settings{HalfOpenProbes: -2}, wantField: "HalfOpenProbes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.Validate()
			_, newErr := breaker.New("svc", tt.give)
			if tt.wantField == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate() = %v, New() error = %v; want both nil", err, newErr)
				}
				return
			}
			var se *breaker.SettingsError
			if !errors.As(err, &se) || se.Field != tt.wantField {
				t.Fatalf("Validate() = %v; want *SettingsError for field %s", err, tt.wantField)
			}
			if !strings.Contains(err.Error(), "Settings."+tt.wantField+" = ") {
				t.Errorf("message %q does not name the field", err)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message = %q; want %q", err, tt.wantMsg)
			}
			if newErr == nil || newErr.Error() != err.Error() {
				t.Errorf("New() error = %v; want %v", newErr, err)
			}
		})
	}
}

func TestNewEmptyName(t *testing.T) {
	if _, err := breaker.New("", breaker.Settings{}); err == nil {
		t.Fatal("New with empty name: want error")
	}
}

func TestSettingsDefaults(t *testing.T) {
	b, err := breaker.New("svc", breaker.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	s := b.Settings()
	if s.FailureRatio != breaker.DefaultFailureRatio || s.MinRequests != breaker.DefaultMinRequests ||
		s.ConsecutiveFailures != breaker.DefaultConsecutiveFailures || s.Interval != breaker.DefaultInterval ||
		s.BucketPeriod != breaker.DefaultInterval/breaker.DefaultBuckets || s.OpenTimeout != breaker.DefaultOpenTimeout ||
		s.HalfOpenProbes != breaker.DefaultHalfOpenProbes || s.Classify == nil {
		t.Errorf("Settings() = %+v; want every default filled in", s)
	}
	if b.Name() != "svc" {
		t.Errorf("Name() = %q", b.Name())
	}
	// Non-zero fields are kept.
	b, _ = breaker.New("svc", breaker.Settings{OpenTimeout: time.Minute, ConsecutiveFailures: -1})
	if s := b.Settings(); s.OpenTimeout != time.Minute || s.ConsecutiveFailures != -1 {
		t.Errorf("Settings() = %+v; want explicit fields kept", s)
	}
}
