package tak_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/tak"
)

var ctx = context.Background()

// Agencies of the tests: two host agencies and a partner.
const (
	colombia = "COL-DIRAN" // host of COL, reads Spanish
	brazil   = "BRA-PF"    // host of BRA, reads Portuguese
	partner  = "USA-DEA"   // partner, reads English
)

// Places inside each country (Natural Earth admin-0).
var (
	bogota   = [2]float64{4.60971, -74.08175}
	saoPaulo = [2]float64{-23.5505, -46.6333}
)

// fastParams make test password hashes cheap (production uses
// access.DefaultParams).
var fastParams = access.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func testHash(password string) string { return access.HashPassword(password, fastParams) }

// env is a store with agencies, users and a CA, and the TAK servers on
// loopback ports.
type env struct {
	t         testing.TB
	db        *store.DB
	ca        *tak.CA
	issuer    *tak.Issuer
	sites     tak.StoreSites
	stream    *tak.Stream
	streamLn  net.Listener
	streamAt  string // the streaming port's address
	enrollSrv *httptestServer
	api       *httptestServer
	siteOpts  cot.SiteOptions
	// recorded gets the site of every ground-truth reply recorded.
	recorded chan string
	// xmlOnly starts the stream without the protocol offer.
	xmlOnly bool
}

type httptestServer struct {
	URL string
	srv *http.Server
}

