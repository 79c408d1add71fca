package tak

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Files of a CA directory.
const (
	CACertFile     = "ca.pem"         // the CA certificate (give it to devices as the trust store)
	CAKeyFile      = "ca-key.pem"     // the CA's private key, PKCS #8, mode 0600
	ServerCertFile = "server.pem"     // the TLS certificate of Atalaya's TAK ports
	ServerKeyFile  = "server-key.pem" // its key, PKCS #8, mode 0600
)

// Errors of the CA.
var (
	// ErrNoCA: the directory holds no CA (run `atalaya tak ca init`).
	ErrNoCA = errors.New("tak: no certificate authority")
	// ErrCAExists: InitCA would overwrite a CA.
	ErrCAExists = errors.New("tak: certificate authority exists")
	// ErrCSR: a certificate signing request is malformed, badly signed or
	// names another user.
	ErrCSR = errors.New("tak: bad certificate signing request")
)

// CAOptions configure a new CA.
type CAOptions struct {
	Name         string        // CA common name (default "Atalaya TAK CA")
	Organization string        // O of the CA and of the subjects devices request (default "Atalaya")
	Unit         string        // OU devices request (default "TAK")
	Validity     time.Duration // CA lifetime (default 10 years)
	// KeyBits is the RSA key size of the CA (default 3072, NIST SP 800-57's
	// size for security beyond 2030); RSA because every ATAK, WinTAK and
	// iTAK release verifies RSA chains.
	KeyBits int
	Now     time.Time // default time.Now
}

// CA is Atalaya's TAK certificate authority: it issues the TLS certificate
// of the TAK ports and the client certificates of field devices.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	Dir  string
	// Organization and Unit are what devices are told to put in their
	// requests (GET /Marti/api/tls/config).
	Organization, Unit string
}

// InitCA creates a CA in dir (made if missing); ErrCAExists if dir has one.
func InitCA(dir string, o CAOptions) (*CA, error) {
	if _, err := os.Stat(filepath.Join(dir, CACertFile)); err == nil {
		return nil, fmt.Errorf("%w in %s: keep it, or move it away first", ErrCAExists, dir)
	}
	if o.Name == "" {
		o.Name = "Atalaya TAK CA"
	}
	if o.Organization == "" {
		o.Organization = "Atalaya"
	}
	if o.Unit == "" {
		o.Unit = "TAK"
	}
	if o.Validity <= 0 {
		o.Validity = 10 * 365 * 24 * time.Hour
	}
	if o.KeyBits == 0 {
		o.KeyBits = 3072
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	key, err := rsa.GenerateKey(rand.Reader, o.KeyBits)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: o.Name, Organization: []string{o.Organization}, OrganizationalUnit: []string{o.Unit}},
		NotBefore:             o.Now.Add(-time.Hour),
		NotAfter:              o.Now.Add(o.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), key); err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, CACertFile), "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, Dir: dir, Organization: o.Organization, Unit: o.Unit}, nil
}

// LoadCA reads the CA in dir; ErrNoCA if there is none.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: create one with `atalaya tak ca init --dir %s`", ErrNoCA, dir, dir)
	}
	if err != nil {
		return nil, err
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, CACertFile), err)
	}
	key, err := readKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, err
	}
	ca := &CA{Cert: cert, Key: key, Dir: dir, Organization: "Atalaya", Unit: "TAK"}
	if len(cert.Subject.Organization) > 0 {
		ca.Organization = cert.Subject.Organization[0]
	}
	if len(cert.Subject.OrganizationalUnit) > 0 {
		ca.Unit = cert.Subject.OrganizationalUnit[0]
	}
	return ca, nil
}

