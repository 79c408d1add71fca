package detect

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/kernel"
)

// MaxGases is the most gases a JointMatchedFilter retrieves together.
const MaxGases = 8

// JointMatchedFilter retrieves the concentration-pathlengths of several gases
// at once. Drug laboratories emit several (acetone with ammonia, toluene with
// methanol), and where their plumes overlap a matched filter for one gas
// reads part of the others' signal as its own (or as negative), by
// tᵢᵀΣ⁻¹tⱼ/tᵢᵀΣ⁻¹tᵢ of gas j's column: the generalised least-squares
// estimate over all of them,
//
//	ĉ = (TᵀΣ⁻¹T)⁻¹ TᵀΣ⁻¹(x − μ),   Cov(ĉ) = M⁻¹ (QᵀSQ) M⁻ᵀ,  M = TᵀΣ⁻¹T, Q = Σ⁻¹T,
//
// removes that cross-talk, at the price of larger σ for gases whose
// signatures resemble each other's (an honest price: they cannot be told
// apart better). With one gas it is the MatchedFilter. In the thermal form
// (NewThermalJointMatchedFilter) M follows each pixel's own contrast and
// strong pixels are solved with Beer–Lambert, as for the single filter.
type JointMatchedFilter struct {
	e  *engine
	g  int
	pl []jointLabel
}

type jointLabel struct {
	q  [][]float32 // G × K, Σ⁻¹t_g
	m0 []float64   // G × G, Q_gᵀ t_h (row-major)
	cm []float64   // G × G, Q S Qᵀ: covariance of the m_g on background
	// thermal
	v      [][]float32 // G·G × K, τ q_g ⊙ A_h (index g*G+h)
	c0     []float64   // G × G, q_gᵀ τ(B − μ_l)⊙A_h
	absorb [][]float64 // G × K
	bmu    []float64   // K, τ(B − μ_l)
	tau    []float64   // K
}

// NewJointMatchedFilter returns the joint filter of targets (each per unit
// column, over every band of the cube).
func NewJointMatchedFilter(bg *Background, targets [][]float64) (*JointMatchedFilter, error) {
	return newJoint(bg, targets, nil, nil, nil)
}

// NewThermalJointMatchedFilter returns the joint filter of gases seen in the
// thermal infrared (absorbs: each gas's absorption coefficient per band; tau
// and planckTp per band too, dropped bands ignored), whose retrieval follows
// each pixel's own thermal contrast. The filter directions Q = Σ⁻¹T use the
// signatures of the mean background, t = τ(B(T_p) − μ)⊙A (ThermalTarget),
// but a pixel's signal is τ(B(T_p) − L_x)⊙A·c with L_x its own radiance:
// over ground hotter than the mean the same column absorbs more, over ground
// at the plume's temperature it vanishes. So M is taken per pixel,
// M_x = Qᵀ[τ(B(T_p) − x)⊙A], which makes ĉ unbiased for every pixel and σ
// as large as a pixel without contrast deserves; the z-score ĉ/σ is then
// positive for gas over ground both warmer and colder than the plume. The
// pixel's at-sensor radiance stands in for the radiance below the plume
// (second order in kc and in path radiance), and pixels with |z| > 3 are
// solved with Beer–Lambert (thickJoint). With one gas it is the thermal
// matched filter.
func NewThermalJointMatchedFilter(bg *Background, tau, planckTp []float64, absorbs [][]float64) (*JointMatchedFilter, error) {
	mu := bg.MeanSpectrum()
	targets := make([][]float64, len(absorbs))
	for g, a := range absorbs {
		t, err := ThermalTarget(tau, planckTp, mu, a)
		if err != nil {
			return nil, err
		}
		targets[g] = t
	}
	return newJoint(bg, targets, tau, planckTp, absorbs)
}

