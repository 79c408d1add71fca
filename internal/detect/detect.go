package detect

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/kernel"
)

// Detector scores every pixel of a block. dst has one value per pixel,
// row-major over blk.Rect; masked pixels get NaN and are counted in the
// returned MaskCounts. Detectors are safe for concurrent use.
type Detector interface {
	Score(dst []float32, blk *cube.Cube) MaskCounts
}

// RX is the Reed–Xiaoli anomaly detector, the squared Mahalanobis distance
// (x−μ)ᵀΣ⁻¹(x−μ) = ‖(x−μ)W‖² (Reed & Yu, IEEE Trans. ASSP 38, 1990); on a
// Gaussian background it is χ² with K degrees of freedom.
type RX struct{ e *engine }

// NewRX returns the RX detector of bg.
func NewRX(bg *Background) *RX {
	d := &RX{}
	d.e = newEngine(bg, true, d)
	return d
}

// Score writes the RX score of each pixel of blk into dst.
func (d *RX) Score(dst []float32, blk *cube.Cube) MaskCounts {
	return d.e.run(blk, [][]float32{dst})
}

func (d *RX) block(ws *workspace, l, n int, idx []int32, out [][]float32) {
	K := d.e.K
	st := d.e.bg.Stats[l]
	// ‖y‖² of each whitened row, summed while the row is in cache.
	ws.kw.SgemmSumSq(n, K, K, ws.X, K, st.W, K, ws.Y, K, false, ws.ss)
	dst := out[0]
	for r, i := range idx {
		dst[i] = ws.ss[r]
	}
}

// perLabel holds a target's constants for one background.
type perLabel struct {
	q     []float32 // Σ⁻¹t (MF) or the CEM weight w
	s     []float32 // whitened target ŝ = tᵀW (ACE)
	ss    float64   // ŝ·ŝ = tᵀΣ⁻¹t
	sigma float64   // σ_c = (tᵀΣ⁻¹t)^(-1/2)
	off   float64   // CEM: w·μ
}

func targetConsts(bg *Background, t []float64, need func(st *Stats, t *mat.VecDense, p *perLabel)) ([]perLabel, error) {
	if len(t) != bg.NBands {
		return nil, fmt.Errorf("detect: target of %d bands for a cube of %d", len(t), bg.NBands)
	}
	tk := mat.NewVecDense(len(bg.Bands), bg.Subset(t))
	if mat.Norm(tk, 2) == 0 {
		return nil, fmt.Errorf("detect: target is zero in every kept band")
	}
	ps := make([]perLabel, len(bg.Stats))
	for l, st := range bg.Stats {
		if st != nil {
			need(st, tk, &ps[l])
		}
	}
	return ps, nil
}

// whitenTarget sets p.s = tᵀW = (L⁻¹t)ᵀ, p.ss = tᵀΣ⁻¹t, σ_c and p.q = Σ⁻¹t.
func whitenTarget(st *Stats, t *mat.VecDense, p *perLabel) {
	var L mat.TriDense
	st.Chol.LTo(&L)
	var s mat.VecDense
	if err := s.SolveVec(&L, t); err != nil {
		panic(err) // L is non-singular: newStats checked the factorisation
	}
	p.s = make([]float32, t.Len())
	for j := range p.s {
		p.s[j] = float32(s.AtVec(j))
	}
	p.ss = mat.Dot(&s, &s)
	var q mat.VecDense
	if err := st.Chol.SolveVecTo(&q, t); err != nil {
		panic(err)
	}
	// σ_c² = Var(qᵀx)/(qᵀt)² with Var(qᵀx) = qᵀSq estimated by the
	// unshrunk sample covariance S: the noise of ĉ as filtered, which is
	// (tᵀΣ⁻¹t)^(-1/2) when Σ = S and larger when Σ is shrunk.
	var Sq mat.VecDense
	Sq.MulVec(st.Sample, &q)
	p.sigma = math.Sqrt(mat.Dot(&q, &Sq)) / p.ss
	p.q = make([]float32, t.Len())
	for j := range p.q {
		p.q[j] = float32(q.AtVec(j))
	}
}

// MatchedFilter is the matched filter with concentration-pathlength
// retrieval: ĉ = tᵀΣ⁻¹(x−μ) / tᵀΣ⁻¹t, σ_c = (tᵀΣ⁻¹t)^(−1/2). With shrinkage
// σ_c is the standard deviation of ĉ as filtered, √(qᵀSq)/(qᵀt) with
// q = Σ⁻¹t and S the unshrunk sample covariance (ĉ stays unbiased for any Σ,
// but its noise is not (tᵀΣ⁻¹t)^(−1/2) for a shrunk Σ). With t the
// signature per unit c (per ppm·m), ĉ is in ppm·m; Score writes the z-score
// ĉ/σ_c, N(0,1) on a Gaussian background. With t = target − μ it equals
// Spectral Python's matched_filter (the target scores 1).
type MatchedFilter struct {
	e  *engine
	pl []perLabel
}

// NewMatchedFilter returns the matched filter for signature t (all bands of
// the cube; dropped bands are ignored).
func NewMatchedFilter(bg *Background, t []float64) (*MatchedFilter, error) {
	pl, err := targetConsts(bg, t, whitenTarget)
	if err != nil {
		return nil, err
	}
	d := &MatchedFilter{pl: pl}
	d.e = newEngine(bg, false, d)
	return d, nil
}

// Score writes the z-score ĉ/σ_c of each pixel into dst.
func (d *MatchedFilter) Score(dst []float32, blk *cube.Cube) MaskCounts {
	return d.e.run(blk, [][]float32{nil, nil, dst})
}

