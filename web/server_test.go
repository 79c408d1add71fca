package web_test

// The browser scenarios against the real HTTP API (internal/server) over
// a real SQLite store, serving the embedded web.Assets, with the Natural
// Earth boundaries (internal/boundaries) as base map and jurisdiction.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/server"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/web"
)

// testParams are light argon2id parameters: the tests log in often.
var testParams = access.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// storeAuth authenticates against the store's users (argon2id hashes) and
// keeps sessions in the store's sessions table, keyed by the SHA-256 of
// the cookie value.
type storeAuth struct{ st *store.DB }

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func randomHex() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (a storeAuth) principal(u store.User) server.Principal {
	return server.Principal{UserID: u.ID, AgencyID: u.AgencyID, Role: access.Role(u.Role), Lang: u.Lang}
}

func (a storeAuth) Login(ctx context.Context, username, password string) (server.Session, server.User, error) {
	u, err := a.st.UserByName(ctx, username)
	if err != nil || u.Disabled {
		return server.Session{}, server.User{}, server.ErrUnauthorized
	}
	ok, _, err := access.VerifyPassword(password, u.PasswordHash, testParams)
	if err != nil || !ok {
		return server.Session{}, server.User{}, server.ErrUnauthorized
	}
	tok, csrf := randomHex(), randomHex()
	now := time.Now()
	if _, err := a.st.CreateSession(ctx, store.Session{Hash: hashHex(tok), UserID: u.ID, CSRF: csrf, Created: now, LastSeen: now, Expires: now.Add(time.Hour)}); err != nil {
		return server.Session{}, server.User{}, err
	}
	return server.Session{Principal: a.principal(u), Token: tok, CSRF: csrf, Expires: now.Add(time.Hour)},
		server.User{ID: u.ID, Username: u.Username, Name: u.Name, AgencyID: u.AgencyID, Role: access.Role(u.Role), Lang: u.Lang}, nil
}

func (a storeAuth) Logout(ctx context.Context, token string) error {
	return a.st.DeleteSession(ctx, hashHex(token))
}

func (a storeAuth) Session(ctx context.Context, token string) (server.Session, error) {
	s, err := a.st.SessionByHash(ctx, hashHex(token))
	if err != nil || !time.Now().Before(s.Expires) {
		return server.Session{}, server.ErrUnauthorized
	}
	u, err := a.st.User(ctx, s.UserID)
	if err != nil || u.Disabled {
		return server.Session{}, server.ErrUnauthorized
	}
	return server.Session{Principal: a.principal(u), Token: token, CSRF: s.CSRF, Expires: s.Expires}, nil
}

func (a storeAuth) Token(context.Context, string) (server.Principal, error) {
	return server.Principal{}, server.ErrUnauthorized
}

// countryOwners: the host agency of the Natural Earth country containing
// the site.
type countryOwners struct{ st *store.DB }

func (o countryOwners) OwnerOf(ctx context.Context, lat, lon float64) (string, error) {
	iso, _, ok := boundaries.CountryAt(lat, lon)
	if !ok {
		return "", access.ErrNoJurisdiction
	}
	a, err := o.st.HostAgency(ctx, iso)
	if err != nil {
		return "", fmt.Errorf("%w: %s", access.ErrNoJurisdiction, iso)
	}
	return a.ID, nil
}

type storeAudit struct{ st *store.DB }

func (a storeAudit) Audit(ctx context.Context, e server.AuditEntry) error {
	_, err := a.st.AppendAudit(ctx, store.AuditEntry{At: e.At, ActorUser: e.Principal.UserID, ActorAgency: e.Principal.AgencyID,
		Action: e.Action, ObjectType: "api", ObjectID: e.Object, Details: e.Detail}, func(x store.AuditEntry) string {
		return hashHex(fmt.Sprintf("%d|%s|%s|%s|%s", x.Seq, x.PrevHash, x.Action, x.ObjectID, x.Details))
	})
	return err
}

