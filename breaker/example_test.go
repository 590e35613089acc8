package breaker_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/poolkit/poolkit/breaker"
)

func ExampleExecute() {
	b, err := breaker.New("inventory", breaker.Settings{ConsecutiveFailures: 2})
	if err != nil {
		panic(err)
	}
	lookup := func(fail bool) (int, error) {
		return breaker.Execute(b, func() (int, error) {
			if fail {
				return 0, errors.New("connection reset")
			}
			return 42, nil
		})
	}
	fmt.Println(lookup(false))
	lookup(true)
	lookup(true) // trips the breaker
	_, err = lookup(false)
	fmt.Println(b.State(), errors.Is(err, breaker.ErrOpen))
	// Output:
	// 42 <nil>
	// open true
}

func ExampleNewTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	var reg breaker.Registry
	b, _ := reg.Get("payment")
	client := &http.Client{Transport: breaker.NewTransport(srv.Client().Transport, b, nil)}
	for range breaker.DefaultConsecutiveFailures {
		resp, err := client.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	_, err := client.Get(srv.URL)
	var oe *breaker.OpenError
	fmt.Println(errors.As(err, &oe), oe.Service, oe.State)
	// Output:
	// true payment open
}

type logObserver struct{ b *breaker.Breaker }

func (o *logObserver) StateChange(name string, from, to breaker.State) {
	fmt.Printf("%s: %v -> %v (now %v)\n", name, from, to, o.b.State())
}

func (o *logObserver) Rejected(name string) { fmt.Printf("%s: rejected\n", name) }

func ExampleObserver() {
	obs := &logObserver{}
	b, _ := breaker.New("db", breaker.Settings{ConsecutiveFailures: 1, Observer: obs})
	obs.b = b
	done, _ := b.Allow()
	done(errors.New("dial tcp: connection refused"))
	b.Allow()
	// Output:
	// db: closed -> open (now open)
	// db: rejected
}
