package sqlpool_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/sqlpool"
)

// MaxSize × Instances near the server's max_connections is warned about,
// through the configured logger; a small pool is not.
func TestSizingWarning(t *testing.T) {
	for _, tt := range []struct {
		name string
		open func(t *testing.T, cfg sqlpool.Config) *sql.DB
	}{
		{"postgres", func(t *testing.T, cfg sqlpool.Config) *sql.DB { _, db, _ := newPG(t, cfg); return db }},
		{"mysql", func(t *testing.T, cfg sqlpool.Config) *sql.DB { _, db, _ := newMySQL(t, cfg, ""); return db }},
		{"sqlite", func(t *testing.T, cfg sqlpool.Config) *sql.DB { _, db := newSQLite(t, cfg); return db }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, instances := range []int{1, 100000} {
				log, buf := captureLogger()
				db := tt.open(t, sqlpool.Config{MaxSize: 4, Instances: instances, Logger: log})
				if err := db.Ping(); err != nil {
					t.Fatal(err)
				}
				warned := strings.Contains(buf.String(), "server_max_connections=")
				want := instances > 1 && tt.name != "sqlite"
				if warned != want {
					t.Errorf("Instances %d: warned %v, want %v; log:\n%s", instances, warned, want, buf)
				}
			}
		})
	}
}

// A DSN's password appears in no error, log line or stats, when the server
// rejects it.
func TestPasswordRedacted(t *testing.T) {
	const secret = "s3cretPassw0rd"
	needServer(t, "mysql", mysqlDSN(), "POOLKIT_MYSQL_DSN")
	needServer(t, "pgx", postgresDSN(), "POOLKIT_POSTGRES_DSN")
	for _, tt := range []struct{ driver, dsn string }{
		// MariaDB's root has no password: one given is rejected.
		{"mysql", "root:" + secret + "@tcp(127.0.0.1:3306)/test"},
		// No such role: rejected whatever the password.
		{"pgx", "postgres://nosuchrole:" + secret + "@127.0.0.1:5432/test?sslmode=disable"},
		{"pgx", "host=127.0.0.1 port=5432 user=nosuchrole password=" + secret + " dbname=test sslmode=disable"},
	} {
		t.Run(tt.driver, func(t *testing.T) {
			log, buf := captureLogger()
			c, err := sqlpool.NewConnectorDSN(tt.driver, tt.dsn, sqlpool.Config{
				MaxSize: 2, AcquireTimeout: 500 * time.Millisecond, Logger: log,
				Breaker: breaker.Settings{ConsecutiveFailures: 2}})
			if err != nil {
				t.Fatal(err)
			}
			db := c.DB()
			defer db.Close()
			var errs []string
			for range 4 {
				err := db.Ping()
				if err == nil {
					t.Fatal("a rejected login connected")
				}
				errs = append(errs, err.Error())
			}
			c2, _ := c.Connect(context.Background())
			if c2 != nil {
				c2.Close()
			}
			all := strings.Join(errs, "\n") + "\n" + buf.String()
			if strings.Contains(all, secret) {
				t.Fatalf("password leaked:\n%s", all)
			}
			t.Logf("errors:\n%s", strings.Join(errs, "\n"))
		})
	}
}