func newJoint(bg *Background, targets [][]float64, tau, planck []float64, absorbs [][]float64) (*JointMatchedFilter, error) {
	G := len(targets)
	if G == 0 || G > MaxGases {
		return nil, fmt.Errorf("detect: joint matched filter of %d gases, want 1-%d", G, MaxGases)
	}
	K := len(bg.Bands)
	tk := make([]*mat.VecDense, G)
	for g, t := range targets {
		if len(t) != bg.NBands {
			return nil, fmt.Errorf("detect: target %d has %d bands for a cube of %d", g, len(t), bg.NBands)
		}
		tk[g] = mat.NewVecDense(K, bg.Subset(t))
		if mat.Norm(tk[g], 2) == 0 {
			return nil, fmt.Errorf("detect: target %d is zero in every kept band", g)
		}
	}
	d := &JointMatchedFilter{g: G, pl: make([]jointLabel, len(bg.Stats))}
	for l, st := range bg.Stats {
		if st == nil {
			continue
		}
		p := &d.pl[l]
		q := make([]*mat.VecDense, G)
		p.q = make([][]float32, G)
		for g := range q {
			q[g] = new(mat.VecDense)
			if err := st.Chol.SolveVecTo(q[g], tk[g]); err != nil {
				return nil, fmt.Errorf("detect: joint matched filter: %w", err)
			}
			p.q[g] = make([]float32, K)
			for j := range p.q[g] {
				p.q[g][j] = float32(q[g].AtVec(j))
			}
		}
		p.m0 = make([]float64, G*G)
		p.cm = make([]float64, G*G)
		sq := make([]*mat.VecDense, G)
		for g := range sq {
			sq[g] = new(mat.VecDense)
			sq[g].MulVec(st.Sample, q[g])
		}
		for g := 0; g < G; g++ {
			for h := 0; h < G; h++ {
				p.m0[g*G+h] = mat.Dot(q[g], tk[h])
				p.cm[g*G+h] = mat.Dot(q[g], sq[h])
			}
		}
		if _, ok := solveSmall(G, append([]float64(nil), p.m0...), make([]float64, G)); !ok {
			return nil, fmt.Errorf("detect: joint matched filter: the gases' signatures are linearly dependent on the kept bands")
		}
		if absorbs == nil {
			continue
		}
		p.tau = make([]float64, K)
		p.bmu = make([]float64, K)
		p.absorb = make([][]float64, G)
		for g := range p.absorb {
			p.absorb[g] = make([]float64, K)
		}
		for j, b := range bg.Bands {
			p.tau[j] = tau[b]
			p.bmu[j] = tau[b] * (planck[b] - st.Mean[j])
			for g := range absorbs {
				p.absorb[g][j] = absorbs[g][b]
			}
		}
		p.v = make([][]float32, G*G)
		p.c0 = make([]float64, G*G)
		for g := 0; g < G; g++ {
			for h := 0; h < G; h++ {
				v := make([]float32, K)
				c := 0.0
				for j := range v {
					ta := p.tau[j] * p.absorb[h][j]
					v[j] = float32(ta * float64(p.q[g][j]))
					c += float64(p.q[g][j]) * ta * (p.bmu[j] / p.tau[j])
				}
				p.v[g*G+h] = v
				p.c0[g*G+h] = c
			}
		}
	}
	d.e = newEngine(bg, false, d)
	return d, nil
}

// Gases returns the number of gases retrieved.
func (d *JointMatchedFilter) Gases() int { return d.g }

// Retrieve writes, for each gas g, ĉ_g, σ_g and the z-score ĉ_g/σ_g of
// every pixel of blk into c[g], sigma[g] and z[g] (any of the three, or any
// gas's slice, may be nil).
func (d *JointMatchedFilter) Retrieve(c, sigma, z [][]float32, blk *cube.Cube) MaskCounts {
	out := make([][]float32, 3*d.g)
	for g := 0; g < d.g; g++ {
		if c != nil {
			out[3*g] = c[g]
		}
		if sigma != nil {
			out[3*g+1] = sigma[g]
		}
		if z != nil {
			out[3*g+2] = z[g]
		}
	}
	return d.e.run(blk, out)
}

func (d *JointMatchedFilter) block(ws *workspace, l, n int, idx []int32, out [][]float32) {
	K := d.e.K
	G := d.g
	p := &d.pl[l]
	var m, c, sig [MaxGases]float64
	var M [MaxGases * MaxGases]float64
	for r, i := range idx {
		x := ws.X[r*K : r*K+K]
		for g := 0; g < G; g++ {
			m[g] = float64(kernel.Dot(p.q[g], x))
		}
		if p.v != nil {
			for gh := 0; gh < G*G; gh++ {
				M[gh] = p.c0[gh] - float64(kernel.Dot(p.v[gh], x))
			}
		} else {
			copy(M[:G*G], p.m0)
		}
		ok := p.estimate(G, M[:G*G], m[:G], c[:G], sig[:G])
		if ok && p.v != nil {
			strong := false
			for g := 0; g < G; g++ {
				strong = strong || math.Abs(c[g]) > thickZ*sig[g]
			}
			if strong {
				p.thickJoint(G, x, m[:G], c[:G], sig[:G])
			}
		}
		for g := 0; g < G; g++ {
			cv, sv := c[g], sig[g]
			if !ok {
				cv, sv = math.NaN(), math.NaN()
			}
			if o := out[3*g]; o != nil {
				o[i] = float32(cv)
			}
			if o := out[3*g+1]; o != nil {
				o[i] = float32(sv)
			}
			if o := out[3*g+2]; o != nil {
				o[i] = float32(cv / sv)
			}
		}
	}
}

// estimate solves M c = m and sets σ from Cov(ĉ) = M⁻¹ Cm M⁻ᵀ. It reports
// false if M is singular (a pixel whose contrast cancels the signatures).
func (p *jointLabel) estimate(G int, M, m, c, sig []float64) bool {
	var inv [MaxGases * MaxGases]float64
	if !invertSmall(G, M, inv[:G*G]) {
		return false
	}
	for g := 0; g < G; g++ {
		s := 0.0
		for h := 0; h < G; h++ {
			s += inv[g*G+h] * m[h]
		}
		c[g] = s
	}
	p.sigmaFromInverse(G, inv[:G*G], sig)
	return true
}

