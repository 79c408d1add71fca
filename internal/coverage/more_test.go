package coverage

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// TestRasterFootprint: a UTM raster's valid pixels are covered with their own
// noise; invalid pixels are not.
func TestRasterFootprint(t *testing.T) {
	const w, h, px = 400, 200, 2.0 // 800 m × 400 m
	e0, n0 := 440000.0, 4480000.0  // zone 30N, near Madrid
	hdr := &cube.Header{Samples: w, Lines: h, MapInfo: &cube.MapInfo{Projection: "UTM", RefX: 1, RefY: 1,
		Easting: e0, Northing: n0, PixelX: px, PixelY: px, Zone: 30, North: true, Datum: "WGS-84", Units: "Meters"}}
	g, err := hdr.Georef()
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]float32, w*h)
	for y := range h {
		for x := range w {
			switch {
			case x < w/2:
				sig[y*w+x] = 10
			case x < 3*w/4:
				sig[y*w+x] = 20
			default:
				sig[y*w+x] = float32(math.NaN()) // not imaged
			}
		}
	}
	m := Plume{WindMS: 3, MolarMass: 17.031}
	r, err := NewRaster(g, w, h, sig, m)
	if err != nil {
		t.Fatal(err)
	}
	ix, _ := New(Options{})
	n, err := ix.AddRaster(Pass{Granule: "r1", Sensor: "lwir", Threshold: 5, Time: time.Now()}, r)
	if err != nil {
		t.Fatal(err)
	}
	at := func(x, y float64) Record {
		lat, lon := g.LatLon(x, y)
		return ix.At(lat, lon)
	}
	mdl10 := must(MDL(10, 5, px, m))
	if rec := at(50, 100); math.Abs(rec.BestMDL-mdl10) > 1e-5*mdl10 {
		t.Errorf("left half: MDL %g, want %g", rec.BestMDL, mdl10)
	}
	if rec := at(250, 100); math.Abs(rec.BestMDL-2*mdl10) > 1e-5*mdl10 {
		t.Errorf("third quarter: MDL %g, want %g", rec.BestMDL, 2*mdl10)
	}
	if rec := at(350, 100); rec.Surveyed() {
		t.Errorf("invalid pixels surveyed: %+v", rec)
	}
	if rec := at(-20, 100); rec.Surveyed() {
		t.Errorf("outside the raster surveyed")
	}
	// The valid area is 600 m × 400 m of grid (UTM scale factor k: ground
	// area /k²).
	st, _ := ix.Summary(r.outline())
	k := 0.9996 + (e0-500000)*(e0-500000)/(2*6.371e6*6.371e6) // point scale of transverse Mercator
	want := 600 * 400 / (k * k)
	if got := st.SurveyedKm2 * 1e6; math.Abs(got-want) > 0.02*want || st.SurveyedCells != n {
		t.Errorf("surveyed %.0f m² in %d cells (%d updated), want %.0f m²", got, st.SurveyedCells, n, want)
	}
}

