package sqlpool_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolkit/poolkit/sqlpool"
)

// tempPostgres is a PostgreSQL server the test runs itself, in a temp dir.
type tempPostgres struct {
	t      *testing.T
	bin    string
	data   string
	port   int
	asUser []string // the command prefix that runs as the postgres user
}

// startTempPostgres runs initdb and starts a server on a free port; it
// is stopped in t.Cleanup. It skips (or fails, with POOLKIT_REQUIRE_DB=1)
// when no PostgreSQL binaries can be found.
func startTempPostgres(t *testing.T) *tempPostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	unavailable := func(msg string) {
		t.Helper()
		if os.Getenv("POOLKIT_REQUIRE_DB") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if len(bins) == 0 {
		unavailable("no initdb under /usr/lib/postgresql/*/bin: cannot start a PostgreSQL of our own")
	}
	pg := &tempPostgres{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// postgres refuses to run as root: run it as the postgres user,
		// who must be able to reach and write the temp dir.
		if _, err := user.Lookup("postgres"); err != nil {
			unavailable("running as root and no postgres user to run the server as")
		}
		pg.asUser = []string{"runuser", "-u", "postgres", "--"}
		for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			os.Chmod(d, 0o777)
		}
	}
	pg.data = filepath.Join(dir, "data")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pg.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	pg.run("initdb", "-D", pg.data, "-A", "trust", "-U", "postgres", "--no-sync")
	pg.start()
	t.Cleanup(func() { pg.ctl("stop", "-m", "immediate") })
	return pg
}

func (pg *tempPostgres) run(name string, args ...string) {
	pg.t.Helper()
	argv := append(append([]string{}, pg.asUser...), append([]string{filepath.Join(pg.bin, name)}, args...)...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		pg.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

func (pg *tempPostgres) ctl(args ...string) {
	pg.t.Helper()
	pg.run("pg_ctl", append([]string{"-D", pg.data, "-w"}, args...)...)
}

func (pg *tempPostgres) start() {
	pg.t.Helper()
	pg.ctl("-l", filepath.Join(pg.data, "server.log"), "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", pg.port, pg.data), "start")
}

func (pg *tempPostgres) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", pg.port)
}

// A server stopped and restarted under load: during the outage callers
// fail within AcquireTimeout (never hang) and the pool does not spin on
// connect; after the restart it serves without errors and refills MinSize.
func TestServerRestartUnderLoad(t *testing.T) {
	pg := startTempPostgres(t)
	const acquireTimeout = time.Second
	c, err := sqlpool.NewConnectorDSN("pgx", pg.dsn(), sqlpool.Config{
		Name: "restart", MinSize: 4, MaxSize: 8, AcquireTimeout: acquireTimeout, ConnectTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	waitFor(t, func() bool { return c.Stats().Idle == 4 }, "MinSize connections")

	var (
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		phase     atomic.Int32 // 0 up, 1 down, 2 restarted
		recovered atomic.Bool  // a query succeeded after the restart
		slowest   atomic.Int64
		mu        sync.Mutex
		errsDown  int
		errsAfter []error
	)
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				var one int
				err := db.QueryRow("SELECT 1").Scan(&one)
				if d := int64(time.Since(start)); d > slowest.Load() {
					slowest.Store(d)
				}
				mu.Lock()
				switch {
				case err == nil && phase.Load() == 2:
					recovered.Store(true)
				case err != nil && phase.Load() == 0:
					t.Errorf("error before the outage: %v", err)
				case err != nil && recovered.Load():
					errsAfter = append(errsAfter, err)
				case err != nil:
					errsDown++
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	phase.Store(1)
	pg.ctl("stop", "-m", "fast")
	time.Sleep(2 * time.Second)
	createErrors := c.Stats().CreateErrors
	pg.start()
	phase.Store(2)
	waitFor(t, recovered.Load, "a query to succeed after the restart")
	waitFor(t, func() bool { st := c.Stats(); return st.Idle+st.InUse >= 4 }, "MinSize refilled after the restart")
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	if errsDown == 0 {
		t.Error("no query failed while the server was down")
	}
	if len(errsAfter) > 0 {
		t.Errorf("%d queries failed after the pool recovered; first: %v", len(errsAfter), errsAfter[0])
	}
	if d := time.Duration(slowest.Load()); d > acquireTimeout+2*time.Second+3*time.Second {
		t.Errorf("a query took %v: callers hung during the outage", d)
	}
	// 2s down with backoff from 50ms doubling (and one connect at a time
	// while failing): a handful of connects, not one per caller per query.
	if createErrors > 30 {
		t.Errorf("%d failed connects in a 2s outage: the pool spins on connect", createErrors)
	}
	t.Logf("down: %d errors; failed connects %d; slowest query %v; stats %+v",
		errsDown, createErrors, time.Duration(slowest.Load()), c.Stats())
}
