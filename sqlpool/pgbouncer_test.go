package sqlpool_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/poolkit/poolkit/sqlpool"
)

// pgBouncer is a PgBouncer the test runs itself, in front of the test
// PostgreSQL, in transaction pooling mode.
type pgBouncer struct {
	port int
}

// startPgBouncer starts PgBouncer (Debian's package) with an ini file of
// its own on a free loopback port: transaction pooling, default_pool_size
// 10, max_client_conn 100, trust auth, postgres as admin user. It skips
// (or fails, with POOLKIT_REQUIRE_DB=1) when pgbouncer is not installed.
func startPgBouncer(t *testing.T) *pgBouncer {
	t.Helper()
	needServer(t, "pgx", postgresDSN(), "POOLKIT_POSTGRES_DSN")
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer"
	}
	if _, err := os.Stat(bin); err != nil {
		msg := "pgbouncer not installed (apt-get install pgbouncer): " + err.Error()
		if os.Getenv("POOLKIT_REQUIRE_DB") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	u, err := url.Parse(postgresDSN())
	if err != nil || u.Hostname() == "" {
		t.Fatalf("POOLKIT_POSTGRES_DSN must be a postgres:// URL for the PgBouncer tests: %v", err)
	}
	pgPort := u.Port()
	if pgPort == "" {
		pgPort = "5432"
	}
	dir := t.TempDir()
	var prefix []string
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root.
		if _, err := user.Lookup("postgres"); err != nil {
			t.Fatal("running as root and no postgres user to run pgbouncer as")
		}
		prefix = []string{"runuser", "-u", "postgres", "--"}
		for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			os.Chmod(d, 0o777)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = 10
max_client_conn = 100
admin_users = postgres
ignore_startup_parameters = extra_float_digits
logfile = %s
`, u.Hostname(), pgPort, port, filepath.Join(dir, "users.txt"), filepath.Join(dir, "pgbouncer.log"))
	for name, body := range map[string]string{"pgbouncer.ini": ini, "users.txt": `"postgres" ""` + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	argv := append(prefix, bin, filepath.Join(dir, "pgbouncer.ini"))
	cmd := exec.Command(argv[0], argv[1:]...)
	// A process group of its own: as root, cmd is runuser, and killing it
	// alone would leave its pgbouncer child running after the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer exited: %s", log)
		default:
		}
		if i == 100 {
			t.Fatalf("pgbouncer does not listen on %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &pgBouncer{port: port}
}

func (b *pgBouncer) dsn(params string) string {
	u, _ := url.Parse(postgresDSN())
	u.Host = fmt.Sprintf("127.0.0.1:%d", b.port)
	if params != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += params
	}
	return u.String()
}

// Through PgBouncer in transaction pooling mode, with an exec mode that
// keeps no statement across transactions, 64 goroutines on a pool of 16
// over PgBouncer's 10 server connections see no error; the connector
// detects PgBouncer, reads its limits from the admin console, and does
// not warn about the exec mode.
func TestPgBouncerTransactionMode(t *testing.T) {
	b := startPgBouncer(t)
	for _, mode := range []string{"cache_describe", "exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			log, buf := captureLogger()
			c, err := sqlpool.NewConnectorDSN("pgx", b.dsn("default_query_exec_mode="+mode), sqlpool.Config{
				MaxSize: 16, AcquireTimeout: 30 * time.Second, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			db := c.DB()
			defer db.Close()
			var errs atomic.Int64
			var first atomic.Value
			var wg sync.WaitGroup
			for g := range 64 {
				wg.Go(func() {
					for i := range 15 {
						err := bouncerWork(db, g*100+i)
						if err != nil {
							errs.Add(1)
							first.CompareAndSwap(nil, err)
						}
					}
				})
			}
			wg.Wait()
			if n := errs.Load(); n > 0 {
				t.Fatalf("%d errors through PgBouncer with %s; first: %v", n, mode, first.Load())
			}
			info := c.Bouncer()
			if !info.Detected || info.ExecMode != mode || info.PoolMode != "transaction" || info.MaxClientConn != 100 || info.DefaultPoolSize != 10 {
				t.Fatalf("Bouncer() = %+v; want detected, exec mode %s, transaction pooling, max_client_conn 100, default_pool_size 10", info, mode)
			}
			if strings.Contains(buf.String(), "exec mode") {
				t.Errorf("warned about exec mode %s, which works:\n%s", mode, buf)
			}
		})
	}
}

// bouncerWork is one unit of the load: a query with an argument and a
// transaction of two statements.
func bouncerWork(db *sql.DB, i int) error {
	var v int
	if err := db.QueryRow("SELECT $1::int + 1", i).Scan(&v); err != nil {
		return err
	}
	if v != i+1 {
		return fmt.Errorf("SELECT %d + 1 = %d", i, v)
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var a, b int
	if err := tx.QueryRow("SELECT pg_backend_pid()").Scan(&a); err != nil {
		return err
	}
	if err := tx.QueryRow("SELECT pg_backend_pid()").Scan(&b); err != nil {
		return err
	}
	if a != b {
		return fmt.Errorf("one transaction ran on two server connections (%d, %d)", a, b)
	}
	return tx.Commit()
}

// pgx's default exec mode (cache_statement) breaks behind PgBouncer's
// transaction pooling: the connector warns once, naming the DSN setting
// that works; PostgreSQL's max_connections is not what it sizes against.
func TestPgBouncerDefaultExecModeWarned(t *testing.T) {
	b := startPgBouncer(t)
	log, buf := captureLogger()
	c, err := sqlpool.NewConnectorDSN("pgx", b.dsn(""), sqlpool.Config{MaxSize: 16, Instances: 10, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "default_query_exec_mode=cache_describe") != 1 {
		t.Errorf("no single warning naming default_query_exec_mode=cache_describe:\n%s", out)
	}
	// 16 × 10 = 160 clients against max_client_conn 100.
	if !strings.Contains(out, "pgbouncer_max_client_conn=100") || !strings.Contains(out, "total=160") {
		t.Errorf("no sizing warning against PgBouncer's max_client_conn:\n%s", out)
	}
	if strings.Contains(out, "server_max_connections") {
		t.Errorf("sized against PostgreSQL's max_connections behind PgBouncer:\n%s", out)
	}
	if info := c.Bouncer(); !info.Detected || info.ExecMode != "cache_statement" {
		t.Fatalf("Bouncer() = %+v", info)
	}
}

// Without a DSN (a driver.Connector given), PgBouncer's admin console is
// out of reach: the warning says which limit applies and that it could
// not be read. Straight to PostgreSQL, nothing is detected.
func TestPgBouncerLimitsUnreadable(t *testing.T) {
	b := startPgBouncer(t)
	cfg, err := pgx.ParseConfig(b.dsn("default_query_exec_mode=exec"))
	if err != nil {
		t.Fatal(err)
	}
	log, buf := captureLogger()
	c, err := sqlpool.NewConnector(stdlib.GetConnector(*cfg), sqlpool.Config{MaxSize: 4, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "max_client_conn") || !strings.Contains(out, "could not be read") {
		t.Errorf("no warning naming PgBouncer's limit as unread:\n%s", out)
	}
	if info := c.Bouncer(); !info.Detected || info.ConfigErr == nil {
		t.Fatalf("Bouncer() = %+v; want detected, with the reason the config was not read", info)
	}

	direct, ddb, _ := newPG(t, sqlpool.Config{MaxSize: 2})
	if err := ddb.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if info := direct.Bouncer(); info.Detected || info.ExecMode == "" {
		t.Fatalf("straight to PostgreSQL: Bouncer() = %+v; want not detected, exec mode known", info)
	}
}