// Pool is a pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// ServerCert returns the TLS certificate of the TAK ports, valid for hosts
// (DNS names or IP addresses). It is kept in the CA directory and issued
// anew when missing, expiring within 30 days, or not covering every host.
func (ca *CA) ServerCert(hosts []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(ca.Dir, ServerCertFile), filepath.Join(ca.Dir, ServerKeyFile)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && c.Leaf != nil &&
		c.Leaf.NotAfter.After(now.Add(30*24*time.Hour)) && covers(c.Leaf, hosts) &&
		c.Leaf.CheckSignatureFrom(ca.Cert) == nil {
		return c, nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: firstOr(hosts, "atalaya"), Organization: []string{ca.Organization}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(2 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	if err := writeKey(keyPath, key); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

func covers(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// ParseCSR reads a certificate signing request as TAK clients send it: PEM,
// or base64 DER without PEM armour (ATAK's form), or raw DER; and checks its
// signature.
func ParseCSR(body []byte) (*x509.CertificateRequest, error) {
	if len(body) > 0 && body[0] != 0x30 {
		// Text (PEM, base64): surrounding whitespace is not content. DER
		// (a SEQUENCE, 0x30) may end in bytes that look like whitespace.
		body = bytes.TrimSpace(body)
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: the request body is empty; send the CSR as base64 DER or PEM", ErrCSR)
	}
	var der []byte
	switch {
	case bytes.HasPrefix(body, []byte("-----BEGIN")):
		b, _ := pem.Decode(body)
		if b == nil || !strings.Contains(b.Type, "CERTIFICATE REQUEST") {
			return nil, fmt.Errorf("%w: PEM block is not a CERTIFICATE REQUEST", ErrCSR)
		}
		der = b.Bytes
	case body[0] == 0x30: // DER SEQUENCE
		der = body
	default:
		clean := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, string(body))
		var err error
		if der, err = base64.StdEncoding.DecodeString(clean); err != nil {
			return nil, fmt.Errorf("%w: not PEM, DER or base64: %v", ErrCSR, err)
		}
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrCSR, err)
	}
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key of %d bits, want at least 2048", ErrCSR, k.N.BitLen())
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("%w: unsupported key type %T", ErrCSR, csr.PublicKey)
	}
	return csr, nil
}

// SignClient issues a client certificate for user from a request whose
// common name is user (ATAK puts the enrolling username there). The
// certificate carries the requested O and OU, is valid for validity, and
// may only authenticate TLS clients.
func (ca *CA) SignClient(csr *x509.CertificateRequest, user string, validity time.Duration, now time.Time) (*x509.Certificate, error) {
	if csr.Subject.CommonName != user {
		return nil, fmt.Errorf("%w: common name %q, but the credentials are %q's", ErrCSR, csr.Subject.CommonName, user)
	}
	if validity <= 0 {
		validity = 365 * 24 * time.Hour
	}
	subj := pkix.Name{CommonName: user, Organization: csr.Subject.Organization, OrganizationalUnit: csr.Subject.OrganizationalUnit}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subj,
		NotBefore:    now.Add(-5 * time.Minute), // devices' clocks drift
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign client certificate for %s: %w", user, err)
	}
	return x509.ParseCertificate(der)
}

// Serial is a certificate's serial number as the store keeps it.
func Serial(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

// serial is a random 128-bit positive serial number (RFC 5280 §4.1.2.2
// allows up to 20 octets; CA/B Forum asks for 64 random bits at least).
func serial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] &= 0x7f
	b[0] |= 0x40 // 16 full octets, positive
	return new(big.Int).SetBytes(b)
}

// TrustStoreP12 is a PKCS #12 trust store holding certs under the given
// aliases (Java's "friendly names"), protected by password: what ATAK's
// signClient (v1) answer and the trust-store downloads are.
func TrustStoreP12(password string, aliases []string, certs []*x509.Certificate) ([]byte, error) {
	if len(aliases) != len(certs) {
		return nil, fmt.Errorf("trust store: %d aliases for %d certificates", len(aliases), len(certs))
	}
	entries := make([]pkcs12.TrustStoreEntry, len(certs))
	for i, c := range certs {
		entries[i] = pkcs12.TrustStoreEntry{Cert: c, FriendlyName: aliases[i]}
	}
	// A trust store holds no secret, so the legacy encoding (3DES, SHA-1
	// MAC), which every Java, Android and iOS release reads, costs nothing.
	return pkcs12.LegacyDES.EncodeTrustStoreEntries(entries, password)
}

// ClientP12 is a PKCS #12 key store with a client's key and certificate
// chain (alias "signedCert"), as `atalaya tak cert issue` writes it for a
// device that cannot enroll itself.
func ClientP12(password string, key crypto.PrivateKey, cert *x509.Certificate, ca *x509.Certificate) ([]byte, error) {
	// Modern2023 (AES-256-CBC, PBKDF2-HMAC-SHA-256) protects the key; Java
	// 12+ and Android 10+ read it.
	return pkcs12.Modern2023.Encode(key, cert, []*x509.Certificate{ca}, password)
}

func writeKey(path string, key crypto.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: der}); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: key %T cannot sign", path, k)
	}
	return s, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// CertPEM encodes a certificate as PEM.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
