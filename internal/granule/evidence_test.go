package granule

import (
	"bytes"
	"cmp"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/sim"
)

// TestEvidence simulates a pass over an ammonia source, detects it, and
// checks its evidence against the simulation's truth: the measured
// spectrum follows the library signature scaled by the retrieved column,
// and the plume image is brightest where the truth's column is largest.
func TestEvidence(t *testing.T) {
	dir := t.TempDir()
	sc := sim.DemoScene(7)
	sc.Samples, sc.Lines, sc.Sensor.Bands = 160, 120, 48
	sc.Sensor.BadBands = nil
	sc.TempContrastK = 15
	sc.Sources = []sim.Source{{Name: "lab", East: 60, North: -60, Rates: map[string]float64{"ammonia": 20}}}
	o, err := sim.WriteScene(filepath.Join(dir, "scene"), sc, library(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Cube: o.Radiance, OutDir: filepath.Join(dir, "out"), Methods: []string{MethodMF},
		Gases: []string{"ammonia"}, FARPerKm2: 10, Library: library(t)}
	res, err := Process(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Detections) == 0 {
		t.Fatal("no detection")
	}
	d := res.Detections[0] // the strongest
	sp := d.Spectrum
	if sp == nil || len(d.PlumePNG) == 0 {
		t.Fatalf("detection %s has no evidence: spectrum %v, %d PNG bytes", d.ID, sp, len(d.PlumePNG))
	}
	if sp.Gas != "ammonia" || len(sp.Measured) != res.KeptBands || len(sp.Library) != len(sp.Measured) || len(sp.WavelengthUM) != len(sp.Measured) {
		t.Fatalf("spectrum of %s: gas %q, %d/%d/%d values, %d kept bands", d.ID, sp.Gas, len(sp.WavelengthUM), len(sp.Measured), len(sp.Library), res.KeptBands)
	}
	r := stat.Correlation(sp.Measured, sp.Library, nil)
	// The column the measured spectrum says: its least-squares scale onto
	// the signature per ppm·m, the baseline removed.
	var ml, ll float64
	for i := range sp.Measured {
		ml += sp.Measured[i] * sp.Library[i]
		ll += sp.Library[i] * sp.Library[i]
	}
	fit := sp.PPMm * ml / ll
	if math.Abs(fit-sp.FitPPMm) > 1e-6*math.Abs(fit) {
		t.Errorf("FitPPMm %g, the projection says %g", sp.FitPPMm, fit)
	}
	t.Logf("spectrum: r = %.3f, %d plume / %d background pixels, retrieved %.0f ± %.0f ppm·m, fitted %.0f ppm·m",
		r, sp.Pixels, sp.BackgroundPixels, sp.PPMm, sp.SigmaPPMm, fit)
	if r < 0.9 {
		t.Errorf("measured spectrum correlates %.3f with the library signature, want > 0.9", r)
	}
	// The truth's mean column over the pixels the spectrum averages (the
	// strongest retrieved ones of the plume: here, of the map).
	ppmm, err := cube.ReadFile(filepath.Join(cfg.OutDir, "ppmm-ammonia.hdr"))
	if err != nil {
		t.Fatal(err)
	}
	truth, err := cube.ReadFile(o.Truth)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, len(ppmm.Pix))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(ppmm.Pix[b], ppmm.Pix[a]) })
	var truthCol float64
	for _, i := range idx[:sp.Pixels] {
		truthCol += float64(truth.Pix[i*truth.Bands]) / float64(sp.Pixels)
	}
	t.Logf("truth's mean column over those pixels: %.0f ppm·m", truthCol)
	if math.Abs(fit-truthCol) > 0.05*truthCol {
		t.Errorf("measured spectrum's amplitude says %.0f ppm·m, the truth %.0f", fit, truthCol)
	}
	if math.Abs(fit-sp.PPMm) > sp.SigmaPPMm {
		t.Errorf("measured spectrum's amplitude says %.0f ppm·m, the retrieval %.0f ± %.0f", fit, sp.PPMm, sp.SigmaPPMm)
	}

	// The PNG: it decodes, is small, and its brightest map pixel is within
	// a few pixels of the truth's largest column.
	img, err := png.Decode(bytes.NewReader(d.PlumePNG))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() > 256 || b.Dy() > 256 {
		t.Fatalf("plume image %v larger than 256 px", b)
	}
	again, err := PlumeImage(ppmm.Pix, sc.Samples, d.PlumeCrop, d.Outline)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, d.PlumePNG) {
		t.Error("plume image bytes differ when drawn again")
	}
	tx, ty, tmax := 0, 0, float32(0)
	for y := 0; y < sc.Lines; y++ {
		for x := 0; x < sc.Samples; x++ {
			if v := truth.At(x, y)[0]; v > tmax {
				tx, ty, tmax = x, y, v
			}
		}
	}
	crop, scale := d.PlumeCrop, PlumeScale(d.PlumeCrop)
	bx, by, best := 0, 0, -1.0
	for y := 0; y < crop.Dy()*scale; y++ {
		for x := 0; x < crop.Dx()*scale; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r == 0 && g == 200*257 && bl == 255*257 {
				continue // the outline
			}
			if l := 0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(bl); l > best {
				bx, by, best = x, y, l
			}
		}
	}
	px, py := crop.Min.X+bx/scale, crop.Min.Y+by/scale
	dist := math.Hypot(float64(px-tx), float64(py-ty))
	t.Logf("plume image %v (%d bytes): brightest at pixel (%d, %d), truth's largest column (%.0f ppm·m) at (%d, %d): %.1f px apart",
		b, len(d.PlumePNG), px, py, tmax, tx, ty, dist)
	if dist > 4 {
		t.Errorf("plume image brightest at (%d, %d), %.1f px from the truth's peak (%d, %d)", px, py, dist, tx, ty)
	}
	if !image.Pt(tx, ty).In(crop) {
		t.Errorf("crop %v leaves out the truth's peak (%d, %d)", crop, tx, ty)
	}
}

// A crop outside the map is refused with the crop named, and the same map
// draws the same bytes.
func TestPlumeImageCrop(t *testing.T) {
	m := make([]float32, 64)
	m[27] = 5
	if _, err := PlumeImage(m, 8, image.Rect(4, 4, 12, 12), nil); err == nil || !strings.Contains(err.Error(), "(4,4)-(12,12)") {
		t.Errorf("crop outside the map: %v", err)
	}
	a, err := PlumeImage(m, 8, image.Rect(0, 0, 8, 8), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := PlumeImage(m, 8, image.Rect(0, 0, 8, 8), nil)
	img, err := png.Decode(bytes.NewReader(a))
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("decode %v, same bytes %v", err, bytes.Equal(a, b))
	}
	// 8 pixels, 28 image pixels each; the brightest is map pixel (3, 3).
	if r := img.Bounds(); r.Dx() != 224 || r.Dy() != 224+imageBarGap+imageBarH {
		t.Errorf("image %v", r)
	}
	if c := color.NRGBAModel.Convert(img.At(3*28+5, 3*28+5)).(color.NRGBA); c != rampStops[len(rampStops)-1] {
		t.Errorf("peak pixel drawn %v, want the top of the scale", c)
	}
}
