package metrics_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const requestMetric = "poolkit_http_client_request_duration_seconds"

// TestRoundTripperCardinality sends requests to 10,000 distinct paths and
// query strings over loopback and checks that the number of series does not
// grow: no label carries the path.
func TestRoundTripperCardinality(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()

	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: m.InstrumentRoundTripper("inventory", tr)}
	get := func(path string) {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	get("/items/0?id=0")
	get("/items/0/missing")
	first := testutil.CollectAndCount(m)
	if n := testutil.CollectAndCount(m, requestMetric); n != 2 {
		t.Fatalf("after a 200 and a 404: %d request series, want 2 (GET 2xx, GET 4xx)", n)
	}
	const paths = 10000
	for i := 1; i < paths; i++ {
		p := fmt.Sprintf("/items/%d?id=%d&session=%x", i, i, i*7919)
		if i%100 == 0 {
			p = fmt.Sprintf("/items/%d/missing", i)
		}
		get(p)
	}
	if n := testutil.CollectAndCount(m, requestMetric); n != 2 {
		t.Errorf("after %d distinct paths: %d request series, want 2", paths, n)
	}
	if n := testutil.CollectAndCount(m); n != first {
		t.Errorf("after %d distinct paths: %d series in all, want %d as after the first two requests", paths, n, first)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if strings.Contains(lp.GetValue(), "/") || strings.Contains(lp.GetValue(), "127.0.0.1") {
					t.Errorf("label %s=%q carries a path or host", lp.GetName(), lp.GetValue())
				}
			}
			if mf.GetName() == requestMetric {
				total += mt.GetHistogram().GetSampleCount()
			}
		}
	}
	if total != paths+1 {
		t.Errorf("request histogram counted %d requests, want %d", total, paths+1)
	}
}

// fakeRT answers after a fixed delay with a status or an error.
type fakeRT struct {
	delay  time.Duration
	status int
	err    error
}

func (f fakeRT) RoundTrip(req *http.Request) (*http.Response, error) {
	time.Sleep(f.delay)
	if f.err != nil {
		return nil, f.err
	}
	return &http.Response{StatusCode: f.status, Body: http.NoBody, Request: req}, nil
}

// TestRoundTripperLabels checks the method and status-class folding, and
// the durations, exactly (synctest's clock).
func TestRoundTripperLabels(t *testing.T) {
	tests := []struct {
		method     string
		status     int
		err        error
		wantMethod string
		wantClass  string
	}{
		{"GET", 200, nil, "GET", "2xx"},
		{"", 204, nil, "GET", "2xx"},
		{"HEAD", 304, nil, "HEAD", "3xx"},
		{"POST", 201, nil, "POST", "2xx"},
		{"PUT", 409, nil, "PUT", "4xx"},
		{"PATCH", 422, nil, "PATCH", "4xx"},
		{"DELETE", 503, nil, "DELETE", "5xx"},
		{"OPTIONS", 101, nil, "OPTIONS", "1xx"},
		{"PROPFIND", 207, nil, "other", "2xx"},
		{"get", 200, nil, "other", "2xx"},
		{"TRACE", 200, nil, "other", "2xx"},
		{"GET", 0, errors.New("connection refused"), "GET", "error"},
		{"GET", 600, nil, "GET", "error"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s_%d", tt.method, tt.status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, err := metrics.New(nil, metrics.Options{RequestBuckets: []float64{0.25, 0.5}})
				if err != nil {
					t.Fatal(err)
				}
				rt := m.InstrumentRoundTripper("payments", fakeRT{delay: 375 * time.Millisecond, status: tt.status, err: tt.err})
				req, _ := http.NewRequest("GET", "http://payments.internal/v1/charge/123?card=4111", nil)
				req.Method = tt.method
				for range 2 {
					resp, err := rt.RoundTrip(req)
					if (err != nil) != (tt.err != nil) {
						t.Fatalf("RoundTrip err = %v, want %v", err, tt.err)
					}
					if resp != nil {
						resp.Body.Close()
					}
				}
				lv := fmt.Sprintf(`method=%q,service="payments",status_class=%q`, tt.wantMethod, tt.wantClass)
				want := `
# HELP poolkit_http_client_request_duration_seconds Duration of HTTP client requests, until the response headers arrived or the request failed.
# TYPE poolkit_http_client_request_duration_seconds histogram
poolkit_http_client_request_duration_seconds_bucket{` + lv + `,le="0.25"} 0
poolkit_http_client_request_duration_seconds_bucket{` + lv + `,le="0.5"} 2
poolkit_http_client_request_duration_seconds_bucket{` + lv + `,le="+Inf"} 2
poolkit_http_client_request_duration_seconds_sum{` + lv + `} 0.75
poolkit_http_client_request_duration_seconds_count{` + lv + `} 2
`
				if err := testutil.CollectAndCompare(m, strings.NewReader(want), requestMetric); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

func TestRoundTripperNilNext(t *testing.T) {
	m, err := metrics.New(nil, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rt := m.InstrumentRoundTripper("x", nil); rt == nil {
		t.Fatal("InstrumentRoundTripper(nil next) = nil")
	}
	if rt := m.InstrumentRoundTripper("\xff", fakeRT{}); rt != (fakeRT{}) {
		t.Errorf("InstrumentRoundTripper with an invalid service = %T, want next itself", rt)
	}
}
