package server

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/plume"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

// The fixtures: two host agencies and a partner, one user of every role in
// each, a site in each host country.
const (
	agCOL = "COL-DIRAN" // host, Colombia
	agPER = "PER-DIRANDRO"
	agUSA = "USA-DEA" // partner, no host
)

var agencies = []store.Agency{
	{ID: agCOL, Name: "Dirección Antinarcóticos", Country: "COL", Lang: "es", Host: true},
	{ID: agPER, Name: "Dirección Antidrogas", Country: "PER", Lang: "es", Host: true},
	{ID: agUSA, Name: "Drug Enforcement Administration", Country: "USA", Lang: "en"},
}

// env is a server over a real store and a real access.Service with the
// fixtures.
type env struct {
	t                testing.TB
	st               *store.DB
	acc              *access.Service
	srv              *Server
	http             *httptest.Server
	clock            *clock
	tokens           map[string]string // role@agency → API token
	principals       map[string]Principal
	siteCOL, sitePER store.Site
	granule          store.Granule
	spool            string
	blobs            string
}

// clock is the access service's clock, moved by tests.
type clock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.d)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

func (e *env) tok(role Role, agency string) string {
	t, ok := e.tokens[string(role)+"@"+agency]
	if !ok {
		e.t.Fatalf("no token for %s@%s", role, agency)
	}
	return t
}

func (e *env) principal(role Role, agency string) Principal {
	return e.principals[string(role)+"@"+agency]
}

// testParams make password hashing cheap in tests (the service's real
// parameters are access's concern and tested there).
var testParams = access.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func openStore(t testing.TB, url string) *store.DB {
	t.Helper()
	st, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// eachStore runs f on SQLite and on PostgreSQL.
func eachStore(t *testing.T, f func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "sqlite:"+filepath.Join(t.TempDir(), "atalaya.db")) })
	t.Run("postgres", func(t *testing.T) { f(t, storetest.PostgresSchemaURL(t)) })
}

func sqliteURL(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "atalaya.db") }

