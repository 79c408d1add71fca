package web_test

// The browser scenarios against the real HTTP API (internal/server) and
// access control (internal/access: argon2id sign-in, sessions with CSRF
// tokens, jurisdiction from the Natural Earth boundaries, the audit chain)
// over a real SQLite store, serving the embedded web.Assets — assembled as
// `atalaya serve` assembles them.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/server"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/web"
)

// testParams are light argon2id parameters: the tests sign in often.
var testParams = access.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// realBackend starts internal/server with the fixtures: three host
// agencies (Colombia, Peru, Brazil), analysts of the Colombian one in
// English and Spanish, a partner user in each of the others, and four
// candidate sites near Bogotá (owned by Colombia's agency through the
// Natural Earth boundaries), in four of the five probability classes.
var (
	evidenceOnce            sync.Once
	evidenceProps, plumeImg string
	evidenceErr             error
)

// processedEvidence runs detection and fusion's conversion on a small
// simulated pass over an acetone source (once per test binary) and returns
// the strongest detection's properties and plume image, as the workers
// store them.
func processedEvidence(t *testing.T) (string, string) {
	t.Helper()
	evidenceOnce.Do(func() {
		lib, err := spectra.Default()
		if err != nil {
			evidenceErr = err
			return
		}
		dir, err := os.MkdirTemp("", "atalaya-web-evidence")
		if err != nil {
			evidenceErr = err
			return
		}
		defer os.RemoveAll(dir)
		sc := sim.DemoScene(3)
		sc.Samples, sc.Lines, sc.Sensor.Bands = 120, 100, 48
		sc.Sensor.BadBands = nil
		sc.TempContrastK = 15
		sc.Sources = []sim.Source{{Name: "lab", East: 50, North: -50, Rates: map[string]float64{"acetone": 20}}}
		o, err := sim.WriteScene(filepath.Join(dir, "scene"), sc, lib, nil)
		if err != nil {
			evidenceErr = err
			return
		}
		res, err := granule.Process(context.Background(), granule.Config{Cube: o.Radiance, OutDir: filepath.Join(dir, "out"),
			Methods: []string{granule.MethodMF}, Gases: []string{"acetone"}, FARPerKm2: 10, Library: lib})
		if err != nil {
			evidenceErr = err
			return
		}
		ds, err := pipeline.Detections(res)
		if err != nil || len(ds) == 0 {
			evidenceErr = fmt.Errorf("%d detections: %v", len(ds), err)
			return
		}
		evidenceProps, plumeImg = ds[0].Properties, ds[0].PlumePNG
	})
	if evidenceErr != nil {
		t.Fatal(evidenceErr)
	}
	return evidenceProps, plumeImg
}

func realBackend(t *testing.T, tiles ...http.Handler) backend {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "atalaya.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	// As `atalaya serve` does (cmd/atalaya/api.go): access.Service signs
	// in, authenticates, owns sites by the Natural Earth country they are
	// in, lists agencies and users; the batch auditor keeps the hash chain.
	acc := access.New(st, access.Options{Params: testParams})
	boot, err := access.Bootstrap(ctx, st, access.BootstrapOptions{Country: "COL", AgencyID: "COL-DIRAN",
		AgencyName: "Dirección de Antinarcóticos", Lang: "es", Params: testParams})
	if err != nil {
		t.Fatal(err)
	}
	admin := access.Principal{UserID: boot.User.ID, AgencyID: "COL-DIRAN", Role: access.Role("administrator"), Lang: "es"}
	for _, a := range []access.Agency{
		{ID: "PER-DIRANDRO", Name: "Dirección Antidrogas", Country: "PER", Lang: "es", Host: true},
		{ID: "BRA-PF", Name: "Polícia Federal", Country: "BRA", Lang: "pt", Host: true},
	} {
		if _, err := acc.AddAgency(ctx, admin, a); err != nil {
			t.Fatal(err)
		}
	}
	const password = "a long test passphrase 42"
	for _, u := range []access.NewUser{
		{Username: "alex", Name: "Alex", AgencyID: "COL-DIRAN", Role: "analyst", Lang: "en"},
		{Username: "ana", Name: "Ana", AgencyID: "COL-DIRAN", Role: "analyst", Lang: "es"},
		{Username: "pat", Name: "Pat", AgencyID: "PER-DIRANDRO", Role: "partner", Lang: "en"},
		{Username: "paulo", Name: "Paulo", AgencyID: "BRA-PF", Role: "partner", Lang: "pt"},
	} {
		u.Password = password
		if _, err := acc.AddUser(ctx, admin, u); err != nil {
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
	coca := mk(4.52, -74.15, 0.72, "cocaine-processing", `{"acetone":3.0,"2-butanone":1.4}`, 2, 2)
	fent := mk(4.70, -74.20, 0.55, "fentanyl-lab", `{"dichloromethane":2.2}`, 1, 2)
	farm := mk(4.40, -73.90, 0.12, "farm", `{"ammonia":1.1}`, 1, 1)
	// Two passes over the first site, each with a detection and its plume
	// outline; their evidence (spectrum, plume image) is a real run's over
	// a simulated acetone source.
	props, plumePNG := processedEvidence(t)
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
			Lat: 4.61, Lon: -74.08, UncertaintyM: 15, PeakPPMM: 410 - 60*float64(i), MeanPPMM: 120, SigmaPPMM: 20, RateKgH: 1.8, OutlineJSON: outline,
			Properties: props, PlumePNG: plumePNG}})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.LinkDetections(ctx, meth, ds[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	audit := server.NewBatchAuditor(st, access.HashEntry, 0)
	t.Cleanup(func() { audit.Close() })
	cfg := server.Config{Store: st, Auth: acc, Sites: acc, Directory: acc, Audit: audit,
		Assets: web.Assets, Boundaries: boundaries.GeoJSON(), HostAgency: "COL-DIRAN", UploadDir: t.TempDir(),
		// Credentials are rechecked at each heartbeat: often, so a
		// disabled user's stream ends within the test.
		Heartbeat: 200 * time.Millisecond}
	for _, ts := range tiles {
		cfg.Tiles = ts
	}
	srv, err := server.New(cfg)
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
		queue:      []string{meth, coca, fent, farm},
		titles:     map[string]string{coca: "Candidate site: cocaine processing"},
		concurrent: func(t *testing.T, id string) { apiDecide(t, hs.URL, "ana", password, id, "revisit") },
		disable: func(t *testing.T, username string) {
			if err := acc.SetDisabled(context.Background(), admin, username, true); err != nil {
				t.Fatal(err)
			}
		},
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

func TestContrast(t *testing.T) { scenarioContrast(t, realBackend(t)) }

func TestSessionEnded(t *testing.T) { scenarioSessionEnded(t, realBackend(t)) }

func TestLiveSitePage(t *testing.T) { scenarioLivePage(t, realBackend(t)) }