// With the database down, connects fail, the breaker opens, and callers
// then fail fast with an error matching breaker.ErrOpen, never hanging.
func TestBreakerFailsFast(t *testing.T) {
	// A port nothing listens on: connects are refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := sqlpool.NewConnectorDSN("pgx", "postgres://postgres@"+addr+"/test?sslmode=disable&connect_timeout=2",
		sqlpool.Config{MaxSize: 4, AcquireTimeout: 2 * time.Second,
			Breaker: breaker.Settings{ConsecutiveFailures: 3, OpenTimeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	var last error
	for i := 0; i < 20 && !errors.Is(last, breaker.ErrOpen); i++ {
		start := time.Now()
		last = db.Ping()
		if last == nil {
			t.Fatal("ping to a closed port succeeded")
		}
		if took := time.Since(start); took > 2*time.Second+5*time.Second {
			t.Fatalf("ping hung for %v, AcquireTimeout is 2s", took)
		}
	}
	if !errors.Is(last, breaker.ErrOpen) {
		t.Fatalf("after repeated connect failures: %v; want an error matching breaker.ErrOpen", last)
	}
	var ce *sqlpool.ConnectError
	if !errors.As(last, &ce) {
		t.Fatalf("error %T is not a *sqlpool.ConnectError", last)
	}
	createErrors := c.Stats().CreateErrors
	for range 100 {
		if err := db.Ping(); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("with the breaker open: %v", err)
		}
	}
	st := c.Stats()
	if st.CreateErrors != createErrors || st.FailedFast < 100 || st.Breaker != breaker.StateOpen {
		t.Fatalf("100 calls with the breaker open: %d connects tried, %d failed fast, breaker %v; want 0, >=100, open",
			st.CreateErrors-createErrors, st.FailedFast, st.Breaker)
	}
	t.Logf("fail-fast error: %v", last)
}

// A *sql.Rows never closed holds its connection: leak detection reports
// it, with the stack that took it.
func TestLeakedRowsReported(t *testing.T) {
	log, buf := captureLogger()
	c, db := newSQLite(t, sqlpool.Config{MaxSize: 2, LeakThreshold: 100 * time.Millisecond, Logger: log})
	// Warm the pool first: a connection created for a waiting Acquire can
	// escape leak detection for up to a minute (pool bug, reported: the
	// maintainer may look at it before the waiter records its stack).
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query("SELECT 1 UNION ALL SELECT 2")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return c.Stats().Leaks == 1 }, "leak report")
	out := buf.String()
	if !strings.Contains(out, "LeakThreshold") || !strings.Contains(out, "TestLeakedRowsReported") {
		t.Fatalf("leak report without the leaking test's stack:\n%s", out)
	}
	rows.Close()
}

// MariaDB closes sessions idle past wait_timeout; the check after idle
// finds them, so no caller gets one.
func TestMySQLWaitTimeout(t *testing.T) {
	c, db, _ := newMySQL(t, sqlpool.Config{MinSize: 3, MaxSize: 3, AcquireTimeout: 10 * time.Second},
		"wait_timeout=1")
	waitFor(t, func() bool { return c.Stats().Idle == 3 }, "3 idle connections")
	var wt int
	if err := db.QueryRow("SELECT @@SESSION.wait_timeout").Scan(&wt); err != nil || wt != 1 {
		t.Fatalf("session wait_timeout %d, %v; want 1", wt, err)
	}
	time.Sleep(2500 * time.Millisecond) // every session is closed by the server
	for i := range 30 {
		var one int
		if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
			t.Fatalf("query %d after wait_timeout: %v", i, err)
		}
	}
	if st := c.Stats(); st.CheckFailures == 0 {
		t.Fatalf("no check failed: the closed sessions were not found by the check (%+v)", st.Stats)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		give  sqlpool.Config
		field string
	}{
		{sqlpool.Config{MaxSize: -1}, "MaxSize"},
		{sqlpool.Config{MinSize: 5, MaxSize: 2}, "MinSize"},
		{sqlpool.Config{ConnectTimeout: -time.Second}, "ConnectTimeout"},
		{sqlpool.Config{IdleTimeout: -time.Second}, "IdleTimeout"},
		{sqlpool.Config{Breaker: breaker.Settings{FailureRatio: 2}}, "Breaker"},
	}
	for _, tt := range tests {
		_, err := sqlpool.NewConnectorDSN("sqlite", "file::memory:", tt.give)
		if err == nil || !strings.Contains(err.Error(), "Config."+tt.field) {
			t.Errorf("%+v: err = %v; want one naming Config.%s", tt.give, err, tt.field)
		}
	}
	c, err := sqlpool.NewConnectorDSN("sqlite", "file::memory:", sqlpool.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Config(); got.MaxSize != sqlpool.DefaultMaxSize || got.Name != "sqlite" || got.Instances != sqlpool.DefaultInstances {
		t.Fatalf("defaults: %+v", got)
	}
}