// thickJoint refines a strong pixel's retrieval with Beer–Lambert instead
// of its linearisation. Seen through a plume of columns c, the contrast of
// band b is τ(B(T_p) − L_g)·e^(−Σ_h A_h,b c_h), and the pixel's own
// at-sensor contrast w_b = τ(B(T_p) − x_b) already carries that attenuation;
// the signal is then w_b·(e^(Σ_h A_h,b c_h) − 1), and ĉ solves
//
//	Σ_b q_g,b·w_b·(e^(Σ_h A_h,b c_h) − 1) = m_g   for every gas g
//
// by Newton's method from the linear estimate (to which it reduces for
// A·c ≪ 1); σ follows from the Jacobian at the solution. If the iteration
// does not settle (an opaque plume), the linear values stay.
func (p *jointLabel) thickJoint(G int, x []float32, m, c, sig []float64) {
	var cc, f, step [MaxGases]float64
	var J, Jc [MaxGases * MaxGases]float64
	copy(cc[:G], c)
	for it := 0; it < 8; it++ {
		clear(f[:G])
		clear(J[:G*G])
		for j := range x {
			w := p.bmu[j] - p.tau[j]*float64(x[j])
			od := 0.0
			for h := 0; h < G; h++ {
				od += p.absorb[h][j] * cc[h]
			}
			e := math.Exp(od)
			for g := 0; g < G; g++ {
				qw := float64(p.q[g][j]) * w
				f[g] += qw * (e - 1)
				for h := 0; h < G; h++ {
					J[g*G+h] += qw * p.absorb[h][j] * e
				}
			}
		}
		for g := 0; g < G; g++ {
			step[g] = f[g] - m[g]
		}
		copy(Jc[:G*G], J[:G*G])
		if _, ok := solveSmall(G, Jc[:G*G], step[:G]); !ok {
			return
		}
		done := true
		for g := 0; g < G; g++ {
			cc[g] -= step[g]
			if math.IsNaN(cc[g]) || math.Abs(cc[g]) > 1e9 {
				return
			}
			done = done && math.Abs(step[g]) <= 1e-6*math.Abs(cc[g])+1e-9
		}
		if done {
			var s [MaxGases]float64
			if p.sigmaFrom(G, J[:G*G], s[:G]) {
				copy(c, cc[:G])
				copy(sig, s[:G])
			}
			return
		}
	}
}

// sigmaFrom sets σ from a Jacobian J of the m_g in the columns (M for the
// linear retrieval): Cov(ĉ) = J⁻¹ Cm J⁻ᵀ.
func (p *jointLabel) sigmaFrom(G int, J, sig []float64) bool {
	var inv [MaxGases * MaxGases]float64
	if !invertSmall(G, J, inv[:G*G]) {
		return false
	}
	p.sigmaFromInverse(G, inv[:G*G], sig)
	return true
}

// sigmaFromInverse sets σ_g = √(J⁻¹ Cm J⁻ᵀ)_gg from inv = J⁻¹.
func (p *jointLabel) sigmaFromInverse(G int, inv, sig []float64) {
	for g := 0; g < G; g++ {
		s := 0.0
		for a := 0; a < G; a++ {
			for b := 0; b < G; b++ {
				s += inv[g*G+a] * p.cm[a*G+b] * inv[g*G+b]
			}
		}
		sig[g] = math.Sqrt(s)
	}
}

// solveSmall solves A x = b in place (Gaussian elimination with partial
// pivoting; A is destroyed, b becomes x) and returns b.
func solveSmall(n int, a, b []float64) ([]float64, bool) {
	for k := 0; k < n; k++ {
		p := k
		for i := k + 1; i < n; i++ {
			if math.Abs(a[i*n+k]) > math.Abs(a[p*n+k]) {
				p = i
			}
		}
		if a[p*n+k] == 0 || math.IsNaN(a[p*n+k]) {
			return b, false
		}
		if p != k {
			for j := 0; j < n; j++ {
				a[k*n+j], a[p*n+j] = a[p*n+j], a[k*n+j]
			}
			b[k], b[p] = b[p], b[k]
		}
		for i := k + 1; i < n; i++ {
			f := a[i*n+k] / a[k*n+k]
			for j := k; j < n; j++ {
				a[i*n+j] -= f * a[k*n+j]
			}
			b[i] -= f * b[k]
		}
	}
	for i := n - 1; i >= 0; i-- {
		s := b[i]
		for j := i + 1; j < n; j++ {
			s -= a[i*n+j] * b[j]
		}
		b[i] = s / a[i*n+i]
	}
	return b, true
}

// invertSmall writes the inverse of the n×n matrix a into inv.
func invertSmall(n int, a, inv []float64) bool {
	var work [MaxGases * MaxGases]float64
	var col [MaxGases]float64
	for j := 0; j < n; j++ {
		copy(work[:n*n], a)
		clear(col[:n])
		col[j] = 1
		if _, ok := solveSmall(n, work[:n*n], col[:n]); !ok {
			return false
		}
		for i := 0; i < n; i++ {
			inv[i*n+j] = col[i]
		}
	}
	return true
}
