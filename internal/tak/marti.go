package tak

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/atalaya-project/atalaya/internal/store"
)

// The Marti REST paths Atalaya answers, as ATAK and iTAK call them.
const (
	PathTLSConfig         = "/Marti/api/tls/config"
	PathSignClient        = "/Marti/api/tls/signClient"
	PathSignClientV2      = "/Marti/api/tls/signClient/v2"
	PathEnrollmentProfile = "/Marti/api/tls/profile/enrollment"
	PathVersion           = "/Marti/api/version"
	PathVersionConfig     = "/Marti/api/version/config"
	PathConnectionProfile = "/Marti/api/device/profile/connection"
)

// DefaultP12Password is the password of the PKCS #12 trust store the v1
// signClient answer is: ATAK's and TAK Server's customary "atakatak".
const DefaultP12Password = "atakatak"

// maxCSR bounds a signing request body; a 4096-bit RSA CSR is under 2 kB.
const maxCSR = 64 << 10

// MartiConfig configures the enrollment and API handlers.
type MartiConfig struct {
	Issuer *Issuer
	Auth   Authenticator
	// P12Password protects the v1 signClient trust store (default
	// DefaultP12Password).
	P12Password string
	// Hostname is reported by /Marti/api/version/config.
	Hostname string
	// Version is Atalaya's version, reported by /Marti/api/version.
	Version string
	Log     *slog.Logger
}

// EnrollmentHandler serves certificate enrollment (port 8446 by
// convention): HTTPS with HTTP Basic authentication, no client certificate.
func EnrollmentHandler(c MartiConfig) http.Handler {
	h := &marti{MartiConfig: c}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathTLSConfig, h.basic(h.tlsConfig))
	mux.HandleFunc("POST "+PathSignClient, h.basic(h.signClientV1))
	mux.HandleFunc("POST "+PathSignClientV2, h.basic(h.signClientV2))
	mux.HandleFunc("GET "+PathEnrollmentProfile, h.basic(h.noProfile))
	return mux
}

// APIHandler serves the Marti API a device calls once it has a certificate
// (port 8443 by convention); the TLS layer requires the certificate.
// users, if not nil, must still have the certificate's user enabled.
func APIHandler(c MartiConfig, certs store.TAKCerts, users store.UserReader) http.Handler {
	h := &marti{MartiConfig: c, v: verifier{certs: certs, users: users}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathVersion, h.cert(h.version))
	mux.HandleFunc("GET "+PathVersionConfig, h.cert(h.versionConfig))
	mux.HandleFunc("GET "+PathConnectionProfile, h.cert(h.noProfile))
	return mux
}

// EnrollmentTLS is the TLS configuration of the enrollment port: server
// authentication only (the device has no certificate yet).
func EnrollmentTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
}

// APITLS is the TLS configuration of the API port: a client certificate
// from the CA, recorded and not revoked, is required.
func APITLS(ca *CA, cert tls.Certificate, certs store.TAKCerts, users store.UserReader) *tls.Config {
	return clientTLS(ca, cert, verifier{certs: certs, users: users})
}

type marti struct {
	MartiConfig
	v verifier
}

func (h *marti) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.New(slog.DiscardHandler)
}

