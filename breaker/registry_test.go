package breaker_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/poolkit/poolkit/breaker"
)

func TestRegistryGetOrCreate(t *testing.T) {
	r := breaker.NewRegistry(func(service string) breaker.Settings {
		if service == "payment" {
			return breaker.Settings{ConsecutiveFailures: 3}
		}
		if service == "broken" {
			return breaker.Settings{FailureRatio: 2}
		}
		return breaker.Settings{}
	})
	var wg sync.WaitGroup
	got := make([]*breaker.Breaker, 16)
	for i := range got {
		wg.Go(func() {
			b, err := r.Get("payment")
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		})
	}
	wg.Wait()
	for _, b := range got {
		if b != got[0] {
			t.Fatal("Get returned different breakers for one service")
		}
	}
	if got[0].Name() != "payment" || got[0].Settings().ConsecutiveFailures != 3 {
		t.Errorf("breaker %q with %+v; want payment's settings", got[0].Name(), got[0].Settings())
	}
	inv, _ := r.Get("inventory")
	if inv == got[0] || inv.Settings().ConsecutiveFailures != breaker.DefaultConsecutiveFailures {
		t.Error("inventory should get its own breaker with default settings")
	}
	if _, err := r.Get("broken"); err == nil {
		t.Error("Get with invalid settings: want error")
	}
	if _, ok := r.Lookup("broken"); ok {
		t.Error("a failed Get must not be remembered")
	}
	if b, ok := r.Lookup("inventory"); !ok || b != inv {
		t.Error("Lookup(inventory) should find the breaker Get created")
	}
	if names := r.Names(); !slices.Equal(names, []string{"inventory", "payment"}) {
		t.Errorf("Names() = %v", names)
	}
}

func TestZeroRegistry(t *testing.T) {
	var r breaker.Registry
	if _, ok := r.Lookup("x"); ok {
		t.Fatal("empty registry found a breaker")
	}
	b, err := r.Get("x")
	if err != nil || b.Settings().OpenTimeout != breaker.DefaultOpenTimeout {
		t.Fatalf("Get on zero Registry = %v, %v; want default breaker", b, err)
	}
	if _, err := r.Get(""); err == nil {
		t.Error("Get(\"\"): want error")
	}
}
