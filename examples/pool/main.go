// Command pool shows pool.Pool at work on real TCP connections, with nothing
// to install: it starts a line-echo server in-process, pools connections to
// it, drives load from many goroutines, restarts the server in the middle
// (every pooled connection dies), and prints the pool's stats as it goes.
//
//	go run ./examples/pool
//	go run ./examples/pool -workers 64 -size 8 -duration 5s
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolkit/poolkit/pool"
)

// conn is a pooled client connection speaking a line protocol: it writes a
// line and reads it back.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func (c *conn) roundTrip(ctx context.Context, line string) (string, error) {
	if d, ok := ctx.Deadline(); ok {
		c.c.SetDeadline(d)
	} else {
		c.c.SetDeadline(time.Now().Add(2 * time.Second))
	}
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		return "", err
	}
	return c.r.ReadString('\n')
}

func main() {
	workers := flag.Int("workers", 32, "goroutines issuing requests")
	size := flag.Int("size", 8, "pool MaxSize")
	duration := flag.Duration("duration", 3*time.Second, "how long to run")
	flag.Parse()
	log.SetFlags(0)
	if err := run(os.Stdout, *workers, *size, *duration); err != nil {
		log.Fatal(err)
	}
}

// run drives the demo, writing its table to out. It returns an error when
// the pool misbehaved: a request failed outside the restart, or the pool
// churned connections.
func run(out io.Writer, workers, size int, duration time.Duration) error {
	srv, err := startEchoServer("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.close()
	addr := srv.addr()

	p, err := pool.New(pool.Config[*conn]{
		Name: "echo",
		Create: func(ctx context.Context) (*conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return &conn{c: c, r: bufio.NewReader(c)}, nil
		},
		Destroy: func(c *conn) { c.c.Close() },
		Check: func(ctx context.Context, c *conn) error {
			reply, err := c.roundTrip(ctx, "PING")
			if err == nil && reply != "PING\n" {
				err = fmt.Errorf("unexpected reply %q", reply)
			}
			return err
		},
		MinSize:        2,
		MaxSize:        size,
		IdleTimeout:    30 * time.Second,
		MaxLifetime:    time.Minute,
		AcquireTimeout: time.Second,
		CheckAfterIdle: 200 * time.Millisecond,
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "pool %q: MaxSize %d, %d workers, %v against an in-process echo server at %s\n\n",
		"echo", size, workers, duration, addr)
	fmt.Fprintf(out, "%6s %5s %5s %6s %8s %7s %9s %8s %8s %9s\n", "t", "open", "idle", "in use", "waiting", "created", "acquires", "waited", "errors", "chk fail")

	var stop atomic.Bool
	var requests, failures atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				if err := work(ctx, p); err != nil {
					failures.Add(1)
				}
				cancel()
				requests.Add(1)
				time.Sleep(time.Millisecond) // think time
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()

	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	restarted := false
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		s := p.Stats()
		fmt.Fprintf(out, "%6s %5d %5d %6d %8d %7d %9d %8d %8d %9d\n", time.Since(start).Round(100*time.Millisecond),
			s.Open, s.Idle, s.InUse, s.Waiting, s.Created, s.Acquires, s.WaitedAcquires, failures.Load(), s.Destroyed.CheckFailed)
		if done {
			stop.Store(true)
		}
		if !restarted && time.Since(start) > duration/2 {
			restarted = true
			srv.dropAll()
			fmt.Fprintln(out, "   -- the server drops every connection (a restart): requests in flight fail once,")
			fmt.Fprintln(out, "      idle connections are checked before they are lent and replaced --")
		}
	}
	wg.Wait()

	s := p.Stats()
	fmt.Fprintf(out, "\n%d requests, %d failed; pool created %d connections, destroyed %d (check failed %d, broken %d)\n",
		requests.Load(), failures.Load(), s.Created, s.Destroyed.Total(), s.Destroyed.CheckFailed, s.Destroyed.Broken)
	fmt.Fprintf(out, "acquires %d, of which waited %d (total wait %v), timeouts %d\n",
		s.Acquires, s.WaitedAcquires, s.WaitTime.Round(time.Millisecond), s.Timeouts)
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelClose()
	if err := p.Close(closeCtx); err != nil {
		return err
	}
	// Only the requests in flight when the server dropped its
	// connections may fail: at most one per connection.
	if f := failures.Load(); f > int64(size) {
		return fmt.Errorf("%d requests failed; at most %d (those in flight at the restart) may", f, size)
	}
	if s.Created > uint64(size)*3 {
		return fmt.Errorf("created %d connections for MaxSize %d: churn", s.Created, size)
	}
	return nil
}

// work does one request on a pooled connection. A connection that fails is
// destroyed, never put back.
func work(ctx context.Context, p *pool.Pool[*conn]) error {
	r, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	reply, err := r.Value().roundTrip(ctx, "hello")
	if err != nil || reply != "hello\n" {
		r.Destroy()
		if err == nil {
			err = errors.New("bad reply")
		}
		return err
	}
	r.Release()
	return nil
}

// echoServer echoes lines back and can drop all its connections at once.
type echoServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startEchoServer(addr string) (*echoServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &echoServer{ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() { s.mu.Lock(); delete(s.conns, c); s.mu.Unlock(); c.Close() }()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return s, nil
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

func (s *echoServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *echoServer) close() {
	s.ln.Close()
	s.dropAll()
	s.wg.Wait()
}
