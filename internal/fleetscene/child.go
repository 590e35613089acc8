// Package fleetscene plays the fleet scene with real OS processes: the
// parent re-runs its own executable (the test binary, or the example) as
// children, each a service instance with its own sqlpool connector or
// circuit breaker, and measures what the database, the downstream and Redis
// see. It serves fleet's tests and examples/fleet; it is not API.
package fleetscene

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/poolkit/poolkit/breaker"
	"github.com/poolkit/poolkit/fleet"
	"github.com/poolkit/poolkit/pool"
	"github.com/poolkit/poolkit/sqlpool"
)

// EnvChild, when set in a process's environment, makes it a child: the
// program calls [Child] instead of doing its own work. Its value is the
// child's JSON config.
const EnvChild = "POOLKIT_FLEETSCENE_CHILD"

// childConfig is what a child is told.
type childConfig struct {
	Mode  string // "db" or "breaker"
	Index int
	Start int64 // unix nanoseconds: begin work
	Dur   time.Duration
	Warm  time.Duration // db: not measured at first (connections being opened)
	Redis string

	// db
	DSN       string
	MaxSize   int
	MinSize   int
	Workers   int
	Query     string
	FleetSize int // 0: no fleet budget
	Instances int
	Budget    string
	LeaseTTL  time.Duration

	// breaker
	URL      string
	Prefix   string
	Service  string
	Interval time.Duration
}

// childResult is a child's last line on stdout.
type childResult struct {
	Index     int
	Queries   int64
	Errors    int64
	Refused   int64 // connects the server refused (too many connections)
	Failed    int64 // other failed connects
	PeakOpen  int   // most connections the process's pool had open
	Latencies []int64

	Requests         int64 // breaker: calls that reached the downstream
	Rejected         int64 // breaker: calls failed fast
	OpenedAt         int64 // unix nanoseconds the breaker opened, 0: never
	Remote           bool  // opened because another process's breaker did
	Propagation      time.Duration
	ReachedAfterOpen int64 // calls that reached the downstream after OpenedAt
}

// Child runs a child's part when EnvChild is set and returns the process's
// exit code; ok is false when this process is not a child.
func Child() (code int, ok bool) {
	raw := os.Getenv(EnvChild)
	if raw == "" {
		return 0, false
	}
	var cfg childConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "fleetscene child: bad config:", err)
		return 2, true
	}
	var res childResult
	var err error
	switch cfg.Mode {
	case "db":
		res, err = dbChild(cfg)
	case "breaker":
		res, err = breakerChild(cfg)
	default:
		err = fmt.Errorf("unknown mode %q", cfg.Mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetscene child:", err)
		return 1, true
	}
	res.Index = cfg.Index
	out, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", out)
	return 0, true
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// countingConnector counts the connects the server refuses.
type countingConnector struct {
	driver.Connector
	refused, failed atomic.Int64
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "53300" || pe.Code == "53400") {
			c.refused.Add(1)
		} else {
			c.failed.Add(1)
		}
	}
	return conn, err
}

