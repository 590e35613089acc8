package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// PgBouncer, in transaction (or statement) pooling mode, gives a client a
// server connection for one transaction at a time. PgBouncer 1.18 keeps
// no prepared statement across them, so pgx's default exec mode
// (cache_statement: each query prepared once, run many times) fails with
// SQLSTATE 42P05 or 26000 through any pool; so does describe_exec, and so
// does a statement from db.Prepare whatever the mode. The modes that work
// are cache_describe, exec and simple_protocol, set in the DSN:
//
//	postgres://app@bouncer:6432/app?default_query_exec_mode=cache_describe
//
// At the first connect the connector finds out whether it talks to
// PgBouncer (the backend PID pgx was given at startup is not the one
// pg_backend_pid() reports: PgBouncer hands out a PID of its own), warns
// when the exec mode will break, and sizes against PgBouncer's limits,
// read from its admin console (SHOW CONFIG on the "pgbouncer" database,
// open to the users in its admin_users or stats_users) when the connector
// has a DSN to reach it with.

// bouncerPoolTimeout bounds the detection and the admin console reads.
const bouncerTimeout = 5 * time.Second

// BouncerInfo is what the connector learned about a PgBouncer between it
// and PostgreSQL; see [Connector.Bouncer].
type BouncerInfo struct {
	// Detected is true when the connector talks to PgBouncer.
	Detected bool
	// ExecMode is pgx's default query exec mode ("cache_statement",
	// "cache_describe", ...), when the driver is pgx.
	ExecMode string
	// PoolMode, MaxClientConn and DefaultPoolSize are PgBouncer's
	// settings as its admin console reported them; zero values when it
	// could not be read (ConfigErr says why).
	PoolMode        string
	MaxClientConn   int
	DefaultPoolSize int
	ConfigErr       error
}

// Bouncer reports what the first connect found out about PgBouncer. It is
// the zero BouncerInfo before the first successful connect, and for
// drivers other than pgx.
func (c *Connector) Bouncer() BouncerInfo {
	if p := c.bouncer.Load(); p != nil {
		return *p
	}
	return BouncerInfo{}
}

// pgxConn returns the *pgx.Conn under a pgx stdlib connection, as a
// reflect.Value (so that this package does not import pgx), or an invalid
// Value for other drivers.
func pgxConn(dc driver.Conn) reflect.Value {
	if !strings.Contains(pkgPath(dc), "jackc/pgx") {
		return reflect.Value{}
	}
	m := reflect.ValueOf(dc).MethodByName("Conn")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return reflect.Value{}
	}
	v := m.Call(nil)[0]
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return reflect.Value{}
	}
	return v
}

// call calls v's method name without arguments but ctx, when it has it.
func call(v reflect.Value, name string, args ...reflect.Value) []reflect.Value {
	m := v.MethodByName(name)
	if !m.IsValid() || m.Type().NumIn() != len(args) {
		return nil
	}
	return m.Call(args)
}

// pgxSimpleQuery runs sql over pgconn's simple protocol (which PgBouncer
// passes in any mode, and its admin console requires) and returns the
// first column of the first row.
func pgxSimpleQuery(ctx context.Context, conn reflect.Value, sql string) (string, error) {
	pg := call(conn, "PgConn")
	if len(pg) != 1 {
		return "", errors.New("no PgConn")
	}
	mrr := call(pg[0], "Exec", reflect.ValueOf(ctx), reflect.ValueOf(sql))
	if len(mrr) != 1 {
		return "", errors.New("no PgConn.Exec")
	}
	out := call(mrr[0], "ReadAll")
	if len(out) != 2 {
		return "", errors.New("no ReadAll")
	}
	if err, _ := out[1].Interface().(error); err != nil {
		return "", err
	}
	results := out[0]
	if results.Len() == 0 || results.Index(0).IsNil() {
		return "", errors.New("no result")
	}
	rows := results.Index(0).Elem().FieldByName("Rows")
	if !rows.IsValid() || rows.Len() == 0 || rows.Index(0).Len() == 0 {
		return "", errors.New("no rows")
	}
	return string(rows.Index(0).Index(0).Bytes()), nil
}