func newEnv(t testing.TB) *env {
	t.Helper()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "atalaya.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, a := range []store.Agency{
		{ID: colombia, Name: "Dirección de Antinarcóticos", Country: "COL", Lang: "es", Host: true},
		{ID: brazil, Name: "Polícia Federal", Country: "BRA", Lang: "pt", Host: true},
		{ID: partner, Name: "Drug Enforcement Administration", Country: "USA", Lang: "en"},
	} {
		if _, err := db.PutAgency(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []store.User{
		{AgencyID: colombia, Username: "ana", Role: "partner", Lang: "es", PasswordHash: testHash("ana-pw")},
		{AgencyID: brazil, Username: "bruno", Role: "partner", Lang: "pt", PasswordHash: testHash("bruno-pw")},
		{AgencyID: partner, Username: "dave", Role: "partner", Lang: "en", PasswordHash: testHash("dave-pw")},
	} {
		if _, err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := tak.InitCA(filepath.Join(t.TempDir(), "ca"), tak.CAOptions{KeyBits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, ca: ca,
		issuer:   &tak.Issuer{CA: ca, Certs: db},
		sites:    tak.StoreSites{Store: db, Owners: access.New(db, access.Options{Params: fastParams})},
		siteOpts: cot.SiteOptions{BaseURL: "https://atalaya.example", ProducerUID: "atalaya-test"},
	}
	return e
}

// start starts the streaming, enrollment and API servers on loopback.
func (e *env) start() {
	t := e.t
	cert, err := e.ca.ServerCert([]string{"127.0.0.1", "localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.recorded = make(chan string, 100)
	cat := &feed.Catalog{Sites: e.db, Audience: feed.StoreAudience(e.db, e.sites.Owners.OwnerOf)}
	gt := tak.FeedGroundTruth(e.db, cat, func(_ context.Context, id string) { e.recorded <- id })
	e.stream, err = tak.NewStream(tak.StreamConfig{CA: e.ca, ServerCert: cert, Certs: e.db, Users: e.db, Sites: e.sites,
		Agencies: tak.StoreAgencies{Store: e.db}, Site: e.siteOpts, GroundTruth: gt, XMLOnly: e.xmlOnly})
	if err != nil {
		t.Fatal(err)
	}
	e.streamLn, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.streamAt = e.streamLn.Addr().String()
	go e.stream.Serve(e.streamLn)
	t.Cleanup(func() { e.stream.Close() })
	mc := tak.MartiConfig{Issuer: e.issuer, Auth: tak.StoreAuth{Users: e.db, Params: fastParams}, Hostname: "127.0.0.1", Version: "test"}
	e.enrollSrv = serveTLS(t, tak.EnrollmentHandler(mc), tak.EnrollmentTLS(cert))
	e.api = serveTLS(t, tak.APIHandler(mc, e.db, e.db), tak.APITLS(e.ca, cert, e.db, e.db))
}

func serveTLS(t testing.TB, h http.Handler, cfg *tls.Config) *httptestServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return &httptestServer{URL: "https://" + ln.Addr().String(), srv: srv}
}

// site creates a site at p with status s and releases it to the agencies.
func (e *env) site(p [2]float64, prob float64, status store.SiteStatus, releasedTo ...string) store.Site {
	e.t.Helper()
	now := time.Now().UTC()
	st, err := e.db.CreateSite(ctx, store.Site{Lat: p[0], Lon: p[1], UncertaintyM: 12, Probability: prob, Evidence: 5.5,
		GasProfile: `{"acetone":{"z":5.5,"ppmm":90,"emission_kg_h":0.3}}`, FirstSeen: now.Add(-48 * time.Hour), LastSeen: now.Add(-time.Hour),
		PassesSeen: 2, PassesSurvey: 3, TypeGuess: "methamphetamine-lab", Status: status})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, a := range releasedTo {
		e.release(st.ID, a)
	}
	return st
}

func (e *env) release(siteID, agency string) {
	if _, err := e.db.ReleaseSite(ctx, store.Release{SiteID: siteID, AgencyID: agency, ReleasedBy: "analyst"}); err != nil {
		e.t.Fatal(err)
	}
}

// setStatus changes a site's status and returns the alert a release
// pipeline would enqueue (its payload as package feed writes it).
func (e *env) setStatus(siteID string, status store.SiteStatus) store.Alert {
	e.t.Helper()
	st, err := e.db.Site(ctx, siteID)
	if err != nil {
		e.t.Fatal(err)
	}
	st.Status = status
	if st, err = e.db.UpdateSite(ctx, st); err != nil {
		e.t.Fatal(err)
	}
	return e.alert(st.ID)
}

// alert is the outbox alert for a site's current state.
func (e *env) alert(siteID string) store.Alert {
	e.t.Helper()
	sh, err := e.sites.SharedSite(ctx, siteID)
	if err != nil {
		e.t.Fatal(err)
	}
	return alertFor(sh)
}

// alertFor is the outbox alert a release pipeline writes for a site (its
// payload as package feed writes it: the API's Site JSON with owner and
// released_to).
func alertFor(sh tak.Site) store.Alert {
	id := fmt.Sprintf("alert-%s-%d", sh.ID, sh.Version)
	body, _ := json.Marshal(map[string]any{"id": id, "kind": "site.updated", "site": map[string]any{
		"id": sh.ID, "lat": sh.Lat, "lon": sh.Lon, "uncertainty_m": sh.UncertaintyM, "gas_profile": sh.GasProfile,
		"first_seen": sh.FirstSeen, "last_seen": sh.LastSeen, "passes_seen": sh.PassesSeen, "passes_surveyed": sh.PassesSurvey,
		"evidence": sh.Evidence, "probability": sh.Probability, "type_guess": sh.TypeGuess, "status": sh.Status,
		"version": sh.Version, "owner": sh.Owner, "released_to": sh.ReleasedTo}})
	return store.Alert{ID: id, SiteID: sh.ID, Kind: "site.updated", Payload: string(body)}
}

// credentials is what a device holds after enrolling.
type credentials struct {
	key             *rsa.PrivateKey
	cert            *x509.Certificate
	ca              []*x509.Certificate
	certPEM, keyPEM string // files
	tlsCert         tls.Certificate
}

// atakClient makes HTTP requests as ATAK does: TLS trusting Atalaya's CA
// (the trust store the user imported), optionally with a client certificate.
func (e *env) atakClient(c *credentials) *http.Client {
	cfg := &tls.Config{RootCAs: e.ca.Pool(), ServerName: "127.0.0.1"}
	if c != nil {
		cfg.Certificates = []tls.Certificate{c.tlsCert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// ATAK's identity in the replayed requests.
const (
	atakUID     = "ANDROID-589520ccfcd20f01"
	atakVersion = "4.10.0.14 (bee8f09a).1682439468-CIV"
)

// enroll replays ATAK's certificate enrollment: GET the certificate
// configuration, make a key and a CSR with CN = the username and the
// configured O and OU, POST it (bare base64 DER) to signClient/v2, then GET
// the enrollment profile. accept is the Accept header of the signing
// request ("" for none).
func (e *env) enroll(user, password, accept string) (*credentials, error) {
	hc := e.atakClient(nil)
	req, _ := http.NewRequest("GET", e.enrollSrv.URL+"/Marti/api/tls/config", nil)
	req.SetBasicAuth(user, password)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("tls/config: %s: %s", resp.Status, body)
	}
	var conf struct {
		Entries []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"nameEntries>nameEntry"`
	}
	if err := xml.Unmarshal(body, &conf); err != nil {
		return nil, fmt.Errorf("tls/config %s: %w", body, err)
	}
	subj := pkix.Name{CommonName: user}
	for _, n := range conf.Entries {
		switch n.Name {
		case "O":
			subj.Organization = append(subj.Organization, n.Value)
		case "OU":
			subj.OrganizationalUnit = append(subj.OrganizationalUnit, n.Value)
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subj, SignatureAlgorithm: x509.SHA256WithRSA}, key)
	if err != nil {
		return nil, err
	}
	q := url.Values{"clientUid": {atakUID}, "version": {atakVersion}}
	req, _ = http.NewRequest("POST", e.enrollSrv.URL+"/Marti/api/tls/signClient/v2?"+q.Encode(),
		strings.NewReader(base64.StdEncoding.EncodeToString(csr)))
	req.SetBasicAuth(user, password)
	req.Header.Set("Content-Type", "text/plain")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err = hc.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("signClient/v2: %s: %s", resp.Status, body)
	}
	var signed string
	var cas []string
	if strings.Contains(accept, "json") {
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("signClient/v2 JSON %s: %w", body, err)
		}
		signed = m["signedCert"]
		for i := 0; m[fmt.Sprintf("ca%d", i)] != ""; i++ {
			cas = append(cas, m[fmt.Sprintf("ca%d", i)])
		}
	} else {
		var x struct {
			SignedCert string   `xml:"signedCert"`
			CA         []string `xml:"ca"`
		}
		if err := xml.Unmarshal(body, &x); err != nil {
			return nil, fmt.Errorf("signClient/v2 XML %s: %w", body, err)
		}
		signed, cas = x.SignedCert, x.CA
	}
	c := &credentials{key: key}
	der, err := base64.StdEncoding.DecodeString(signed)
	if err != nil {
		return nil, err
	}
	if c.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	for _, s := range cas {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, err
		}
		ca, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		c.ca = append(c.ca, ca)
	}
	req, _ = http.NewRequest("GET", e.enrollSrv.URL+"/Marti/api/tls/profile/enrollment?clientUid="+url.QueryEscape(atakUID), nil)
	req.SetBasicAuth(user, password)
	resp, err = hc.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return nil, fmt.Errorf("profile/enrollment: %s, want 204", resp.Status)
	}
	dir := e.t.TempDir()
	c.certPEM, c.keyPEM = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(c.certPEM, tak.CertPEM(c.cert), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(c.keyPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	c.tlsCert = tls.Certificate{Certificate: [][]byte{c.cert.Raw}, PrivateKey: key, Leaf: c.cert}
	return c, nil
}

func (e *env) mustEnroll(user string) *credentials {
	e.t.Helper()
	c, err := e.enroll(user, user+"-pw", "application/json")
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// device is a Go TAK client on the streaming port, collecting events. Like
// a TAK client it takes the server's protocol offer (t-x-takp-v) as part of
// the connection, not as an event: offers counts them.
type device struct {
	conn   *tls.Conn
	mu     sync.Mutex
	events []cot.Event
	offers []cot.Event
	err    error
	got    chan cot.Event
}

func (e *env) connect(c *credentials) (*device, error) {
	conn, err := tls.Dial("tcp", e.streamAt, &tls.Config{RootCAs: e.ca.Pool(), ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{c.tlsCert}})
	if err != nil {
		return nil, err
	}
	if err := conn.Handshake(); err != nil {
		conn.Close()
		return nil, err
	}
	d := &device{conn: conn, got: make(chan cot.Event, 4096)}
	go func() {
		r := cot.NewReader(conn)
		for {
			ev, err := r.Next()
			if err != nil {
				d.mu.Lock()
				d.err = err
				d.mu.Unlock()
				close(d.got)
				return
			}
			d.mu.Lock()
			if ev.Type == cot.TypeProtocolOffer {
				d.offers = append(d.offers, ev)
				d.mu.Unlock()
				continue
			}
			d.events = append(d.events, ev)
			d.mu.Unlock()
			d.got <- ev
		}
	}()
	e.t.Cleanup(func() { conn.Close() })
	return d, nil
}

// until reads events until one has the uid (and type, if not empty);
// it fails the test if the connection ends or a minute passes first.
func (d *device) until(t testing.TB, uid, typ string) cot.Event {
	t.Helper()
	return untilEvent(t, d.got, func() error { d.mu.Lock(); defer d.mu.Unlock(); return d.err }, uid, typ)
}

// untilEvent reads got until an event has the uid (and type, if not
// empty); it fails the test if got closes (with err's error) or a minute
// passes first.
func untilEvent(t testing.TB, got <-chan cot.Event, err func() error, uid, typ string) cot.Event {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-got:
			if !ok {
				t.Fatalf("connection ended before %s %s: %v", uid, typ, err())
			}
			if ev.UID == uid && (typ == "" || ev.Type == typ) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event %s %s within a minute", uid, typ)
		}
	}
}

// ping sends a ping and waits for the pong: everything the server queued
// before answering has arrived by then.
func (d *device) sync(t testing.TB) {
	t.Helper()
	b, _ := cot.Marshal(cot.Ping(time.Now()))
	if _, err := d.conn.Write(b); err != nil {
		t.Fatal(err)
	}
	d.until(t, "takPong", cot.TypePong)
}

func (d *device) uids() map[string]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := map[string]bool{}
	for _, e := range d.events {
		m[e.UID] = true
	}
	return m
}

// refused connects to the streaming port with c and pings: it returns nil
// if the server answered (the certificate was accepted), else the error
// that ended the connection (TLS 1.3 reports the server's rejection of a
// client certificate on the client's first read).
func (e *env) refused(c *credentials) error {
	conn, err := tls.Dial("tcp", e.streamAt, &tls.Config{RootCAs: e.ca.Pool(), ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{c.tlsCert}})
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	b, _ := cot.Marshal(cot.Ping(time.Now()))
	if _, err := conn.Write(b); err != nil {
		return err
	}
	r := cot.NewReader(conn)
	for {
		ev, err := r.Next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				e.t.Fatalf("no answer and no rejection within a minute")
			}
			return err
		}
		if ev.Type == cot.TypePong {
			return nil
		}
	}
}
