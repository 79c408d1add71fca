package granule

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

func library(t testing.TB) *spectra.Library {
	t.Helper()
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// scene is a small simulated granule: 64 bands, 1 m pixels.
func scene(seed uint64, w, h int, sources ...sim.Source) *sim.Scene {
	sc := sim.DemoScene(seed)
	sc.Samples, sc.Lines = w, h
	sc.Sensor.Bands = 64
	sc.Sensor.BadBands = []int{40}
	sc.Sources = sources
	return sc
}

func writeScene(t testing.TB, sc *sim.Scene) sim.Output {
	t.Helper()
	o, err := sim.WriteScene(t.TempDir(), sc, library(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func readAll(t testing.TB, path string) *cube.Cube {
	t.Helper()
	f, err := cube.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := f.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A simulated source is found where it is, its plume's concentration-
// pathlength is retrieved within 10% where the retrieval's SNR is at least
// 10, and every output the command promises is there.
func TestProcessRecoversSimulatedPlume(t *testing.T) {
	src := sim.Source{Name: "lab", East: 30, North: -60, Rates: map[string]float64{"ammonia": 20}}
	sc := scene(11, 200, 120, src)
	// Midday over the tropics: bare ground 15 K above air, 128 bands.
	sc.TempContrastK, sc.Sensor.Bands = 15, 128
	o := writeScene(t, sc)
	out := t.TempDir()
	res, err := Process(context.Background(), Config{
		Cube: o.Radiance, OutDir: out, Methods: []string{"mf", "ace", "rx", "cem"},
		Gases: []string{"ammonia"}, FARPerKm2: 1, Library: library(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mf-ammonia", "ace-ammonia", "cem-ammonia", "rx", "ppmm-ammonia", "ppmm-sigma-ammonia", "pvalue-mf-ammonia", "pvalue-rx"} {
		c := readAll(t, filepath.Join(out, name+".hdr"))
		if c.Rect.Dx() != sc.Samples || c.Rect.Dy() != sc.Lines || c.Bands != 1 {
			t.Errorf("%s: %v × %d bands", name, c.Rect, c.Bands)
		}
	}
	// p-values: in [0, 1], and the detections' peaks below the per-pixel
	// false-alarm probability of their test.
	pv := readAll(t, filepath.Join(out, "pvalue-mf-ammonia.hdr"))
	for i, p := range pv.Pix {
		if !(p >= 0 && p <= 1) {
			t.Fatalf("p-value %g at pixel %d", p, i)
		}
	}
	for _, d := range res.Detections {
		if d.Method == "mf" && float64(pv.Pix[d.PeakY*sc.Samples+d.PeakX]) > res.Tests[0].PixelProb*1.0001 {
			t.Errorf("detection %s: peak p-value %g above the test's %g", d.ID, pv.Pix[d.PeakY*sc.Samples+d.PeakX], res.Tests[0].PixelProb)
		}
	}
	if res.PlumeTempK != sc.Weather.AirTempK {
		t.Errorf("plume temperature %g, want the header's %g", res.PlumeTempK, sc.Weather.AirTempK)
	}
	if res.KeptBands != 127 || len(res.Masked.Dropped) != 1 || res.Masked.Dropped[0].Band != 40 {
		t.Errorf("kept %d bands, dropped %+v: want band 40 dropped by the bad-band list", res.KeptBands, res.Masked.Dropped)
	}

	truth := readAll(t, o.Truth)
	ppmm := readAll(t, filepath.Join(out, "ppmm-ammonia.hdr"))
	sigma := readAll(t, filepath.Join(out, "ppmm-sigma-ammonia.hdr"))
	var sumC, sumT float64
	n := 0
	for i, c := range truth.Pix {
		if float64(c) >= 10*float64(sigma.Pix[i]) {
			sumC += float64(ppmm.Pix[i])
			sumT += float64(c)
			n++
		}
	}
	if n < 20 {
		t.Fatalf("only %d pixels with SNR ≥ 10", n)
	}
	if rel := (sumC - sumT) / sumT; math.Abs(rel) > 0.10 {
		t.Errorf("mean retrieval %.1f ppm·m against truth %.1f over %d pixels at SNR ≥ 10: error %.1f%%, want within 10%%", sumC/float64(n), sumT/float64(n), n, 100*rel)
	} else {
		t.Logf("mean retrieval %.1f ppm·m against truth %.1f over %d pixels at SNR ≥ 10 (%.1f%%)", sumC/float64(n), sumT/float64(n), n, 100*rel)
	}

	// The strongest ammonia detection lies on the plume, and within a few
	// plume widths downwind of the source.
	var found *Detection
	for i := range res.Detections {
		if d := &res.Detections[i]; d.Gas == "ammonia" && d.Method == "mf" {
			found = d
			break
		}
	}
	if found == nil {
		t.Fatal("no ammonia detection")
	}
	if truth.At(found.PeakX, found.PeakY)[0] <= 0 {
		t.Errorf("strongest detection peaks at (%d,%d) where there is no gas", found.PeakX, found.PeakY)
	}
	g, err := sc.Header().Georef()
	if err != nil {
		t.Fatal(err)
	}
	lat, lon := g.LatLon(src.East/sc.GSD, -src.North/sc.GSD)
	if d := haversine(lat, lon, found.Lat, found.Lon); d > 60 {
		t.Errorf("detection centroid %.1f m from the source, want within 60 m", d)
	}

	// The GeoJSON holds the detections with WGS-84 polygons.
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Geometry struct {
				Type        string         `json:"type"`
				Coordinates [][][2]float64 `json:"coordinates"`
			} `json:"geometry"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	b, err := os.ReadFile(res.GeoJSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != len(res.Detections) {
		t.Fatalf("GeoJSON %s with %d features for %d detections", fc.Type, len(fc.Features), len(res.Detections))
	}
	f0 := fc.Features[0]
	if f0.Geometry.Type != "Polygon" || len(f0.Geometry.Coordinates) != 1 || len(f0.Geometry.Coordinates[0]) < 4 {
		t.Fatalf("first feature geometry %+v", f0.Geometry)
	}
	for _, p := range f0.Geometry.Coordinates[0] {
		if math.Abs(p[1]-found.Lat) > 0.01 || math.Abs(p[0]-found.Lon) > 0.01 {
			t.Errorf("outline point %v far from the centroid (%g, %g)", p, found.Lon, found.Lat)
		}
	}
}

func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371000
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

// On scenes with no gas at all — fields, roofs of metal and concrete, water —
// the gas detections per km² stay near the requested rate.
func TestProcessFalseAlarmsOnCleanScenes(t *testing.T) {
	if testing.Short() {
		t.Skip("renders 0.5 km² of clean scenes")
	}
	const far = 20.0 // per km², whole run: high enough to count
	area, count := 0.0, 0
	for seed := uint64(1); seed <= 2; seed++ {
		sc := scene(100+seed, 500, 500)
		// A source with no emission keeps a gas in the truth cube's bands.
		sc.Sources = []sim.Source{{Name: "none", East: 10, North: -10, Rates: map[string]float64{"acetone": 0}}}
		o := writeScene(t, sc)
		res, err := Process(context.Background(), Config{
			Cube: o.Radiance, OutDir: t.TempDir(), Methods: []string{"mf"},
			Gases: []string{"acetone", "ammonia"}, FARPerKm2: far, Library: library(t), Passes: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		area += res.AreaKm2
		count += len(res.Detections)
	}
	want := far * area
	// Poisson: the 99.9% upper bound for a mean of 10 is 21 (and the lower
	// 0.1% is 2); the fitted tail adds its own error.
	t.Logf("%d false detections on %.2f km² at %g/km² (expected %.1f)", count, area, far, want)
	if float64(count) > 2.1*want+2 || float64(count) < 0.2*want {
		t.Errorf("%d false detections on %.2f km², expected about %.1f at %g/km²", count, area, want, far)
	}
}

func TestProcessConfigErrors(t *testing.T) {
	sc := scene(3, 40, 30, sim.Source{Name: "s", East: 5, North: -5, Rates: map[string]float64{"acetone": 1}})
	o := writeScene(t, sc)
	cases := []struct {
		name string
		cfg  Config
		is   error
	}{
		{"no gas", Config{Methods: []string{"mf"}}, ErrConfig},
		{"unknown method", Config{Methods: []string{"svm"}, Gases: []string{"acetone"}}, ErrConfig},
		{"unknown gas", Config{Methods: []string{"mf"}, Gases: []string{"unobtainium"}}, spectra.ErrUnknownGas},
		{"bad far", Config{Methods: []string{"rx"}, FARPerKm2: -1}, ErrConfig},
		{"bad background", Config{Methods: []string{"rx"}, Background: "local"}, ErrConfig},
	}
	for _, c := range cases {
		cfg := c.cfg
		cfg.Cube, cfg.OutDir = o.Radiance, t.TempDir()
		if cfg.FARPerKm2 == 0 {
			cfg.FARPerKm2 = 1
		}
		_, err := Process(context.Background(), cfg)
		if !errors.Is(err, c.is) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.is)
		}
	}
}

// A cube without map info needs a pixel size for a rate per km², and a
// thermal cube without the air temperature cannot give ppm·m: both errors
// say what to pass.
func TestProcessNeedsPixelSizeAndPlumeTemp(t *testing.T) {
	sc := scene(4, 40, 30, sim.Source{Name: "s", East: 5, North: -5, Rates: map[string]float64{"acetone": 1}})
	o := writeScene(t, sc)
	dir := t.TempDir()
	// Copy the cube with a header that has neither map info nor air temperature.
	f, err := cube.Open(o.Radiance)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	h := sc.Header()
	h.MapInfo = nil
	p := filepath.Join(dir, "bare.hdr")
	w, err := cube.Create(p, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteLines(c); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	base := Config{Cube: p, OutDir: t.TempDir(), Methods: []string{"mf"}, Gases: []string{"acetone"}, FARPerKm2: 1}
	if _, err := Process(context.Background(), base); !errors.Is(err, ErrConfig) || !contains(err.Error(), "--pixel-size") {
		t.Errorf("no map info: %v, want an error asking for --pixel-size", err)
	}
	base.PixelSizeM = 1
	if _, err := Process(context.Background(), base); !errors.Is(err, ErrConfig) || !contains(err.Error(), "--plume-temp") {
		t.Errorf("no air temperature: %v, want an error asking for --plume-temp", err)
	}
	base.PlumeTempK = 300
	res, err := Process(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if res.PixelSizeM != [2]float64{1, 1} || res.PlumeTempK != 300 {
		t.Errorf("pixel size %v, plume temperature %g", res.PixelSizeM, res.PlumeTempK)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

// A truncated cube is refused with an error that names the file and sizes.
func TestProcessTruncatedCube(t *testing.T) {
	sc := scene(5, 40, 30)
	sc.Sources = []sim.Source{{Name: "s", East: 5, North: -5, Rates: map[string]float64{"acetone": 1}}}
	o := writeScene(t, sc)
	img := o.Radiance[:len(o.Radiance)-len(".hdr")] + ".img"
	st, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	_, err = Process(context.Background(), Config{Cube: o.Radiance, OutDir: t.TempDir(), Methods: []string{"rx"}, FARPerKm2: 1})
	if !errors.Is(err, cube.ErrFormat) || !contains(err.Error(), "truncated") {
		t.Errorf("truncated cube: %v", err)
	}
}

func TestDilate(t *testing.T) {
	const w, h = 7, 5
	m := make([]bool, w*h)
	m[2*w+3] = true
	out, n := dilate(m, w, h, 1)
	if n != 9 {
		t.Fatalf("dilating one pixel by 1 gave %d pixels, want 9", n)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			want := x >= 2 && x <= 4 && y >= 1 && y <= 3
			if out[y*w+x] != want {
				t.Errorf("(%d,%d) = %v, want %v", x, y, out[y*w+x], want)
			}
		}
	}
	m = make([]bool, w*h)
	m[0] = true // a corner: clipped at the edges
	if _, n := dilate(m, w, h, 2); n != 9 {
		t.Errorf("corner pixel dilated by 2: %d pixels, want 9", n)
	}
}

// The clean preset — fields, bush, metal and concrete roofs, water, no gas —
// searched for six laboratory gases at once: gas detections per km² stay
// within the requested rate. Clutter-prone gases (2-butanone and ethyl
// acetate mimic the emissivity of some roofs) are what the residual gate and
// the tail asymmetry are for.
func TestProcessCleanPresetSixGases(t *testing.T) {
	s, err := sim.Preset("clean")
	if err != nil {
		t.Fatal(err)
	}
	s.Sensor.Bands, s.Sensor.BadBands = 64, []int{40}
	const far = 5.0
	gases := []string{"dichloromethane", "toluene", "ammonia", "acetone", "2-butanone", "ethyl_acetate"}
	area, count := 0.0, 0
	for i := range 2 {
		sc := s.Scene(i)
		o := writeScene(t, sc)
		res, err := Process(context.Background(), Config{
			Cube: o.Radiance, OutDir: t.TempDir(), Methods: []string{"mf"},
			Gases: gases, FARPerKm2: far, Library: library(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		area += res.AreaKm2
		count += len(res.Detections)
		for _, ts := range res.Tests {
			t.Logf("pass %d %s: threshold %.2f, asymmetry %.2f, unexplained %d, detections %d", i+1, ts.Gas, ts.Threshold, ts.Asymmetry, ts.Unexplained, ts.Detections)
		}
	}
	want := far * area
	// Poisson: for a mean of 2.4 the 99.9% upper bound is 9.
	t.Logf("%d false detections on %.2f km² at %g/km² (expected %.1f)", count, area, far, want)
	if float64(count) > 2*want+5 {
		t.Errorf("%d false detections on %.2f km², expected about %.1f at %g/km²", count, area, want, far)
	}
}
