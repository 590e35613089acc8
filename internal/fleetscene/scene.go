package fleetscene

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"github.com/redis/go-redis/v9"

	"github.com/poolkit/poolkit/fleet"
)

// Errors Setup wraps when a server is missing.
var (
	ErrNoPostgres = errors.New("no PostgreSQL server")
	ErrNoRedis    = errors.New("no Redis server")
)

// Env says where the servers are and how to start a child.
type Env struct {
	AdminDSN  string   // a PostgreSQL superuser DSN, to create the scene's role
	RedisAddr string   // host:port
	Exe       string   // the executable children run (this program)
	Args      []string // their arguments (a test binary: "-test.run=^$")
	Log       io.Writer
}

// Scene is a PostgreSQL role that admits Limit connections, and Redis.
type Scene struct {
	env     Env
	admin   *sql.DB
	rdb     *redis.Client
	role    string
	roleDSN string
	Limit   int
}

// Setup checks both servers and creates a login role with CONNECTION LIMIT
// limit: the server refuses that role's connection limit+1 with SQLSTATE
// 53300, as it refuses max_connections+1 — without a private server.
func Setup(ctx context.Context, env Env, limit int) (*Scene, error) {
	if env.Log == nil {
		env.Log = io.Discard
	}
	admin, err := sql.Open("pgx", env.AdminDSN)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPostgres, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("%w at %s: %v", ErrNoPostgres, redact(env.AdminDSN), err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: env.RedisAddr})
	if err := rdb.Ping(pctx).Err(); err != nil {
		admin.Close()
		rdb.Close()
		return nil, fmt.Errorf("%w at %s: %v", ErrNoRedis, env.RedisAddr, err)
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	s := &Scene{env: env, admin: admin, rdb: rdb, role: "poolkit_fleet_" + hex.EncodeToString(rnd[:]), Limit: limit}
	var dbName string
	if err := admin.QueryRowContext(ctx, "SELECT current_database()").Scan(&dbName); err != nil {
		s.Close()
		return nil, err
	}
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN CONNECTION LIMIT %d", s.role, limit),
		fmt.Sprintf("GRANT CONNECT ON DATABASE %q TO %s", dbName, s.role),
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			s.Close()
			return nil, fmt.Errorf("creating the scene's role: %s: %w", q, err)
		}
	}
	u, err := url.Parse(env.AdminDSN)
	if err != nil || u.Scheme == "" {
		s.Close()
		return nil, fmt.Errorf("fleetscene: the DSN must be a postgres:// URL: %q", redact(env.AdminDSN))
	}
	u.User = url.User(s.role)
	s.roleDSN = u.String()
	return s, nil
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	return dsn
}

// Role returns the scene's role name.
func (s *Scene) Role() string { return s.role }

// Close drops the role (ending its sessions first) and closes the clients.
func (s *Scene) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.admin != nil {
		s.admin.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", s.role)
		for range 50 {
			if _, err := s.admin.ExecContext(ctx, "DROP ROLE IF EXISTS "+s.role); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		s.admin.Close()
	}
	if s.rdb != nil {
		s.rdb.Close()
	}
}

func (s *Scene) logf(format string, args ...any) { fmt.Fprintf(s.env.Log, format+"\n", args...) }

// child is a started child process.
type child struct {
	cmd    *exec.Cmd
	result chan childResult
	budget chan string
	stderr *strings.Builder
}

func (s *Scene) start(ctx context.Context, cfg childConfig) (*child, error) {
	raw, _ := json.Marshal(cfg)
	cmd := exec.CommandContext(ctx, s.env.Exe, s.env.Args...)
	cmd.Env = append(os.Environ(), EnvChild+"="+string(raw))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, result: make(chan childResult, 1), budget: make(chan string, 1), stderr: new(strings.Builder)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			line := sc.Text()
			if id, ok := strings.CutPrefix(line, "BUDGET "); ok {
				c.budget <- id
			} else if r, ok := strings.CutPrefix(line, "RESULT "); ok {
				var res childResult
				if json.Unmarshal([]byte(r), &res) == nil {
					c.result <- res
				}
			}
		}
		close(c.result)
	}()
	return c, nil
}

// wait returns the child's result, or an error naming what it printed.
func (c *child) wait() (childResult, error) {
	res, ok := <-c.result
	err := c.cmd.Wait()
	if !ok || err != nil {
		return res, fmt.Errorf("child %v: %v; stderr: %s", c.cmd.Args, err, c.stderr.String())
	}
	return res, nil
}

