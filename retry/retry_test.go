package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolkit/poolkit/retry"
)

var errBoom = errors.New("boom")

// waitErr is an error that asks for a specific wait, like Retry-After.
type waitErr struct{ d time.Duration }

func (e waitErr) Error() string             { return fmt.Sprintf("try again in %v", e.d) }
func (e waitErr) RetryAfter() time.Duration { return e.d }

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name      string
		give      retry.Policy
		wantField string
		wantMsg   string
	}{
		{name: "zero", give: retry.Policy{}},
		{name: "no retries", give: retry.Policy{MaxAttempts: 1}},
		{name: "multiplier one", give: retry.Policy{Multiplier: 1}},
		{name: "attempts negative", give: retry.Policy{MaxAttempts: -1}, wantField: "MaxAttempts",
			wantMsg: "retry: Policy.MaxAttempts = -1: must be >= 0"},
		{name: "initial negative", give: retry.Policy{InitialBackoff: -time.Second}, wantField: "InitialBackoff"},
		{name: "max negative", give: retry.Policy{MaxBackoff: -time.Second}, wantField: "MaxBackoff"},
		{name: "max below initial", give: retry.Policy{InitialBackoff: time.Second, MaxBackoff: time.Millisecond}, wantField: "MaxBackoff"},
		{name: "max below default initial", give: retry.Policy{MaxBackoff: time.Millisecond}, wantField: "MaxBackoff"},
		{name: "initial above default max", give: retry.Policy{InitialBackoff: time.Minute}, wantField: "MaxBackoff"},
		{name: "multiplier below one", give: retry.Policy{Multiplier: 0.5}, wantField: "Multiplier",
			wantMsg: "retry: Policy.Multiplier = 0.5: must be >= 1 and finite"},
		{name: "multiplier NaN", give: retry.Policy{Multiplier: math.NaN()}, wantField: "Multiplier"},
		{name: "multiplier Inf", give: retry.Policy{Multiplier: math.Inf(1)}, wantField: "Multiplier"},
		{name: "attempt timeout negative", give: retry.Policy{AttemptTimeout: -1}, wantField: "AttemptTimeout"},
		{name: "retry-after cap negative", give: retry.Policy{RetryAfterCap: -1}, wantField: "RetryAfterCap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			var pe *retry.PolicyError
			if !errors.As(err, &pe) || pe.Field != tt.wantField || !strings.Contains(err.Error(), "Policy."+tt.wantField+" = ") {
				t.Fatalf("Validate() = %v; want *PolicyError naming %s", err, tt.wantField)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message %q; want %q", err, tt.wantMsg)
			}
			called := false
			if err := retry.Do(context.Background(), tt.give, func(context.Context) error { called = true; return nil }); !errors.As(err, &pe) || called {
				t.Errorf("Do with invalid policy = %v (fn called: %v); want the PolicyError, fn not called", err, called)
			}
			if _, err := retry.NewTransport(nil, tt.give); !errors.As(err, &pe) {
				t.Errorf("NewTransport with invalid policy = %v; want the PolicyError", err)
			}
		})
	}
}

func TestDoRetriesUntilSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		err := retry.Do(t.Context(), retry.Policy{MaxAttempts: 5}, func(context.Context) error {
			calls++
			if calls < 3 {
				return errBoom
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Fatalf("Do = %v after %d calls; want nil after 3", err, calls)
		}
		// Full jitter: waits are at most 100ms then 200ms.
		if elapsed := time.Since(start); elapsed > 300*time.Millisecond {
			t.Errorf("waited %v in all; want <= 300ms", elapsed)
		}
	})
}

func TestDoGivesUpAfterMaxAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		err := retry.Do(t.Context(), retry.Policy{}, func(context.Context) error { calls++; return errBoom })
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != retry.DefaultMaxAttempts || calls != retry.DefaultMaxAttempts {
			t.Fatalf("Do = %v after %d calls; want *Error after %d attempts", err, calls, retry.DefaultMaxAttempts)
		}
		if !errors.Is(err, errBoom) || re.Last != errBoom || re.Reason != nil {
			t.Errorf("Error = %+v; want Last boom, no Reason", re)
		}
		if got, want := err.Error(), "retry: 3 attempts: boom"; got != want {
			t.Errorf("message %q; want %q", got, want)
		}
	})
}

func TestDoValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		v, err := retry.DoValue(t.Context(), retry.Policy{}, func(context.Context) (string, error) {
			calls++
			if calls == 1 {
				return "partial", errBoom
			}
			return "whole", nil
		})
		if v != "whole" || err != nil {
			t.Fatalf("DoValue = %q, %v; want whole, nil", v, err)
		}
		v, err = retry.DoValue(t.Context(), retry.Policy{MaxAttempts: 1}, func(context.Context) (string, error) {
			return "partial", errBoom
		})
		if v != "" || err.Error() != "retry: 1 attempt: boom" {
			t.Fatalf("DoValue = %q, %v; want zero value and a 1-attempt Error", v, err)
		}
	})
}

