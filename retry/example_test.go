package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/poolkit/poolkit/retry"
)

func ExampleDo() {
	p := retry.Policy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	calls := 0
	err := retry.Do(context.Background(), p, func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println(calls, err)

	err = retry.Do(context.Background(), p, func(ctx context.Context) error {
		return retry.Permanent(errors.New("invalid account"))
	})
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// retry: 1 attempt: invalid account
}

func ExampleDoValue() {
	p := retry.Policy{InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	n := 0
	v, err := retry.DoValue(context.Background(), p, func(ctx context.Context) (string, error) {
		if n++; n == 1 {
			return "", errors.New("timeout")
		}
		return "stock: 7", nil
	})
	fmt.Println(v, err)
	// Output:
	// stock: 7 <nil>
}

func ExampleNewTransport() {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls++; calls == 1 {
			w.Header().Set("Retry-After", "3600") // capped by RetryAfterCap
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %s", body)
	}))
	defer srv.Close()

	budget, _ := retry.NewBudget(retry.BudgetConfig{}) // one per service
	tr, err := retry.NewTransport(srv.Client().Transport, retry.Policy{
		RetryAfterCap: time.Millisecond,
		Budget:        budget,
	})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: tr}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("order 17"))
	req.Header.Set("Idempotency-Key", "order-17") // makes a POST retryable
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), calls)
	// Output:
	// 200 got order 17 2
}