// realBackend starts internal/server with the fixtures: three host
// agencies (Colombia, Peru, Brazil), analysts of the Colombian one in
// English and Spanish, a partner user in each of the others, and three
// candidate sites near Bogotá (owned by Colombia's agency through the
// Natural Earth boundaries).
func realBackend(t *testing.T) backend {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "atalaya.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for _, a := range []store.Agency{
		{ID: "COL-DIRAN", Name: "Dirección de Antinarcóticos", Country: "COL", Lang: "es", Host: true},
		{ID: "PER-DIRANDRO", Name: "Dirección Antidrogas", Country: "PER", Lang: "es", Host: true},
		{ID: "BRA-PF", Name: "Polícia Federal", Country: "BRA", Lang: "pt", Host: true},
	} {
		if _, err := st.PutAgency(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	const password = "a long test passphrase 42"
	for _, u := range []store.User{
		{Username: "alex", Name: "Alex", AgencyID: "COL-DIRAN", Role: "analyst", Lang: "en"},
		{Username: "ana", Name: "Ana", AgencyID: "COL-DIRAN", Role: "analyst", Lang: "es"},
		{Username: "pat", Name: "Pat", AgencyID: "PER-DIRANDRO", Role: "partner", Lang: "en"},
		{Username: "paulo", Name: "Paulo", AgencyID: "BRA-PF", Role: "partner", Lang: "pt"},
	} {
		u.PasswordHash = access.HashPassword(password, testParams)
		if _, err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	day := func(d int) time.Time { return time.Date(2026, 11, d, 14, 0, 0, 0, time.UTC) }
	mk := func(lat, lon, p float64, typ, gases string, seen, surveyed int) string {
		s, err := st.CreateSite(ctx, store.Site{Lat: lat, Lon: lon, UncertaintyM: 35, GasProfile: gases,
			FirstSeen: day(18), LastSeen: day(22), PassesSeen: seen, PassesSurvey: surveyed, Evidence: 6 * p, Probability: p, TypeGuess: typ})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	meth := mk(4.61, -74.08, 0.91, "methamphetamine-lab", `{"acetone":5.1,"toluene":3.2,"ammonia":2.5}`, 2, 3)
	fent := mk(4.70, -74.20, 0.55, "fentanyl-lab", `{"dichloromethane":2.2}`, 1, 2)
	farm := mk(4.40, -73.90, 0.12, "farm", `{"ammonia":1.1}`, 1, 1)
	// Two passes over the first site, each with a detection and its plume
	// outline.
	for i, acq := range []time.Time{day(18), day(22)} {
		g, _, err := st.PutGranule(ctx, store.Granule{Kind: store.KindCube, SHA256: fmt.Sprintf("%064x", i+1), Name: fmt.Sprintf("pass-%d.tar", i+1),
			Size: 10, URI: "file:///nowhere", Footprint: store.BBox{MinLat: 4.5, MinLon: -74.2, MaxLat: 4.7, MaxLon: -74.0}, Acquired: acq})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.StartGranule(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		outline := (`{"type":"Polygon","coordinates":[[[-74.08,4.61],[-74.075,4.612],[-74.074,4.6105],[-74.075,4.609],[-74.08,4.61]]]}`)
		ds, err := st.CompleteGranule(ctx, g.ID, []store.Detection{{Gas: "acetone", Method: "mf", Score: 9, PValue: 1e-6,
			Lat: 4.61, Lon: -74.08, UncertaintyM: 15, PeakPPMM: 410 - 60*float64(i), MeanPPMM: 120, SigmaPPMM: 20, RateKgH: 1.8, OutlineJSON: outline}})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.LinkDetections(ctx, meth, ds[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := server.New(server.Config{Store: st, Auth: storeAuth{st}, Owners: countryOwners{st}, Audit: storeAudit{st},
		Assets: web.Assets, Boundaries: boundaries.GeoJSON(), HostAgency: "COL-DIRAN", UploadDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.Hub().Close()
		hs.Close()
	})
	return backend{
		url: hs.URL, password: password,
		analystEN: "alex", analystES: "ana", partner: "pat", otherPartner: "paulo",
		partnerAgency: "PER-DIRANDRO", otherAgcy: "BRA-PF",
		queue:      []string{meth, fent, farm},
		concurrent: func(t *testing.T, id string) { apiDecide(t, hs.URL, "ana", password, id, "revisit") },
	}
}

// apiDecide signs in as user with a plain HTTP client and posts a
// decision on the site's current version: another analyst at work.
func apiDecide(t *testing.T, base, user, password, id, action string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	r, err := c.Post(base+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.NewDecoder(r.Body).Decode(&login)
	r.Body.Close()
	r, err = c.Get(base + "/api/v1/sites/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var site struct{ Version int64 }
	_ = json.NewDecoder(r.Body).Decode(&site)
	r.Body.Close()
	body, _ = json.Marshal(map[string]string{"action": action})
	req, _ := http.NewRequest("POST", base+"/api/v1/sites/"+id+"/decisions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", login.CSRF)
	req.Header.Set("If-Match", strconv.Quote(strconv.FormatInt(site.Version, 10)))
	r, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s on %s: %s", user, action, id, r.Status)
	}
}

func TestReleaseLive(t *testing.T)        { scenarioRelease(t, realBackend(t)) }
func TestStaleDecision(t *testing.T)      { scenarioStale(t, realBackend(t)) }
func TestSpanishProfile(t *testing.T)     { scenarioSpanish(t, realBackend(t)) }
func TestScreenshots(t *testing.T)        { scenarioScreenshots(t, realBackend(t)) }
func TestDismissNeedsReason(t *testing.T) { scenarioDismiss(t, realBackend(t)) }
