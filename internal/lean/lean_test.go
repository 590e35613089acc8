package lean

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// core are the packages a user of the products links; they may import
// only the standard library and the modules in allowedModules.
var core = []string{
	"github.com/poolkit/poolkit/pool",
	"github.com/poolkit/poolkit/breaker",
	"github.com/poolkit/poolkit/retry",
	"github.com/poolkit/poolkit/telemetry",
	"github.com/poolkit/poolkit/httpclient",
	"github.com/poolkit/poolkit/sqlpool",
}

var allowedModules = map[string]bool{
	"github.com/poolkit/poolkit":   true,
	"golang.org/x/sync":            true,
	"golang.org/x/net":             true,
	"github.com/sony/gobreaker/v2": true,
}

// banned are import path prefixes named in the failure message when one
// shows up: what the core must never link.
var banned = []string{
	"github.com/prometheus/",
	"google.golang.org/protobuf",
	"go.opentelemetry.io/",
	"github.com/redis/",
	"github.com/jackc/",
	"github.com/go-sql-driver/",
	"modernc.org/",
	"github.com/mattn/go-sqlite3",
	"github.com/poolkit/poolkit/metrics",
	"github.com/poolkit/poolkit/fleet",
	"github.com/poolkit/poolkit/config",
}

// goTool returns the go command: the one go test put first on PATH, else
// $GOROOT/bin/go.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("no go command on PATH or in $GOROOT/bin")
	return ""
}

func TestCoreDeps(t *testing.T) {
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}{{end}}"}, core...)
	out, err := exec.Command(goTool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var n int
	for line := range strings.Lines(string(out)) {
		pkg, mod, _ := strings.Cut(strings.TrimSpace(line), " ")
		if pkg == "" {
			continue
		}
		n++
		for _, b := range banned {
			if strings.HasPrefix(pkg, b) {
				t.Errorf("the core links %s (banned: %s)", pkg, b)
			}
		}
		if !allowedModules[mod] {
			t.Errorf("the core links %s from module %q, which is not allowed", pkg, mod)
		}
	}
	if n < len(core) {
		t.Fatalf("go list gave %d non-standard packages; want at least the %d core ones:\n%s", n, len(core), out)
	}
}

// build builds the program in testdata/dir as a user ships it, stripped,
// and returns its size in bytes.
func build(t *testing.T, dir string) int64 {
	t.Helper()
	bin := filepath.Join(t.TempDir(), dir)
	cmd := exec.Command(goTool(t), "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/"+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/%s: %v\n%s", dir, err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

const mib = 1 << 20

// maxRatio is the most a program on poolkit may weigh against the same
// program on the standard library.
const maxRatio = 1.3

// TestBinarySize: a program that GETs a URL through httpclient.NewTransport
// is at most maxRatio times the same program on http.Transport. The same
// comparison for sqlpool against database/sql (no driver in either) is
// logged: sqlpool links net/http through breaker and telemetry, so it is
// not yet within the bound.
func TestBinarySize(t *testing.T) {
	hc, std := build(t, "httpclient"), build(t, "nethttp")
	ratio := float64(hc) / float64(std)
	t.Logf("httpclient %.2f MiB, net/http %.2f MiB: %.2f×", float64(hc)/mib, float64(std)/mib, ratio)
	if ratio > maxRatio {
		t.Errorf("a program on httpclient is %.2f× the same on net/http (%.2f MiB against %.2f MiB); want at most %.1f×",
			ratio, float64(hc)/mib, float64(std)/mib, maxRatio)
	}

	sp, db := build(t, "sqlpool"), build(t, "databasesql")
	t.Logf("sqlpool %.2f MiB, database/sql %.2f MiB: %.2f× (not bounded yet)", float64(sp)/mib, float64(db)/mib, float64(sp)/float64(db))
}
