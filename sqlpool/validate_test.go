package sqlpool

import (
	"errors"
	"testing"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/pool"
)

// TestConfigValidate checks that Validate refuses what NewConnector
// refuses, naming the field, without a driver.
func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	tests := []struct {
		name  string
		give  Config
		field string
	}{
		{"negative MaxSize", Config{MaxSize: -1}, "MaxSize"},
		{"MinSize above MaxSize", Config{MinSize: 5, MaxSize: 2}, "MinSize"},
		{"negative ConnectTimeout", Config{ConnectTimeout: -1}, "ConnectTimeout"},
		{"bad breaker", Config{Breaker: breaker.Settings{FailureRatio: 2}}, "Breaker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.Validate()
			var ce *ConfigError
			var pe *pool.ConfigError
			switch {
			case errors.As(err, &ce):
				if ce.Field != tt.field {
					t.Fatalf("field %s; want %s (%v)", ce.Field, tt.field, err)
				}
			case errors.As(err, &pe):
				if pe.Field != tt.field {
					t.Fatalf("field %s; want %s (%v)", pe.Field, tt.field, err)
				}
			default:
				t.Fatalf("err = %v; want a config error naming %s", err, tt.field)
			}
			if _, err := NewConnectorDSN("sqlite", ":memory:", tt.give); err == nil {
				t.Fatalf("NewConnectorDSN accepted what Validate refused")
			}
		})
	}
}
