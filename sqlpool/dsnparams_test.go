package sqlpool_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/sqlpool"
)

// pgxpool's DSN parameters are mapped onto Config, in URL and keyword
// forms, and taken out of the DSN, so the server never sees them (it
// would refuse the connection: unrecognized configuration parameter).
func TestPgxpoolDSNParamsMapped(t *testing.T) {
	needServer(t, "pgx", postgresDSN(), "POOLKIT_POSTGRES_DSN")
	const params = "pool_max_conns=3&pool_min_conns=1&pool_max_conn_lifetime=1h&pool_max_conn_idle_time=30m&pool_health_check_period=45s&pool_max_conn_lifetime_jitter=5m"
	kw := "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable pool_max_conns=3 pool_min_conns = 1 pool_max_conn_lifetime='1h' pool_max_conn_idle_time=30m pool_health_check_period=45s application_name='a b' pool_max_conn_lifetime_jitter=5m"
	for name, dsn := range map[string]string{"url": pgDSNWith(params), "keyword": kw} {
		t.Run(name, func(t *testing.T) {
			c, err := sqlpool.NewConnectorDSN("pgx", dsn, sqlpool.Config{})
			if err != nil {
				t.Fatal(err)
			}
			db := c.DB()
			defer db.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := db.PingContext(ctx); err != nil {
				t.Fatalf("first use: %v", err)
			}
			got := c.Config()
			if got.MaxSize != 3 || got.MinSize != 1 || got.MaxLifetime != time.Hour || got.IdleTimeout != 30*time.Minute ||
				got.HealthCheckPeriod != 45*time.Second || got.MaxLifetimeJitter != 5*time.Minute {
				t.Fatalf("Config from the DSN: MaxSize %d MinSize %d MaxLifetime %v IdleTimeout %v HealthCheckPeriod %v MaxLifetimeJitter %v",
					got.MaxSize, got.MinSize, got.MaxLifetime, got.IdleTimeout, got.HealthCheckPeriod, got.MaxLifetimeJitter)
			}
			if name == "keyword" {
				var app string
				if err := db.QueryRow("SHOW application_name").Scan(&app); err != nil || app != "a b" {
					t.Fatalf("the DSN's other parameters were damaged: application_name %q, %v", app, err)
				}
			}
		})
	}
}

// MariaDB's driver would send pool_max_conns to the server as a session
// variable; it is taken out too.
func TestPgxpoolDSNParamsMySQL(t *testing.T) {
	needServer(t, "mysql", mysqlDSN(), "POOLKIT_MYSQL_DSN")
	dsn := mysqlDSN()
	if strings.Contains(dsn, "?") {
		dsn += "&pool_max_conns=2"
	} else {
		dsn += "?pool_max_conns=2"
	}
	c, err := sqlpool.NewConnectorDSN("mysql", dsn, sqlpool.Config{})
	if err != nil {
		t.Fatal(err)
	}
	db := c.DB()
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if c.Config().MaxSize != 2 {
		t.Fatalf("MaxSize %d, want 2 from the DSN", c.Config().MaxSize)
	}
}

// A bad or unknown pool parameter is refused by Open, with an error naming
// it; none fails at first use.
func TestPgxpoolDSNParamsRefused(t *testing.T) {
	for _, tt := range []struct{ dsn, param string }{
		{"postgres://u@h/db?pool_max_conns=0", "pool_max_conns"},
		{"postgres://u@h/db?pool_max_conns=many", "pool_max_conns"},
		{"postgres://u@h/db?pool_min_conns=-1", "pool_min_conns"},
		{"postgres://u@h/db?pool_max_conn_lifetime=1hour", "pool_max_conn_lifetime"},
		{"host=h pool_max_conn_idle_time=soon", "pool_max_conn_idle_time"},
		{"postgres://u@h/db?pool_min_idle_conns=2", "pool_min_idle_conns"},
		{"postgres://u@h/db?pool_max_connections=2", "pool_max_connections"},
	} {
		_, err := sqlpool.Open("pgx", tt.dsn, sqlpool.Config{})
		var pe *sqlpool.DSNParamError
		if !errors.As(err, &pe) || pe.Param != tt.param || !strings.Contains(err.Error(), tt.param) {
			t.Errorf("Open(%q): %v; want a *DSNParamError naming %s", tt.dsn, err, tt.param)
		}
	}
	// A MinSize above MaxSize from the DSN is refused as Config is, naming
	// the parameter the user wrote.
	_, err := sqlpool.Open("pgx", "postgres://u@h/db?pool_max_conns=2&pool_min_conns=3", sqlpool.Config{})
	var pe *sqlpool.DSNParamError
	var ce *pool.ConfigError
	if !errors.As(err, &pe) || pe.Param != "pool_min_conns" || !strings.Contains(err.Error(), "pool_min_conns") ||
		!strings.Contains(err.Error(), "MinSize") || !errors.As(err, &ce) {
		t.Errorf("pool_min_conns above pool_max_conns: %v; want a *DSNParamError naming pool_min_conns that wraps the *pool.ConfigError", err)
	}
	// A bad value set in code is code's, even when the DSN names the
	// parameter with a zero.
	_, err = sqlpool.NewConnectorDSN("pgx", "postgres://u@h/db?pool_min_conns=0", sqlpool.Config{MinSize: 3, MaxSize: 2})
	if errors.As(err, &pe) || !errors.As(err, &ce) {
		t.Errorf("MinSize 3 set in code, pool_min_conns=0 in the DSN: %v; want the ConfigError, not blamed on the DSN", err)
	}
}

// Config fields set in code win over the DSN's (as code overriding a
// parsed pgxpool.Config does), with a warning; the DSN that reaches the
// driver has no pool parameter left and the others intact.
func TestPgxpoolDSNParamsPrecedence(t *testing.T) {
	registerEcho.Do(func() { sql.Register("poolkit-echo", echoDriver{}) })
	log, buf := captureLogger()
	c, err := sqlpool.NewConnectorDSN("poolkit-echo", "postgres://u@h/db?sslmode=disable&pool_max_conns=3&pool_min_conns=1&x=y",
		sqlpool.Config{MaxSize: 5, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Config(); got.MaxSize != 5 || got.MinSize != 1 {
		t.Fatalf("MaxSize %d MinSize %d; want 5 (Config) and 1 (DSN)", got.MaxSize, got.MinSize)
	}
	if !strings.Contains(buf.String(), "Config wins") || !strings.Contains(buf.String(), "MaxSize") {
		t.Errorf("no warning naming MaxSize set in both:\n%s", buf)
	}
	_, err = c.Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"postgres://u@h/db?sslmode=disable&x=y"`) {
		t.Fatalf("the driver got another DSN than the one without pool parameters: %v", err)
	}
}
