package pool

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type traceKey struct{}

// ctxObserver records the trace value of the ctx each event came with.
type ctxObserver struct {
	NopObserver
	mu       sync.Mutex
	created  []any
	acquired []AcquireEvent
	traces   []any
	timedOut []any
}

func (o *ctxObserver) Created(ctx context.Context, e CreateEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e.Pool != "db" {
		panic("CreateEvent without the pool's name")
	}
	o.created = append(o.created, ctx.Value(traceKey{}))
}

func (o *ctxObserver) Acquired(ctx context.Context, e AcquireEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.acquired = append(o.acquired, e)
	o.traces = append(o.traces, ctx.Value(traceKey{}))
}

func (o *ctxObserver) TimedOut(ctx context.Context, e AcquireEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e.Pool != "db" || !e.Waited {
		panic("TimedOut without the pool's name")
	}
	o.timedOut = append(o.timedOut, ctx.Value(traceKey{}))
}

// The Observer gets the pool's name in every event and the caller's ctx
// with an Acquire's events, and a Create made for a caller carries that
// caller's values (not its cancellation): a tracer can put the wait and
// the driver's connect under the caller's span.
func TestObserverAndCreateGetTheCallersCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &ctxObserver{}
		b := &backend{}
		var createValues []any
		var createErrs []error
		var mu sync.Mutex
		create := func(ctx context.Context) (*conn, error) {
			mu.Lock()
			createValues = append(createValues, ctx.Value(traceKey{}))
			mu.Unlock()
			time.Sleep(time.Second)
			mu.Lock()
			createErrs = append(createErrs, ctx.Err())
			mu.Unlock()
			return b.create(ctx)
		}
		p := mk(t, Config[*conn]{Name: "db", MaxSize: 1, Create: create, Observer: o})
		// A caller who gives up during the Create: the Create goes on.
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), traceKey{}, "t1"), 300*time.Millisecond)
		if _, err := p.Acquire(ctx); !errors.Is(err, ErrAcquireTimeout) {
			t.Fatalf("Acquire: %v, want a timeout", err)
		}
		cancel()
		time.Sleep(time.Second)
		synctest.Wait()
		ctx2, cancel2 := context.WithTimeout(context.WithValue(context.Background(), traceKey{}, "t2"), time.Second)
		defer cancel2()
		r, err := p.Acquire(ctx2)
		if err != nil {
			t.Fatal(err)
		}
		r2 := make(chan error)
		go func() { _, err := p.Acquire(ctx2); r2 <- err }() // times out: r is held
		if err := <-r2; !errors.Is(err, ErrAcquireTimeout) {
			t.Fatalf("second Acquire: %v", err)
		}
		r.Release()
		closeT(t, p)

		mu.Lock()
		defer mu.Unlock()
		if len(createValues) != 1 || createValues[0] != "t1" || createErrs[0] != nil {
			t.Errorf("Create saw values %v and ctx errors %v; want t1's values and no cancellation", createValues, createErrs)
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if len(o.created) != 1 || o.created[0] != "t1" {
			t.Errorf("Observer.Created saw %v, want t1's values", o.created)
		}
		if len(o.traces) != 1 || o.traces[0] != "t2" || o.acquired[0].Pool != "db" || o.acquired[0].Waited {
			t.Errorf("Observer.Acquired saw %v %+v, want t2's ctx and an idle resource", o.traces, o.acquired)
		}
		if len(o.timedOut) != 2 || o.timedOut[0] != "t1" || o.timedOut[1] != "t2" {
			t.Errorf("Observer.TimedOut saw %v, want t1's and t2's ctx", o.timedOut)
		}
	})
}

// A Create the pool makes on its own (MinSize) carries no caller's values.
func TestBackgroundCreateHasPlainCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &ctxObserver{}
		b := &backend{}
		p := mk(t, Config[*conn]{Name: "db", MaxSize: 2, MinSize: 2, Create: b.create, Observer: o})
		synctest.Wait()
		o.mu.Lock()
		if len(o.created) != 2 || o.created[0] != nil || o.created[1] != nil {
			t.Errorf("background Creates came with values %v", o.created)
		}
		o.mu.Unlock()
		closeT(t, p)
	})
}