func TestDoNotRetried(t *testing.T) {
	tests := []struct {
		name   string
		policy retry.Policy
		give   error
		want   error
	}{
		{name: "permanent", give: retry.Permanent(errBoom), want: errBoom},
		{name: "wrapped permanent", give: fmt.Errorf("op: %w", retry.Permanent(errBoom)), want: errBoom},
		{name: "canceled from fn", give: fmt.Errorf("op: %w", context.Canceled), want: context.Canceled},
		{
			name:   "Retryable says no",
			policy: retry.Policy{Retryable: func(err error) bool { return !errors.Is(err, errBoom) }},
			give:   errBoom, want: errBoom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := retry.Do(context.Background(), tt.policy, func(context.Context) error { calls++; return tt.give })
			var re *retry.Error
			if calls != 1 || !errors.As(err, &re) || re.Attempts != 1 || !errors.Is(err, tt.want) {
				t.Fatalf("Do = %v after %d calls; want one attempt wrapping %v", err, calls, tt.want)
			}
			if errors.Is(tt.give, errBoom) && re.Last != errBoom {
				t.Errorf("Last = %#v; want the unmarked error", re.Last)
			}
		})
	}
	if retry.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
}

func TestDoNeverSleepsPastDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		calls := 0
		err := retry.Do(ctx, retry.Policy{MaxAttempts: 1000, InitialBackoff: 400 * time.Millisecond, Multiplier: 1}, func(ctx context.Context) error {
			calls++
			return errBoom
		})
		elapsed := time.Since(start)
		if elapsed >= time.Second || ctx.Err() != nil {
			t.Fatalf("Do returned after %v (ctx err %v); want before the 1s deadline", elapsed, ctx.Err())
		}
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != calls || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errBoom) {
			t.Fatalf("Do = %v; want *Error with the last error and DeadlineExceeded", err)
		}
	})
}

func TestDoReturnsAtOnceWhenWaitCrossesDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err := retry.Do(ctx, retry.Policy{RetryAfterCap: time.Minute}, func(context.Context) error {
			return waitErr{10 * time.Second}
		})
		if time.Since(start) != 0 {
			t.Errorf("Do slept %v; want no sleep", time.Since(start))
		}
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 1 || re.Reason != context.DeadlineExceeded {
			t.Fatalf("Do = %v; want 1 attempt, Reason DeadlineExceeded", err)
		}
	})
}

func TestDoRetryAfterHintCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var at []time.Duration
		start := time.Now()
		retry.Do(t.Context(), retry.Policy{RetryAfterCap: 3 * time.Second}, func(context.Context) error {
			at = append(at, time.Since(start))
			return waitErr{time.Hour}
		})
		want := []time.Duration{0, 3 * time.Second, 6 * time.Second}
		if fmt.Sprint(at) != fmt.Sprint(want) {
			t.Errorf("attempts at %v; want %v (Retry-After capped at 3s)", at, want)
		}
	})
}

func TestDoCanceledDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(2*time.Second, cancel)
		start := time.Now()
		err := retry.Do(ctx, retry.Policy{}, func(context.Context) error { return waitErr{5 * time.Second} })
		if time.Since(start) != 2*time.Second {
			t.Errorf("Do returned after %v; want as soon as ctx was cancelled (2s)", time.Since(start))
		}
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 1 || !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v; want 1 attempt, Canceled", err)
		}
		if got := err.Error(); got != "retry: 1 attempt, stopped: context canceled: try again in 5s" {
			t.Errorf("message %q", got)
		}
	})
}

func TestDoAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var deadlines []time.Duration
		start := time.Now()
		err := retry.Do(t.Context(), retry.Policy{AttemptTimeout: time.Second, InitialBackoff: time.Nanosecond, MaxBackoff: time.Nanosecond}, func(ctx context.Context) error {
			d, _ := ctx.Deadline()
			deadlines = append(deadlines, d.Sub(start).Round(time.Millisecond))
			<-ctx.Done() // a call that hangs
			return ctx.Err()
		})
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 3 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do = %v; want 3 timed-out attempts", err)
		}
		if fmt.Sprint(deadlines) != "[1s 2s 3s]" {
			t.Errorf("attempt deadlines %v; want each attempt bounded by 1s", deadlines)
		}
	})
}

type obs struct {
	mu        sync.Mutex
	attempts  []string
	exhausted int
}

