package httpclient

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Peer is a cleartext HTTP/2 server written with http2.Framer. Its first
// connection serves one request and then goes silent: it answers neither
// requests nor PINGs, like a peer behind a dead NAT mapping. Later
// connections behave.
type h2Peer struct {
	ln       net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	accepted int
	// firstGone is closed when the client has closed the silent
	// connection (the peer's read on it fails).
	firstGone chan struct{}
}

func startH2Peer(t *testing.T) *h2Peer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &h2Peer{ln: ln, firstGone: make(chan struct{})}
	var conns []net.Conn
	p.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.accepted++
			first := p.accepted == 1
			conns = append(conns, nc)
			p.mu.Unlock()
			p.wg.Go(func() {
				silentAfter := -1
				if first {
					silentAfter = 1
					defer close(p.firstGone)
				}
				p.serve(nc, silentAfter)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// serve speaks HTTP/2 on nc; after silentAfter responses (never when < 0)
// it only reads.
func (p *h2Peer) serve(nc net.Conn, silentAfter int) {
	defer nc.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(nc, preface); err != nil {
		return
	}
	fr := http2.NewFramer(nc, nc)
	if err := fr.WriteSettings(); err != nil {
		return
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	served := 0
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		if silentAfter >= 0 && served >= silentAfter {
			continue
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.HeadersFrame:
			hbuf.Reset()
			enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "2"})
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: hbuf.Bytes(), EndHeaders: true})
			fr.WriteData(f.StreamID, true, []byte("ok"))
			served++
		}
	}
}

// TestHTTP2LostPing: a connection whose peer stops answering PINGs is
// closed by the health check; the request stuck on it is replayed on a new
// connection and later requests use that one.
func TestHTTP2LostPing(t *testing.T) {
	peer := startH2Peer(t)
	ps := new(http.Protocols)
	ps.SetUnencryptedHTTP2(true)
	tr := newTransport(t, TransportConfig{
		Protocols:       ps,
		Proxy:           noProxy,
		MaxSize:         4,
		SendPingTimeout: 50 * time.Millisecond,
		PingTimeout:     50 * time.Millisecond,
	})
	url := "http://" + peer.ln.Addr().String() + "/"
	resp, body, err := get(tr, url)
	if err != nil || resp.ProtoMajor != 2 || body != "ok" {
		t.Fatalf("first request: %v %q %v", resp, body, err)
	}
	// The first connection is now silent: this request waits on it until
	// the lost PING closes it, then is replayed on a new connection.
	if _, body, err := get(tr, url); err != nil || body != "ok" {
		t.Fatalf("request on the silent connection: %q, %v", body, err)
	}
	select {
	case <-peer.firstGone:
	case <-time.After(30 * time.Second):
		t.Fatal("the silent connection was never closed by the client")
	}
	for i := range 20 {
		if _, body, err := get(tr, url); err != nil || body != "ok" {
			t.Fatalf("request %d after the lost PING: %q, %v", i, body, err)
		}
	}
	st := tr.Stats()[originOf(url)]
	peer.mu.Lock()
	accepted := peer.accepted
	peer.mu.Unlock()
	if accepted != 2 || st.Pool.Created != 2 || st.Pool.Destroyed.Broken != 1 || st.Replays != 1 {
		t.Errorf("peer accepted %d; created %d, destroyed %+v, replays %d; want 2, 2, 1 broken, 1",
			accepted, st.Pool.Created, st.Pool.Destroyed, st.Replays)
	}
}
