package sites

import (
	"context"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// writeMap writes one float32 band as an ENVI file with a north-up UTM 18N
// map info of 1 m pixels at (e0, n0).
func writeMap(t *testing.T, path string, w, h int, e0, n0 float64, v []float32) {
	t.Helper()
	hd := &cube.Header{Samples: w, Lines: h, Bands: 1, DataType: cube.Float32, Interleave: cube.BSQ,
		MapInfo: &cube.MapInfo{Projection: "UTM", RefX: 1, RefY: 1, Easting: e0, Northing: n0, PixelX: 1, PixelY: 1,
			Zone: 18, North: true, Datum: "WGS-84", Units: "Meters"}}
	wr, err := cube.Create(path, hd)
	if err != nil {
		t.Fatal(err)
	}
	c := cube.New(image.Rect(0, 0, w, h), 1)
	copy(c.Pix, v)
	if err := wr.WriteLines(c); err != nil {
		t.Fatal(err)
	}
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAddGranuleResidualGate writes a granule's maps by hand: noise, and a
// 10 × 10 m "hot roof" whose retrieval reads 300 ppm·m (z 60) but whose
// residual (the anomaly the gases do not explain) is far larger than z².
// AddGranule must leave those pixels out, as internal/granule's detections
// do; without residual.hdr they make the roof's cells a 10σ source.
func TestAddGranuleResidualGate(t *testing.T) {
	const w, h = 200, 120
	const e0, n0 = 512000.0, 250000.0
	rng := rand.New(rand.NewPCG(3, 4))
	c, s, z, res := make([]float32, w*h), make([]float32, w*h), make([]float32, w*h), make([]float32, w*h)
	roof := func(x, y int) bool { return x >= 100 && x < 110 && y >= 60 && y < 70 }
	for y := range h {
		for x := range w {
			k := y*w + x
			s[k] = 5
			c[k] = float32(5 * rng.NormFloat64())
			// A residual of χ²-like background (RX less Σz² over ~100 bands).
			res[k] = float32(100 + 15*rng.NormFloat64())
			if roof(x, y) {
				c[k] += 300
				res[k] = 1e5
			}
			z[k] = c[k] / s[k]
		}
	}
	for _, withGate := range []bool{true, false} {
		dir := t.TempDir()
		writeMap(t, filepath.Join(dir, "ppmm-dichloromethane.hdr"), w, h, e0, n0, c)
		writeMap(t, filepath.Join(dir, "ppmm-sigma-dichloromethane.hdr"), w, h, e0, n0, s)
		writeMap(t, filepath.Join(dir, "mf-dichloromethane.hdr"), w, h, e0, n0, z)
		if withGate {
			writeMap(t, filepath.Join(dir, "residual.hdr"), w, h, e0, n0, res)
		} else if _, err := os.Stat(filepath.Join(dir, "residual.hdr")); err == nil {
			t.Fatal("residual.hdr exists")
		}
		g := newGrid(t, GridConfig{})
		if _, err := g.AddGranule(context.Background(), GranulePass{Dir: dir, ID: "p", Time: time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC), Gases: []string{"dichloromethane"}}); err != nil {
			t.Fatal(err)
		}
		i, j := g.CellAt(e0+105, n0-65)
		ev, ok, err := g.Evidence(context.Background(), "dichloromethane", i, j)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("residual gate %v: roof cell measured %v, z %.1f", withGate, ok, ev.Z)
		// The ground around it is still measured.
		if bg, ok, _ := g.Evidence(context.Background(), "dichloromethane", i-5, j); !ok || math.Abs(bg.Z) > 5 {
			t.Errorf("residual gate %v: a background cell measured %v, z %.1f", withGate, ok, bg.Z)
		}
		switch {
		case withGate && ok && !math.IsNaN(ev.Z) && math.Abs(ev.Z) > 4:
			t.Errorf("with the residual gate the roof's cell has z %.1f, want no evidence", ev.Z)
		case !withGate && !(ev.Z > 10):
			t.Errorf("without the residual gate the roof's cell has z %.1f, want > 10 (the test's roof is too faint)", ev.Z)
		}
	}
}