func (o *obs) Attempt(n int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attempts = append(o.attempts, fmt.Sprint(n, ":", err))
}

func (o *obs) BudgetExhausted() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.exhausted++
}

func TestObserverSeesAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &obs{}
		calls := 0
		retry.Do(t.Context(), retry.Policy{Observer: o}, func(context.Context) error {
			calls++
			if calls < 3 {
				return errBoom
			}
			return nil
		})
		if got := strings.Join(o.attempts, " "); got != "1:boom 2:boom 3:<nil>" {
			t.Errorf("attempts %q", got)
		}
	})
}

func TestNewBudgetValidate(t *testing.T) {
	tests := []struct {
		name      string
		give      retry.BudgetConfig
		wantField string
	}{
		{name: "zero", give: retry.BudgetConfig{}},
		{name: "no floor", give: retry.BudgetConfig{MinRetriesPerSecond: -1}},
		{name: "ratio negative", give: retry.BudgetConfig{Ratio: -0.1}, wantField: "Budget.Ratio"},
		{name: "ratio NaN", give: retry.BudgetConfig{Ratio: math.NaN()}, wantField: "Budget.Ratio"},
		{name: "floor Inf", give: retry.BudgetConfig{MinRetriesPerSecond: math.Inf(1)}, wantField: "Budget.MinRetriesPerSecond"},
		{name: "window negative", give: retry.BudgetConfig{Window: -time.Second}, wantField: "Budget.Window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := retry.NewBudget(tt.give)
			if tt.wantField == "" {
				if err != nil || b == nil {
					t.Fatalf("NewBudget = %v, %v", b, err)
				}
				return
			}
			var pe *retry.PolicyError
			if !errors.As(err, &pe) || pe.Field != tt.wantField {
				t.Fatalf("NewBudget = %v; want *PolicyError naming %s", err, tt.wantField)
			}
		})
	}
	b, _ := retry.NewBudget(retry.BudgetConfig{})
	if c := b.Config(); c.Ratio != retry.DefaultBudgetRatio || c.MinRetriesPerSecond != retry.DefaultMinRetriesPerSecond || c.Window != retry.DefaultBudgetWindow {
		t.Errorf("Config() = %+v; want defaults", c)
	}
}

func TestBudgetBoundsAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := retry.BudgetConfig{Ratio: 0.2, MinRetriesPerSecond: 0.5, Window: 10 * time.Second}
		budget, err := retry.NewBudget(cfg)
		if err != nil {
			t.Fatal(err)
		}
		o := &obs{}
		p := retry.Policy{MaxAttempts: 10, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Budget: budget, Observer: o}
		const n = 50
		attempts, exhausted := 0, 0
		for range n {
			err := retry.Do(t.Context(), p, func(context.Context) error { attempts++; return errBoom })
			if errors.Is(err, retry.ErrBudgetExhausted) {
				exhausted++
				if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "budget exhausted") {
					t.Fatalf("budget-refused error %q should wrap the last error", err)
				}
			}
		}
		floor := cfg.MinRetriesPerSecond * cfg.Window.Seconds()
		if limit := n + cfg.Ratio*n + floor; float64(attempts) > limit {
			t.Errorf("%d attempts for %d requests; want at most %v", attempts, n, limit)
		}
		if attempts <= n || exhausted == 0 || o.exhausted != exhausted {
			t.Errorf("attempts %d, refused %d, observed %d; want some retries and some refusals, all observed", attempts, exhausted, o.exhausted)
		}

		// Once the window has passed, the budget is back: one request and
		// the floor allow retries while retries < 0.2*1 + 5, so 6 of them.
		time.Sleep(cfg.Window)
		attempts = 0
		retry.Do(t.Context(), p, func(context.Context) error { attempts++; return errBoom })
		if attempts != 7 {
			t.Errorf("after the window: %d attempts; want 7", attempts)
		}
	})
}

func TestBudgetConcurrent(t *testing.T) {
	budget, _ := retry.NewBudget(retry.BudgetConfig{Ratio: 0.1, MinRetriesPerSecond: -1, Window: time.Hour})
	p := retry.Policy{MaxAttempts: 3, InitialBackoff: time.Nanosecond, MaxBackoff: time.Nanosecond, Budget: budget}
	var mu sync.Mutex
	attempts := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				retry.Do(context.Background(), p, func(context.Context) error {
					mu.Lock()
					attempts++
					mu.Unlock()
					return errBoom
				})
			}
		})
	}
	wg.Wait()
	if attempts > 200+20 {
		t.Errorf("%d attempts for 200 requests with a 10%% budget; want at most 220", attempts)
	}
}