func newEnv(t testing.TB, url string, mod ...func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, url)
	e := &env{t: t, st: st, spool: t.TempDir(), blobs: t.TempDir(), clock: &clock{},
		tokens: map[string]string{}, principals: map[string]Principal{}}
	e.acc = access.New(st, access.Options{Now: e.clock.now, Params: testParams})
	sys := access.System("test")
	for _, a := range agencies {
		if _, err := e.acc.AddAgency(ctx, sys, access.Agency{ID: a.ID, Name: a.Name, Country: a.Country, Lang: a.Lang, Host: a.Host}); err != nil {
			t.Fatal(err)
		}
		for _, r := range access.Roles {
			name := string(r) + "@" + a.ID
			u, err := e.acc.AddUser(ctx, sys, access.NewUser{Username: name, Name: string(r), AgencyID: a.ID, Role: r, Password: "pw-" + name})
			if err != nil {
				t.Fatal(err)
			}
			text, _, err := e.acc.CreateToken(ctx, sys, name, "tests", 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			e.tokens[name] = text
			e.principals[name] = Principal{UserID: u.ID, AgencyID: a.ID, Role: r, Lang: u.Lang}
		}
	}
	var err error
	if e.siteCOL, err = st.CreateSite(ctx, store.Site{Lat: 4.6, Lon: -74.1, UncertaintyM: 20, GasProfile: `{"ammonia":3.2,"acetone":1.1}`,
		FirstSeen: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), LastSeen: time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC),
		PassesSeen: 2, PassesSurvey: 3, Evidence: 5.2, Probability: 0.8, TypeGuess: "meth-p2p"}); err != nil {
		t.Fatal(err)
	}
	if e.sitePER, err = st.CreateSite(ctx, store.Site{Lat: -9.2, Lon: -75.0, UncertaintyM: 30, GasProfile: `{"acetone":2.5}`,
		FirstSeen: time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC), LastSeen: time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC),
		PassesSeen: 1, PassesSurvey: 1, Evidence: 2.5, Probability: 0.4, TypeGuess: "cocaine-hcl"}); err != nil {
		t.Fatal(err)
	}
	if e.granule, _, err = st.PutGranule(ctx, store.Granule{Kind: store.KindCube, SHA256: strings.Repeat("ab", 32), Name: "g1.tar",
		Size: 10, URI: "file:///nowhere", Footprint: store.BBox{MinLat: 4.5, MinLon: -74.2, MaxLat: 4.7, MaxLon: -74.0},
		Acquired: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartGranule(ctx, e.granule.ID); err != nil {
		t.Fatal(err)
	}
	// The detection carries evidence as fusion.Detections writes it: a
	// spectrum of four bands and a plume image of an 8×8 map.
	m := make([]float32, 64)
	m[27], m[28], m[36] = 120, 80, 60
	png, err := granule.PlumeImage(m, 8, image.Rect(0, 0, 8, 8), []plume.Point{{X: 3, Y: 3}, {X: 5, Y: 3}, {X: 5, Y: 5}, {X: 3, Y: 5}})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := st.CompleteGranule(ctx, e.granule.ID, []store.Detection{{Gas: "ammonia", Method: "mf", Score: 9, PValue: 1e-6,
		Lat: 4.6, Lon: -74.1, UncertaintyM: 15, PeakPPMM: 120, MeanPPMM: 40, SigmaPPMM: 10, RateKgH: 2,
		Properties: `{"spectrum":{"gas":"ammonia","wavelength_um":[10,10.5,11,11.5],"measured":[0.1,-0.5,0.05,0],"library":[0.12,-0.48,0.03,0.01]},"plume_crop":[0,0,8,8]}`,
		PlumePNG:   string(png)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.LinkDetections(ctx, e.siteCOL.ID, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	bl, err := pipeline.NewDir(e.blobs)
	if err != nil {
		t.Fatal(err)
	}
	audit := NewBatchAuditor(st, access.HashEntry, 0)
	t.Cleanup(audit.Close)
	cfg := Config{Store: st, Auth: e.acc, Sites: e.acc, Directory: e.acc, Audit: audit,
		Ingest:    PipelineIngester{In: &pipeline.Ingester{Store: st, Blobs: bl}},
		Tiles:     http.FileServerFS(fstest.MapFS{"metadata.json": {Data: []byte(`{"name":"test imagery"}`)}}),
		UploadDir: e.spool, MaxUpload: 1 << 20, MaxBody: 4 << 10, HostAgency: agCOL}
	for _, m := range mod {
		m(&cfg)
	}
	if e.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.srv.hub.Close()
		e.http.Close()
	})
	return e
}

// do sends a request with a bearer token ("" for none).
func (e *env) do(method, path, tok string, body io.Reader, hdr ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// read returns the body and closes it.
func read(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apiErr decodes an error body.
func apiErrOf(t testing.TB, b []byte) apiError {
	t.Helper()
	var e struct {
		Error apiError `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not an error body: %s", b)
	}
	return e.Error
}

// snapshot is everything a refused request must leave as it was.
type snapshot struct {
	Granules  []string
	Sites     map[string]int64
	Decisions map[string]int
	Releases  map[string]int
	Spool     []string
	Blobs     int
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	ctx := context.Background()
	s := snapshot{Sites: map[string]int64{}, Decisions: map[string]int{}, Releases: map[string]int{}}
	for _, st := range granuleStatuses {
		gs, err := e.st.GranulesByStatus(ctx, st, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, g := range gs {
			s.Granules = append(s.Granules, g.ID)
		}
	}
	sites, err := e.st.SitesInBBox(ctx, world, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, x := range sites {
		s.Sites[x.ID] = x.Version
		ds, err := e.st.Decisions(ctx, x.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		s.Decisions[x.ID] = len(ds)
		rs, err := e.st.Releases(ctx, x.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		s.Releases[x.ID] = len(rs)
	}
	ents, _ := os.ReadDir(e.spool)
	for _, en := range ents {
		s.Spool = append(s.Spool, en.Name())
	}
	_ = filepath.Walk(e.blobs, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			s.Blobs++
		}
		return nil
	})
	return s
}

func (e *env) unchanged(before snapshot, what string) {
	e.t.Helper()
	after := e.snapshot()
	a, _ := json.Marshal(before)
	b, _ := json.Marshal(after)
	if !bytes.Equal(a, b) {
		e.t.Errorf("%s changed the store:\nbefore %s\nafter  %s", what, a, b)
	}
}

var (
	libOnce sync.Once
	lib     *spectra.Library
	libErr  error
)

// cubeArchive simulates a small cube and returns it as a granule archive
// (tar of granule.hdr and granule.img).
func cubeArchive(t testing.TB, seed uint64) []byte {
	t.Helper()
	libOnce.Do(func() { lib, libErr = spectra.Default() })
	if libErr != nil {
		t.Fatal(libErr)
	}
	sc := sim.DemoScene(seed)
	sc.Samples, sc.Lines, sc.Sensor.Bands = 12, 10, 8
	sc.Sensor.BadBands = nil
	o, err := sim.WriteScene(filepath.Join(t.TempDir(), "c"), sc, lib, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := cube.Open(o.Radiance)
	if err != nil {
		t.Fatal(err)
	}
	hdr, data := f.HdrPath, f.DataPath
	_ = f.Close()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, x := range []struct{ name, path string }{{"granule.hdr", hdr}, {"granule.img", data}} {
		b, err := os.ReadFile(x.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: x.name, Size: int64(len(b)), Mode: 0o644, ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var t0 = context.Background()

func decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func newPipe() (*io.PipeReader, *io.PipeWriter) { return io.Pipe() }

func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out, err
}
