package httpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSwitchingProtocols: a 101 response's Body is an io.ReadWriteCloser,
// as net/http gives it (WebSocket clients write to it), and its
// connection leaves the pool.
func TestSwitchingProtocols(t *testing.T) {
	srv, _, cfg := startServer(t, h1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			io.WriteString(w, "plain")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo:" + line)
		brw.Flush()
	}))
	tr := newTransport(t, cfg)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rw, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("101 Body is a %T, not an io.ReadWriteCloser", resp.Body)
	}
	if _, err := io.WriteString(rw, "hello\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(rw).ReadString('\n')
	if err != nil || line != "echo:hello\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	rw.Close()
	st := tr.Stats()[originOf(srv.URL)].Pool
	if st.Open != 0 || st.InUse != 0 {
		t.Errorf("the upgraded connection is still in the pool: %+v", st)
	}
	// The origin still serves plain requests, on a new connection.
	if _, body, err := get(tr, srv.URL); err != nil || body != "plain" {
		t.Fatalf("after the upgrade: %q, %v", body, err)
	}
}

// TestErrorsKeepNetHTTPTypes: through an http.Client, a certificate the
// client does not trust gives a url.Error whose Err is a
// *tls.CertificateVerificationError, and a refused dial a *net.OpError,
// as with net/http's Transport (code asserts these types directly).
func TestErrorsKeepNetHTTPTypes(t *testing.T) {
	srv, _, cfg := startServer(t, h2TLS, http.HandlerFunc(okHandler))
	srv.Config.ErrorLog = nil
	cfg.TLSClientConfig = nil // system roots: the test certificate is not trusted
	tr := newTransport(t, cfg)
	_, err := (&http.Client{Transport: tr}).Get(srv.URL)
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("err %v (%T) is not a *url.Error", err, err)
	}
	if _, ok := ue.Err.(*tls.CertificateVerificationError); !ok {
		t.Errorf("url.Error.Err is a %T (%v), want *tls.CertificateVerificationError", ue.Err, ue.Err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = (&http.Client{Transport: tr}).Get("http://" + addr + "/")
	if !errors.As(err, &ue) {
		t.Fatalf("err %v (%T) is not a *url.Error", err, err)
	}
	if _, ok := ue.Err.(*net.OpError); !ok {
		t.Errorf("url.Error.Err is a %T (%v), want *net.OpError", ue.Err, ue.Err)
	}
}

// TestServerCloseErrorIsNetHTTPs: a server that reads the request and
// closes the connection without answering gives url.Error.Err == io.EOF
// through poolkit's transport, as through net/http's (which unwraps its
// internal transportReadFromServerError before returning).
func TestServerCloseErrorIsNetHTTPs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			http.ReadRequest(bufio.NewReader(c))
			c.Close()
		}
	}()
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", std}, {"poolkit", newTransport(t, TransportConfig{MaxSize: 1})}} {
		_, err := (&http.Client{Transport: rt.rt}).Get("http://" + ln.Addr().String() + "/")
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Fatalf("%s: err %v (%T) is not a *url.Error", rt.name, err, err)
		}
		if ue.Err != io.EOF {
			t.Errorf("%s: url.Error.Err is %T (%v), want io.EOF", rt.name, ue.Err, ue.Err)
		}
	}
}

// TestWaitDeadlineIsATimeout: a request whose deadline passes while it
// waits for a connection fails with a url.Error whose Timeout() is true,
// as with net/http (where the ctx's deadline error says so), for the
// request's deadline and for AcquireTimeout alike.
func TestWaitDeadlineIsATimeout(t *testing.T) {
	release := make(chan struct{})
	srv, _, cfg := startServer(t, h1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
	}))
	defer close(release)
	cfg.MaxSize = 1
	cfg.AcquireTimeout = 100 * time.Millisecond
	tr := newTransport(t, cfg)
	client := &http.Client{Transport: tr}
	slow := make(chan error, 1)
	go func() {
		resp, err := client.Get(srv.URL + "/slow")
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		inUse := 0
		for _, o := range tr.Stats() {
			inUse += o.Pool.InUse
		}
		if inUse == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow request never held the connection")
		}
	}
	for _, d := range []time.Duration{50 * time.Millisecond, time.Minute} { // the request's deadline, then AcquireTimeout's
		ctx, cancel := context.WithTimeout(context.Background(), d)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/quick", nil)
		_, err := client.Do(req)
		cancel()
		var ue *url.Error
		if !errors.As(err, &ue) || !ue.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("deadline %v: err %v (%T): want a url.Error whose Timeout() is true", d, err, err)
		}
	}
	release <- struct{}{}
	if err := <-slow; err != nil {
		t.Errorf("slow request: %v", err)
	}
}

// TestHTTPTrace: the httptrace hooks fire as they do with net/http's
// Transport: GetConn, the DNS and connect hooks and the TLS handshake for
// a new connection, GotConn (not reused, then reused and idle), and the
// request's own hooks.
func TestHTTPTrace(t *testing.T) {
	for _, p := range []proto{h1, h2TLS} {
		t.Run(p.String(), func(t *testing.T) {
			srv, _, cfg := startServer(t, p, http.HandlerFunc(okHandler))
			// A host name, so that there is a DNS lookup; the test
			// certificate is for example.com.
			u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
			if cfg.TLSClientConfig != nil {
				cfg.TLSClientConfig.ServerName = "example.com"
			}
			cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp4", addr)
			}
			tr := newTransport(t, cfg)
			for round := range 2 {
				var mu sync.Mutex
				seen := map[string]int{}
				var got httptrace.GotConnInfo
				hit := func(name string) {
					mu.Lock()
					seen[name]++
					mu.Unlock()
				}
				trace := &httptrace.ClientTrace{
					GetConn:              func(string) { hit("GetConn") },
					GotConn:              func(i httptrace.GotConnInfo) { hit("GotConn"); got = i },
					DNSStart:             func(httptrace.DNSStartInfo) { hit("DNSStart") },
					DNSDone:              func(httptrace.DNSDoneInfo) { hit("DNSDone") },
					ConnectStart:         func(string, string) { hit("ConnectStart") },
					ConnectDone:          func(string, string, error) { hit("ConnectDone") },
					TLSHandshakeStart:    func() { hit("TLSHandshakeStart") },
					TLSHandshakeDone:     func(tls.ConnectionState, error) { hit("TLSHandshakeDone") },
					WroteHeaders:         func() { hit("WroteHeaders") },
					WroteRequest:         func(httptrace.WroteRequestInfo) { hit("WroteRequest") },
					GotFirstResponseByte: func() { hit("GotFirstResponseByte") },
				}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, u, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				want := []string{"GetConn", "GotConn", "WroteHeaders", "WroteRequest", "GotFirstResponseByte"}
				if round == 0 {
					want = append(want, "DNSStart", "DNSDone", "ConnectStart", "ConnectDone")
					if p == h2TLS {
						want = append(want, "TLSHandshakeStart", "TLSHandshakeDone")
					}
				}
				mu.Lock()
				for _, w := range want {
					if seen[w] == 0 {
						t.Errorf("round %d: %s did not fire (fired: %v)", round, w, seen)
					}
				}
				mu.Unlock()
				if got.Conn == nil {
					t.Errorf("round %d: GotConnInfo.Conn is nil", round)
				}
				if round == 0 && got.Reused {
					t.Errorf("round 0: GotConnInfo %+v; want a new connection", got)
				}
				if round == 1 && (!got.Reused || !got.WasIdle) {
					t.Errorf("round 1: GotConnInfo %+v; want a reused, idle connection", got)
				}
			}
		})
	}
}
