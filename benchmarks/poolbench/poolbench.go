// Package poolbench compares pool.Pool with jackc/puddle/v2, database/sql's
// own pool (over a driver that does nothing) and a buffered channel, the
// lower bound of any pool.
package poolbench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jackc/puddle/v2"
	"github.com/poolkit/poolkit/benchmarks/bench"
	"github.com/poolkit/poolkit/pool"
)

type conn struct{ n int }

// Contention: 64 goroutines for 8 resources.
const (
	contenders = 64
	resources  = 8
)

// Cases returns the pool suite.
func Cases() []bench.Case {
	var cs []bench.Case
	add := func(group, name string, base bool, fn func(b *testing.B)) {
		cs = append(cs, bench.Case{Group: group, Name: name, Baseline: base, Fn: fn})
	}
	g := "acquire+release, uncontended"
	add(g, "puddle/v2", true, func(b *testing.B) { puddleSerial(b) })
	add(g, "poolkit", false, func(b *testing.B) { poolkitSerial(b, pool.Config[*conn]{}) })
	add(g, "poolkit+AcquireTimeout", false, func(b *testing.B) { poolkitSerial(b, pool.Config[*conn]{AcquireTimeout: time.Second}) })
	add(g, "poolkit+lifetime+idle+check", false, func(b *testing.B) {
		poolkitSerial(b, pool.Config[*conn]{MaxLifetime: time.Hour, IdleTimeout: time.Hour,
			Check: func(context.Context, *conn) error { return nil }})
	})
	add(g, "database/sql (fake driver)", false, func(b *testing.B) { sqlSerial(b) })
	add(g, "buffered channel", false, func(b *testing.B) { chanSerial(b) })

	g = "acquire+release, 64 goroutines / 8 resources"
	add(g, "puddle/v2", true, func(b *testing.B) { puddleParallel(b) })
	add(g, "poolkit", false, func(b *testing.B) { poolkitParallel(b, pool.Config[*conn]{}) })
	add(g, "poolkit+AcquireTimeout", false, func(b *testing.B) { poolkitParallel(b, pool.Config[*conn]{AcquireTimeout: time.Second}) })
	add(g, "database/sql (fake driver)", false, func(b *testing.B) { sqlParallel(b) })
	add(g, "buffered channel", false, func(b *testing.B) { chanParallel(b) })

	g = "hand-off to a waiter (release → waiter running)"
	add(g, "puddle/v2", true, func(b *testing.B) { handoff(b, puddleHandoff()) })
	add(g, "poolkit", false, func(b *testing.B) { handoff(b, poolkitHandoff()) })
	add(g, "buffered channel", false, func(b *testing.B) { handoff(b, chanHandoff()) })

	g = "Stats()"
	add(g, "puddle/v2", true, func(b *testing.B) {
		p := newPuddle(b, resources)
		b.ResetTimer()
		for b.Loop() {
			_ = p.Stat()
		}
	})
	add(g, "poolkit", false, func(b *testing.B) {
		p := newPoolkit(b, pool.Config[*conn]{MaxSize: resources})
		b.ResetTimer()
		for b.Loop() {
			_ = p.Stats()
		}
	})
	return cs
}

func newPoolkit(b *testing.B, cfg pool.Config[*conn]) *pool.Pool[*conn] {
	n := 0
	cfg.Create = func(context.Context) (*conn, error) { n++; return &conn{n: n}, nil }
	if cfg.MaxSize == 0 {
		cfg.MaxSize = resources
	}
	p, err := pool.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func newPuddle(b *testing.B, size int32) *puddle.Pool[*conn] {
	p, err := puddle.NewPool(&puddle.Config[*conn]{
		Constructor: func(context.Context) (*conn, error) { return &conn{}, nil },
		Destructor:  func(*conn) {},
		MaxSize:     size,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

func poolkitSerial(b *testing.B, cfg pool.Config[*conn]) {
	p := newPoolkit(b, cfg)
	ctx := context.Background()
	r, _ := p.Acquire(ctx) // warm
	r.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := p.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		r.Release()
	}
}

func puddleSerial(b *testing.B) {
	p := newPuddle(b, resources)
	ctx := context.Background()
	r, _ := p.Acquire(ctx)
	r.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := p.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		r.Release()
	}
}

func chanSerial(b *testing.B) {
	ch := make(chan *conn, resources)
	for i := 0; i < resources; i++ {
		ch <- &conn{}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c := <-ch
		ch <- c
	}
}

func poolkitParallel(b *testing.B, cfg pool.Config[*conn]) {
	p := newPoolkit(b, cfg)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(contenders / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := p.Acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			r.Release()
		}
	})
}

