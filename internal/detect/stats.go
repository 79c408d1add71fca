package detect

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// ErrStats is wrapped by errors about background statistics that cannot be
// formed (too few pixels, a covariance that is not positive definite).
var ErrStats = errors.New("detect: background statistics")

// Labeler assigns each pixel the background it is scored against: one label
// for global statistics, one per column group for a pushbroom sensor, one
// per cluster. Label must be safe for concurrent use.
type Labeler interface {
	// NumLabels returns the number of labels; labels are 0…NumLabels()-1.
	NumLabels() int
	// Label returns the label of the pixel at column x, line y with the
	// spectrum px (all bands of the cube).
	Label(x, y int, px []float32) int
}

// Global is the Labeler of one background for the whole cube.
type Global struct{}

// NumLabels returns 1.
func (Global) NumLabels() int { return 1 }

// Label returns 0.
func (Global) Label(x, y int, px []float32) int { return 0 }

// Columns labels pixels by cross-track column group: columns
// [g·Width, (g+1)·Width) share label g. A pushbroom sensor sees each column
// through its own detector element, so per-column statistics absorb the
// column-to-column calibration differences (as mag1c and the EMIT pipeline
// do, with Width = 1).
type Columns struct {
	Samples int // columns in the cube
	Width   int // columns per group (≥ 1)
}

// NumLabels returns the number of column groups.
func (c Columns) NumLabels() int { return (c.Samples + c.Width - 1) / c.Width }

// Label returns x / Width.
func (c Columns) Label(x, y int, px []float32) int { return x / c.Width }

// Shrinkage selects the covariance regularisation.
type Shrinkage int

const (
	// ShrinkLedoitWolf (the default) shrinks the sample covariance S towards
	// the scaled identity m·I, m = tr(S)/B, with the weight of Ledoit & Wolf,
	// "A well-conditioned estimator for large-dimensional covariance
	// matrices", J. Multivariate Anal. 88 (2004) 365–411, Lemma 3.2 /
	// Theorem 3.2: ρ = min(b̄², d²)/d², d² = ‖S − mI‖²_F,
	// b̄² = N⁻² Σₙ ‖xₙxₙᵀ − S‖²_F (xₙ centred; S dividing by N in ρ).
	// It keeps a covariance estimated from few pixels (per column, per
	// cluster) invertible and well conditioned.
	ShrinkLedoitWolf Shrinkage = iota
	// ShrinkNone uses the sample covariance dividing by N−1, as Spectral
	// Python's calc_stats does (for golden comparisons).
	ShrinkNone
)

// StatsOptions configure an Accumulator.
type StatsOptions struct {
	// Bands are the band indices to use, ascending (BandScreen.Bands gives
	// them); nil: every band the bad-band list allows.
	Bands []int
	// Mask says which pixels to leave out.
	Mask MaskOptions
	// Labeler assigns pixels to backgrounds; nil: Global.
	Labeler Labeler
	// Stride subsamples: pixel (x, y) is used when (x+y) mod Stride = 0, a
	// diagonal pattern that leaves every line and every column with 1/Stride
	// of its pixels whatever the blocking. 0 or 1: every pixel.
	Stride int
	// Shrink selects the regularisation; the zero value is Ledoit–Wolf.
	Shrink Shrinkage
	// MinPixels is the fewest pixels a label needs for statistics (default
	// 2); pixels of labels with fewer are masked with reason NoStats.
	MinPixels int
}

// moments are the streaming sums of one label, about a shift k (the first
// pixel seen), which keeps the float64 sums free of the cancellation that
// raw sums Σx, Σxxᵀ of large radiances suffer (the shifted-data algorithm;
// Chan, Golub & LeVeque, "Algorithms for computing the sample variance",
// Am. Stat. 37, 1983).
type moments struct {
	n  int
	k  []float64 // shift
	su []float64 // Σ u, u = x - k
	m2 []float64 // Σ u uᵀ, upper triangle of B×B (row-major)
	s3 []float64 // Σ ‖u‖² u   (for Ledoit–Wolf)
	s4 float64   // Σ ‖u‖⁴
}

