package detect

import (
	"image"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// scene is a synthetic Gaussian background of known mean and covariance.
type scene struct {
	B    int
	mean []float64
	cov  *mat.SymDense
	A    *mat.Dense // Σ = AAᵀ
	t    []float64  // signature per unit c
	rng  *rand.Rand
}

// newScene returns a B-band background with covariance QΛQᵀ, Q a random
// rotation and Λ log-spaced from 1 to cond (the condition number), a mean
// around 1000 (radiances far from zero, as real data), and a smooth
// signature t of two absorption features scaled so that tᵀΣ⁻¹t = 1/σ².
func newScene(seed uint64, B int, cond, sigma float64) *scene {
	rng := rand.New(rand.NewPCG(seed, 42))
	g := mat.NewDense(B, B, nil)
	for i := 0; i < B; i++ {
		for j := 0; j < B; j++ {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var Q mat.Dense
	qr.QTo(&Q)
	A := mat.NewDense(B, B, nil)
	for j := 0; j < B; j++ {
		l := math.Pow(cond, float64(j)/float64(B-1))
		for i := 0; i < B; i++ {
			A.Set(i, j, Q.At(i, j)*math.Sqrt(l))
		}
	}
	var S mat.Dense
	S.Mul(A, A.T())
	cov := mat.NewSymDense(B, nil)
	for i := 0; i < B; i++ {
		for j := i; j < B; j++ {
			cov.SetSym(i, j, (S.At(i, j)+S.At(j, i))/2)
		}
	}
	mean := make([]float64, B)
	t := make([]float64, B)
	for b := range mean {
		mean[b] = 1000 + 200*math.Sin(float64(b)/7)
		x := float64(b) / float64(B)
		t[b] = -math.Exp(-math.Pow((x-0.3)/0.04, 2)) - 0.6*math.Exp(-math.Pow((x-0.7)/0.06, 2))
	}
	var ch mat.Cholesky
	ch.Factorize(cov)
	tv := mat.NewVecDense(B, t)
	var q mat.VecDense
	_ = ch.SolveVecTo(&q, tv)
	k := math.Sqrt(mat.Dot(tv, &q)) * sigma // scale t so that σ_c = sigma
	for b := range t {
		t[b] /= k
	}
	return &scene{B: B, mean: mean, cov: cov, A: A, t: t, rng: rng}
}

// cube returns a w×h cube of background pixels, with c·t added to the
// pixels for which c(x, y) is not 0.
func (s *scene) cube(w, h int, c func(x, y int) float64) *cube.Cube {
	cb := cube.New(image.Rect(0, 0, w, h), s.B)
	z := make([]float64, s.B)
	x := make([]float64, s.B)
	zv := mat.NewVecDense(s.B, z)
	xv := mat.NewVecDense(s.B, x)
	for py := 0; py < h; py++ {
		for px := 0; px < w; px++ {
			for i := range z {
				z[i] = s.rng.NormFloat64()
			}
			xv.MulVec(s.A, zv)
			cc := 0.0
			if c != nil {
				cc = c(px, py)
			}
			p := cb.At(px, py)
			for b := range p {
				p[b] = float32(s.mean[b] + x[b] + cc*s.t[b])
			}
		}
	}
	return cb
}
