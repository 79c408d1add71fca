package detect

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// Clusters is a Labeler from k-means on spectra with the gas absorption
// bands left out of the features, so that a plume does not move its pixels
// into another cluster (the background of a pixel must not depend on the gas
// in it). Each pixel is scored against its cluster's statistics.
type Clusters struct {
	Features []int       // cube band indices used as features
	Centres  [][]float32 // k centres over Features
}

// ClusterOptions configure FitClusters.
type ClusterOptions struct {
	K int // number of clusters
	// Target, if not nil (len = cube bands), excludes from the features the
	// bands where |t_b| > Threshold · max|t|.
	Target    []float64
	Threshold float64
	// Bands are the candidate feature bands (nil: all but the mask's bad
	// bands).
	Bands []int
	Mask  MaskOptions
	// Stride subsamples the training pixels as StatsOptions.Stride does.
	Stride int
	// Seed makes the result deterministic (k-means++ seeding, Arthur &
	// Vassilvitskii, SODA 2007, then Lloyd iterations).
	Seed uint64
	// MaxIter bounds the Lloyd iterations (default 50).
	MaxIter int
}

// FitClusters runs k-means on the unmasked pixels of blk.
func FitClusters(blk *cube.Cube, o ClusterOptions) (*Clusters, error) {
	B := blk.Bands
	pm := o.Mask.pixelMask(B)
	bands := o.Bands
	if bands == nil {
		bands = pm.bands
	}
	var feat []int
	if o.Target != nil {
		if len(o.Target) != B {
			return nil, fmt.Errorf("detect: clusters: target of %d bands for a cube of %d", len(o.Target), B)
		}
		tmax := 0.0
		for _, b := range bands {
			tmax = math.Max(tmax, math.Abs(o.Target[b]))
		}
		for _, b := range bands {
			if math.Abs(o.Target[b]) <= o.Threshold*tmax {
				feat = append(feat, b)
			}
		}
	} else {
		feat = append(feat, bands...)
	}
	if len(feat) == 0 {
		return nil, fmt.Errorf("detect: clusters: no feature bands left (threshold %g)", o.Threshold)
	}
	F := len(feat)
	stride := max(1, o.Stride)
	var data []float32
	w := blk.Rect.Dx()
	for y := 0; y < blk.Rect.Dy(); y++ {
		for x := 0; x < w; x++ {
			if (blk.Rect.Min.X+x+blk.Rect.Min.Y+y)%stride != 0 {
				continue
			}
			px := blk.Pix[y*blk.Stride+x*B : y*blk.Stride+x*B+B]
			if pm.test(px) >= 0 {
				continue
			}
			for _, b := range feat {
				data = append(data, px[b])
			}
		}
	}
	n := len(data) / F
	if o.K < 1 || n < o.K {
		return nil, fmt.Errorf("detect: clusters: k = %d with %d unmasked pixels", o.K, n)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6b6d65616e73))
	row := func(i int) []float32 { return data[i*F : i*F+F] }
	// k-means++ seeding.
	cent := make([][]float32, 0, o.K)
	cent = append(cent, append([]float32(nil), row(rng.IntN(n))...))
	d2 := make([]float64, n)
	for i := range d2 {
		d2[i] = dist2(row(i), cent[0])
	}
	for len(cent) < o.K {
		var sum float64
		for _, v := range d2 {
			sum += v
		}
		r := rng.Float64() * sum
		j := 0
		for ; j < n-1; j++ {
			r -= d2[j]
			if r <= 0 {
				break
			}
		}
		c := append([]float32(nil), row(j)...)
		cent = append(cent, c)
		for i := range d2 {
			d2[i] = math.Min(d2[i], dist2(row(i), c))
		}
	}
	// Lloyd iterations, sums in float64.
	assign := make([]int, n)
	for i := range assign {
		assign[i] = -1
	}
	sums := make([]float64, o.K*F)
	counts := make([]int, o.K)
	maxIter := o.MaxIter
	if maxIter <= 0 {
		maxIter = 50
	}
	for it := 0; it < maxIter; it++ {
		changed := 0
		for i := 0; i < n; i++ {
			c := nearest(row(i), cent)
			if c != assign[i] {
				assign[i] = c
				changed++
			}
		}
		if changed == 0 {
			break
		}
		clear(sums)
		clear(counts)
		for i := 0; i < n; i++ {
			c := assign[i]
			counts[c]++
			for j, v := range row(i) {
				sums[c*F+j] += float64(v)
			}
		}
		for c := range cent {
			if counts[c] == 0 {
				continue // keep an empty cluster's centre where it was
			}
			for j := range cent[c] {
				cent[c][j] = float32(sums[c*F+j] / float64(counts[c]))
			}
		}
	}
	return &Clusters{Features: feat, Centres: cent}, nil
}

func dist2(a, b []float32) float64 {
	var s float64
	for i, v := range a {
		d := float64(v) - float64(b[i])
		s += d * d
	}
	return s
}

func nearest(x []float32, cent [][]float32) int {
	best, bd := 0, math.Inf(1)
	for c, m := range cent {
		if d := dist2(x, m); d < bd {
			best, bd = c, d
		}
	}
	return best
}

// NumLabels returns the number of clusters.
func (c *Clusters) NumLabels() int { return len(c.Centres) }

// Label returns the nearest centre over the feature bands.
func (c *Clusters) Label(x, y int, px []float32) int {
	best, bd := 0, math.Inf(1)
	for k, m := range c.Centres {
		var s float64
		for j, b := range c.Features {
			d := float64(px[b]) - float64(m[j])
			s += d * d
		}
		if s < bd {
			best, bd = k, s
		}
	}
	return best
}
