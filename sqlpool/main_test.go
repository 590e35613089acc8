package sqlpool_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak"
	_ "modernc.org/sqlite"

	"github.com/poolkit/poolkit/sqlpool"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test"
)

func postgresDSN() string {
	if d := os.Getenv("POOLKIT_POSTGRES_DSN"); d != "" {
		return d
	}
	return defaultPostgresDSN
}

func mysqlDSN() string {
	if d := os.Getenv("POOLKIT_MYSQL_DSN"); d != "" {
		return d
	}
	return defaultMySQLDSN
}

// needServer skips t, or fails it when POOLKIT_REQUIRE_DB=1, when the
// server behind driverName/dsn does not answer.
func needServer(t testing.TB, driverName, dsn, env string) {
	t.Helper()
	db, err := sql.Open(driverName, dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err == nil {
		return
	}
	msg := driverName + " server not reachable (set " + env + " to a DSN; default " + dsn + "): " + err.Error()
	if os.Getenv("POOLKIT_REQUIRE_DB") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// unique returns prefix with a random suffix, usable as an SQL name.
func unique(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// pgDSNWith returns the PostgreSQL DSN with extra query parameters.
func pgDSNWith(params string) string {
	d := postgresDSN()
	if strings.Contains(d, "?") {
		return d + "&" + params
	}
	return d + "?" + params
}

// newPG opens a connector to PostgreSQL whose sessions carry a unique
// application_name, returned for counting them in pg_stat_activity.
func newPG(t testing.TB, cfg sqlpool.Config) (*sqlpool.Connector, *sql.DB, string) {
	t.Helper()
	needServer(t, "pgx", postgresDSN(), "POOLKIT_POSTGRES_DSN")
	app := unique("poolkit")
	c, err := sqlpool.NewConnectorDSN("pgx", pgDSNWith("application_name="+app), cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	t.Cleanup(func() { db.Close() })
	return c, db, app
}

// newMySQL opens a connector to MariaDB on a database of its own, created
// for the test and dropped after it; its name is returned for counting
// sessions in the processlist. params are added to the DSN.
func newMySQL(t testing.TB, cfg sqlpool.Config, params string) (*sqlpool.Connector, *sql.DB, string) {
	t.Helper()
	needServer(t, "mysql", mysqlDSN(), "POOLKIT_MYSQL_DSN")
	mc, err := mysql.ParseDSN(mysqlDSN())
	if err != nil {
		t.Fatal(err)
	}
	dbName := unique("poolkit")
	admin := plainDB(t, "mysql", mysqlDSN())
	if _, err := admin.Exec("CREATE DATABASE " + dbName); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE " + dbName) })
	mc.DBName = dbName
	dsn := mc.FormatDSN()
	if params != "" {
		if strings.Contains(dsn, "?") {
			dsn += "&" + params
		} else {
			dsn += "?" + params
		}
	}
	c, err := sqlpool.NewConnectorDSN("mysql", dsn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	t.Cleanup(func() { db.Close() })
	return c, db, dbName
}

// newSQLite opens a connector to a SQLite file in a temp dir.
func newSQLite(t testing.TB, cfg sqlpool.Config) (*sqlpool.Connector, *sql.DB) {
	t.Helper()
	dsn := "file:" + t.TempDir() + "/test.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	c, err := sqlpool.NewConnectorDSN("sqlite", dsn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	t.Cleanup(func() { db.Close() })
	return c, db
}

// plainDB is a database/sql DB without sqlpool, for administration.
func plainDB(t testing.TB, driverName, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return db
}

// pgSessions counts the PostgreSQL sessions with application name app.
func pgSessions(t testing.TB, admin *sql.DB, app string) int {
	t.Helper()
	var n int
	if err := admin.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
		t.Error(err)
	}
	return n
}

// mysqlSessions counts the MariaDB sessions on database dbName.
func mysqlSessions(t testing.TB, admin *sql.DB, dbName string) int {
	t.Helper()
	var n int
	if err := admin.QueryRow("SELECT count(*) FROM information_schema.processlist WHERE db = ?", dbName).Scan(&n); err != nil {
		t.Error(err)
	}
	return n
}

// sampler calls count every few milliseconds until stopped and keeps the
// highest result.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak int
	n    int
}

func startSampler(count func() int) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			v := count()
			s.mu.Lock()
			s.peak = max(s.peak, v)
			s.n++
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peak and the number of samples.
func (s *sampler) Stop() (peak, samples int) {
	close(s.stop)
	<-s.done
	return s.peak, s.n
}

// logBuffer is a slog handler's destination safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func captureLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

var _ = stdlib.GetDefaultDriver // pgx's stdlib registers "pgx"
