package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "atalaya test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

// TestTLS: with a certificate and key, Serve speaks HTTPS only and the
// session cookie is Secure.
func TestTLS(t *testing.T) {
	e := newEnv(t, sqliteURL(t))
	cert, key, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- e.srv.Serve(ctx, ServeConfig{Listener: ln, TLSCert: cert, TLSKey: key, Started: func(u string) { urls <- u }})
	}()
	base := <-urls
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("URL %s", base)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Post(base+"/api/v1/login", "application/json",
		strings.NewReader(`{"username":"viewer@`+agCOL+`","password":"pw-viewer@`+agCOL+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	if ck := resp.Cookies(); resp.StatusCode != 200 || len(ck) != 1 || !ck[0].Secure {
		t.Errorf("login over TLS: %d, cookies %+v", resp.StatusCode, ck)
	}
	// Plain HTTP to the TLS port is not served.
	if r, err := http.Get("http://" + strings.TrimPrefix(base, "https://") + "/healthz"); err == nil {
		if read(t, r); r.StatusCode == 200 {
			t.Error("plain HTTP served on the TLS port")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	// Half a pair is refused.
	if err := e.srv.Serve(context.Background(), ServeConfig{Listener: ln, TLSCert: cert}); err == nil {
		t.Error("a certificate without a key was accepted")
	}
}
