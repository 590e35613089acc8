package sqlpool_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolkit/poolkit/sqlpool"
)

const secondPoolWarning = "database/sql keeps idle connections of its own"

// GORM's tuning snippet (db.SetMaxIdleConns(10), db.SetMaxOpenConns(100))
// brings database/sql's own idle pool back in front of the connector:
// warned about once, naming the fix. The *sql.DB as handed out is not.
func TestSecondPoolWarnedOnce(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			for _, tuned := range []bool{false, true} {
				log, buf := captureLogger()
				_, db := be.open(t, sqlpool.Config{MaxSize: 4, Logger: log})
				if tuned {
					db.SetMaxIdleConns(10)
					db.SetMaxOpenConns(100)
				}
				for range 5 {
					var v int
					if err := db.QueryRow("SELECT 1").Scan(&v); err != nil {
						t.Fatal(err)
					}
				}
				n := strings.Count(buf.String(), secondPoolWarning)
				switch {
				case tuned && n != 1:
					t.Errorf("SetMaxIdleConns(10): warned %d times; want once\n%s", n, buf)
				case tuned && !strings.Contains(buf.String(), "SetMaxIdleConns(0)"):
					t.Errorf("the warning does not name the fix:\n%s", buf)
				case tuned && (!strings.Contains(buf.String(), " pool=") || strings.Contains(buf.String(), "connector=")):
					t.Errorf("the warning does not name the pool under the key pool (as package pool does):\n%s", buf)
				case !tuned && n != 0:
					t.Errorf("untouched DB: warned %d times; want never\n%s", n, buf)
				}
			}
		})
	}
}

// After the GORM snippet, with MaxSize below SetMaxIdleConns(10): callers
// waiting in the pool are not stranded while connections sit idle in
// database/sql's (they were: every caller beyond MaxSize timed out), and
// no connection idle there is reported as leaked. Once database/sql is seen
// pooling, the connector has it give every connection back.
func TestGormTuningStrandsNobody(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			log, buf := captureLogger()
			c, db := be.open(t, sqlpool.Config{MaxSize: 4, LeakThreshold: 300 * time.Millisecond,
				AcquireTimeout: 3 * time.Second, Logger: log})
			db.SetMaxIdleConns(10)
			db.SetMaxOpenConns(100)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for range 16 {
				wg.Go(func() {
					for range 30 {
						var v int
						if err := db.QueryRow("SELECT 1").Scan(&v); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("query: %v", err)
			}
			time.Sleep(time.Second) // past LeakThreshold
			if s := c.Stats(); s.InUse != 0 || s.Leaks != 0 {
				t.Errorf("after the queries: InUse %d, Leaks %d; want 0, 0 (nothing held in database/sql's idle pool)", s.InUse, s.Leaks)
			}
			if s := db.Stats(); s.Idle != 0 {
				t.Errorf("database/sql keeps %d idle connections; want 0", s.Idle)
			}
			if n := strings.Count(buf.String(), secondPoolWarning); n != 1 {
				t.Errorf("warned %d times; want once", n)
			}
		})
	}
}
