package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/poolkit/poolkit/config"
	"github.com/poolkit/poolkit/httpclient"
	"github.com/poolkit/poolkit/metrics"
)

// servicesJSON is the services file: shared defaults, a preset per service
// and the overrides this demo needs. Base URLs and TLS roots are set in code,
// since the downstreams listen on ports chosen at run time.
//
//go:embed services.json
var servicesJSON []byte

// newClients builds one pooled client per downstream from the services file.
func newClients(downs map[string]*downstream, roots *x509.CertPool, reg prometheus.Registerer) (*httpclient.Clients, map[string]httpclient.Config, error) {
	f, err := config.Loader{Telemetry: metrics.For(reg)}.Parse("services.json", servicesJSON)
	if err != nil {
		return nil, nil, err
	}
	cfgs := f.Services
	for name, cfg := range cfgs {
		d, ok := downs[name]
		if !ok {
			return nil, nil, fmt.Errorf("services.json names %q, which the demo does not run", name)
		}
		cfg.BaseURL = d.url()
		cfg.Transport.TLSClientConfig = &tls.Config{RootCAs: roots}
		cfgs[name] = cfg
	}
	clients, err := httpclient.NewClients(cfgs)
	return clients, cfgs, err
}

// newUnpooled is the baseline: a new connection (TCP and TLS handshake) for
// every request, as a client without keep-alives makes, with the same
// timeout as the pooled client and no retries or breaker.
func newUnpooled(roots *x509.CertPool, cfg httpclient.Config) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{RootCAs: roots},
		},
		Timeout: cfg.Timeout,
	}
}

// call is one request to a downstream, the way the service would make it.
// payment and notification are POSTs with an Idempotency-Key, so they may be
// retried; inventory is a GET.
func call(ctx context.Context, hc *http.Client, baseURL, service string, seq *atomic.Uint64) error {
	var req *http.Request
	var err error
	n := seq.Add(1)
	switch service {
	case "inventory":
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/items/"+strconv.FormatUint(n%1000, 10), nil)
	default:
		body := bytes.NewReader([]byte(`{"order":` + strconv.FormatUint(n, 10) + `,"amount":1299}`))
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/"+service, body)
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", service+"-"+strconv.FormatUint(n, 10))
		}
	}
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	// Read the body to EOF and close it: that is what gives the connection
	// back to the pool.
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return &statusError{code: resp.StatusCode}
	}
	return err
}

// statusError is a response that is not a success.
type statusError struct{ code int }

func (e *statusError) Error() string { return "HTTP " + strconv.Itoa(e.code) }

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