// Accumulator gathers background statistics from blocks in one pass.
type Accumulator struct {
	nb    int
	opt   StatsOptions
	bands []int
	lab   Labeler
	pm    pixelMask
	mom   []*moments
	rep   MaskReport
	idx   [][]int32 // per label, pixels of the current block
	buf   []float64 // gathered rows u, chunk × B
	// Scratch of the parallel path: per-part moments and gather buffers.
	parts   [accParts]*moments
	pbuf    [accParts][]float64
	stride  int
	minPix  int
	dropped []DroppedBand
}

// accChunk is the number of pixels gathered per Syrk call.
const accChunk = 256

// NewAccumulator returns an accumulator for cubes of nbands bands.
func NewAccumulator(nbands int, o StatsOptions) *Accumulator {
	a := &Accumulator{nb: nbands, opt: o, lab: o.Labeler, pm: o.Mask.pixelMask(nbands), stride: max(1, o.Stride), minPix: max(2, o.MinPixels)}
	if a.lab == nil {
		a.lab = Global{}
	}
	a.bands = o.Bands
	if a.bands == nil {
		a.bands = a.pm.bands
	}
	a.dropped = droppedFromKeep(nbands, a.bands, o.Mask)
	a.mom = make([]*moments, a.lab.NumLabels())
	a.idx = make([][]int32, a.lab.NumLabels())
	a.buf = make([]float64, accChunk*len(a.bands))
	return a
}

// droppedFromKeep lists bands not in keep, with the header's reason if it
// has one.
func droppedFromKeep(nb int, keep []int, m MaskOptions) []DroppedBand {
	var out []DroppedBand
	j := 0
	for b := 0; b < nb; b++ {
		if j < len(keep) && keep[j] == b {
			j++
			continue
		}
		r := "not selected (band screen)"
		if !m.candidate(b) {
			r = "header bad-band list"
		}
		out = append(out, DroppedBand{Band: b, Reason: r})
	}
	return out
}

// Add accumulates the unmasked pixels of blk, leaving out those with
// exclude[i] true (i = pixel index in row-major order over blk.Rect; exclude
// may be nil). Excluding detected plume pixels and accumulating again is the
// second pass that keeps a large plume from biasing its own retrieval low.
func (a *Accumulator) Add(blk *cube.Cube, exclude []bool) {
	B := a.nb
	if blk.Bands != B {
		panic(fmt.Sprintf("detect: Accumulator of %d bands fed a block of %d", B, blk.Bands))
	}
	w := blk.Rect.Dx()
	if exclude != nil && len(exclude) < blk.Pixels() {
		panic("detect: Accumulator.Add: exclude shorter than the block")
	}
	for l := range a.idx {
		a.idx[l] = a.idx[l][:0]
	}
	for y := 0; y < blk.Rect.Dy(); y++ {
		Y := blk.Rect.Min.Y + y
		for x := 0; x < w; x++ {
			X := blk.Rect.Min.X + x
			if (X+Y)%a.stride != 0 {
				continue
			}
			i := y*w + x
			if exclude != nil && exclude[i] {
				continue
			}
			px := blk.Pix[y*blk.Stride+x*B : y*blk.Stride+x*B+B]
			a.rep.Pixels++
			if r := a.pm.screenTest(px); r >= 0 {
				a.rep.Masked[r]++
				continue
			}
			l := a.lab.Label(X, Y, px)
			a.idx[l] = append(a.idx[l], int32(i))
		}
	}
	for l, idx := range a.idx {
		if len(idx) == 0 {
			continue
		}
		m := a.mom[l]
		if m == nil {
			m = a.newMoments(blk, int(idx[0]))
			a.mom[l] = m
		}
		if len(idx) < accParts*accMinPart {
			a.addRows(m, a.buf, blk, idx)
			continue
		}
		a.addParallel(m, blk, idx)
	}
}