// basic requires HTTP Basic credentials the Authenticator accepts.
func (h *marti) basic(next func(http.ResponseWriter, *http.Request, User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, pass, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="Atalaya TAK enrollment", charset="UTF-8"`)
			http.Error(w, "enrollment needs HTTP Basic credentials (the Atalaya username and password)", http.StatusUnauthorized)
			return
		}
		u, err := h.Auth.Password(r.Context(), name, pass)
		if err != nil {
			h.log().Warn("tak enrollment refused", "user", name, "remote", r.RemoteAddr, "err", err)
			w.Header().Set("WWW-Authenticate", `Basic realm="Atalaya TAK enrollment", charset="UTF-8"`)
			http.Error(w, "wrong username or password", http.StatusUnauthorized)
			return
		}
		next(w, r, u)
	}
}

// cert identifies the caller by the client certificate the TLS layer
// verified, and checks it is still not revoked.
func (h *marti) cert(next func(http.ResponseWriter, *http.Request, User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "a client certificate is needed: enroll on the enrollment port first", http.StatusUnauthorized)
			return
		}
		u, err := h.v.user(r.Context(), r.TLS.PeerCertificates[0])
		if err != nil {
			code := http.StatusForbidden
			if !errors.Is(err, ErrRevoked) && !errors.Is(err, ErrUnknownCert) {
				code = http.StatusInternalServerError
			}
			http.Error(w, err.Error(), code)
			return
		}
		next(w, r, u)
	}
}

// certificateConfig is GET /Marti/api/tls/config: the subject fields a
// device puts in its request besides CN (its username).
type certificateConfig struct {
	XMLName     xml.Name    `xml:"ns2:certificateConfig"`
	NS          string      `xml:"xmlns,attr"`
	NS2         string      `xml:"xmlns:ns2,attr"`
	NameEntries []nameEntry `xml:"nameEntries>nameEntry"`
}

type nameEntry struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

func (h *marti) tlsConfig(w http.ResponseWriter, _ *http.Request, _ User) {
	ca := h.Issuer.CA
	c := certificateConfig{
		NS: "http://bbn.com/marti/xml/config", NS2: "com.bbn.marti.config",
		NameEntries: []nameEntry{{"O", ca.Organization}, {"OU", ca.Unit}},
	}
	b, err := xml.Marshal(c)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(b)
}

// sign reads the CSR and issues the certificate.
func (h *marti) sign(w http.ResponseWriter, r *http.Request, u User) *x509.Certificate {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCSR))
	if err != nil {
		http.Error(w, fmt.Sprintf("reading the CSR: %v (at most %d bytes)", err, maxCSR), http.StatusRequestEntityTooLarge)
		return nil
	}
	csr, err := ParseCSR(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil
	}
	uid := r.URL.Query().Get("clientUid")
	if uid == "" {
		uid = r.URL.Query().Get("clientUID")
	}
	c, err := h.Issuer.Issue(r.Context(), csr, u, uid)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrCSR) {
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return nil
	}
	h.log().Info("tak certificate issued", "user", u.ID, "agency", u.AgencyID, "serial", Serial(c),
		"client_uid", uid, "client_version", r.URL.Query().Get("version"))
	return c
}

// signClientV1 answers with a PKCS #12 trust store: the signed
// certificate under the alias "signedCert" and the CA as "ca0".
func (h *marti) signClientV1(w http.ResponseWriter, r *http.Request, u User) {
	c := h.sign(w, r, u)
	if c == nil {
		return
	}
	pw := h.P12Password
	if pw == "" {
		pw = DefaultP12Password
	}
	p12, err := TrustStoreP12(pw, []string{"signedCert", "ca0"}, []*x509.Certificate{c, h.Issuer.CA.Cert})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-pkcs12")
	_, _ = w.Write(p12)
}

// enrollmentXML is the v2 answer when the client does not ask for JSON.
type enrollmentXML struct {
	XMLName    xml.Name `xml:"enrollment"`
	SignedCert string   `xml:"signedCert"`
	CA         []string `xml:"ca"`
}

// signClientV2 answers with the signed certificate and the CA chain, base64
// DER: JSON {"signedCert":…, "ca0":…} if the client accepts JSON,
// otherwise <enrollment><signedCert/><ca/></enrollment>.
func (h *marti) signClientV2(w http.ResponseWriter, r *http.Request, u User) {
	c := h.sign(w, r, u)
	if c == nil {
		return
	}
	signed, cas := c.Raw, [][]byte{h.Issuer.CA.Cert.Raw}
	b64 := base64.StdEncoding.EncodeToString
	if strings.Contains(r.Header.Get("Accept"), "json") {
		m := map[string]string{"signedCert": b64(signed)}
		for i, c := range cas {
			m[fmt.Sprintf("ca%d", i)] = b64(c)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(m)
		return
	}
	x := enrollmentXML{SignedCert: b64(signed)}
	for _, c := range cas {
		x.CA = append(x.CA, b64(c))
	}
	b, err := xml.Marshal(x)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(b)
}

// noProfile answers the profile requests: Atalaya pushes no data packages
// to devices, which TAK Server says with 204 No Content.
func (h *marti) noProfile(w http.ResponseWriter, _ *http.Request, _ User) {
	w.WriteHeader(http.StatusNoContent)
}

func (h *marti) version(w http.ResponseWriter, _ *http.Request, _ User) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Atalaya %s (TAK Server API 3 subset)", h.versionString())
}

func (h *marti) versionString() string {
	if h.Version != "" {
		return h.Version
	}
	return "dev"
}

func (h *marti) versionConfig(w http.ResponseWriter, _ *http.Request, _ User) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"version": "3",
		"type":    "ServerConfig",
		"data": map[string]string{
			"version":  "Atalaya " + h.versionString(),
			"api":      "3",
			"hostname": h.Hostname,
		},
		"nodeId": "atalaya",
	})
}
