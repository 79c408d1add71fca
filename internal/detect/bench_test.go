package detect

import (
	"fmt"
	"image"
	"testing"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// benchCube returns a w×h×B cube tiled from a 64×64 synthetic Gaussian
// block (distinct pixels do not matter for throughput), and its background.
func benchCube(b *testing.B, w, h, B int) (*cube.Cube, *Background, []float64) {
	b.Helper()
	sc := newScene(21, B, 1e4, 1)
	tile := sc.cube(64, 64, nil)
	c := cube.New(image.Rect(0, 0, w, h), B)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			copy(c.At(x, y), tile.At(x%64, y%64))
		}
	}
	return c, globalBackground(b, tile, StatsOptions{}), sc.t
}

// flopsPerPixel counts the multiply-adds (×2) of each detector's kernels.
func flopsPerPixel(name string, K int) float64 {
	switch name {
	case "RX":
		return 2*float64(K*K) + 2*float64(K)
	case "ACE":
		return 2*float64(K*K) + 4*float64(K)
	}
	return 2 * float64(K)
}

func BenchmarkDetectors(b *testing.B) {
	for _, size := range []struct{ w, h int }{{64, 64}, {512, 512}} {
		const B = 128
		c, bg, tgt := benchCube(b, size.w, size.h, B)
		for _, dc := range detectors {
			d, err := dc.mk(bg, tgt)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/%dx%dx%d", dc.name, size.w, size.h, B), func(b *testing.B) {
				dst := make([]float32, c.Pixels())
				b.ReportAllocs()
				b.SetBytes(int64(len(c.Pix) * 4))
				for b.Loop() {
					d.Score(dst, c)
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				px := float64(c.Pixels())
				b.ReportMetric(px/sec/1e6, "Mpix/s")
				b.ReportMetric(px*flopsPerPixel(dc.name, B)/sec/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkAccumulate(b *testing.B) {
	const B = 128
	c, _, _ := benchCube(b, 512, 64, B)
	for _, stride := range []int{1, 4} {
		b.Run(fmt.Sprintf("stride%d/512x64x%d", stride, B), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				acc := NewAccumulator(B, StatsOptions{Stride: stride})
				acc.Add(c, nil)
				if _, err := acc.Finish(); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(c.Pixels())/sec/1e6, "Mpix/s")
		})
	}
}
