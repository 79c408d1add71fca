package tak_test

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/nodepkg"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/tak"
)

func TestCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	if _, err := tak.LoadCA(dir); !errors.Is(err, tak.ErrNoCA) || !strings.Contains(err.Error(), "atalaya tak ca init") {
		t.Errorf("LoadCA of nothing: %v", err)
	}
	ca, err := tak.InitCA(dir, tak.CAOptions{KeyBits: 2048, Organization: "Policía", Unit: "Antinarcóticos"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tak.InitCA(dir, tak.CAOptions{KeyBits: 2048}); !errors.Is(err, tak.ErrCAExists) {
		t.Errorf("second InitCA: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, tak.CAKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v, %v", fi.Mode(), err)
	}
	again, err := tak.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(ca.Cert) || again.Organization != "Policía" || again.Unit != "Antinarcóticos" || !again.Cert.IsCA {
		t.Errorf("reloaded CA differs: %v %s %s", again.Cert.Subject, again.Organization, again.Unit)
	}
	now := time.Now()
	sc, err := again.ServerCert([]string{"tak.example", "127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "tak.example"}); err != nil {
		t.Errorf("server certificate does not verify: %v", err)
	}
	sc2, _ := again.ServerCert([]string{"tak.example"}, now)
	if !sc2.Leaf.Equal(sc.Leaf) {
		t.Error("server certificate re-issued although it covers the host")
	}
	sc3, _ := again.ServerCert([]string{"other.example"}, now)
	if sc3.Leaf.Equal(sc.Leaf) || sc3.Leaf.VerifyHostname("other.example") != nil {
		t.Error("server certificate not re-issued for a new host")
	}
}

func csrDER(t *testing.T, cn string) ([]byte, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: []string{"Atalaya"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func TestParseCSR(t *testing.T) {
	// DER whose last byte looks like whitespace (its signature's) must not
	// be trimmed.
	b, err := os.ReadFile(filepath.Join("testdata", "csr-trailing-space.der"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tak.ParseCSR(b); err != nil {
		t.Errorf("DER ending in % x: %v", b[len(b)-1:], err)
	}
	der, _ := csrDER(t, "ana")
	b64 := base64.StdEncoding.EncodeToString(der)
	pemCSR := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	wrapped := ""
	for i := 0; i < len(b64); i += 64 {
		wrapped += b64[i:min(i+64, len(b64))] + "\r\n"
	}
	for name, body := range map[string][]byte{"der": der, "base64": []byte(b64), "base64 wrapped": []byte(wrapped), "pem": pemCSR} {
		csr, err := tak.ParseCSR(body)
		if err != nil || csr.Subject.CommonName != "ana" {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := append([]byte{}, der...)
	bad[len(bad)-5] ^= 0xff // the signature
	for name, body := range map[string][]byte{"empty": nil, "junk": []byte("hello!"), "bad signature": bad,
		"certificate": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})} {
		if _, err := tak.ParseCSR(body); !errors.Is(err, tak.ErrCSR) {
			t.Errorf("%s: %v, want ErrCSR", name, err)
		}
	}
	ca, err := tak.InitCA(t.TempDir(), tak.CAOptions{KeyBits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := tak.ParseCSR(der)
	if _, err := ca.SignClient(csr, "bruno", 0, time.Now()); !errors.Is(err, tak.ErrCSR) || !strings.Contains(err.Error(), `"ana"`) {
		t.Errorf("CSR for another user: %v", err)
	}
	c, err := ca.SignClient(csr, "ana", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate does not verify for client auth: %v", err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("client certificate verifies for server auth")
	}
}

// TestEnrollmentATAK replays the requests ATAK makes to enroll and then
// to the API port, with the paths and parameters it sends.
func TestEnrollmentATAK(t *testing.T) {
	e := newEnv(t)
	e.start()
	for _, accept := range []string{"application/json", "application/xml", ""} {
		c, err := e.enroll("ana", "ana-pw", accept)
		if err != nil {
			t.Fatalf("Accept %q: %v", accept, err)
		}
		if c.cert.Subject.CommonName != "ana" || len(c.cert.Subject.Organization) != 1 || c.cert.Subject.Organization[0] != "Atalaya" {
			t.Errorf("certificate subject %s", c.cert.Subject)
		}
		roots := x509.NewCertPool()
		for _, ca := range c.ca {
			roots.AddCert(ca)
		}
		if _, err := c.cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("issued certificate does not chain to the CA sent with it: %v", err)
		}
		rec, err := e.db.TAKCert(ctx, tak.Serial(c.cert))
		if err != nil || rec.UserID != "ana" || rec.AgencyID != colombia || rec.ClientUID != atakUID {
			t.Errorf("record %+v, %v", rec, err)
		}
	}

	// Each issue is in the audit log, in an intact chain.
	entries, err := e.db.AuditEntries(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	issued := 0
	for _, a := range entries {
		if a.Action == "tak.cert.issue" && a.ObjectType == "tak_cert" && strings.Contains(a.Details, `"user":"ana"`) {
			issued++
		}
	}
	if issued != 3 {
		t.Errorf("%d tak.cert.issue audit entries, want 3", issued)
	}
	if _, err := access.VerifyChain(ctx, e.db, nil); err != nil {
		t.Errorf("audit chain: %v", err)
	}

	// Bad credentials, no credentials.
	hc := e.atakClient(nil)
	for _, auth := range []func(*http.Request){func(*http.Request) {}, func(r *http.Request) { r.SetBasicAuth("ana", "wrong") },
		func(r *http.Request) { r.SetBasicAuth("nobody", "x") }} {
		req, _ := http.NewRequest("GET", e.enrollSrv.URL+"/Marti/api/tls/config", nil)
		auth(req)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: %s %q", req.Header.Get("Authorization"), resp.Status, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// A CSR for another user, and a malformed one.
	der, _ := csrDER(t, "bruno")
	for body, want := range map[string]int{base64.StdEncoding.EncodeToString(der): 400, "not a csr": 400} {
		req, _ := http.NewRequest("POST", e.enrollSrv.URL+"/Marti/api/tls/signClient/v2?clientUid=X", strings.NewReader(body))
		req.SetBasicAuth("ana", "ana-pw")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || !strings.Contains(string(msg), "certificate signing request") {
			t.Errorf("bad CSR: %s %s", resp.Status, msg)
		}
	}

	// The API port, with the certificate, as ATAK calls it after enrolling.
	c := e.mustEnroll("ana")
	api := e.atakClient(c)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := api.Get(e.api.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, body := get("/Marti/api/version"); resp.StatusCode != 200 || !strings.HasPrefix(body, "Atalaya test") {
		t.Errorf("version: %s %q", resp.Status, body)
	}
	resp, body := get("/Marti/api/version/config")
	var vc struct {
		Version string `json:"version"`
		Type    string `json:"type"`
		Data    struct{ Version, API, Hostname string }
	}
	if err := json.Unmarshal([]byte(body), &vc); err != nil || resp.StatusCode != 200 || vc.Type != "ServerConfig" || vc.Data.API != "3" || vc.Data.Hostname != "127.0.0.1" {
		t.Errorf("version/config: %s %s %v", resp.Status, body, err)
	}
	q := url.Values{"syncSecago": {"-1"}, "clientUid": {atakUID}}
	if resp, _ := get("/Marti/api/device/profile/connection?" + q.Encode()); resp.StatusCode != http.StatusNoContent {
		t.Errorf("device/profile/connection: %s", resp.Status)
	}
	// Without a certificate the API port refuses the TLS handshake.
	if _, err := e.atakClient(nil).Get(e.api.URL + "/Marti/api/version"); err == nil {
		t.Error("API port answered without a client certificate")
	}
}

// TestSignClientV1 checks the v1 answer with OpenSSL (software nobody here
// wrote): a PKCS #12 trust store with the signed certificate under the alias
// "signedCert" and the CA as "ca0", password "atakatak".
func TestSignClientV1(t *testing.T) {
	e := newEnv(t)
	e.start()
	der, _ := csrDER(t, "bruno")
	req, _ := http.NewRequest("POST", e.enrollSrv.URL+"/Marti/api/tls/signClient?clientUid="+atakUID+"&version=4.10",
		strings.NewReader(base64.StdEncoding.EncodeToString(der)))
	req.SetBasicAuth("bruno", "bruno-pw")
	resp, err := e.atakClient(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p12, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-pkcs12" {
		t.Fatalf("signClient: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	path := filepath.Join(t.TempDir(), "truststore.p12")
	if err := os.WriteFile(path, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "pkcs12", "-in", path, "-passin", "pass:"+tak.DefaultP12Password, "-nokeys", "-info").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "friendlyName: signedCert") || !strings.Contains(s, "friendlyName: ca0") ||
		!strings.Contains(s, "CN = bruno") || !strings.Contains(s, "CN = Atalaya TAK CA") {
		t.Errorf("openssl sees:\n%s", s)
	}
	if _, err := exec.Command("openssl", "pkcs12", "-in", path, "-passin", "pass:wrong", "-nokeys").CombinedOutput(); err == nil {
		t.Error("openssl read the trust store with a wrong password")
	}
}

func TestRevokedCertificate(t *testing.T) {
	e := newEnv(t)
	e.start()
	c := e.mustEnroll("ana")
	if err := e.refused(c); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if n, err := e.db.RevokeTAKCert(ctx, "", "ana", "phone lost"); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if err := e.refused(c); err == nil {
		t.Fatal("revoked certificate accepted on the streaming port")
	} else if !strings.Contains(err.Error(), "certificate") && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Errorf("revoked: %v", err)
	}
	resp, err := e.atakClient(c).Get(e.api.URL + "/Marti/api/version")
	if err == nil {
		resp.Body.Close()
		t.Errorf("revoked certificate accepted on the API port: %s", resp.Status)
	}
	// Disabling a user cuts off their devices, whatever certificate.
	cb := e.mustEnroll("bruno")
	if err := e.refused(cb); err != nil {
		t.Fatal(err)
	}
	u, _ := e.db.UserByName(ctx, "bruno")
	if err := e.db.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := e.refused(cb); err == nil {
		t.Error("a disabled user's certificate was accepted")
	}
	// A certificate from the CA that Atalaya has no record of is refused.
	der, key := csrDER(t, "ghost")
	csr, _ := tak.ParseCSR(der)
	ghost, _ := e.ca.SignClient(csr, "ghost", 0, time.Now())
	if err := e.refused(&credentials{tlsCert: tls.Certificate{Certificate: [][]byte{ghost.Raw}, PrivateKey: key}}); err == nil {
		t.Error("unrecorded certificate accepted")
	}
}

// TestStreamNodeTAK connects @tak-ps/node-tak, TAK client software nobody
// here wrote, to the streaming port with a certificate from the enrollment
// endpoints: it gets the agency's live released sites on connect, its pings
// answered, and a site released while it is connected. node-tak parses
// every event with @tak-ps/node-cot, which validates it.
func TestStreamNodeTAK(t *testing.T) {
	pkg := &nodepkg.Package{Dir: filepath.Join("testdata", "node"), Name: "@tak-ps/node-tak", Version: "8.3.0", Repo: "internal/tak/testdata/node"}
	if err := pkg.Ensure(); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	live := e.site(bogota, 0.9, store.SiteReleased)              // owned by COL: shown to COL
	toCOL := e.site(saoPaulo, 0.6, store.SiteReleased, colombia) // BRA's, released to COL
	e.site(saoPaulo, 0.9, store.SiteReleased)                    // BRA's only
	e.site(bogota, 0.9, store.SiteCandidate)                     // not released
	later := e.site(bogota, 0.7, store.SiteConfirmed)            // released below
	e.start()
	c := e.mustEnroll("ana")

	cmd := exec.Command("node", "stream.mjs", "ssl://"+e.streamAt, c.certPEM, c.keyPEM, cot.SiteUID(later.ID), "60000")
	cmd.Dir = pkg.Dir
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("node-tak did not get its ping answered: %q %v", lines.Text(), lines.Err())
	}
	if err := e.stream.Deliver(ctx, e.setStatus(later.ID, store.SiteReleased)); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() {
		t.Fatalf("node-tak printed nothing: %v", lines.Err())
	}
	var got struct {
		Pong   bool
		Events []struct {
			UID, Type, How, Callsign string
			Lat, Lon, CE             float64
		}
		Errors  []string
		Version string
	}
	if err := json.Unmarshal(lines.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, lines.Bytes())
	}
	if len(got.Errors) > 0 {
		t.Errorf("node-tak errors: %v", got.Errors)
	}
	// node-tak (XML only) took the protocol offer as TAK Server's: it read
	// the server version from it and did not take it for an event.
	if got.Version != "Atalaya" {
		t.Errorf("node-tak read server version %q from the offer, want Atalaya", got.Version)
	}
	want := map[string]store.Site{cot.SiteUID(live.ID): live, cot.SiteUID(toCOL.ID): toCOL, cot.SiteUID(later.ID): later}
	seen := map[string]bool{}
	for _, ev := range got.Events {
		s, ok := want[ev.UID]
		if !ok {
			t.Errorf("node-tak got %s, which COL may not see", ev.UID)
			continue
		}
		seen[ev.UID] = true
		if ev.Type != "b-m-p-s-m" || ev.How != "m-f" || ev.Lat != s.Lat || ev.Lon != s.Lon || ev.CE != 12 ||
			!strings.HasPrefix(ev.Callsign, "Posible laboratorio") {
			t.Errorf("node-tak event %+v for site %+v", ev, s)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("node-tak saw %v, want %d sites", seen, len(want))
	}
}

// TestReleasability: a site released only to agency A never appears in
// agency B's stream, on connect or live, nor does its withdrawal.
func TestReleasability(t *testing.T) {
	e := newEnv(t)
	e.start()
	ana, bruno, dave := e.mustEnroll("ana"), e.mustEnroll("bruno"), e.mustEnroll("dave")
	before := e.site(bogota, 0.9, store.SiteReleased, partner) // COL's, released to the partner
	devA, _ := e.connect(ana)
	devB, _ := e.connect(bruno)
	devD, _ := e.connect(dave)

	// Sites of both countries, released to different audiences while the
	// devices are connected.
	audiences := [][]string{{}, {partner}, {brazil}, {colombia, partner}, {partner, brazil}}
	// What each site's audience is, by construction: the owner is the
	// host agency of the country it is in; access.Visible decides.
	type truth struct {
		s          store.Site
		owner      string
		releasedTo []string
		released   bool
	}
	var all []*truth
	for i := 0; i < 30; i++ {
		place, owner := bogota, colombia
		if i%2 == 1 {
			place, owner = saoPaulo, brazil
		}
		aud := audiences[i%len(audiences)]
		s := e.site(place, 0.5+float64(i%5)/10, store.SiteConfirmed, aud...)
		if err := e.stream.Deliver(ctx, e.setStatus(s.ID, store.SiteReleased)); err != nil {
			t.Fatal(err)
		}
		all = append(all, &truth{s: s, owner: owner, releasedTo: aud, released: true})
	}
	// Withdraw two: one COL-only, one BRA's released to the partner.
	for _, tr := range all[:2] {
		if err := e.stream.Deliver(ctx, e.setStatus(tr.s.ID, store.SiteDismissed)); err != nil {
			t.Fatal(err)
		}
		tr.released = false
	}
	for _, d := range []*device{devA, devB, devD} {
		d.sync(t)
	}
	all = append(all, &truth{s: before, owner: colombia, releasedTo: []string{partner}, released: true})
	check := func(name, agency string, d *device) {
		t.Helper()
		got := d.uids()
		for _, tr := range all {
			visible := access.Visible(access.Principal{UserID: name, AgencyID: agency}, tr.owner, tr.releasedTo)
			uid := cot.SiteUID(tr.s.ID)
			if !visible && (got[uid] || got[uid+"-delete"]) {
				t.Errorf("%s (%s) got site %s owned by %s released to %v", name, agency, tr.s.ID, tr.owner, tr.releasedTo)
			}
			if visible && tr.released && !got[uid] {
				t.Errorf("%s (%s) missed site %s", name, agency, tr.s.ID)
			}
			if visible && !tr.released && !got[uid+"-delete"] {
				t.Errorf("%s (%s) missed the withdrawal of %s", name, agency, tr.s.ID)
			}
		}
	}
	check("ana", colombia, devA)
	check("bruno", brazil, devB)
	check("dave", partner, devD)

	// On connect, a device gets exactly the live released sites its agency
	// may see, in its language.
	devB2, _ := e.connect(bruno)
	devB2.sync(t)
	for _, ev := range devB2.events {
		if ev.Type == cot.TypePong {
			continue
		}
		var tr *truth
		for _, x := range all {
			if cot.SiteUID(x.s.ID) == ev.UID {
				tr = x
			}
		}
		if tr == nil || !tr.released || ev.Type != cot.TypeSpotMarker ||
			!access.Visible(access.Principal{AgencyID: brazil}, tr.owner, tr.releasedTo) {
			t.Errorf("bruno's snapshot has %s %s (%+v)", ev.UID, ev.Type, tr)
			continue
		}
		if !strings.HasPrefix(ev.Detail.Contact.Callsign, "Possível laboratório") {
			t.Errorf("bruno's event not in Portuguese: %q", ev.Detail.Contact.Callsign)
		}
	}
	if n := e.stream.Connected(); n[brazil] != 2 || n[colombia] != 1 || n[partner] != 1 {
		t.Errorf("connected %v", n)
	}
}

// TestStaleNotResent: a released site last seen longer ago than the
// lifetime is not sent on connect.
func TestStaleNotResent(t *testing.T) {
	e := newEnv(t)
	e.siteOpts.Lifetime = 24 * time.Hour
	old := e.site(bogota, 0.9, store.SiteReleased)
	st, _ := e.db.Site(ctx, old.ID)
	st.LastSeen = time.Now().Add(-48 * time.Hour)
	if _, err := e.db.UpdateSite(ctx, st); err != nil {
		t.Fatal(err)
	}
	fresh := e.site(bogota, 0.9, store.SiteReleased)
	e.start()
	d, _ := e.connect(e.mustEnroll("ana"))
	d.sync(t)
	if got := d.uids(); got[cot.SiteUID(old.ID)] || !got[cot.SiteUID(fresh.ID)] {
		t.Errorf("on connect: %v (old %s, fresh %s)", got, old.ID, fresh.ID)
	}
}

func FuzzParseCSR(f *testing.F) {
	der, err := os.ReadFile(filepath.Join("testdata", "csr-trailing-space.der"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add([]byte(base64.StdEncoding.EncodeToString(der)))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	f.Add([]byte("-----BEGIN NEW CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		csr, err := tak.ParseCSR(b)
		if err != nil {
			if !errors.Is(err, tak.ErrCSR) {
				t.Fatalf("error does not wrap ErrCSR: %v", err)
			}
			return
		}
		if csr.CheckSignature() != nil {
			t.Fatal("accepted a CSR with a bad signature")
		}
	})
}

// TestStart runs the three ports as atalaya serve --tak does: a device
// enrolls, calls the API and streams its agency's sites.
func TestStart(t *testing.T) {
	e := newEnv(t)
	s := e.site(bogota, 0.9, store.SiteReleased)
	srv, err := tak.Start(tak.Config{CA: e.ca, Hosts: []string{"127.0.0.1"}, StreamAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		EnrollAddr: "127.0.0.1:0", Store: e.db, Owners: access.New(e.db, access.Options{}), Site: e.siteOpts, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	e.enrollSrv = &httptestServer{URL: "https://" + srv.Addr("enroll").String()}
	e.streamAt = srv.Addr("stream").String()
	e.stream = srv.Stream
	// The store's users carry access.DefaultParams hashes in production.
	u, _ := e.db.UserByName(ctx, "ana")
	if err := e.db.SetPassword(ctx, u.ID, access.HashPassword("ana-pw", access.DefaultParams)); err != nil {
		t.Fatal(err)
	}
	c := e.mustEnroll("ana")
	resp, err := e.atakClient(c).Get("https://" + srv.Addr("api").String() + "/Marti/api/version/config")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("API: %v %v", resp, err)
	}
	resp.Body.Close()
	d, err := e.connect(c)
	if err != nil {
		t.Fatal(err)
	}
	d.until(t, cot.SiteUID(s.ID), cot.TypeSpotMarker)
}

// TestSlowDeviceDisconnected: a device that stops reading is disconnected
// once its queue is full, and Deliver never blocks on it.
func TestSlowDeviceDisconnected(t *testing.T) {
	e := newEnv(t)
	s := e.site(bogota, 0.9, store.SiteReleased)
	e.start()
	c := e.mustEnroll("ana")
	conn, err := tls.Dial("tcp", e.streamAt, &tls.Config{RootCAs: e.ca.Pool(), ServerName: "127.0.0.1", Certificates: []tls.Certificate{c.tlsCert}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Wait until the server has registered the device (it never reads).
	for i := 0; e.stream.Connected()[colombia] == 0; i++ {
		if i > 60000 {
			t.Fatal("the device was not registered within a minute")
		}
		time.Sleep(time.Millisecond)
	}
	a := e.alert(s.ID)
	n := 0
	for ; n < 200000 && e.stream.Connected()[colombia] > 0; n++ {
		if err := e.stream.Deliver(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if e.stream.Connected()[colombia] > 0 {
		t.Fatalf("a device that reads nothing is still connected after %d events", n)
	}
	t.Logf("disconnected after %d events", n)
}

// TestRefresh: without any alert, Refresh brings a connected device up to
// date: a newly released site, a changed one, and the withdrawal of one
// dismissed; and sends nothing twice, nothing of other agencies.
func TestRefresh(t *testing.T) {
	e := newEnv(t)
	kept := e.site(bogota, 0.9, store.SiteReleased)
	e.start()
	d, err := e.connect(e.mustEnroll("ana"))
	if err != nil {
		t.Fatal(err)
	}
	d.until(t, cot.SiteUID(kept.ID), cot.TypeSpotMarker)
	added := e.site(bogota, 0.6, store.SiteReleased)
	e.site(saoPaulo, 0.6, store.SiteReleased) // Brazil's
	e.setStatus(kept.ID, store.SiteDismissed)
	if err := e.stream.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.stream.Refresh(ctx); err != nil { // nothing new
		t.Fatal(err)
	}
	d.sync(t)
	count := map[string]int{}
	d.mu.Lock()
	for _, ev := range d.events {
		count[ev.UID+" "+ev.Type]++
	}
	d.mu.Unlock()
	want := map[string]int{
		cot.SiteUID(kept.ID) + " b-m-p-s-m":      1,
		cot.SiteUID(added.ID) + " b-m-p-s-m":     1,
		cot.SiteUID(kept.ID) + "-delete t-x-d-d": 1,
		"takPong t-x-c-t-r":                      1,
	}
	if len(count) != len(want) {
		t.Errorf("events %v, want %v", count, want)
	}
	// And one protocol offer, on connect, as TAK Server sends it.
	d.mu.Lock()
	offers := d.offers
	d.mu.Unlock()
	if len(offers) != 1 || !cot.OffersProtocol(offers[0], 1) {
		t.Errorf("protocol offers %+v, want one of version 1", offers)
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s: %d events, want %d (all: %v)", k, count[k], n, count)
		}
	}
}
