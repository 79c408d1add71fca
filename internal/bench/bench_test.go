package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/detect"
)

// TestRunTiny runs the whole bench on a tiny cube without Python: every
// stage is timed, the numbers are finite and positive, and the table and
// JSON are written.
func TestRunTiny(t *testing.T) {
	cfg := Config{Scene: Scene{Samples: 40, Lines: 30, Bands: 24, Seed: 3}, Dir: t.TempDir(), BlockLines: 7}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"read", "statistics", "RX", "MF", "ACE", "CEM"}
	if len(res.Stages) != len(want) {
		t.Fatalf("%d stages, want %d", len(res.Stages), len(want))
	}
	for i, s := range res.Stages {
		if s.Name != want[i] {
			t.Errorf("stage %d is %q, want %q", i, s.Name, want[i])
		}
		for _, v := range []float64{s.Mpix, s.MpixIO, s.GBs} {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("%s: %+v", s.Name, s)
			}
		}
		if s.MpixIO > s.Mpix*1.0001 {
			t.Errorf("%s: %.3g Mpix/s with I/O > %.3g without", s.Name, s.MpixIO, s.Mpix)
		}
	}
	if res.KeptBands != 24 || !(res.ReadBWGBs > 0) || res.Reference != nil {
		t.Errorf("kept %d, read bandwidth %g, reference %v", res.KeptBands, res.ReadBWGBs, res.Reference)
	}
	var tb, jb bytes.Buffer
	if err := res.WriteTable(&tb); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(want, "SPEED-UP", "not run") {
		if !strings.Contains(tb.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, tb.String())
		}
	}
	if err := res.WriteJSON(&jb); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(jb.Bytes(), &back); err != nil || len(back.Stages) != len(want) {
		t.Errorf("JSON round trip: %v, %d stages", err, len(back.Stages))
	}
	t.Log("\n" + tb.String())
}

// TestGenerateDeterministic checks that a cube is the same on every run and
// that its covariance is full rank and ill-conditioned.
func TestGenerateDeterministic(t *testing.T) {
	s := Scene{Samples: 64, Lines: 64, Bands: 32, Seed: 9}
	read := func() *cube.Cube {
		p := t.TempDir() + "/c.hdr"
		if err := Generate(p, s, nil); err != nil {
			t.Fatal(err)
		}
		f, err := cube.Open(p)
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
	a, b := read(), read()
	if !slicesEqual(a.Pix, b.Pix) {
		t.Fatal("two generations differ")
	}
	acc := detect.NewAccumulator(s.Bands, detect.StatsOptions{Shrink: detect.ShrinkNone})
	acc.Add(a, nil)
	bg, err := acc.Finish()
	if err != nil {
		t.Fatal(err) // not positive definite: not full rank
	}
	cond := bg.Stats[0].Chol.Cond()
	t.Logf("condition number %.3g", cond)
	if cond < 1e3 {
		t.Errorf("condition number %.3g: want an ill-conditioned covariance (≥ 1e3)", cond)
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// BenchmarkScene scores a 512×512×128 block of the synthetic scene in memory.
func BenchmarkScene(b *testing.B) {
	s := Scene{Samples: 512, Lines: 512, Bands: 128, Seed: 1}
	m := newModel(s)
	c := cube.New(image.Rect(0, 0, s.Samples, s.Lines), s.Bands)
	for y := range s.Lines {
		m.line(s, y, c.Pix[y*c.Stride:(y+1)*c.Stride])
	}
	acc := detect.NewAccumulator(s.Bands, detect.StatsOptions{})
	acc.Add(c, nil)
	bg, err := acc.Finish()
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, c.Pixels())
	rx := detect.NewRX(bg)
	b.Run("RX", func(b *testing.B) {
		for b.Loop() {
			rx.Score(dst, c)
		}
		b.ReportMetric(float64(c.Pixels())*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpix/s")
	})
}
