package server

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/pipeline"
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

// boxOwners stands in for access's Natural Earth jurisdiction: a box per
// host country, the test sites well inside them.
type boxOwners struct{}

func (boxOwners) OwnerOf(_ context.Context, lat, lon float64) (string, error) {
	switch {
	case lat > 2 && lat < 11 && lon > -77 && lon < -68:
		return agCOL, nil
	case lat > -17 && lat < -3 && lon > -80 && lon < -70:
		return agPER, nil
	}
	return "", access.ErrNoJurisdiction
}

// fixtureAuth authenticates the fixtures' tokens and sessions: a stand-in
// for internal/access's authenticator until it lands.
type fixtureAuth struct {
	mu       sync.Mutex
	tokens   map[string]Principal
	sessions map[string]Session
	users    map[string]struct {
		pw string
		p  Principal
		u  User
	}
	now func() time.Time
}

func (a *fixtureAuth) Login(_ context.Context, username, password string) (Session, User, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[username]
	if !ok || u.pw != password {
		return Session{}, User{}, ErrUnauthorized
	}
	tok := fmt.Sprintf("sess-%s-%d", username, len(a.sessions))
	s := Session{Principal: u.p, Token: tok, CSRF: "csrf-" + tok, Expires: a.now().Add(time.Hour)}
	a.sessions[tok] = s
	return s, u.u, nil
}

func (a *fixtureAuth) Logout(_ context.Context, token string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, token)
	return nil
}

func (a *fixtureAuth) Session(_ context.Context, token string) (Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[token]
	if !ok || !a.now().Before(s.Expires) {
		return Session{}, ErrUnauthorized
	}
	return s, nil
}

func (a *fixtureAuth) Token(_ context.Context, token string) (Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.tokens[token]
	if !ok {
		return Principal{}, ErrUnauthorized
	}
	return p, nil
}

// storeAudit appends to the store's audit log, sealed with SHA-256 over
// the entry's fields.
type storeAudit struct{ st *store.DB }

func (a storeAudit) Audit(ctx context.Context, e AuditEntry) error {
	obj := strings.SplitN(e.Object, "/", 2)
	typ, id := obj[0], ""
	if len(obj) == 2 {
		id = obj[1]
	}
	_, err := a.st.AppendAudit(ctx, store.AuditEntry{At: e.At, ActorUser: e.Principal.UserID, ActorAgency: e.Principal.AgencyID,
		Action: e.Action, ObjectType: typ, ObjectID: id, Details: e.Detail}, func(x store.AuditEntry) string {
		h := sha256.Sum256(fmt.Appendf(nil, "%d|%s|%s|%s|%s|%s", x.Seq, x.PrevHash, x.Action, x.ObjectType, x.ObjectID, x.Details))
		return hex.EncodeToString(h[:])
	})
	return err
}

// env is a server over a real store with the fixtures.
type env struct {
	t                *testing.T
	st               *store.DB
	srv              *Server
	http             *httptest.Server
	auth             *fixtureAuth
	siteCOL, sitePER store.Site
	granule          store.Granule
	spool            string
	blobs            string
}

func token(role Role, agency string) string { return "atl_" + string(role) + "_" + agency }

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

func sqliteURL(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "atalaya.db") }

func newEnv(t *testing.T, url string, mod ...func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, url)
	e := &env{t: t, st: st, spool: t.TempDir(), blobs: t.TempDir()}
	e.auth = &fixtureAuth{tokens: map[string]Principal{}, sessions: map[string]Session{}, now: time.Now,
		users: map[string]struct {
			pw string
			p  Principal
			u  User
		}{}}
	for _, a := range agencies {
		if _, err := st.PutAgency(ctx, a); err != nil {
			t.Fatal(err)
		}
		for _, r := range access.Roles {
			u, err := st.CreateUser(ctx, store.User{AgencyID: a.ID, Username: string(r) + "@" + a.ID, Name: string(r), Role: string(r), Lang: a.Lang})
			if err != nil {
				t.Fatal(err)
			}
			p := Principal{UserID: u.ID, AgencyID: a.ID, Role: r, Lang: a.Lang}
			e.auth.tokens[token(r, a.ID)] = p
			e.auth.users[u.Username] = struct {
				pw string
				p  Principal
				u  User
			}{"pw-" + u.Username, p, User{ID: u.ID, Username: u.Username, AgencyID: a.ID, Role: r, Lang: a.Lang}}
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
	ds, err := st.CompleteGranule(ctx, e.granule.ID, []store.Detection{{Gas: "ammonia", Method: "mf", Score: 9, PValue: 1e-6,
		Lat: 4.6, Lon: -74.1, UncertaintyM: 15, PeakPPMM: 120, MeanPPMM: 40, SigmaPPMM: 10, RateKgH: 2}})
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
	cfg := Config{Store: st, Auth: e.auth, Owners: boxOwners{}, Audit: storeAudit{st},
		Ingest:    PipelineIngester{In: &pipeline.Ingester{Store: st, Blobs: bl}},
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
