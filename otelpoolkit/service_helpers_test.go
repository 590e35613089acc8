package otelpoolkit_test

import (
	"strconv"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/telemetry"
)

// newBreaker makes a breaker reporting to svc, as httpclient does.
func newBreaker(name string, svc telemetry.Service) (*breaker.Breaker, error) {
	return breaker.New(name, breaker.Settings{Observer: svc.BreakerObserver()})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