// Retrieve writes ĉ (units of c), σ_c and the z-score ĉ/σ_c of each pixel;
// any of the outputs may be nil.
func (d *MatchedFilter) Retrieve(c, sigma, z []float32, blk *cube.Cube) MaskCounts {
	return d.e.run(blk, [][]float32{c, sigma, z})
}

// Sigma returns σ_c of the background with label l (NaN if it has no
// statistics): the noise of ĉ, so a few σ_c is the minimum detectable c.
func (d *MatchedFilter) Sigma(l int) float64 {
	if d.e.bg.Stats[l] == nil {
		return math.NaN()
	}
	return d.pl[l].sigma
}

func (d *MatchedFilter) block(ws *workspace, l, n int, idx []int32, out [][]float32) {
	K := d.e.K
	p := &d.pl[l]
	// A dot product per pixel, (x−μ)·q with q = Σ⁻¹t: no whitening of the
	// pixels is needed, and the filter is memory bound (a GEMV through
	// Sgemm with n = 1 runs the GEMM's inner loop one element long).
	inv := 1 / p.ss
	sig := float32(p.sigma)
	for r, i := range idx {
		x := ws.X[r*K : r*K+K]
		c := float64(kernel.Dot(p.q, x)) * inv
		if out[2] != nil {
			out[2][i] = float32(c / p.sigma)
		}
		if out[0] != nil {
			out[0][i] = float32(c)
		}
		if out[1] != nil {
			out[1][i] = sig
		}
	}
}

// thickZ is the |z| above which the thermal retrieval is corrected for the
// plume's optical depth: below it the column is within a few σ of zero and
// the linear retrieval's bias (about k·c/2) is far smaller than its noise.
const thickZ = 3

// ACE is the adaptive coherence (cosine) estimator,
// (sᵀΣ⁻¹(x−μ))² / ((sᵀΣ⁻¹s)·(x−μ)ᵀΣ⁻¹(x−μ)), the squared cosine between the
// whitened pixel and the whitened target, in [0, 1] (Kraut & Scharf, IEEE
// Trans. SP 47, 1999). With s = target − μ it equals Spectral Python's ace.
type ACE struct {
	e  *engine
	pl []perLabel
}

// NewACE returns the ACE detector for signature s.
func NewACE(bg *Background, s []float64) (*ACE, error) {
	pl, err := targetConsts(bg, s, whitenTarget)
	if err != nil {
		return nil, err
	}
	d := &ACE{pl: pl}
	d.e = newEngine(bg, true, d)
	return d, nil
}

// Score writes the ACE score of each pixel into dst.
func (d *ACE) Score(dst []float32, blk *cube.Cube) MaskCounts {
	return d.e.run(blk, [][]float32{dst})
}

func (d *ACE) block(ws *workspace, l, n int, idx []int32, out [][]float32) {
	K := d.e.K
	st := d.e.bg.Stats[l]
	p := &d.pl[l]
	// One GEMM gives the whitened rows y and ‖y‖²; ŝ·y is a dot product
	// with the row while it is in cache (an extra column ŝ in W would cost
	// a whole 16-column sliver of the GEMM when K is a multiple of 16).
	Y := ws.Y
	ws.kw.SgemmSumSq(n, K, K, ws.X, K, st.W, K, Y, K, false, ws.ss)
	dst := out[0]
	for r, i := range idx {
		s := float64(kernel.Dot(p.s, Y[r*K:r*K+K]))
		dst[i] = float32(s * s / (p.ss * float64(ws.ss[r])))
	}
}

// CEM is the constrained energy minimisation filter wᵀx with
// w = R⁻¹t / (tᵀR⁻¹t), R = E[xxᵀ] the non-centred correlation matrix
// (Harsanyi, PhD thesis, UMBC 1993); the target t scores 1.
type CEM struct {
	e  *engine
	pl []perLabel
}

// NewCEM returns the CEM filter for target spectrum t.
func NewCEM(bg *Background, t []float64) (*CEM, error) {
	var ferr error
	pl, err := targetConsts(bg, t, func(st *Stats, t *mat.VecDense, p *perLabel) {
		var ch mat.Cholesky
		if !ch.Factorize(st.corr) {
			ferr = fmt.Errorf("%w: correlation matrix is not positive definite", ErrStats)
			return
		}
		var r mat.VecDense
		if err := ch.SolveVecTo(&r, t); err != nil {
			ferr = fmt.Errorf("%w: %v", ErrStats, err)
			return
		}
		norm := mat.Dot(t, &r)
		p.q = make([]float32, t.Len())
		for j := range p.q {
			w := r.AtVec(j) / norm
			p.q[j] = float32(w)
			p.off += w * st.Mean[j]
		}
	})
	if err != nil {
		return nil, err
	}
	if ferr != nil {
		return nil, ferr
	}
	d := &CEM{pl: pl}
	d.e = newEngine(bg, false, d)
	return d, nil
}

// Score writes wᵀx for each pixel into dst.
func (d *CEM) Score(dst []float32, blk *cube.Cube) MaskCounts {
	return d.e.run(blk, [][]float32{dst})
}

func (d *CEM) block(ws *workspace, l, n int, idx []int32, out [][]float32) {
	K := d.e.K
	p := &d.pl[l]
	// wᵀx = wᵀ(x−μ) + wᵀμ: the centred product avoids cancelling the
	// large wᵀμ in float32.
	for r, i := range idx {
		out[0][i] = float32(float64(kernel.Dot(p.q, ws.X[r*K:r*K+K])) + p.off)
	}
}