// Parallel accumulation: a label with at least accParts·accMinPart pixels in
// a block is split into accParts equal parts, each summed into its own
// moments (same shift) by a pool of GOMAXPROCS goroutines, then added to the
// label's moments in part order. The parts do not depend on GOMAXPROCS, so
// the float64 sums are the same on every machine.
const (
	accParts   = 4
	accMinPart = 1024
)

func (a *Accumulator) newMoments(blk *cube.Cube, i int) *moments {
	K := len(a.bands)
	m := &moments{k: make([]float64, K), su: make([]float64, K), m2: make([]float64, K*K), s3: make([]float64, K)}
	w := blk.Rect.Dx()
	off := (i/w)*blk.Stride + (i%w)*blk.Bands
	for j, b := range a.bands {
		m.k[j] = float64(blk.Pix[off+b])
	}
	return m
}

func (a *Accumulator) addParallel(m *moments, blk *cube.Cube, idx []int32) {
	K := len(a.bands)
	if a.parts[0] == nil {
		for p := range a.parts {
			a.parts[p] = &moments{su: make([]float64, K), m2: make([]float64, K*K), s3: make([]float64, K)}
			a.pbuf[p] = make([]float64, accChunk*K)
		}
	}
	var wg sync.WaitGroup
	next := make(chan int, accParts)
	for p := range accParts {
		next <- p
	}
	close(next)
	for range min(runtime.GOMAXPROCS(0), accParts) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				pm := a.parts[p]
				pm.k, pm.n, pm.s4 = m.k, 0, 0
				clear(pm.su)
				clear(pm.m2)
				clear(pm.s3)
				a.addRows(pm, a.pbuf[p], blk, idx[p*len(idx)/accParts:(p+1)*len(idx)/accParts])
			}
		}()
	}
	wg.Wait()
	for _, pm := range a.parts {
		m.n += pm.n
		m.s4 += pm.s4
		for j := range m.su {
			m.su[j] += pm.su[j]
			m.s3[j] += pm.s3[j]
		}
		for j, v := range pm.m2 {
			m.m2[j] += v
		}
	}
}

// addRows accumulates the pixels idx of blk into m, gathering chunks of
// rows into buf.
func (a *Accumulator) addRows(m *moments, buf []float64, blk *cube.Cube, idx []int32) {
	for len(idx) > 0 {
		n := min(len(idx), accChunk)
		a.addChunk(m, buf, blk, idx[:n])
		idx = idx[n:]
	}
}

func (a *Accumulator) addChunk(m *moments, buf []float64, blk *cube.Cube, idx []int32) {
	K := len(a.bands)
	w := blk.Rect.Dx()
	u := buf[:len(idx)*K]
	for r, i := range idx {
		off := (int(i)/w)*blk.Stride + (int(i)%w)*blk.Bands
		row := u[r*K : r*K+K]
		var a2 float64
		for j, b := range a.bands {
			v := float64(blk.Pix[off+b]) - m.k[j]
			row[j] = v
			m.su[j] += v
			a2 += v * v
		}
		m.s4 += a2 * a2
		for j, v := range row {
			m.s3[j] += a2 * v
		}
	}
	m.n += len(idx)
	blas64.Syrk(blas.Trans, 1, blas64.General{Rows: len(idx), Cols: K, Stride: K, Data: u}, 1,
		blas64.Symmetric{Uplo: blas.Upper, N: K, Stride: K, Data: m.m2})
}

// Report returns the masked pixels seen so far and the dropped bands.
func (a *Accumulator) Report() MaskReport {
	r := a.rep
	r.Dropped = a.dropped
	return r
}

// Finish computes the statistics of every label. Labels with fewer than
// MinPixels pixels get nil Stats (their pixels score NaN, reason NoStats).
func (a *Accumulator) Finish() (*Background, error) {
	bg := &Background{NBands: a.nb, Bands: a.bands, Labeler: a.lab, Mask: a.opt.Mask, pm: a.pm,
		Stats: make([]*Stats, len(a.mom)), Report: a.Report()}
	ok := 0
	for l, m := range a.mom {
		if m == nil || m.n < a.minPix {
			continue
		}
		st, err := newStats(m, a.opt.Shrink)
		if err != nil {
			return nil, fmt.Errorf("label %d (%d pixels): %w", l, m.n, err)
		}
		bg.Stats[l] = st
		ok++
	}
	if ok == 0 {
		return nil, fmt.Errorf("%w: no label has %d or more unmasked pixels (%s)", ErrStats, a.minPix, bg.Report)
	}
	return bg, nil
}

