package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
	"github.com/atalaya-project/atalaya/internal/store"
)

// TestEvidenceFromProcessing processes two simulated passes through the
// real detection and fusion (one over an ammonia source, one a day later
// with the source off) and reads the site's evidence through the API: the
// spectrum follows the library signature, the plume image is served as
// image/png to those who may read evidence and to no one else, and the
// later passes are listed as surveyed and not seen, with the MDL.
func TestEvidenceFromProcessing(t *testing.T) {
	libOnce.Do(func() { lib, libErr = spectra.Default() })
	if libErr != nil {
		t.Fatal(libErr)
	}
	dir := t.TempDir()
	type pass struct {
		g   store.Granule
		res *granule.Result
		ds  []store.Detection
	}
	simulate := func(seed uint64, on bool, start time.Time) pass {
		sc := sim.DemoScene(seed)
		sc.Samples, sc.Lines, sc.Sensor.Bands = 160, 120, 48
		sc.Sensor.BadBands = nil
		sc.TempContrastK = 15
		sc.GroundSeed = 5
		sc.Start = start
		sc.Sources = nil
		if on {
			sc.Sources = []sim.Source{{Name: "lab", East: 60, North: -60, Rates: map[string]float64{"ammonia": 20}}}
		}
		o, err := sim.WriteScene(filepath.Join(dir, fmt.Sprint("scene", seed)), sc, lib, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := granule.Process(context.Background(), granule.Config{Cube: o.Radiance, OutDir: filepath.Join(dir, fmt.Sprint("out", seed)),
			Methods: []string{granule.MethodMF}, Gases: []string{"ammonia"}, FARPerKm2: 10, Library: lib})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := pipeline.Detections(res)
		if err != nil {
			t.Fatal(err)
		}
		geo, err := sc.Header().Georef()
		if err != nil {
			t.Fatal(err)
		}
		box := store.BBox{MinLat: 90, MinLon: 180, MaxLat: -90, MaxLon: -180}
		for _, c := range [][2]float64{{0, 0}, {float64(sc.Samples), 0}, {0, float64(sc.Lines)}, {float64(sc.Samples), float64(sc.Lines)}} {
			lat, lon := geo.LatLon(c[0], c[1])
			box.MinLat, box.MaxLat = math.Min(box.MinLat, lat), math.Max(box.MaxLat, lat)
			box.MinLon, box.MaxLon = math.Min(box.MinLon, lon), math.Max(box.MaxLon, lon)
		}
		sum := sha256.Sum256(fmt.Appendf(nil, "pass %d", seed))
		return pass{g: store.Granule{Kind: store.KindCube, SHA256: hex.EncodeToString(sum[:]), Name: fmt.Sprint("pass", seed),
			Size: 1, URI: "file:///nowhere", Footprint: box, Acquired: sc.LineTime(0)}, res: res, ds: ds}
	}
	day := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	passes := []pass{simulate(31, true, day), simulate(32, false, day.Add(24*time.Hour)), simulate(33, false, day.Add(48*time.Hour))}

	eachStore(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		f, err := fusion.New(e.st, fusion.Config{Gases: []string{"ammonia"}, FARPerKm2: 10, Library: lib})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range passes {
			g, _, err := e.st.PutGranule(t0, p.g)
			if err != nil {
				t.Fatal(err)
			}
			if g, err = e.st.StartGranule(t0, g.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Commit(t0, g, p.res, p.ds); err != nil {
				t.Fatal(err)
			}
		}
		best := passes[0].res.Detections[0]
		near, _, err := e.st.SitesNear(t0, best.Lat, best.Lon, 100, 1)
		if err != nil || len(near) != 1 {
			t.Fatalf("site near the plume: %v, %v", near, err)
		}
		site := near[0]
		path := "/api/v1/sites/" + site.ID
		analyst := e.tok(access.RoleAnalyst, agCOL)
		resp := e.do("GET", path+"/evidence", analyst, nil)
		b := read(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("evidence: %d %s", resp.StatusCode, b)
		}
		var ev Evidence
		decode(t, b, &ev)
		sp := ev.Spectrum
		if sp.Gas != "ammonia" || len(sp.Measured) < 4 || len(sp.Library) != len(sp.Measured) || len(sp.WavelengthUM) != len(sp.Measured) {
			t.Fatalf("spectrum %+v", sp)
		}
		r := stat.Correlation(sp.Measured, sp.Library, nil)
		t.Logf("site %s: spectrum of %d bands, r = %.3f; passes %+v", site.ID, len(sp.Measured), r, ev.Passes)
		if r < 0.9 {
			t.Errorf("served spectrum correlates %.3f with the library signature", r)
		}
		if ev.PlumePNG != path+"/plume.png" {
			t.Errorf("plume_png %q, want %q", ev.PlumePNG, path+"/plume.png")
		}
		// Every pass is in the history: the one that saw it, then both
		// later ones that surveyed the site and saw nothing, in time order.
		var seen, notSeen int
		last := ""
		for _, p := range ev.Passes {
			if p.Seen {
				seen++
			} else if p.MDLKgH > 0 && !math.IsInf(p.MDLKgH, 0) && p.Time != "" {
				notSeen++
				if p.Time < last {
					t.Errorf("passes not in time order: %+v", ev.Passes)
				}
				last = p.Time
			}
		}
		if seen != 1 || notSeen != 2 {
			t.Errorf("passes %+v: want one seen and two surveyed without a detection, with the MDL", ev.Passes)
		}

		// The image: the stored bytes, as image/png, to readers of evidence.
		resp = e.do("GET", ev.PlumePNG, analyst, nil)
		img := read(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("plume.png: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			t.Fatalf("plume.png does not decode: %v", err)
		}
		if !bytes.Equal(img, best.PlumePNG) {
			t.Errorf("plume.png serves %d bytes, the run drew %d", len(img), len(best.PlumePNG))
		}
		for _, c := range []struct {
			tok  string
			want int
		}{
			{"", http.StatusUnauthorized},
			{e.tok(access.RoleAnalyst, agPER), http.StatusNotFound}, // not visible to another agency: as if missing
		} {
			resp := e.do("GET", ev.PlumePNG, c.tok, nil)
			if read(t, resp); resp.StatusCode != c.want {
				t.Errorf("plume.png with token %q: %d, want %d", c.tok, resp.StatusCode, c.want)
			}
		}
		resp = e.do("GET", ev.PlumePNG+"?detection=nope", analyst, nil)
		if read(t, resp); resp.StatusCode != http.StatusNotFound {
			t.Errorf("plume.png of a detection not the site's: %d", resp.StatusCode)
		}
	})
}
