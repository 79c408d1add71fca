package detect_test

import (
	"fmt"
	"image"
	"math"
	"path/filepath"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/detect"
)

// The flow of a detect command: open a cube, screen bands on a subsample,
// accumulate statistics over blocks of lines in one pass (subsampled),
// build a detector per gas, stream blocks and write scores, ppm·m and σ,
// then pick the threshold for a false-alarm rate per km² and report what
// was masked. (The scene is real: shared/data/SOURCES.md; its "target" here
// is only a stand-in signature.)
func Example() {
	f, err := cube.Open(filepath.Join("..", "..", "..", "shared", "data", "anomaly", "abu_urban_2.hdr"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	h := f.Header
	const lines = 25 // block height
	blk := cube.New(image.Rect(0, 0, h.Samples, lines), h.Bands)
	forBlocks := func(fn func(*cube.Cube)) {
		for y := 0; y < h.Lines; y += lines {
			// The block's buffer, placed at lines [y, y+lines).
			b := &cube.Cube{Pix: blk.Pix, Stride: blk.Stride, Bands: blk.Bands,
				Rect: image.Rect(0, y, h.Samples, min(y+lines, h.Lines))}
			if err := f.ReadLines(b); err != nil {
				panic(err)
			}
			fn(b)
		}
	}
	mask := detect.MaskFromHeader(h)
	screen := detect.NewBandScreen(h.Bands, mask)
	forBlocks(screen.Add)
	keep, _ := screen.Bands()
	acc := detect.NewAccumulator(h.Bands, detect.StatsOptions{Bands: keep, Mask: mask, Stride: 2})
	forBlocks(func(b *cube.Cube) { acc.Add(b, nil) })
	bg, err := acc.Finish()
	if err != nil {
		fmt.Println(err)
		return
	}
	t := make([]float64, h.Bands) // signature per ppm·m (stand-in)
	for i := range t {
		t[i] = -math.Exp(-math.Pow(float64(i-120)/6, 2))
	}
	mf, err := detect.NewMatchedFilter(bg, t)
	if err != nil {
		fmt.Println(err)
		return
	}
	N := h.Samples * h.Lines
	ppmm, sigma, z := make([]float32, N), make([]float32, N), make([]float32, N)
	var masked detect.MaskCounts
	forBlocks(func(b *cube.Cube) {
		o := (b.Rect.Min.Y) * h.Samples
		masked.Add(mf.Retrieve(ppmm[o:], sigma[o:], z[o:], b))
	})
	tail, err := detect.FitTail(z, 0.05)
	if err != nil {
		fmt.Println(err)
		return
	}
	thr := tail.ThresholdForFAR(10, 1) // 10 false alarms per km², 1 m² pixels
	fmt.Printf("kept %d of %d bands; stats from %d pixels; masked %d\n", len(bg.Bands), h.Bands, bg.Stats[0].Count, masked.Total())
	fmt.Printf("threshold z %.1f for p = %g (GPD ξ %.2f)\n", thr, detect.PixelProbability(10, 1), tail.Xi)
	// Output:
	// kept 198 of 198 bands; stats from 5000 pixels; masked 0
	// threshold z 15.0 for p = 1e-05 (GPD ξ 0.17)
}
