package httpclient

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/poolkit/poolkit/internal/replay"
)

// These tests make net/http produce the errors that neterr.go recognises
// by their text or type name: if a Go release rewords one, they fail here,
// not as a request that silently stops being replayed.

// TestNetErrH2Unusable: a request on a closed HTTP/2 connection.
func TestNetErrH2Unusable(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(okHandler))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	base := &http.Transport{Protocols: new(http.Protocols)}
	base.Protocols.SetUnencryptedHTTP2(true)
	cc, err := base.NewClientConn(context.Background(), "http", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := cc.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	cc.Close()
	req, _ = http.NewRequest(http.MethodPost, srv.URL, nil)
	_, err = cc.RoundTrip(req)
	if p, ok := progress(err, false, true); !ok || p != replay.NotProcessed {
		t.Errorf("progress(%q) = %v, %v; want NotProcessed: net/http's wording changed", err, p, ok)
	}
	if _, ok := progress(context.Canceled, true, false); ok {
		t.Error("progress accepts a cancellation")
	}
}

// TestNetErrH2GoAwayAndRefused: streams a server sends away with GOAWAY,
// or resets with REFUSED_STREAM, were not processed.
func TestNetErrH2GoAwayAndRefused(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		peer := startCappedPeer(t, 1, refuse)
		base := &http.Transport{Protocols: new(http.Protocols)}
		base.Protocols.SetUnencryptedHTTP2(true)
		cc, err := base.NewClientConn(context.Background(), "http", peer.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		// Two streams at once: the server serves one and sends the other
		// away.
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				req, _ := http.NewRequest(http.MethodGet, peer.url(), nil)
				resp, err := cc.RoundTrip(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				errs <- err
			}()
		}
		var failed error
		for range 2 {
			if err := <-errs; err != nil {
				failed = err
			}
		}
		cc.Close()
		if failed == nil {
			t.Fatalf("refuse=%v: both streams served", refuse)
		}
		if p, ok := progress(failed, true, true); !ok || p != replay.NotProcessed {
			t.Errorf("refuse=%v: progress(%q) = %v, %v; want NotProcessed: net/http's wording changed", refuse, failed, p, ok)
		}
	}
}

// TestNetErrH1ServerClosed: the server closes a kept-alive HTTP/1
// connection after a response; the next request on it fails with one of
// the errors of a reused connection the server closed.
func TestNetErrH1ServerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
		c.Close()
	}()
	base := &http.Transport{}
	cc, err := base.NewClientConn(context.Background(), "http", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
	resp, err := cc.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	req, _ = http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
	_, err = cc.RoundTrip(req)
	if err == nil {
		t.Fatal("second request on the closed connection succeeded")
	}
	if _, ok := progress(err, true, cc.Err() != nil); !ok {
		t.Errorf("progress(%q (%T)) does not recognise the error of a reused connection the server closed", err, err)
	}
}