// Stats are the Gaussian statistics of one background, over the kept bands.
type Stats struct {
	Count int       // pixels
	Mean  []float64 // μ
	// Cov is the covariance Σ (dividing by N−1), after shrinkage.
	Cov *mat.SymDense
	// Sample is the unshrunk sample covariance S (dividing by N−1).
	Sample *mat.SymDense
	// Shrinkage is the weight ρ of the target in Σ = (1−ρ)S + ρ·m·I.
	Shrinkage float64
	// Chol is the Cholesky factorisation Σ = LLᵀ.
	Chol mat.Cholesky
	// W is the whitening matrix L⁻ᵀ as float32, K×K row-major, so that the
	// row vector y = (x−μ)·W has ‖y‖² = (x−μ)ᵀΣ⁻¹(x−μ).
	W []float32
	// Mean32 is μ rounded to float32, the centre actually subtracted.
	Mean32 []float32
	// corr is the non-centred correlation R = S_N + μμᵀ, for CEM.
	corr *mat.SymDense
}

func newStats(m *moments, shrink Shrinkage) (*Stats, error) {
	K := len(m.k)
	n := float64(m.n)
	d := make([]float64, K) // mean - k
	mean := make([]float64, K)
	for j := range d {
		d[j] = m.su[j] / n
		mean[j] = m.k[j] + d[j]
	}
	// Centred scatter C = Σ(x-μ)(x-μ)ᵀ = Σuuᵀ - n d dᵀ.
	C := mat.NewSymDense(K, nil)
	for i := 0; i < K; i++ {
		for j := i; j < K; j++ {
			C.SetSym(i, j, m.m2[i*K+j]-n*d[i]*d[j])
		}
	}
	st := &Stats{Count: m.n, Mean: mean}
	cov := mat.NewSymDense(K, nil)
	cov.ScaleSym(1/(n-1), C)
	st.Sample = cov
	if shrink == ShrinkLedoitWolf {
		cov = mat.NewSymDense(K, nil)
		cov.CopySym(st.Sample)
	}
	if shrink == ShrinkLedoitWolf {
		st.Shrinkage = ledoitWolf(m, C, d)
		tr := 0.0
		for i := 0; i < K; i++ {
			tr += cov.At(i, i)
		}
		mu := tr / float64(K)
		rho := st.Shrinkage
		for i := 0; i < K; i++ {
			for j := i; j < K; j++ {
				v := (1 - rho) * cov.At(i, j)
				if i == j {
					v += rho * mu
				}
				cov.SetSym(i, j, v)
			}
		}
	}
	st.Cov = cov
	if ok := st.Chol.Factorize(cov); !ok {
		return nil, fmt.Errorf("%w: covariance of %d pixels × %d bands is not positive definite (use shrinkage, or more pixels than bands)", ErrStats, m.n, K)
	}
	var L mat.TriDense
	st.Chol.LTo(&L)
	var Linv mat.TriDense
	if err := Linv.InverseTri(&L); err != nil {
		return nil, fmt.Errorf("%w: inverse of Cholesky factor: %v", ErrStats, err)
	}
	// W = L⁻ᵀ: W[i][j] = Linv[j][i].
	st.W = make([]float32, K*K)
	for i := 0; i < K; i++ {
		for j := 0; j < K; j++ {
			st.W[i*K+j] = float32(Linv.At(j, i))
		}
	}
	st.Mean32 = make([]float32, K)
	for j, v := range mean {
		st.Mean32[j] = float32(v)
	}
	// R = (N-1)/N Σ + μμᵀ.
	st.corr = mat.NewSymDense(K, nil)
	for i := 0; i < K; i++ {
		for j := i; j < K; j++ {
			st.corr.SetSym(i, j, (n-1)/n*cov.At(i, j)+mean[i]*mean[j])
		}
	}
	return st, nil
}