// detectBouncer finds out whether dc, a pgx connection, goes through
// PgBouncer, and pgx's exec mode.
func detectBouncer(ctx context.Context, dc driver.Conn) (info BouncerInfo, ok bool) {
	conn := pgxConn(dc)
	if !conn.IsValid() {
		return info, false
	}
	if cfg := call(conn, "Config"); len(cfg) == 1 && !cfg[0].IsNil() {
		if f := cfg[0].Elem().FieldByName("DefaultQueryExecMode"); f.IsValid() {
			if s, ok := f.Interface().(fmt.Stringer); ok {
				info.ExecMode = strings.ReplaceAll(s.String(), " ", "_")
			}
		}
	}
	pg := call(conn, "PgConn")
	if len(pg) != 1 {
		return info, false
	}
	pidOut := call(pg[0], "PID")
	if len(pidOut) != 1 || !pidOut[0].CanUint() {
		return info, false
	}
	announced := pidOut[0].Uint()
	ctx, cancel := context.WithTimeout(ctx, bouncerTimeout)
	defer cancel()
	s, err := pgxSimpleQuery(ctx, conn, "SELECT pg_backend_pid()")
	if err != nil {
		return info, false
	}
	real, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return info, false
	}
	info.Detected = real != announced
	return info, true
}

// execModeBreaks reports whether pgx's exec mode fails in PgBouncer's
// transaction pooling (before 1.21's max_prepared_statements): the modes
// that keep a named or unnamed statement across a Sync.
func execModeBreaks(mode string) bool {
	return mode == "cache_statement" || mode == "describe_exec"
}

// bouncerConfig reads PgBouncer's settings from its admin console.
func (c *Connector) bouncerConfig(ctx context.Context, info *BouncerInfo) {
	if c.dsn == "" {
		info.ConfigErr = errors.New("the connector was built from a driver.Connector, not a DSN: no way to reach PgBouncer's admin console")
		return
	}
	dsn, err := adminDSN(c.dsn)
	if err != nil {
		info.ConfigErr = err
		return
	}
	ctx, cancel := context.WithTimeout(ctx, bouncerTimeout)
	defer cancel()
	var dc driver.Conn
	if d, ok := c.drv.Driver().(driver.DriverContext); ok {
		var cn driver.Connector
		if cn, err = d.OpenConnector(dsn); err == nil {
			dc, err = cn.Connect(ctx)
		}
	} else {
		dc, err = c.drv.Driver().Open(dsn)
	}
	if err != nil {
		info.ConfigErr = fmt.Errorf("admin console (database pgbouncer): %w", c.redactErr(err))
		return
	}
	defer dc.Close()
	q, ok := dc.(driver.QueryerContext)
	if !ok {
		info.ConfigErr = errors.New("driver cannot run SHOW CONFIG")
		return
	}
	rows, err := q.QueryContext(ctx, "SHOW CONFIG", nil)
	if err != nil {
		info.ConfigErr = fmt.Errorf("admin console SHOW CONFIG: %w", c.redactErr(err))
		return
	}
	defer rows.Close()
	vals := make([]driver.Value, len(rows.Columns()))
	for len(vals) >= 2 {
		if err := rows.Next(vals); err != nil {
			if err != io.EOF {
				info.ConfigErr = fmt.Errorf("admin console SHOW CONFIG: %w", err)
			}
			break
		}
		key, val := asString(vals[0]), asString(vals[1])
		switch key {
		case "pool_mode":
			info.PoolMode = val
		case "max_client_conn":
			info.MaxClientConn, _ = strconv.Atoi(val)
		case "default_pool_size":
			info.DefaultPoolSize, _ = strconv.Atoi(val)
		}
	}
}

