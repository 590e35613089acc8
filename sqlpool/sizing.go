package sqlpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
)

// execDirect runs query on a driver connection, without arguments, through
// ExecerContext when the driver has it and a prepared statement otherwise.
func execDirect(ctx context.Context, dc driver.Conn, query string) error {
	if e, ok := dc.(driver.ExecerContext); ok {
		_, err := e.ExecContext(ctx, query, nil)
		if !errors.Is(err, driver.ErrSkip) {
			return err
		}
	}
	s, err := prepareDirect(ctx, dc, query)
	if err != nil {
		return err
	}
	defer s.Close()
	if e, ok := s.(driver.StmtExecContext); ok {
		_, err = e.ExecContext(ctx, nil)
	} else {
		//lint:ignore SA1019 legacy drivers
		_, err = s.Exec(nil)
	}
	return err
}

func prepareDirect(ctx context.Context, dc driver.Conn, query string) (driver.Stmt, error) {
	if p, ok := dc.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return dc.Prepare(query)
}

// queryValue runs query on a driver connection and returns the first
// column of its first row.
func queryValue(ctx context.Context, dc driver.Conn, query string) (driver.Value, error) {
	var rows driver.Rows
	var err error
	if q, ok := dc.(driver.QueryerContext); ok {
		rows, err = q.QueryContext(ctx, query, nil)
	}
	if rows == nil && (err == nil || errors.Is(err, driver.ErrSkip)) {
		var s driver.Stmt
		if s, err = prepareDirect(ctx, dc, query); err != nil {
			return nil, err
		}
		defer s.Close()
		if q, ok := s.(driver.StmtQueryContext); ok {
			rows, err = q.QueryContext(ctx, nil)
		} else {
			//lint:ignore SA1019 legacy drivers
			rows, err = s.Query(nil)
		}
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if len(dest) == 0 {
		return nil, errors.New("no columns")
	}
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return nil, errors.New("no rows")
		}
		return nil, err
	}
	return dest[0], nil
}

// dialect guesses the server behind a connector from the package of its
// type or its driver's: "postgres", "mysql", or "" (unknown, SQLite).
func dialect(c driver.Connector) string {
	paths := []string{pkgPath(c)}
	if d := c.Driver(); d != nil {
		paths = append(paths, pkgPath(d))
	}
	for _, p := range paths {
		switch {
		case strings.Contains(p, "pgx"), strings.Contains(p, "lib/pq"), strings.Contains(p, "postgres"):
			return "postgres"
		case strings.Contains(p, "mysql"):
			return "mysql"
		}
	}
	return ""
}

func pkgPath(v any) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return ""
	}
	return t.PkgPath()
}

// maxConnectionsQuery is how each known server tells its connection limit.
var maxConnectionsQuery = map[string]string{
	"postgres": "SHOW max_connections",
	"mysql":    "SELECT @@max_connections",
}

// checkSizing reads the server's connection limit on the first connection
// and warns when MaxSize × Instances leaves it little headroom. It says
// nothing for servers it does not know, and logs at debug level when the
// limit cannot be read.
func (c *Connector) checkSizing(ctx context.Context, dc driver.Conn) {
	d := dialect(c.drv)
	if d == "postgres" && c.checkBouncer(ctx, dc) {
		return // sized against PgBouncer's limits
	}
	if c.cfg.Instances < 0 {
		return
	}
	q, ok := maxConnectionsQuery[d]
	if !ok {
		return
	}
	v, err := queryValue(ctx, dc, q)
	if err != nil {
		c.cfg.Logger.Debug("sqlpool: could not read the server's connection limit", "pool", c.cfg.Name, "error", c.redactErr(err))
		return
	}
	limit, ok := toInt(v)
	if !ok || limit <= 0 {
		return
	}
	want := int64(c.cfg.MaxSize) * int64(c.cfg.Instances)
	if float64(want) > SizingWarnFraction*float64(limit) {
		c.cfg.Logger.Warn("sqlpool: MaxSize × Instances leaves little headroom under the server's connection limit",
			slog.String("pool", c.cfg.Name),
			slog.Int("max_size", c.cfg.MaxSize),
			slog.Int("instances", c.cfg.Instances),
			slog.Int64("total", want),
			slog.Int64("server_max_connections", limit),
			slog.Float64("warn_fraction", SizingWarnFraction))
	}
}

func toInt(v driver.Value) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), true
	case []byte:
		n, err := strconv.ParseInt(strings.TrimSpace(string(x)), 10, 64)
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}
