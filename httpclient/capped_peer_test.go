package httpclient

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// cappedPeer is a cleartext HTTP/2 server written with http2.Framer that
// serves at most perConn requests on a connection, as nginx does with
// keepalive_requests: it answers the first perConn streams, then sends
// GOAWAY naming the last one it served, ignores later streams and closes
// the connection when the client does (a lingering close, as nginx's).
// With refuse set, it first resets the next stream with REFUSED_STREAM. Every
// response body is "ok:N", N the length of the request body it read.
type cappedPeer struct {
	ln        net.Listener
	perConn   int
	refuse    bool
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     []net.Conn
	processed atomic.Int64 // requests answered
	accepted  atomic.Int64 // connections
}

func startCappedPeer(t *testing.T, perConn int, refuse bool) *cappedPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cappedPeer{ln: ln, perConn: perConn, refuse: refuse}
	p.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			p.mu.Lock()
			p.conns = append(p.conns, nc)
			p.mu.Unlock()
			p.wg.Go(func() { p.serve(nc) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *cappedPeer) url() string { return "http://" + p.ln.Addr().String() + "/" }

func (p *cappedPeer) serve(nc net.Conn) {
	defer nc.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(nc, preface); err != nil {
		return
	}
	fr := http2.NewFramer(nc, nc)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100}); err != nil {
		return
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	bodies := map[uint32]int{} // open streams: bytes of body read
	served, last := 0, uint32(0)
	away := false
	respond := func(id uint32) {
		n := bodies[id]
		delete(bodies, id)
		if away && id > last {
			return // above the GOAWAY's last stream: never processed
		}
		if !away && served >= p.perConn {
			if p.refuse {
				fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
			}
			fr.WriteGoAway(last, http2.ErrCodeNo, nil)
			away = true
			if p.refuse || id > last {
				return
			}
			// Streams end in any order: this one is below the last one
			// served, so the GOAWAY does not say it went unprocessed and
			// the client waits for its answer. Serve it.
		}
		body := "ok:" + strconv.Itoa(n)
		p.processed.Add(1) // before the client can see the response
		hbuf.Reset()
		enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
		enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(body))})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndHeaders: true})
		fr.WriteData(id, true, []byte(body))
		served++
		last = max(last, id)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
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
			bodies[f.StreamID] = 0
			if f.StreamEnded() {
				respond(f.StreamID)
			}
		case *http2.DataFrame:
			id := f.StreamID
			n := len(f.Data())
			bodies[id] += n
			if n > 0 {
				fr.WriteWindowUpdate(0, uint32(n))
				fr.WriteWindowUpdate(id, uint32(n))
			}
			if f.StreamEnded() {
				respond(id)
			}
		}
	}
}