func puddleParallel(b *testing.B) {
	p := newPuddle(b, resources)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(contenders / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := p.Acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			r.Release()
		}
	})
}

func chanParallel(b *testing.B) {
	ch := make(chan *conn, resources)
	for i := 0; i < resources; i++ {
		ch <- &conn{}
	}
	b.ReportAllocs()
	b.SetParallelism(contenders / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := <-ch
			ch <- c
		}
	})
}

// fakeDriver is a database/sql driver whose connections do nothing.
type fakeDriver struct{}

type fakeConn struct{}

func (fakeDriver) Open(string) (driver.Conn, error)             { return fakeConn{}, nil }
func (fakeDriver) Connect(context.Context) (driver.Conn, error) { return fakeConn{}, nil }
func (fakeDriver) Driver() driver.Driver                        { return fakeDriver{} }
func (fakeConn) Prepare(string) (driver.Stmt, error)            { return nil, errors.New("fake") }
func (fakeConn) Close() error                                   { return nil }
func (fakeConn) Begin() (driver.Tx, error)                      { return nil, errors.New("fake") }

func newDB(b *testing.B) *sql.DB {
	db := sql.OpenDB(fakeDriver{})
	db.SetMaxOpenConns(resources)
	db.SetMaxIdleConns(resources)
	b.Cleanup(func() { db.Close() })
	return db
}

func sqlSerial(b *testing.B) {
	db := newDB(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func sqlParallel(b *testing.B) {
	db := newDB(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(contenders / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := db.Conn(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			c.Close()
		}
	})
}

// A handoffer has one resource; take blocks until it is free, give frees it.
type handoffer struct {
	take func() any
	give func(any)
}

// handoff measures how long a blocked waiter takes to run after the holder
// gives the only resource back: a ping-pong between two goroutines, so
// ns/op is the time of two hand-offs.
func handoff(b *testing.B, h handoffer) {
	r := h.take()
	var wg sync.WaitGroup
	wg.Add(1)
	n := b.N
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			r := h.take()
			h.give(r)
		}
	}()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		h.give(r)
		r = h.take()
	}
	h.give(r)
	wg.Wait()
}

func poolkitHandoff() handoffer {
	p, _ := pool.New(pool.Config[*conn]{MaxSize: 1, Create: func(context.Context) (*conn, error) { return &conn{}, nil }})
	ctx := context.Background()
	return handoffer{
		take: func() any { r, _ := p.Acquire(ctx); return r },
		give: func(r any) { r.(*pool.Resource[*conn]).Release() },
	}
}

func puddleHandoff() handoffer {
	p, _ := puddle.NewPool(&puddle.Config[*conn]{
		Constructor: func(context.Context) (*conn, error) { return &conn{}, nil },
		Destructor:  func(*conn) {}, MaxSize: 1})
	ctx := context.Background()
	return handoffer{
		take: func() any { r, _ := p.Acquire(ctx); return r },
		give: func(r any) { r.(*puddle.Resource[*conn]).Release() },
	}
}

func chanHandoff() handoffer {
	ch := make(chan *conn, 1)
	ch <- &conn{}
	return handoffer{take: func() any { return <-ch }, give: func(r any) { ch <- r.(*conn) }}
}
