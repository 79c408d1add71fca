package fusion

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

var (
	libOnce sync.Once
	lib     *spectra.Library
	libErr  error
)

func library(t testing.TB) *spectra.Library {
	t.Helper()
	libOnce.Do(func() { lib, libErr = spectra.Default() })
	if libErr != nil {
		t.Fatal(libErr)
	}
	return lib
}

// processed is one simulated pass, detected, ready to commit.
type processed struct {
	g      store.Granule
	res    *granule.Result
	ds     []store.Detection
	srcLat float64
	srcLon float64
}

// simulatePass renders the demo scene's ground with one ammonia source at
// a fixed place (seed and wind vary) and runs detection on it.
func simulatePass(t *testing.T, dir string, seed uint64, windFrom float64) processed {
	t.Helper()
	sc := sim.DemoScene(seed)
	sc.Samples, sc.Lines, sc.Sensor.Bands = 160, 120, 48
	sc.Sensor.BadBands = nil
	sc.TempContrastK = 15
	sc.Weather.WindFromDeg = windFrom
	src := sim.Source{Name: "lab", East: 60, North: -60, Rates: map[string]float64{"ammonia": 20}}
	sc.Sources = []sim.Source{src}
	o, err := sim.WriteScene(filepath.Join(dir, fmt.Sprintf("pass%d", seed)), sc, library(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := granule.Process(context.Background(), granule.Config{
		Cube: o.Radiance, OutDir: filepath.Join(dir, fmt.Sprintf("out%d", seed)),
		Methods: []string{granule.MethodMF}, Gases: []string{"ammonia"}, FARPerKm2: 10, Library: library(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	geo, err := sc.Header().Georef()
	if err != nil {
		t.Fatal(err)
	}
	var p processed
	p.srcLat, p.srcLon = geo.LatLon(src.East/sc.GSD, -src.North/sc.GSD)
	box := footprint(geo, sc.Samples, sc.Lines)
	sum := sha256.Sum256(fmt.Appendf(nil, "pass %d", seed))
	p.g = store.Granule{Kind: store.KindCube, SHA256: hex.EncodeToString(sum[:]), Name: fmt.Sprintf("pass%d", seed),
		Size: 1, URI: "file:///nowhere", Footprint: box, Acquired: sc.LineTime(0)}
	p.res = res
	if p.ds, err = pipeline.Detections(res); err != nil {
		t.Fatal(err)
	}
	return p
}

// footprint is the lat/lon box of a w × h pixel georeferenced image.
func footprint(geo *cube.Georef, w, h int) store.BBox {
	box := store.BBox{MinLat: 90, MinLon: 180, MaxLat: -90, MaxLon: -180}
	for _, c := range [][2]float64{{0, 0}, {float64(w), 0}, {0, float64(h)}, {float64(w), float64(h)}} {
		lat, lon := geo.LatLon(c[0], c[1])
		box.MinLat, box.MaxLat = math.Min(box.MinLat, lat), math.Max(box.MaxLat, lat)
		box.MinLon, box.MaxLon = math.Min(box.MinLon, lon), math.Max(box.MaxLon, lon)
	}
	return box
}

func record(t *testing.T, db *store.DB, p *processed) {
	t.Helper()
	ctx := context.Background()
	g, _, err := db.PutGranule(ctx, p.g)
	if err != nil {
		t.Fatal(err)
	}
	if p.g, err = db.StartGranule(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
}

// TestCommitAccumulatesOneSite: three passes over one source make one
// site near it, seen in every pass; committing a pass again changes
// nothing.
func TestCommitAccumulatesOneSite(t *testing.T) {
	dir := t.TempDir()
	passes := []processed{simulatePass(t, dir, 11, 250), simulatePass(t, dir, 12, 270), simulatePass(t, dir, 13, 230)}
	storetest.EachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		owners := func(context.Context) (func(lat, lon float64) string, error) {
			return func(float64, float64) string { return "COL-HOST" }, nil
		}
		f, err := New(db, Config{Gases: []string{"ammonia"}, FARPerKm2: 1, Owners: owners})
		if err != nil {
			t.Fatal(err)
		}
		var gids []string
		for i := range passes {
			p := passes[i]
			record(t, db, &p)
			gids = append(gids, p.g.ID)
			rep, err := f.Commit(ctx, p.g, p.res, p.ds)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("pass %d: %d detections (%d grid), created %v, updated %v, %d alerts", i+1, rep.Detections, rep.GridDetections, rep.Created, rep.Updated, rep.Alerts)
			if i == 0 {
				if len(rep.Created) == 0 || rep.Alerts != len(rep.Created) {
					t.Fatalf("first pass: created %v with %d alerts; want sites, one alert each", rep.Created, rep.Alerts)
				}
				// Again: the granule is done, nothing changes.
				again, err := f.Commit(ctx, p.g, p.res, p.ds)
				if err != nil {
					t.Fatal(err)
				}
				if again.Detections != 0 || len(again.Created)+len(again.Updated)+again.Alerts != 0 {
					t.Fatalf("second commit of a done granule did %+v", again)
				}
			}
		}
		src := passes[0]
		near, dist, err := db.SitesNear(ctx, src.srcLat, src.srcLon, 60, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(near) != 1 {
			t.Fatalf("%d sites within 60 m of the source (%v at %v m); want exactly one", len(near), ids(near), dist)
		}
		s := near[0]
		t.Logf("site %s %.1f m from the source ±%.1f m: seen %d/%d passes, P=%.3f, type %q, %s", s.ID, dist[0], s.UncertaintyM, s.PassesSeen, s.PassesSurvey, s.Probability, s.TypeGuess, s.GasProfile)
		if s.PassesSeen != 3 || s.PassesSurvey != 3 {
			t.Errorf("seen %d of %d passes; want 3 of 3", s.PassesSeen, s.PassesSurvey)
		}
		if dist[0] > 3*s.UncertaintyM+10 {
			t.Errorf("site %.1f m from the source, uncertainty %.1f m", dist[0], s.UncertaintyM)
		}
		// The coverage index, read back from the store, saw all three
		// passes at the source, and together they reach a lower minimum
		// detectable rate than the best one alone (about 1/√3 of a
		// typical one).
		// The passes' headers give the wind: their evidence went to the
		// source grid, whose tiles are kept apart from the cell grid's.
		keys, err := db.TileKeys(ctx, "ammonia")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 || !strings.HasPrefix(keys[0], sourcePrefix) {
			t.Errorf("evidence tiles %v; want the source grid's (%s…)", keys, sourcePrefix)
		}
		cov, err := CoverageIndex(ctx, db, "ammonia")
		if err != nil {
			t.Fatal(err)
		}
		rec := cov.At(src.srcLat, src.srcLon)
		if err := cov.Err(); err != nil {
			t.Fatal(err)
		}
		t.Logf("coverage at the source: %d passes, best single-pass MDL %.3g kg/h, accumulated %.3g kg/h, latest %s", rec.Passes, rec.BestMDL, rec.AccMDL, rec.Last.Granule)
		if rec.Passes != 3 || !(rec.AccMDL < rec.BestMDL) || rec.Last.Granule != gids[2] {
			t.Errorf("coverage at the source %+v: want 3 passes, the latest %s, and an accumulated MDL below the best single one", rec, gids[2])
		}
		// The alerts are the feed's events: the site as partners see it,
		// with its owner, under stable ids.
		alerts, err := db.ClaimOutbox(ctx, 100, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		latest := false
		for _, a := range alerts {
			ev, err := feed.ParseEvent(a)
			if err != nil {
				t.Fatalf("alert %s: %v", a.ID, err)
			}
			if ev.Site.ID != a.SiteID || ev.Site.Owner != "COL-HOST" || ev.ID != a.ID || a.ID != fmt.Sprintf("%s/v%d", ev.Site.ID, ev.Site.Version) {
				t.Errorf("alert %s: event %+v", a.ID, ev)
			}
			latest = latest || (ev.Site.ID == s.ID && ev.Site.Version == s.Version)
		}
		if !latest {
			t.Errorf("no alert of the site's latest version among %d", len(alerts))
		}
		h, err := db.SiteHistory(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		gr := map[string]bool{}
		for _, d := range h.Detections {
			gr[d.GranuleID] = true
		}
		if len(gr) != 3 {
			t.Errorf("site's detections come from %d granules; want 3", len(gr))
		}
	})
}

func ids(ss []store.Site) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

// TestOuterRings: known plumes take the outer rings of a detection's
// outline, whatever its kind; anything else gives none (a point then).
func TestOuterRings(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[[0.2,0.2],[0.3,0.2],[0.3,0.3],[0.2,0.2]]]}`, 1},
		{`{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[2,2],[3,2],[3,3],[2,2]]]]}`, 2},
		{`{"type":"Point","coordinates":[0,0]}`, 0},
		{`{"type":"Polygon","coordinates":[[[0,0],[1,0]]]}`, 0},
		{`not json`, 0},
		{``, 0},
	} {
		if got := outerRings(c.in); len(got) != c.want {
			t.Errorf("outerRings(%s): %d rings, want %d", c.in, len(got), c.want)
		}
	}
}
