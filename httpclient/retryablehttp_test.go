package httpclient

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-retryablehttp"
)

// retryablehttpVersion is the go-retryablehttp whose own test suite runs
// against this transport (TestRetryableHTTPSuite); go.mod requires it, so
// `go mod download` puts it in the module cache for CI.
const retryablehttpVersion = "v0.7.8"

// TestRetryableHTTPWithTransport: go-retryablehttp's client, given this
// Transport, retries a 503 and gets the 200 that follows.
func TestRetryableHTTPWithTransport(t *testing.T) {
	var hits atomic.Int32
	srv, _, cfg := startServer(t, h1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	tr := newTransport(t, cfg)
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: tr}
	// An hclog logger, as go-retryablehttp's own tests use (which keeps
	// go-hclog, a dependency of that suite, in go.mod).
	c.Logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	c.RetryWaitMin, c.RetryWaitMax = 0, 0
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" || hits.Load() != 2 {
		t.Fatalf("body %q after %d hits", b, hits.Load())
	}
}

// TestRetryableHTTPSuite runs go-retryablehttp's own test suite with this
// Transport in place of its default one: the module is taken from the
// module cache (`go mod download`), copied to a temporary module, patched
// only where it makes its default *http.Client, and tested there with
// `go test` against this checkout. Every test must pass.
func TestRetryableHTTPSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the suite takes a while")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out, err := exec.Command(goBin, "mod", "download", "-json", "github.com/hashicorp/go-retryablehttp@"+retryablehttpVersion).Output()
	var mod struct{ Dir, Error string }
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err != nil || mod.Dir == "" {
		msg := "go-retryablehttp " + retryablehttpVersion + " is not in the module cache (run go mod download): " + string(out)
		if os.Getenv("POOLKIT_REQUIRE_DB") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	entries, err := os.ReadDir(mod.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(mod.Dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		switch e.Name() {
		case "client.go":
			// The one patch: the default client is poolkit's.
			n := strings.Count(string(b), "cleanhttp.DefaultPooledClient()")
			if n == 0 {
				t.Fatal("client.go no longer calls cleanhttp.DefaultPooledClient(); update the patch")
			}
			b = bytes.ReplaceAll(b, []byte("cleanhttp.DefaultPooledClient()"), []byte("poolkitClient()"))
			// ... and its import of cleanhttp, now unused there.
			b = bytes.Replace(b, []byte(`cleanhttp "github.com/hashicorp/go-cleanhttp"`), []byte(`_ "github.com/hashicorp/go-cleanhttp"`), 1)
		case "go.mod", "go.sum":
			// This module's requirements, which hold go-retryablehttp's
			// (go.mod requires it), so the build list is the one `go mod
			// download` fetched.
			own, err := os.ReadFile(filepath.Join(repo, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			b = own
			if e.Name() == "go.mod" {
				b = regexp.MustCompile(`(?m)^module \S+$`).ReplaceAll(b, []byte("module github.com/hashicorp/go-retryablehttp"))
				b = append(b, "\nrequire github.com/poolkit/poolkit v0.0.0\nreplace github.com/poolkit/poolkit => "+repo+"\n"...)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	patch := `package retryablehttp

import (
	"net/http"

	"github.com/poolkit/poolkit/httpclient"
)

// poolkitClient replaces cleanhttp.DefaultPooledClient(): an *http.Client
// on poolkit's pooled Transport with its recommended limits.
func poolkitClient() *http.Client {
	tr, err := httpclient.NewTransport(httpclient.RecommendedTransportConfig())
	if err != nil {
		panic(err)
	}
	return &http.Client{Transport: tr}
}
`
	if err := os.WriteFile(filepath.Join(dir, "zz_poolkit.go"), []byte(patch), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "test", "-count=1", "-vet=off", "-v", ".") // vet is the suite's business
	cmd.Dir = dir
	// The environment's GOPROXY stays: the copied module's graph is this
	// module's, and a go.mod of it missing from the cache (one that only
	// tests need, say) is fetched rather than failing the build.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	out, err = cmd.CombinedOutput()
	pass := regexp.MustCompile(`(?m)^\s*--- PASS: `).FindAll(out, -1) // subtests included
	fail := regexp.MustCompile(`(?m)^\s*--- FAIL: .*$`).FindAll(out, -1)
	t.Logf("go-retryablehttp %s suite with poolkit's Transport: %d passed, %d failed", retryablehttpVersion, len(pass), len(fail))
	if err != nil || len(fail) > 0 || len(pass) == 0 {
		t.Fatalf("go test: %v; failed: %s\n%s", err, bytes.Join(fail, []byte("; ")), tail(out, 4000))
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
