package fusion

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/sites"
	"github.com/atalaya-project/atalaya/internal/store"
)

// The must-show survey (docs/evidence.md): the fentanyl preset's
// laboratory at faintScale × its rate (1 kg/h of dichloromethane),
// repetition faintRep, its first faintPasses passes — in the evaluation,
// one of the four surveys of twelve at that rate in which the passes
// together find the laboratory before any single pass does (internal/sites'
// TestSurveyAccumulationFindsFaintSource runs the same survey on the grid
// alone).
const (
	faintScale  = 3.33
	faintRep    = 5
	faintPasses = 5
)

// The survey where, before the through-plume gate (internal/sites), the
// grid put a "source" 89 m down the laboratory's plume after five passes
// and none at the laboratory: 2 kg/h, repetition 3. The evaluation has
// the laboratory found after five passes there too, before any pass alone.
const (
	plumeScale  = 6.67
	plumeRep    = 3
	plumePasses = 5
)

// faintGases are the gases searched, as in the evaluation (the gases of
// the site-type profiles).
var faintGases = []string{"dichloromethane", "toluene", "acetone", "ammonia", "2-butanone", "ethyl_acetate"}

// TestFusionFindsWhatNoPassFinds is the must-show through the
// product's own path: simulated passes of a fentanyl-scale laboratory
// (internal/sim), each detected by the granule's matched filter (six
// gases, 0.1 false alarms per km²) and committed by the Fuser into a
// SQLite store, as `atalaya serve`'s workers do. It asserts that no
// single pass finds the laboratory — neither the granule's detections
// nor a source grid of that pass alone — and that the accumulated source
// grid makes a candidate site at it, from a grid detection, with no site
// anywhere else.
//
// It simulates and detects faintPasses passes of 600 × 400 m (about a
// minute on 2 cores), so it runs without the race detector
// (scripts/test.sh's second step).
func TestFusionFindsWhatNoPassFinds(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("simulates and detects a survey of 600 × 400 m passes")
	}
	fuseMustShow(t, faintScale, faintRep, faintPasses, true)
}

// TestFusionPlacesNoSourceDownPlume is TestFusionFindsWhatNoPassFinds on
// the survey whose laboratory's plume once made a grid site 89 m
// downwind of it (plumeRep at plumeScale): the grid makes no site away
// from the laboratory. (The grid's test on its own finds the laboratory
// after these five passes at z 7.0, just above its threshold; fusion's
// threshold, with the outlines of the granule's plumes left out of its
// null, is not always as low, so a site at the laboratory is not
// asserted here.)
func TestFusionPlacesNoSourceDownPlume(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("simulates and detects a survey of 600 × 400 m passes")
	}
	fuseMustShow(t, plumeScale, plumeRep, plumePasses, false)
}

