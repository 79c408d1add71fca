package detect

import (
	"image"
	"math"
	"testing"

	"gonum.org/v1/gonum/stat"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// With one gas the joint filter is the matched filter.
func TestJointOneGasIsMatchedFilter(t *testing.T) {
	sc := newScene(3, 48, 1e3, 2)
	c := sc.cube(80, 60, func(x, y int) float64 { return float64(x%7) * 3 })
	bg := globalBackground(t, c, StatsOptions{})
	mf, err := NewMatchedFilter(bg, sc.t)
	if err != nil {
		t.Fatal(err)
	}
	jf, err := NewJointMatchedFilter(bg, [][]float64{sc.t})
	if err != nil {
		t.Fatal(err)
	}
	N := c.Pixels()
	c1, s1, z1 := make([]float32, N), make([]float32, N), make([]float32, N)
	c2, s2, z2 := make([]float32, N), make([]float32, N), make([]float32, N)
	mf.Retrieve(c1, s1, z1, c)
	jf.Retrieve([][]float32{c2}, [][]float32{s2}, [][]float32{z2}, c)
	for i := range c1 {
		if !close32(c1[i], c2[i], 1e-4, 1e-3) || !close32(s1[i], s2[i], 1e-5, 0) || !close32(z1[i], z2[i], 1e-4, 1e-4) {
			t.Fatalf("pixel %d: matched filter (%g, %g, %g), joint (%g, %g, %g)", i, c1[i], s1[i], z1[i], c2[i], s2[i], z2[i])
		}
	}
}

func close32(a, b float32, rel, abs float64) bool {
	d := math.Abs(float64(a) - float64(b))
	return d <= abs+rel*math.Max(math.Abs(float64(a)), math.Abs(float64(b)))
}

// Two gases whose signatures overlap, emitted together: the single-gas
// matched filter reads one gas's column into the other's; the joint filter
// recovers both, and its σ is the spread of its estimates on background.
func TestJointRemovesCrossTalk(t *testing.T) {
	const B, W, H = 48, 200, 150
	sc := newScene(5, B, 1e3, 2)
	t1 := sc.t
	// A second signature sharing t1's first feature, with a feature of its own.
	t2 := make([]float64, B)
	for b := range t2 {
		x := float64(b) / B
		t2[b] = 0.8*t1[b]*boolf(x < 0.5) - 0.02*math.Exp(-math.Pow((x-0.5)/0.05, 2))
	}
	c1, c2 := 40.0, 60.0
	cb := cube.New(image.Rect(0, 0, W, H), B)
	bgOnly := sc.cube(W, H, nil)
	copy(cb.Pix, bgOnly.Pix)
	gas := func(x, y int) bool { return y >= 60 && y < 70 && x < 150 }
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			if gas(x, y) {
				p := cb.At(x, y)
				for b := range p {
					p[b] += float32(c1*t1[b] + c2*t2[b])
				}
			}
		}
	}
	// Statistics from the background, as the second pass would have them.
	bg := globalBackground(t, bgOnly, StatsOptions{})
	single, err := NewMatchedFilter(bg, t1)
	if err != nil {
		t.Fatal(err)
	}
	joint, err := NewJointMatchedFilter(bg, [][]float64{t1, t2})
	if err != nil {
		t.Fatal(err)
	}
	N := cb.Pixels()
	cs := make([]float32, N)
	single.Retrieve(cs, nil, nil, cb)
	cj := [][]float32{make([]float32, N), make([]float32, N)}
	sj := [][]float32{make([]float32, N), make([]float32, N)}
	joint.Retrieve(cj, sj, nil, cb)
	var sSingle, sJ1, sJ2 []float64
	var bJ1, bJ2 []float64
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			i := y*W + x
			if gas(x, y) {
				sSingle = append(sSingle, float64(cs[i]))
				sJ1 = append(sJ1, float64(cj[0][i]))
				sJ2 = append(sJ2, float64(cj[1][i]))
			} else if y > 80 {
				bJ1 = append(bJ1, float64(cj[0][i]))
				bJ2 = append(bJ2, float64(cj[1][i]))
			}
		}
	}
	mSingle, m1, m2 := stat.Mean(sSingle, nil), stat.Mean(sJ1, nil), stat.Mean(sJ2, nil)
	t.Logf("gas 1: single %.1f, joint %.1f (true %g); gas 2: joint %.1f (true %g)", mSingle, m1, c1, m2, c2)
	if math.Abs(mSingle-c1) < 0.2*c1 {
		t.Errorf("the single filter is off by only %.1f: the test's signatures do not overlap enough to show cross-talk", mSingle-c1)
	}
	n := float64(len(sJ1))
	for _, g := range []struct {
		name       string
		got, truth float64
		sd         float64
	}{{"gas 1", m1, c1, stat.StdDev(bJ1, nil)}, {"gas 2", m2, c2, stat.StdDev(bJ2, nil)}} {
		// The mean of n estimates is within 4 standard errors of the truth.
		if math.Abs(g.got-g.truth) > 4*g.sd/math.Sqrt(n)+0.01*g.truth {
			t.Errorf("%s: joint mean %.2f, true %g (σ %.2f over %g pixels)", g.name, g.got, g.truth, g.sd, n)
		}
	}
	// The reported σ is the spread on background.
	for g, b := range [][]float64{bJ1, bJ2} {
		sd := stat.StdDev(b, nil)
		rep := float64(sj[g][W*H-1])
		if math.Abs(rep-sd)/sd > 0.05 {
			t.Errorf("gas %d: reported σ %.3f, spread on background %.3f", g+1, rep, sd)
		}
	}
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// A thick thermal plume of two gases (optical depths up to 0.5) over ground
// of varying temperature is retrieved with Beer–Lambert: the linear
// retrieval would be low by tens of per cent.
func TestJointThermalThickPlume(t *testing.T) {
	const B, W, H = 40, 120, 100
	lam := make([]float64, B)
	planck := make([]float64, B)
	tau := make([]float64, B)
	a1, a2 := make([]float64, B), make([]float64, B)
	const tp = 300.0
	for b := range lam {
		lam[b] = 8 + 5*float64(b)/float64(B-1)
		planck[b] = planckUM(lam[b], tp)
		tau[b] = 1
		a1[b] = 2e-3 * math.Exp(-math.Pow((lam[b]-9.2)/0.3, 2))
		a2[b] = 1.5e-3*math.Exp(-math.Pow((lam[b]-10.5)/0.25, 2)) + 0.5e-3*math.Exp(-math.Pow((lam[b]-9.4)/0.3, 2))
	}
	sc := newScene(9, B, 1e2, 1)
	noise := sc.cube(W, H, nil) // mean ≈ 1000: use only its fluctuations
	cb := cube.New(image.Rect(0, 0, W, H), B)
	c1, c2 := 150.0, 200.0 // ppm·m: A·c up to 0.3 each
	gas := func(x, y int) bool { return y >= 40 && y < 50 }
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			tg := tp + 8 + 6*math.Sin(float64(x)/9) // ground 2-14 K above the plume
			p, nz := cb.At(x, y), noise.At(x, y)
			for b := range p {
				lg := 0.97 * planckUM(lam[b], tg)
				l := lg
				if gas(x, y) {
					tr := math.Exp(-(a1[b]*c1 + a2[b]*c2))
					l = lg*tr + planck[b]*(1-tr)
				}
				p[b] = float32(l + 0.002*(float64(nz[b])-sc.mean[b]))
			}
		}
	}
	bgCube := cb.SubCube(image.Rect(0, 60, W, H))
	bg := globalBackground(t, bgCube, StatsOptions{})
	jf, err := NewThermalJointMatchedFilter(bg, tau, planck, [][]float64{a1, a2})
	if err != nil {
		t.Fatal(err)
	}
	N := cb.Pixels()
	cj := [][]float32{make([]float32, N), make([]float32, N)}
	sj := [][]float32{make([]float32, N), make([]float32, N)}
	jf.Retrieve(cj, sj, nil, cb)
	// Inverse-variance weighted means: where the ground's brightness
	// temperature crosses the plume's (ε·B(T_g) = B(T_p) near T_g = 302 K)
	// a pixel carries no information and says so with a huge σ.
	var g1, g2, w1, w2 []float64
	for y := 40; y < 50; y++ {
		for x := 0; x < W; x++ {
			i := y*W + x
			g1 = append(g1, float64(cj[0][i]))
			g2 = append(g2, float64(cj[1][i]))
			w1 = append(w1, 1/math.Pow(float64(sj[0][i]), 2))
			w2 = append(w2, 1/math.Pow(float64(sj[1][i]), 2))
		}
	}
	m1, m2 := stat.Mean(g1, w1), stat.Mean(g2, w2)
	t.Logf("thick thermal: gas 1 %.1f (true %g), gas 2 %.1f (true %g)", m1, c1, m2, c2)
	if math.Abs(m1-c1)/c1 > 0.03 || math.Abs(m2-c2)/c2 > 0.03 {
		t.Errorf("thick thermal retrieval %.1f, %.1f; true %g, %g (want within 3%%)", m1, m2, c1, c2)
	}
}

// planckUM is Planck's law in W/(m²·sr·µm), written out here so the test
// does not lean on the spectra package.
func planckUM(lamUM, T float64) float64 {
	const h, c, k = 6.62607015e-34, 299792458.0, 1.380649e-23
	l := lamUM * 1e-6
	return 2 * h * c * c / math.Pow(l, 5) / (math.Exp(h*c/(l*k*T)) - 1) * 1e-6
}