// DBRun is one run of processes against the role's connection limit.
type DBRun struct {
	Label     string
	Procs     int
	MaxSize   int
	MinSize   int           // connections each process opens at start-up, before the run
	Workers   int           // goroutines querying per process; zero: MaxSize
	Query     string        // zero: SELECT pg_sleep(0.05)
	FleetSize int           // fleet budget; zero: none
	LeaseTTL  time.Duration // zero: fleet's default
	Dur       time.Duration // the whole run
	Warm      time.Duration // the first part of Dur, not measured (pools filling)
	KillAfter time.Duration // kill -9 the first process this long into the run; zero: no
}

// DBResult is what a DBRun measured.
type DBResult struct {
	Run        DBRun
	Queries    int64
	Errors     int64
	Refused    int64         // connects the server refused
	Failed     int64         // other failed connects
	PoolPeaks  []int         // per process, most connections its pool held
	Throughput float64       // queries per second, all processes, after Warm
	P50, P99   time.Duration // query latency, acquire included, after Warm
	PeakConns  int           // most sessions of the role seen at once (pg_stat_activity, every 10ms)
	PeakLeases int           // most leases seen in Redis at once

	// With KillAfter: from the kill until the killed process's leases were
	// gone from Redis, and until the others held the whole budget again.
	LeasesGone time.Duration
	// KilledExpiresIn is how long after the kill, on Redis's clock, the
	// killed process's leases were set to expire (the latest of them): at
	// most the TTL, since nothing renews them after the kill.
	KilledExpiresIn time.Duration
	Refilled        time.Duration
	KilledHeld      int // leases the killed process held when killed
}

