package detect

import (
	"math"
	"testing"
)

// TestClusters: a background of two materials (means 300 apart, noise ~1–10)
// with gas in some pixels. k-means without the gas bands recovers the
// materials exactly, gas does not move a pixel to the other cluster, and
// per-cluster RX has mean ≈ K in each cluster (in-sample, unshrunk: exactly
// K(N−1)/N), where a global background would be bimodal.
func TestClusters(t *testing.T) {
	const W, H, B = 60, 40, 16
	sc := newScene(13, B, 100, 0.5)
	gas := func(x, y int) float64 {
		if y%7 == 0 && x%5 == 0 {
			return 400 // strong: 800 σ_c, far larger than the material contrast in the gas bands
		}
		return 0
	}
	c := sc.cube(W, H, gas)
	material := func(x int) int { return x * 2 / W } // left half 0, right half 1
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			if material(x) == 1 {
				p := c.At(x, y)
				for b := range p {
					p[b] += 300
				}
			}
		}
	}
	cl, err := FitClusters(c, ClusterOptions{K: 2, Target: sc.t, Threshold: 0.05, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d feature bands of %d", len(cl.Features), B)
	if len(cl.Features) == B || len(cl.Features) == 0 {
		t.Fatalf("features %v: gas bands not excluded", cl.Features)
	}
	// Labels match materials up to a permutation.
	l0 := cl.Label(0, 0, c.At(0, 0))
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			want := l0
			if material(x) == 1 {
				want = 1 - l0
			}
			if got := cl.Label(x, y, c.At(x, y)); got != want {
				t.Fatalf("pixel (%d,%d) gas %g: cluster %d, want %d", x, y, gas(x, y), got, want)
			}
		}
	}
	// Deterministic.
	cl2, _ := FitClusters(c, ClusterOptions{K: 2, Target: sc.t, Threshold: 0.05, Seed: 1})
	for k := range cl.Centres {
		for j := range cl.Centres[k] {
			if cl.Centres[k][j] != cl2.Centres[k][j] {
				t.Fatal("FitClusters is not deterministic")
			}
		}
	}
	bg := globalBackground(t, c, StatsOptions{Shrink: ShrinkNone, Labeler: cl})
	s := make([]float32, c.Pixels())
	NewRX(bg).Score(s, c)
	sum, n := [2]float64{}, [2]float64{}
	for i, v := range s {
		l := cl.Label(i%W, i/W, c.At(i%W, i/W))
		sum[l] += float64(v)
		n[l]++
	}
	for l := range sum {
		m := sum[l] / n[l]
		want := B * (n[l] - 1) / n[l]
		t.Logf("cluster %d: %g pixels, mean RX %.4f (K(N−1)/N %.4f)", l, n[l], m, want)
		if math.Abs(m-want) > 1e-4*want {
			t.Errorf("cluster %d: mean RX %.5f, want %.5f", l, m, want)
		}
	}
}
