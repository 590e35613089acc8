package config

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolkit/poolkit/metrics"
	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite"
)

// TestBuild loads a file from disk and builds what it describes: a client
// that calls a real server, and a *sql.DB on SQLite.
func TestBuild(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	defer srv.Close()

	dir := t.TempDir()
	path := filepath.Join(dir, "poolkit.yml")
	file := "services:\n  echo:\n    preset: low\n    base_url: http://replaced.invalid/\n" +
		"databases:\n  local:\n    driver: sqlite\n    max_size: 2\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Loader{Environ: []string{
		"POOLKIT__SERVICES__ECHO__BASE_URL=" + srv.URL + "/v1/",
		"POOLKIT__DATABASES__LOCAL__DSN=file:" + filepath.Join(dir, "local.db"),
	}}.Load(path)
	if err != nil {
		t.Fatal(err)
	}

	clients, err := f.Clients()
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	c, ok := clients.Get("echo")
	if !ok {
		t.Fatalf("no client echo; have %q", clients.Names())
	}
	req, err := c.NewRequest(context.Background(), http.MethodGet, "items", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello /v1/items" {
		t.Fatalf("body = %q", body)
	}

	db, err := f.OpenDB("local")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT 40 + 2").Scan(&n); err != nil || n != 42 {
		t.Fatalf("query = %d, %v", n, err)
	}
	if _, err := f.OpenDB("nope"); err == nil || !strings.Contains(err.Error(), `no database "nope"`) {
		t.Fatalf("OpenDB(nope) = %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Fatalf("err = %v", err)
	}
}

// TestLoadReadsProcessEnvironment checks the zero Loader's default.
func TestLoadReadsProcessEnvironment(t *testing.T) {
	t.Setenv("POOLKIT__SERVICES__A__TIMEOUT", "7s")
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte("services: {a: {timeout: 1s}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Services["a"].Timeout.String(); got != "7s" {
		t.Fatalf("timeout = %s; want the environment's 7s", got)
	}
}

// TestLoaderTelemetry: Loader.Telemetry reaches every service and
// database built from the file, so one registry sees them all.
func TestLoaderTelemetry(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	file := "services:\n  echo: {base_url: " + srv.URL + "}\n  other: {base_url: " + srv.URL + "}\n" +
		"databases:\n  local: {driver: sqlite, dsn: \"file:" + filepath.Join(dir, "l.db") + "\"}\n"
	reg := prometheus.NewRegistry()
	f, err := Loader{NoEnv: true, Telemetry: metrics.For(reg)}.Parse("p.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	clients, err := f.Clients()
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	db, err := f.OpenDB("local")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	for _, name := range clients.Names() {
		c, _ := clients.Get(name)
		resp, err := c.HTTP().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "poolkit_pool_acquires_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "pool" && m.GetCounter().GetValue() > 0 {
					seen[l.GetValue()] = true
				}
			}
		}
	}
	for _, name := range []string{"echo", "other", "local"} {
		if !seen[name] {
			t.Errorf("no acquires reported for pool %q; saw %v", name, seen)
		}
	}
}