// RunDB runs r and returns its measurements.
func (s *Scene) RunDB(ctx context.Context, r DBRun) (DBResult, error) {
	if r.Workers == 0 {
		r.Workers = r.MaxSize
	}
	if r.Query == "" {
		r.Query = "SELECT pg_sleep(0.05)"
	}
	res := DBResult{Run: r}
	budget := "scene-" + s.role + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	leasesKey := fleet.DefaultKeyPrefix + "budget:{" + budget + "}:leases"
	start := time.Now().Add(1500 * time.Millisecond)
	var children []*child
	defer func() {
		for _, c := range children {
			c.cmd.Process.Kill()
		}
	}()
	for i := range r.Procs {
		c, err := s.start(ctx, childConfig{Mode: "db", Index: i, Start: start.UnixNano(), Dur: r.Dur, Warm: r.Warm, Redis: s.env.RedisAddr,
			DSN: s.roleDSN, MaxSize: r.MaxSize, MinSize: r.MinSize, Workers: r.Workers, Query: r.Query,
			FleetSize: r.FleetSize, Instances: r.Procs, Budget: budget, LeaseTTL: r.LeaseTTL})
		if err != nil {
			return res, err
		}
		children = append(children, c)
	}
	// Sample the server's sessions of the role.
	var peak atomic.Int64
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for sctx.Err() == nil {
			var n int64
			if err := s.admin.QueryRowContext(sctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = $1", s.role).Scan(&n); err == nil {
				if n > peak.Load() {
					peak.Store(n)
				}
			}
			if r.FleetSize > 0 {
				if n, err := s.rdb.ZCard(sctx, leasesKey).Result(); err == nil && int(n) > res.PeakLeases {
					res.PeakLeases = int(n)
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	defer func() { stop(); wg.Wait() }()

	if r.KillAfter > 0 && r.FleetSize > 0 {
		var id string
		select {
		case id = <-children[0].budget:
		case <-time.After(time.Until(start) + r.Dur):
			return res, fmt.Errorf("the first child never said its budget id; stderr: %s", children[0].stderr)
		}
		time.Sleep(time.Until(start.Add(r.KillAfter)))
		mine := func() int {
			ms, _ := s.rdb.ZRange(ctx, leasesKey, 0, -1).Result()
			n := 0
			for _, m := range ms {
				if strings.HasPrefix(m, id+":") {
					n++
				}
			}
			return n
		}
		res.KilledHeld = mine()
		children[0].cmd.Process.Kill() // SIGKILL: no clean-up of any kind
		killed := time.Now()
		children[0].cmd.Wait() // dead: no renewal can land after this
		if now, err := s.rdb.Time(ctx).Result(); err == nil {
			zs, _ := s.rdb.ZRangeWithScores(ctx, leasesKey, 0, -1).Result()
			var latest float64
			for _, z := range zs {
				if m, _ := z.Member.(string); strings.HasPrefix(m, id+":") && z.Score > latest {
					latest = z.Score
				}
			}
			if latest > 0 {
				res.KilledExpiresIn = time.Duration(int64(latest)-now.UnixMilli())*time.Millisecond + time.Since(killed)
			}
		}
		s.logf("  killed process 1 (kill -9) holding %d leases", res.KilledHeld)
		deadline := killed.Add(r.Dur)
		for time.Now().Before(deadline) && mine() > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		res.LeasesGone = time.Since(killed)
		for time.Now().Before(deadline) {
			n, _ := s.rdb.ZCard(ctx, leasesKey).Result()
			if int(n) >= r.FleetSize && mine() == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		res.Refilled = time.Since(killed)
		children = children[1:]
	}

	var lat []int64
	for _, c := range children {
		cr, err := c.wait()
		if err != nil {
			return res, err
		}
		res.Queries += cr.Queries
		res.Errors += cr.Errors
		res.Refused += cr.Refused
		res.Failed += cr.Failed
		res.PoolPeaks = append(res.PoolPeaks, cr.PeakOpen)
		lat = append(lat, cr.Latencies...)
	}
	children = nil
	stop()
	wg.Wait()
	res.PeakConns = int(peak.Load())
	res.Throughput = float64(res.Queries) / (r.Dur - r.Warm).Seconds()
	slices.Sort(lat)
	if len(lat) > 0 {
		res.P50 = time.Duration(lat[len(lat)/2])
		res.P99 = time.Duration(lat[min(len(lat)-1, len(lat)*99/100)])
	}
	return res, nil
}

// BreakerRun is processes calling one downstream that starts failing.
type BreakerRun struct {
	Procs     int
	FailAfter time.Duration // the downstream answers 500 from this far into the run
	Dur       time.Duration
	Intervals []time.Duration // pause between one process's calls, per process (cycled)
}

// BreakerResult is what a BreakerRun measured.
type BreakerResult struct {
	Run        BreakerRun
	FailedAt   time.Time   // when the downstream started failing
	OpenedAt   []time.Time // per process; zero: never opened
	Remote     []bool      // per process: opened by another's trip
	FirstOpen  time.Time
	Lag        []time.Duration // per process: OpenedAt - FirstOpen
	MaxLag     time.Duration
	Requests   int64 // calls that reached the downstream
	Rejected   int64 // calls failed fast by an open breaker
	Reached    int64 // calls that reached the downstream after their breaker opened
	RedisCalls int64 // commands Redis served during the run (INFO commandstats), INFO itself excluded
}

// CallsPerRequest is RedisCalls per call the processes made.
func (r BreakerResult) CallsPerRequest() float64 {
	n := r.Requests + r.Rejected
	if n == 0 {
		return 0
	}
	return float64(r.RedisCalls) / float64(n)
}

// RunBreaker runs r against a loopback HTTP downstream.
func (s *Scene) RunBreaker(ctx context.Context, r BreakerRun) (BreakerResult, error) {
	res := BreakerResult{Run: r}
	start := time.Now().Add(1500 * time.Millisecond)
	failAt := start.Add(r.FailAfter)
	res.FailedAt = failAt
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if time.Now().After(failAt) {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	before, err := s.redisCalls(ctx)
	if err != nil {
		return res, err
	}
	prefix := "poolkit:scene:" + s.role + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	var children []*child
	defer func() {
		for _, c := range children {
			c.cmd.Process.Kill()
		}
	}()
	for i := range r.Procs {
		c, err := s.start(ctx, childConfig{Mode: "breaker", Index: i, Start: start.UnixNano(), Dur: r.Dur, Redis: s.env.RedisAddr,
			URL: "http://" + ln.Addr().String() + "/", Prefix: prefix, Service: "downstream", Interval: r.Intervals[i%len(r.Intervals)]})
		if err != nil {
			return res, err
		}
		children = append(children, c)
	}
	for _, c := range children {
		cr, err := c.wait()
		if err != nil {
			return res, err
		}
		res.Requests += cr.Requests
		res.Rejected += cr.Rejected
		res.Reached += cr.ReachedAfterOpen
		var at time.Time
		if cr.OpenedAt != 0 {
			at = time.Unix(0, cr.OpenedAt)
		}
		res.OpenedAt = append(res.OpenedAt, at)
		res.Remote = append(res.Remote, cr.Remote)
	}
	children = nil
	after, err := s.redisCalls(ctx)
	if err != nil {
		return res, err
	}
	res.RedisCalls = after - before
	for _, at := range res.OpenedAt {
		if !at.IsZero() && (res.FirstOpen.IsZero() || at.Before(res.FirstOpen)) {
			res.FirstOpen = at
		}
	}
	for _, at := range res.OpenedAt {
		lag := time.Duration(-1)
		if !at.IsZero() {
			lag = at.Sub(res.FirstOpen)
			res.MaxLag = max(res.MaxLag, lag)
		}
		res.Lag = append(res.Lag, lag)
	}
	return res, nil
}

// redisCalls sums the calls of every command in INFO commandstats, leaving
// out INFO itself.
func (s *Scene) redisCalls(ctx context.Context) (int64, error) {
	info, err := s.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	var total int64
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		for f := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				total += n
			}
		}
	}
	return total, nil
}
