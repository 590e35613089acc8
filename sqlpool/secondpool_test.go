package sqlpool_test

import (
	"strings"
	"testing"

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