// ledoitWolf returns the Ledoit–Wolf shrinkage weight towards the scaled
// identity. C is the centred scatter Σ(x-μ)(x-μ)ᵀ, d = μ - k.
func ledoitWolf(m *moments, C *mat.SymDense, d []float64) float64 {
	K := len(d)
	n := float64(m.n)
	// S = C/n; m = tr(S)/K; d² = ‖S - mI‖²_F = ‖S‖²_F - K m².
	var tr, fro float64
	for i := 0; i < K; i++ {
		tr += C.At(i, i)
		for j := 0; j < K; j++ {
			v := C.At(i, j)
			fro += v * v
		}
	}
	tr /= n
	fro /= n * n
	mu := tr / float64(K)
	d2 := fro - float64(K)*mu*mu
	if d2 <= 0 {
		return 0
	}
	// Σₙ‖xₙ‖⁴ with xₙ = uₙ - d: ‖u-d‖² = a - 2b + c, a = ‖u‖², b = uᵀd, c = ‖d‖².
	var c, sumA, sumB, sumAB, sumB2 float64
	for i := 0; i < K; i++ {
		c += d[i] * d[i]
		sumA += m.m2[i*K+i]
		sumB += m.su[i] * d[i]
		sumAB += m.s3[i] * d[i]
	}
	for i := 0; i < K; i++ {
		var r float64
		for j := 0; j < K; j++ {
			v := m.m2[i*K+j]
			if j < i {
				v = m.m2[j*K+i]
			}
			r += v * d[j]
		}
		sumB2 += d[i] * r
	}
	x4 := m.s4 + 4*sumB2 + n*c*c - 4*sumAB + 2*c*sumA - 4*c*sumB
	// b̄² = n⁻² Σ‖xxᵀ - S‖²_F = n⁻² (Σ‖x‖⁴ - n‖S‖²_F).
	b2 := (x4 - n*fro) / (n * n)
	b2 = max(0, min(b2, d2))
	return b2 / d2
}

// Background is what the detectors score against: the kept bands, how
// pixels map to backgrounds, and each background's statistics.
type Background struct {
	NBands  int   // bands of the input cube
	Bands   []int // kept bands, ascending
	Labeler Labeler
	Stats   []*Stats // by label; nil for labels without enough pixels
	Mask    MaskOptions
	// Report covers the statistics pass.
	Report MaskReport
	pm     pixelMask
}

// MeanSpectrum returns the mean spectrum over every background, weighted by
// pixel count, with NaN in dropped bands.
func (bg *Background) MeanSpectrum() []float64 {
	sum := make([]float64, len(bg.Bands))
	n := 0
	for _, st := range bg.Stats {
		if st == nil {
			continue
		}
		for j := range sum {
			sum[j] += float64(st.Count) * st.Mean[j]
		}
		n += st.Count
	}
	for j := range sum {
		sum[j] /= float64(max(n, 1))
	}
	return bg.Expand(sum)
}

// Subset returns the kept bands of a full-band vector v (len NBands).
func (bg *Background) Subset(v []float64) []float64 {
	out := make([]float64, len(bg.Bands))
	for j, b := range bg.Bands {
		out[j] = v[b]
	}
	return out
}

// Expand returns a full-band vector with the kept-band values of v and NaN
// in dropped bands.
func (bg *Background) Expand(v []float64) []float64 {
	out := make([]float64, bg.NBands)
	for i := range out {
		out[i] = math.NaN()
	}
	for j, b := range bg.Bands {
		out[b] = v[j]
	}
	return out
}

// ExcludeAbove sets exclude[i] for every score above thr (NaN scores are not
// excluded: masked pixels are left out of the statistics anyway) and returns
// the number excluded. It builds the exclude mask of the second pass.
func ExcludeAbove(exclude []bool, scores []float32, thr float32) int {
	n := 0
	for i, s := range scores {
		exclude[i] = s > thr
		if exclude[i] {
			n++
		}
	}
	return n
}
