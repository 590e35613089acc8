package fleet_test

import (
	"testing"
	"time"

	"github.com/poolkit/poolkit/fleet"
)

// The worst case documented on Budget: with k processes cut off from Redis,
// the fleet holds at most Size + k × ⌊Size ÷ ExpectedInstances⌋ once the
// cut-off ones have shed down to their local share. Here Size 10, two
// expected instances (local share 5), one process cut off: 15 at most, and
// no more than that can be taken.
func TestBudgetPartitionWorstCase(t *testing.T) {
	rdb := needRedis(t)
	name := unique("partition")
	p := newProxy(t, redisAddr())
	cfg := fleet.BudgetConfig{Name: name, Size: 10, ExpectedInstances: 2,
		LeaseTTL: time.Second, PollInterval: 100 * time.Millisecond, OpTimeout: 200 * time.Millisecond}
	cutCfg := cfg
	cutCfg.Client = newClient(t, p.addr(), false)
	cut := newBudget(t, cutCfg)
	cfg.Client = rdb
	connected := newBudget(t, cfg)
	m := member("p")

	held := take(t, cut, m, 8)
	take(t, connected, m, 2)

	p.setCut(true)
	if !eventually(3*time.Second, func() bool { return cut.Stats().Degraded }) {
		t.Fatal("the cut-off process never noticed")
	}
	if !cut.Starved() {
		t.Error("cut off above its local share, Starved() = false; want true so released connections close")
	}
	if tryTake(cut, m, 300*time.Millisecond) {
		t.Error("cut off holding 8, above its local share of 5, it got another")
	}
	// The connected process takes the cut-off one's expired leases, up to
	// Size, and no more.
	take(t, connected, m, 8)
	if tryTake(connected, m, 300*time.Millisecond) {
		t.Error("the connected process got an 11th share of a budget of 10")
	}
	// The cut-off process sheds to its local share, and then keeps to it.
	for _, s := range held[:4] {
		s.Release()
	}
	if st := cut.Stats(); st.Held != 4 {
		t.Fatalf("cut-off process holds %d; want 4", st.Held)
	}
	extra := take(t, cut, m, 1)
	if tryTake(cut, m, 300*time.Millisecond) {
		t.Error("cut-off process went beyond its local share of 5")
	}
	total := cut.Stats().Held + connected.Stats().Held
	if worst := 10 + 1*(10/2); total != worst {
		t.Errorf("fleet holds %d; the documented worst case is %d and this test reaches it", total, worst)
	}

	// Redis back: the fleet is full, so the cut-off process's leases are
	// lost; it says so and closes connections as they come back.
	p.setCut(false)
	if !eventually(5*time.Second, func() bool { st := cut.Stats(); return !st.Degraded && st.Lost == 5 }) {
		t.Fatalf("after healing: %+v; want not degraded, 5 lost", cut.Stats())
	}
	if !cut.Starved() {
		t.Error("holding lost leases, Starved() = false; want true")
	}
	if tryTake(cut, m, 300*time.Millisecond) {
		t.Error("healed process got a share of a full budget")
	}
	extra[0].Release()
	for _, s := range held[4:] {
		s.Release()
	}
	if !eventually(5*time.Second, func() bool { return cut.Stats().Held == 0 && cut.Stats().Lost == 0 }) {
		t.Errorf("after releasing everything: %+v", cut.Stats())
	}
}