// TestPriorities: never-surveyed ground outranks ground looked at long ago,
// which outranks a recent sensitive look; an open site pulls its block up.
func TestPriorities(t *testing.T) {
	ix, _ := New(Options{})
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	// Three strips side by side, ~0.01° each.
	recent := bound(5.00, 45.0, 0.01, 0.02)
	old := bound(5.01, 45.0, 0.01, 0.02)
	const sigma = 0.1 // kg/h: MDL 0.5 kg/h, far below the 5 kg/h of interest
	ix.AddPolygon(Pass{Granule: "recent", Threshold: 5, Time: now.Add(-24 * time.Hour)}, Rect(recent), sigma)
	ix.AddPolygon(Pass{Granule: "old", Threshold: 5, Time: now.Add(-90 * 24 * time.Hour)}, Rect(old), sigma)
	aoi := Rect(bound(5.00, 45.0, 0.03, 0.02))
	site := Site{Lat: 45.01, Lon: 5.005, Weight: 1, RadiusM: 150}
	bl, err := ix.Priorities(aoi, PriorityOptions{SourceKgH: 5, Now: now, BlockLevel: 16, Sites: []Site{site}})
	if err != nil {
		t.Fatal(err)
	}
	kind := func(b Block) string {
		switch {
		case b.SiteTerm > 0.5:
			return "site"
		case b.Lon > 5.022:
			return "never"
		case b.Lon > 5.012 && b.Lon < 5.018:
			return "old"
		case b.Lon > 5.002 && b.Lon < 5.008:
			return "recent"
		}
		return "?"
	}
	if kind(bl[0]) != "site" {
		t.Errorf("top block is %s (%+v), want the open site", kind(bl[0]), bl[0])
	}
	// Whole blocks only (edge blocks mix strips).
	rank := map[string]int{}
	for k, b := range bl {
		if b.Surveyed != 0 && b.Surveyed != 1 || b.SiteTerm > 0.01 && b.SiteTerm < 0.5 {
			continue
		}
		if _, ok := rank[kind(b)]; !ok {
			rank[kind(b)] = k
		}
		if kind(b) == "recent" && b.Hidden > 0.1 {
			t.Errorf("a recently and sensitively surveyed block: %+v", b)
		}
	}
	if !(rank["never"] < rank["old"] && rank["old"] < rank["recent"]) {
		t.Errorf("first ranks: %v, want never < old < recent", rank)
	}
	// hiddenProb by hand: σ = 1, T = 5, q = 5 → P_miss = Φ(0) = ½; a look a
	// memory ago: 1 − ½·e⁻¹.
	if got, want := hiddenProb(5, 1, 5, 86400, 86400), 1-0.5/math.E; math.Abs(got-want) > 1e-12 {
		t.Errorf("hiddenProb = %g, want %g", got, want)
	}
}

func TestWriteReadAndExport(t *testing.T) {
	ix, _ := New(Options{})
	b := bound(-70.0, -12.0, 0.01, 0.01)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ix.AddPolygon(Pass{Granule: "a", Sensor: "lwir", Threshold: 5, Time: t0}, Rect(b), 1)
	ix.AddPolygon(Pass{Granule: "b", Sensor: "lwir", Threshold: 5, Time: t0.Add(time.Hour)}, Rect(bound(-70.0, -12.0, 0.005, 0.01)), 1)
	var buf bytes.Buffer
	if _, err := ix.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	ix2, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []orb.Point{{-69.999, -11.995}, {-69.993, -11.995}, {-69.98, -11.995}} {
		r1, r2 := ix.At(p[1], p[0]), ix2.At(p[1], p[0])
		if r1.Passes != r2.Passes || r1.AccMDL != r2.AccMDL || r1.Last.Granule != r2.Last.Granule || !r1.Last.Time.Equal(r2.Last.Time) {
			t.Errorf("%v: %+v after a round trip, %+v before", p, r2, r1)
		}
	}
	if _, err := Read(bytes.NewReader(buf.Bytes()[:buf.Len()-7])); err == nil {
		t.Error("truncated file: no error")
	}
	fc, err := ix.GeoJSON(b, 16)
	if err != nil {
		t.Fatal(err)
	}
	var two, one int
	for _, f := range fc.Features {
		switch f.Properties["passes_max"] {
		case 2:
			two++
		case 1:
			one++
		}
	}
	if two == 0 || one == 0 {
		t.Errorf("export: %d blocks with 2 passes, %d with 1", two, one)
	}
	img, err := ix.Image(b, 64, 64, LayerPasses, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if img.NRGBAAt(5, 32).A == 0 || img.NRGBAAt(5, 32) == img.NRGBAAt(60, 32) {
		t.Errorf("image: left %v, right %v: want two surveyed colours", img.NRGBAAt(5, 32), img.NRGBAAt(60, 32))
	}
}
