package httpclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// nginx is a real, non-Go server started for a test.
type nginx struct {
	httpURL, httpsURL string
	roots             *x509.CertPool
}

// startNginx runs nginx from the system's packages in the foreground with a
// generated config: HTTP/1.1 with keepalive_requests 10, and HTTP/2 over
// TLS with a certificate made here. Without nginx the test is skipped,
// unless POOLKIT_REQUIRE_NGINX=1, when it fails.
func startNginx(t *testing.T) *nginx {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("POOLKIT_REQUIRE_NGINX") == "1" {
			t.Fatal("nginx not found and POOLKIT_REQUIRE_NGINX=1")
		}
		t.Skip("nginx not found (apt-get install nginx-light); set POOLKIT_REQUIRE_NGINX=1 to make this a failure")
	}
	dir := t.TempDir()
	certPEM, keyPEM, roots := selfSigned(t)
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("hello from nginx"), 0o644)
	httpPort, httpsPort := freePort(t), freePort(t)
	// nginx before 1.25.1 has no "http2 on;"; it takes "http2" on listen.
	listenH2, h2on := "ssl http2", ""
	if out, _ := exec.Command(bin, "-v").CombinedOutput(); nginxAtLeast(string(out), 1, 25, 1) {
		listenH2, h2on = "ssl", "http2 on;"
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	keepalive_requests 10;
	server {
		listen 127.0.0.1:%[2]d;
		root %[1]s;
	}
	server {
		listen 127.0.0.1:%[3]d %[4]s;
		%[5]s
		keepalive_requests 1000;
		ssl_certificate %[1]s/cert.pem;
		ssl_certificate_key %[1]s/key.pem;
		root %[1]s;
	}
}
`, dir, httpPort, httpsPort, listenH2, h2on)
	confPath := filepath.Join(dir, "nginx.conf")
	os.WriteFile(confPath, []byte(conf), 0o600)
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for _, port := range []int{httpPort, httpsPort} {
		ok := false
		for range 200 {
			if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				c.Close()
				ok = true
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !ok {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %d; error.log:\n%s", port, log)
		}
	}
	return &nginx{
		httpURL:  fmt.Sprintf("http://127.0.0.1:%d/index.html", httpPort),
		httpsURL: fmt.Sprintf("https://127.0.0.1:%d/index.html", httpsPort),
		roots:    roots,
	}
}

func nginxAtLeast(v string, major, minor, patch int) bool {
	m := regexp.MustCompile(`nginx/(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(v)
	if m == nil {
		return false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return a > major || a == major && (b > minor || b == minor && c >= patch)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSigned makes a CA-less self-signed certificate for 127.0.0.1.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, roots *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "poolkit test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), roots
}

// TestNginx sends 20,000 requests each to nginx over HTTP/1.1 (which closes
// a connection every 10 requests) and HTTP/2 over TLS (GOAWAY every 1000
// requests): none may fail.
func TestNginx(t *testing.T) {
	ng := startNginx(t)
	check := func(proto string) func(*http.Response, string) error {
		return func(resp *http.Response, body string) error {
			if resp.StatusCode != 200 || body != "hello from nginx" || resp.Proto != proto {
				return fmt.Errorf("got %s %d %q", resp.Proto, resp.StatusCode, body)
			}
			return nil
		}
	}
	t.Run("HTTP1", func(t *testing.T) {
		tr := newTransport(t, TransportConfig{Proxy: noProxy, MaxSize: 16})
		if failures, err := hammer(tr, ng.httpURL, 20000, 64, check("HTTP/1.1")); failures > 0 {
			t.Fatalf("%d of 20000 failed; first: %v", failures, err)
		}
		st := tr.Stats()[originOf(ng.httpURL)]
		// keepalive_requests 10: about one connection per 10 requests.
		if st.Pool.Created < 20000/10/2 || st.Requests != 20000 {
			t.Errorf("created %d connections for %d requests; want about one per 10", st.Pool.Created, st.Requests)
		}
		t.Logf("stats: created %d, destroyed %+v, replays %d", st.Pool.Created, st.Pool.Destroyed, st.Replays)
	})
	t.Run("HTTP2-TLS", func(t *testing.T) {
		tr := newTransport(t, TransportConfig{Proxy: noProxy, MaxSize: 16, TLSClientConfig: &tls.Config{RootCAs: ng.roots}})
		if failures, err := hammer(tr, ng.httpsURL, 20000, 64, check("HTTP/2.0")); failures > 0 {
			t.Fatalf("%d of 20000 failed; first: %v", failures, err)
		}
		st := tr.Stats()[originOf(ng.httpsURL)]
		t.Logf("stats: created %d, destroyed %+v, replays %d", st.Pool.Created, st.Pool.Destroyed, st.Replays)
	})
}
