package httpclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestNotSentMatchesNetHTTP makes net/http's HTTP/2 code return the error
// of a request it did not send (a connection closed after serving one) and
// checks that notSent recognises it: if a Go release rewords it, this
// fails here, not as a rare failed request in production.
func TestNotSentMatchesNetHTTP(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()

	base := &http.Transport{Protocols: new(http.Protocols)}
	base.Protocols.SetUnencryptedHTTP2(true)
	defer base.CloseIdleConnections()
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
	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	_, err = cc.RoundTrip(req)
	if err == nil {
		t.Fatal("RoundTrip on a closed HTTP/2 connection succeeded")
	}
	if !notSent(err) {
		t.Errorf("notSent(%q) = false: net/http's wording changed; update notSent", err)
	}
	if notSent(http.ErrServerClosed) || notSent(context.Canceled) {
		t.Error("notSent accepts unrelated errors")
	}
}
