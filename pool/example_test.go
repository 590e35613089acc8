package pool_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// client stands for anything costly to open: a connection, a session.
type client struct{ id int }

func Example() {
	opened := 0
	p, err := pool.New(pool.Config[*client]{
		Name:    "backend",
		MaxSize: 2,
		Create: func(ctx context.Context) (*client, error) {
			opened++
			return &client{id: opened}, nil
		},
		Destroy:        func(c *client) { fmt.Println("closed client", c.id) },
		AcquireTimeout: time.Second,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 3 {
		r, err := p.Acquire(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println("using client", r.Value().id)
		r.Release()
	}
	s := p.Stats()
	fmt.Printf("open %d, idle %d, acquires %d, created %d\n", s.Open, s.Idle, s.Acquires, s.Created)
	if err := p.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// using client 1
	// using client 1
	// using client 1
	// open 1, idle 1, acquires 3, created 1
	// closed client 1
}

func ExamplePool_Acquire_timeout() {
	p, _ := pool.New(pool.Config[*client]{
		Name:           "backend",
		MaxSize:        1,
		Create:         func(context.Context) (*client, error) { return &client{}, nil },
		AcquireTimeout: 10 * time.Millisecond,
	})
	defer p.Close(context.Background())
	held, _ := p.Acquire(context.Background())
	defer held.Release()

	_, err := p.Acquire(context.Background())
	var te *pool.TimeoutError
	fmt.Println(errors.Is(err, pool.ErrAcquireTimeout), errors.Is(err, context.DeadlineExceeded), errors.As(err, &te))
	fmt.Println("in use:", te.State.InUse, "of", te.State.MaxSize)
	// Output:
	// true true true
	// in use: 1 of 1
}

func ExampleBudget() {
	budget, _ := pool.NewBudget(3) // at most 3 open across both pools
	create := func(context.Context) (*client, error) { return &client{}, nil }
	primary, _ := pool.New(pool.Config[*client]{Name: "primary", MaxSize: 3, Create: create, Budget: budget})
	replica, _ := pool.New(pool.Config[*client]{Name: "replica", MaxSize: 3, Create: create, Budget: budget})
	ctx := context.Background()

	a, _ := primary.Acquire(ctx)
	b, _ := primary.Acquire(ctx)
	c, _ := primary.Acquire(ctx)
	c.Release() // idle in the primary
	// The replica needs one: the budget is spent, so the primary's idle
	// client is closed to make room.
	r, _ := replica.Acquire(ctx)
	fmt.Println("primary open:", primary.Stats().Open, "replica open:", replica.Stats().Open, "budget used:", budget.Used())
	for _, x := range []*pool.Resource[*client]{a, b, r} {
		x.Release()
	}
	primary.Close(ctx)
	replica.Close(ctx)
	// Output:
	// primary open: 2 replica open: 1 budget used: 3
}