func asString(v driver.Value) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// adminDSN turns a pgx DSN into one for PgBouncer's admin console: the
// database "pgbouncer", over the simple protocol (the console has no
// other), without the connector's own pool parameters.
func adminDSN(dsn string) (string, error) {
	if isKeywordDSN(dsn) {
		var parts []string
		for _, p := range splitKeywordDSN(dsn) {
			if p.key == "dbname" || p.key == "default_query_exec_mode" {
				continue
			}
			parts = append(parts, strings.TrimSpace(dsn[p.start:p.end]))
		}
		return strings.Join(append(parts, "dbname=pgbouncer", "default_query_exec_mode=simple_protocol"), " "), nil
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("DSN is neither a postgres:// URL nor keyword/value: cannot derive the admin console's")
	}
	u.Path = "/pgbouncer"
	u.RawPath = ""
	q := u.Query()
	q.Set("default_query_exec_mode", "simple_protocol")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// checkBouncer runs on the first connect to PostgreSQL: it detects
// PgBouncer, warns when pgx's exec mode will break behind it, and sizes
// against its client limit. It returns true when PgBouncer was found, so
// that PostgreSQL's max_connections is not the limit checked.
func (c *Connector) checkBouncer(ctx context.Context, dc driver.Conn) bool {
	info, ok := detectBouncer(ctx, dc)
	if !ok {
		return false
	}
	if !info.Detected {
		c.bouncer.Store(&info)
		return false
	}
	c.bouncerConfig(ctx, &info)
	c.bouncer.Store(&info)
	log := c.cfg.Logger
	txPooling := info.PoolMode == "" || info.PoolMode == "transaction" || info.PoolMode == "statement"
	if txPooling && execModeBreaks(info.ExecMode) {
		mode := info.PoolMode
		if mode == "" {
			mode = "unknown (if transaction or statement)"
		}
		log.Warn("sqlpool: behind PgBouncer, pgx's exec mode "+info.ExecMode+" fails in transaction pooling (prepared statement errors 42P05/26000): "+
			"add default_query_exec_mode=cache_describe (or exec, or simple_protocol) to the DSN; db.Prepare does not work in transaction pooling in any mode",
			"pool", c.cfg.Name, "exec_mode", info.ExecMode, "pool_mode", mode)
	}
	if c.cfg.Instances < 0 {
		return true
	}
	want := int64(c.cfg.MaxSize) * int64(c.cfg.Instances)
	if info.MaxClientConn <= 0 {
		log.Warn("sqlpool: behind PgBouncer: the limit for this pool is PgBouncer's max_client_conn (and its default_pool_size server connections per database and user), not PostgreSQL's max_connections; they could not be read, so MaxSize × Instances was not checked against them",
			"pool", c.cfg.Name, "total", want, "error", info.ConfigErr)
		return true
	}
	attrs := []any{
		slog.String("pool", c.cfg.Name),
		slog.Int("max_size", c.cfg.MaxSize),
		slog.Int("instances", c.cfg.Instances),
		slog.Int64("total", want),
		slog.Int("pgbouncer_max_client_conn", info.MaxClientConn),
		slog.Int("pgbouncer_default_pool_size", info.DefaultPoolSize),
		slog.String("pgbouncer_pool_mode", info.PoolMode),
	}
	if float64(want) > SizingWarnFraction*float64(info.MaxClientConn) {
		log.Warn("sqlpool: behind PgBouncer, MaxSize × Instances leaves little headroom under PgBouncer's max_client_conn (the limit that applies; PostgreSQL's max_connections is PgBouncer's concern)",
			append(attrs, slog.Float64("warn_fraction", SizingWarnFraction))...)
	} else {
		log.Debug("sqlpool: behind PgBouncer; sized against its max_client_conn", attrs...)
	}
	return true
}