func dbChild(cfg childConfig) (childResult, error) {
	var res childResult
	ctx := context.Background()
	var budget pool.SharedBudget
	if cfg.FleetSize > 0 {
		rdb := redis.NewClient(&redis.Options{Addr: cfg.Redis})
		defer rdb.Close()
		fb, err := fleet.NewBudget(fleet.BudgetConfig{Client: rdb, Name: cfg.Budget, Size: cfg.FleetSize,
			ExpectedInstances: cfg.Instances, LeaseTTL: cfg.LeaseTTL, PollInterval: 100 * time.Millisecond, Logger: quietLogger()})
		if err != nil {
			return res, err
		}
		defer fb.Close(ctx)
		fmt.Printf("BUDGET %s\n", fb.ID())
		budget = fb
	}
	pc, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return res, err
	}
	cc := &countingConnector{Connector: stdlib.GetConnector(*pc)}
	conn, err := sqlpool.NewConnector(cc, sqlpool.Config{Name: fmt.Sprintf("child%d", cfg.Index), MaxSize: cfg.MaxSize, MinSize: cfg.MinSize,
		AcquireTimeout: 10 * time.Second, Budget: budget, Instances: -1, DisableBreaker: true, Logger: quietLogger()})
	if err != nil {
		return res, err
	}
	db := conn.DB()
	defer db.Close()
	time.Sleep(time.Until(time.Unix(0, cfg.Start)))
	end := time.Now().Add(cfg.Dur)
	counted := time.Now().Add(cfg.Warm) // queries that start after this are measured
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(func() {
			var lat []int64
			var ok, bad int64
			for time.Now().Before(end) {
				t0 := time.Now()
				qctx, cancel := context.WithDeadline(ctx, end.Add(5*time.Second))
				_, err := db.ExecContext(qctx, cfg.Query)
				cancel()
				if err != nil {
					bad++
					time.Sleep(5 * time.Millisecond) // a refused connect fails at once: do not spin
					continue
				}
				if t0.After(counted) {
					ok++
					lat = append(lat, int64(time.Since(t0)))
				}
			}
			mu.Lock()
			res.Queries += ok
			res.Errors += bad
			res.Latencies = append(res.Latencies, lat...)
			mu.Unlock()
		})
	}
	stopPeak := make(chan struct{})
	var peakWG sync.WaitGroup
	peakWG.Go(func() {
		for {
			select {
			case <-stopPeak:
				return
			case <-time.After(10 * time.Millisecond):
				if n := conn.Stats().Open; n > res.PeakOpen {
					res.PeakOpen = n
				}
			}
		}
	})
	wg.Wait()
	close(stopPeak)
	peakWG.Wait()
	res.Refused = cc.refused.Load()
	res.Failed = cc.failed.Load()
	return res, nil
}

// openWatch records when the breaker opened.
type openWatch struct{ at atomic.Int64 }

func (w *openWatch) StateChange(_ string, _, to breaker.State) {
	if to == breaker.StateOpen {
		w.at.CompareAndSwap(0, time.Now().UnixNano())
	}
}
func (w *openWatch) Rejected(string) {}

func breakerChild(cfg childConfig) (childResult, error) {
	var res childResult
	rdb := redis.NewClient(&redis.Options{Addr: cfg.Redis})
	defer rdb.Close()
	f, err := fleet.NewBreakers(fleet.BreakerConfig{Client: rdb, KeyPrefix: cfg.Prefix, Logger: quietLogger()})
	if err != nil {
		return res, err
	}
	defer f.Close()
	watch := &openWatch{}
	b, err := f.New(cfg.Service, breaker.Settings{ConsecutiveFailures: 5, OpenTimeout: time.Minute, Observer: watch})
	if err != nil {
		return res, err
	}
	client := &http.Client{Transport: breaker.NewTransport(http.DefaultTransport.(*http.Transport).Clone(), b, nil), Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	time.Sleep(time.Until(time.Unix(0, cfg.Start)))
	end := time.Now().Add(cfg.Dur)
	for time.Now().Before(end) {
		req, _ := http.NewRequest("GET", cfg.URL, nil)
		req.Header.Set("X-Child", fmt.Sprint(cfg.Index))
		openBefore := watch.at.Load() != 0
		resp, err := client.Do(req)
		switch {
		case errors.Is(err, breaker.ErrOpen):
			res.Rejected++
		case err == nil:
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			res.Requests++
			if openBefore {
				res.ReachedAfterOpen++
			}
		default:
			res.Requests++
		}
		time.Sleep(cfg.Interval)
	}
	res.OpenedAt = watch.at.Load()
	st := f.Stats()
	res.Remote = st.RemoteTrips > 0
	res.Propagation = st.LastPropagation
	return res, nil
}
