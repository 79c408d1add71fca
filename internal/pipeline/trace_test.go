package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/sniff"
	"github.com/atalaya-project/atalaya/internal/store"
)

// The demo's survey made smaller: one imaging pass and one low point-sensor
// flight over a methamphetamine-scale source. Both granules go through
// the pipeline, and their detections fuse into one site at the source,
// with evidence from both sensors.
func TestCubeAndTraceFuseIntoOneSite(t *testing.T) {
	scen, err := sim.Preset("demo")
	if err != nil {
		t.Fatal(err)
	}
	scen.Area.WidthM, scen.Area.HeightM = 170, 160
	scen.Sensor.Bands, scen.Sensor.BadBands = 48, nil
	scen.Sources = scen.Sources[:1] // the meth lab at (90 m E, 110 m S)
	src := scen.Sources[0]
	dir := t.TempDir()
	outs, err := sim.RunScenario(dir, scen, library(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var cubeHdr, trace string
	for _, o := range outs {
		if o.Radiance != "" {
			cubeHdr = o.Radiance
		}
		if o.Trace != "" && o.Radiance == "" {
			trace = o.Trace
		}
	}
	if cubeHdr == "" || trace == "" {
		t.Fatalf("scenario outputs %+v: want a cube and a point-only trace", outs)
	}
	h, err := cube.Open(cubeHdr)
	if err != nil {
		t.Fatal(err)
	}
	geo, err := h.Header.Georef()
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	gsd := scen.GSD(scen.Flights[0])
	srcLat, srcLon := geo.LatLon(src.East/gsd, -src.North/gsd)

	eachStore(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		det := DetectConfig{Methods: []string{"mf"}, Gases: []string{"acetone", "ammonia"}, FARPerKm2: 1, Library: library(t)}
		f, err := fusion.New(db, fusion.Config{Gases: det.Gases, FARPerKm2: det.FARPerKm2, Library: library(t)})
		if err != nil {
			t.Fatal(err)
		}
		commit := func(ctx2 context.Context, g store.Granule, res *granule.Result, ds []store.Detection) error {
			_, err := f.Commit(ctx2, g, res, ds)
			return err
		}
		s, err := NewServer(Config{Store: db, DataDir: t.TempDir(), Listen: "127.0.0.1:-1", Blobs: "dir",
			Workers: 2, Detect: det, WorkDir: t.TempDir(), Commit: commit, Queue: QueueConfig{AckWait: 20 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop() })
		rc, err := s.Ingester().Ingest(ctx, cubeHdr)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := s.Ingester().IngestTrace(ctx, trace)
		if err != nil {
			t.Fatal(err)
		}
		if rt.Granule.Kind != store.KindTrace || !strings.HasSuffix(rt.Granule.URI, ".csv") {
			t.Fatalf("trace granule %+v", rt.Granule)
		}
		// Ingesting the same trace again changes nothing.
		again, err := s.Ingester().IngestTrace(ctx, trace)
		if err != nil || again.Created || again.Granule.ID != rt.Granule.ID {
			t.Fatalf("second ingest: %+v, %v", again, err)
		}
		waitDone(t, db, []string{rc.Granule.ID, rt.Granule.ID}, 120*time.Second)
		near, dist, err := db.SitesNear(ctx, srcLat, srcLon, 60, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(near) != 1 {
			for _, s := range near {
				h, _ := db.SiteHistory(ctx, s.ID)
				for _, d := range h.Detections {
					t.Logf("site %s: %s %s z %.1f at %.6f %.6f props %s", s.ID, d.Method, d.Gas, d.Score, d.Lat, d.Lon, d.Properties)
				}
			}
			t.Fatalf("%d sites within 60 m of the source (%v m), want 1", len(near), dist)
		}
		hist, err := db.SiteHistory(ctx, near[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		methods := map[string]int{}
		for _, d := range hist.Detections {
			methods[d.Method]++
			checkEvidence(t, db, d)
			if d.Method == "sniff" {
				e := store.DistanceM(d.Lat, d.Lon, srcLat, srcLon)
				t.Logf("point-sensor detection of %s %.1f m from the source ±%.1f m, %.2g kg/h (true %v)", d.Gas, e, d.UncertaintyM, d.RateKgH, src.Rates[d.Gas])
			}
		}
		t.Logf("site %.1f m from the source ±%.1f m, P %.3f, type %s, detections by method %v; gases %s",
			dist[0], near[0].UncertaintyM, near[0].Probability, near[0].TypeGuess, methods, near[0].GasProfile)
		if methods["mf"] == 0 || methods["sniff"] == 0 {
			t.Errorf("the site's detections by method: %v; want both the imaging (mf) and the point sensor's (sniff)", methods)
		}
		if dist[0] > math.Max(15, 2*near[0].UncertaintyM) {
			t.Errorf("site %.1f m from the source (±%.1f m)", dist[0], near[0].UncertaintyM)
		}
	})
}

// checkEvidence checks a stored detection's evidence: an imaging
// detection's measured spectrum follows the library signature and its
// plume image is a PNG; a point-sensor detection's trace follows the
// fitted plume.
func checkEvidence(t *testing.T, db *store.DB, d store.Detection) {
	t.Helper()
	var props struct {
		Spectrum *granule.Spectrum `json:"spectrum"`
		Trace    *sniff.Trace      `json:"trace"`
	}
	if err := json.Unmarshal([]byte(d.Properties), &props); err != nil {
		t.Fatalf("detection %s properties: %v", d.ID, err)
	}
	switch d.Method {
	case "mf":
		sp := props.Spectrum
		if sp == nil || len(sp.Measured) < 4 || len(sp.Library) != len(sp.Measured) {
			t.Fatalf("mf detection %s of %s: spectrum %+v", d.ID, d.Gas, sp)
		}
		r := stat.Correlation(sp.Measured, sp.Library, nil)
		t.Logf("mf detection of %s: spectrum r = %.3f over %d bands, %.0f ppm·m retrieved, %.0f fitted", d.Gas, r, len(sp.Measured), sp.PPMm, sp.FitPPMm)
		if r < 0.9 {
			t.Errorf("mf detection %s of %s: measured spectrum correlates %.3f with the library's", d.ID, d.Gas, r)
		}
		b, err := db.DetectionPlumePNG(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("mf detection %s plume image (%d bytes): %v", d.ID, len(b), err)
		}
		if r := img.Bounds(); r.Dx() > 256 || r.Dy() > 256 {
			t.Errorf("plume image %v larger than 256 px", r)
		}
	case "sniff":
		tr := props.Trace
		if tr == nil || len(tr.T) < 4 || len(tr.PPM) != len(tr.T) || len(tr.Fit) != len(tr.T) {
			t.Fatalf("sniff detection %s: trace %+v", d.ID, tr)
		}
		r := stat.Correlation(tr.PPM, tr.Fit, nil)
		t.Logf("sniff detection of %s: trace of %d samples, measured against fitted plume r = %.3f", d.Gas, len(tr.T), r)
		if r < 0.5 {
			t.Errorf("sniff detection %s: trace correlates %.3f with the fitted plume", d.ID, r)
		}
	}
}

const traceCols = "time,east_m,north_m,lat_deg,lon_deg,alt_agl_m,heading_deg,line,wind_speed_m_s,wind_from_deg,pid_ppm"

// A malformed trace is refused at ingest with the line and column named,
// and nothing is stored.
func TestIngestTraceRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, "sqlite:"+filepath.Join(dir, "atalaya.db"))
	blobs, err := NewDir(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	in := &Ingester{Store: db, Blobs: blobs}
	for name, body := range map[string]string{
		"no header":   "# atalaya point-sensor trace v1\n",
		"no channels": "# atalaya point-sensor trace v1\ntime,east_m,north_m,alt_agl_m,line\n2026-03-10T16:00:00Z,0,0,5,0\n",
		"bad cell":    "# atalaya point-sensor trace v1\n" + traceCols + "\n2026-03-10T16:00:00Z,0,south,4.6,-74,5,0,0,3,270,0.1\n",
		"no lat/lon":  "# atalaya point-sensor trace v1\n" + traceCols + "\n2026-03-10T16:00:00Z,0,0,,,5,0,0,3,270,0.1\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, "/", "-")+".csv")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := in.IngestTrace(t.Context(), p)
		if err == nil {
			t.Errorf("%s: ingested", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		if want := map[string]string{"bad cell": "north_m", "no lat/lon": "lat_deg/lon_deg", "no channels": "_ppm", "no header": "header"}[name]; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not name %q", name, err, want)
		}
	}
	gs, err := db.GranulesByStatus(t.Context(), store.GranuleRecorded, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 0 {
		t.Fatalf("%d granules recorded from bad traces", len(gs))
	}
}