// fuseMustShow simulates the first passes of repetition rep of the
// fentanyl preset at scale × its rates, detects and fuses them pass by
// pass, and asserts the must-show: no pass alone finds the laboratory,
// all of them together make a site at it from the grid (if wantSite), and
// the grid makes no site elsewhere.
func fuseMustShow(t *testing.T, scale float64, repetition, passes int, wantSite bool) {
	ctx := context.Background()
	lib := library(t)
	s, err := sim.Preset("fentanyl")
	if err != nil {
		t.Fatal(err)
	}
	s.Seed += uint64(repetition) * 7919 // the evaluation's repetition stride
	for i := range s.Sources {
		for g, q := range s.Sources[i].Rates {
			s.Sources[i].Rates[g] = q * scale
		}
	}
	s.Repeat(passes)
	s.Flights = s.Flights[:passes]
	src := s.Sources[0]
	labLat, labLon := cube.UTMToLatLon(s.Area.UTMZone, s.Area.North, s.Area.EastingM+src.East, s.Area.NorthingM+src.North)

	dir := t.TempDir()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "atalaya.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f, err := New(db, Config{Gases: faintGases, FARPerKm2: 0.1, Library: lib})
	if err != nil {
		t.Fatal(err)
	}
	foundAt := 0
	rng := rand.New(rand.NewPCG(s.Seed, 0x5eed))
	for i := range s.Flights {
		pdir := filepath.Join(dir, s.Flights[i].Name)
		o, err := sim.WriteScene(pdir, s.Scene(i), lib, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := granule.Process(ctx, granule.Config{Cube: o.Radiance, OutDir: filepath.Join(pdir, "detect"),
			Methods: []string{granule.MethodMF}, Gases: faintGases, FARPerKm2: 0.1, Library: lib})
		if err != nil {
			t.Fatal(err)
		}
		// The wind fusion reads from the header, as a weather model would
		// give it (the evaluation's errors and random sequence).
		w := s.Flights[i].Weather
		w.WindFromDeg = math.Mod(w.WindFromDeg+10*rng.NormFloat64()+360, 360)
		w.WindSpeed = math.Max(0.5, w.WindSpeed+0.5*rng.NormFloat64())
		setHeaderWind(t, o.Radiance, w)
		ds, err := pipeline.Detections(res)
		if err != nil {
			t.Fatal(err)
		}
		// The granule alone.
		for _, d := range ds {
			if dist := store.DistanceM(d.Lat, d.Lon, labLat, labLon); dist < 60 && (d.Gas == "dichloromethane" || d.Gas == "toluene") {
				t.Errorf("pass %d alone: the granule finds the laboratory (%s %s %.0f m away): the survey no longer shows the must-show", i+1, d.Method, d.Gas, dist)
			}
		}
		// A source grid of this pass alone, told of its own plumes.
		if z, found := singlePassGrid(t, s, i, w, filepath.Join(pdir, "detect"), ds, labLat, labLon); found {
			t.Errorf("pass %d alone: its source grid finds the laboratory (z %.1f): the survey no longer shows the must-show", i+1, z)
		}
		g := granuleRecord(t, db, o.Radiance, s.Flights[i].Name)
		rep, err := f.Commit(ctx, g, res, ds)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"radiance.img", "truth.img"} {
			os.Remove(filepath.Join(pdir, name)) // 60 MB each; the maps stay
		}
		near, _, err := db.SitesNear(ctx, labLat, labLon, 20, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pass %d: %d detections (%d from the grid), sites created %v; %d site(s) within 20 m of the laboratory", i+1, rep.Detections, rep.GridDetections, rep.Created, len(near))
		if foundAt == 0 && len(near) > 0 {
			foundAt = i + 1
		}
	}
	near, dist, err := db.SitesNear(ctx, labLat, labLon, 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !wantSite && len(near) == 0 {
		t.Logf("after %d passes no site within 20 m of the laboratory", passes)
	} else if len(near) != 1 {
		all, _ := db.SitesInBBox(ctx, store.BBox{MinLat: -90, MinLon: -180, MaxLat: 90, MaxLon: 180}, 0)
		for _, x := range all {
			h, _ := db.SiteHistory(ctx, x.ID)
			for _, d := range h.Detections {
				t.Logf("site %s %.0f m from the laboratory: %s %s z %.1f at %.0f m (±%.0f m) %s", x.ID, store.DistanceM(x.Lat, x.Lon, labLat, labLon), d.Method, d.Gas, d.Score, store.DistanceM(d.Lat, d.Lon, labLat, labLon), d.UncertaintyM, d.Properties)
			}
		}
		t.Fatalf("after %d passes, %d sites within 20 m of the laboratory (%v m); want one", passes, len(near), dist)
	}
	nearID := ""
	if len(near) == 1 {
		nearID = near[0].ID
		checkLabSite(t, db, near[0], dist[0], foundAt, scale, labLat, labLon)
	}
	all, err := db.SitesInBBox(ctx, store.BBox{MinLat: -90, MinLon: -180, MaxLat: 90, MaxLon: 180}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Elsewhere, only single passes' detections may make sites (the
	// granule's own, at its own false-alarm rate — some are the
	// laboratory's puffs down its plume): the grid makes none.
	for _, x := range all {
		if x.ID == nearID {
			continue
		}
		h, err := db.SiteHistory(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range h.Detections {
			t.Logf("other site %s, %.0f m from the laboratory: %s %s z %.1f", x.ID, store.DistanceM(x.Lat, x.Lon, labLat, labLon), d.Method, d.Gas, d.Score)
			if d.Method == MethodGrid {
				t.Errorf("the grid made site %s %.0f m from the laboratory", x.ID, store.DistanceM(x.Lat, x.Lon, labLat, labLon))
			}
		}
	}
}

// checkLabSite asserts that the site at the laboratory has a grid
// detection whose rate is the laboratory's.
func checkLabSite(t *testing.T, db *store.DB, site store.Site, dist float64, foundAt int, scale, labLat, labLon float64) {
	t.Helper()
	ctx := context.Background()
	h, err := db.SiteHistory(ctx, site.ID)
	if err != nil {
		t.Fatal(err)
	}
	grid := 0
	for _, d := range h.Detections {
		t.Logf("the site's detection: %s %s z %.1f, %.1f m from the laboratory (±%.1f m), %.2f ± %.2f kg/h: %s", d.Method, d.Gas, d.Score, store.DistanceM(d.Lat, d.Lon, labLat, labLon), d.UncertaintyM, d.RateKgH, d.RateSigmaKgH, d.Properties)
		if d.Method == MethodGrid {
			grid++
			// A source grid's detection carries the combined rate: the
			// laboratory's 1 kg/h of dichloromethane within 3σ (the
			// evaluation's efficiency is 0.65-0.83).
			if d.Gas == "dichloromethane" && (!(d.RateSigmaKgH > 0) || math.Abs(d.RateKgH-0.3*scale) > 3*d.RateSigmaKgH+0.5*0.3*scale) {
				t.Errorf("grid detection rate %.2f ± %.2f kg/h; the laboratory emits %.2f", d.RateKgH, d.RateSigmaKgH, 0.3*scale)
			}
		}
	}
	t.Logf("site %s %.1f m from the laboratory (±%.1f m), first after pass %d: P=%.3f, seen %d/%d, %s", site.ID, dist, site.UncertaintyM, foundAt, site.Probability, site.PassesSeen, site.PassesSurvey, site.GasProfile)
	if grid == 0 {
		t.Errorf("the site near the laboratory has no grid detection: %+v", h.Detections)
	}
}

// singlePassGrid runs a source grid on pass i alone, as the evaluation's
// single-pass test does (the pass's wind as the header gives it, the
// pass's own plumes known), and reports the z at the laboratory's cell and
// whether a detection of its gases lies within 20 m of it.
func singlePassGrid(t *testing.T, s *sim.Scenario, i int, w sim.Weather, dir string, ds []store.Detection, lat, lon float64) (float64, bool) {
	t.Helper()
	ctx := context.Background()
	g, err := sites.NewGrid(sites.GridConfig{Zone: s.Area.UTMZone, North: s.Area.North, Source: &sites.SourceConfig{Library: library(t)}}, sites.NewMemTileStore())
	if err != nil {
		t.Fatal(err)
	}
	wind := &sites.Wind{FromDeg: w.WindFromDeg, SpeedMS: w.WindSpeed, Stability: w.Stability}
	if _, err := g.AddGranule(ctx, sites.GranulePass{Dir: dir, ID: "alone", Time: s.Flights[i].Start, Gases: faintGases, Wind: wind}); err != nil {
		t.Fatal(err)
	}
	var known []sites.KnownPlume
	for _, d := range ds {
		known = append(known, sites.KnownPlume{Gas: d.Gas, Lat: d.Lat, Lon: d.Lon})
	}
	res, err := g.Detect(ctx, sites.DetectConfig{FARPerKm2: 0.1, Gases: faintGases, Plumes: known})
	if err != nil {
		t.Fatal(err)
	}
	e, n := cube.LatLonToUTM(lat, lon, s.Area.UTMZone, s.Area.North)
	ci, cj := g.CellAt(e, n)
	ev, _, err := g.Evidence(ctx, "dichloromethane", ci, cj)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Detections {
		if (d.Gas == "dichloromethane" || d.Gas == "toluene") && math.Hypot(d.East-e, d.North-n) < 20 {
			return ev.Z, true
		}
	}
	return ev.Z, false
}

// setHeaderWind writes a wind into a cube header's pass metadata.
func setHeaderWind(t *testing.T, hdr string, w sim.Weather) {
	t.Helper()
	b, err := os.ReadFile(hdr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for k, l := range lines {
		key, _, _ := strings.Cut(l, "=")
		switch strings.TrimSpace(key) {
		case cube.HeaderKeyWindFromDeg:
			lines[k] = fmt.Sprintf("%s = %g", cube.HeaderKeyWindFromDeg, w.WindFromDeg)
		case cube.HeaderKeyWindSpeed:
			lines[k] = fmt.Sprintf("%s = %g", cube.HeaderKeyWindSpeed, w.WindSpeed)
		}
	}
	if err := os.WriteFile(hdr, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := cube.Open(hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m, err := c.Header.PassMeta(); err != nil || math.Abs(m.WindFromDeg-w.WindFromDeg) > 1e-9 || math.Abs(m.WindSpeedMS-w.WindSpeed) > 1e-9 {
		t.Fatalf("header wind %+v (%v), want from %g at %g", m, err, w.WindFromDeg, w.WindSpeed)
	}
}

// granuleRecord stores a simulated pass as a granule being processed.
func granuleRecord(t *testing.T, db *store.DB, hdr, name string) store.Granule {
	t.Helper()
	c, err := cube.Open(hdr)
	if err != nil {
		t.Fatal(err)
	}
	geo, err := c.Header.Georef()
	w, h := c.Header.Samples, c.Header.Lines
	meta, _ := c.Header.PassMeta()
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(hdr))
	p := processed{g: store.Granule{Kind: store.KindCube, SHA256: hex.EncodeToString(sum[:]), Name: name,
		Size: 1, URI: "file://" + hdr, Footprint: footprint(geo, w, h), Acquired: meta.Acquired}}
	record(t, db, &p)
	return p.g
}
