package httpclient

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCloseIdleConnections(t *testing.T) {
	var closed atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr, err := NewTransport(TransportConfig{MaxSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	client := &http.Client{Transport: tr}

	// Three requests at once: three connections, idle once answered.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	for tr.Stats()[srv.URL].Pool.InUse < 3 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if s := tr.Stats()[srv.URL].Pool; s.Idle != 3 {
		t.Fatalf("before: %+v; want 3 idle", s)
	}

	client.CloseIdleConnections() // reaches Transport.CloseIdleConnections
	if s := tr.Stats()[srv.URL].Pool; s.Idle != 0 || s.Open != 0 || s.Destroyed.Idle != 3 {
		t.Errorf("after: %+v; want the 3 idle connections closed", s)
	}
	deadline := time.Now().Add(5 * time.Second) // a hang guard, not a timing assertion
	for closed.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := closed.Load(); n != 3 {
		t.Errorf("server saw %d connections closed, want 3", n)
	}
	// The transport still works.
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
