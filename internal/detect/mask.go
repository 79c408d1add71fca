package detect

import (
	"fmt"
	"math"
	"slices"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/kernel"
)

// MaskReason says why a pixel got no score.
type MaskReason int

// The reasons a pixel is masked, in order of precedence: a pixel is counted
// once, under the first reason that applies.
const (
	// NoData: a band holds the header's data ignore value.
	NoData MaskReason = iota
	// NotFinite: a band holds NaN or ±Inf.
	NotFinite
	// Saturated: a band is at or above the saturation level.
	Saturated
	// NoStats: the pixel's background (its column group or cluster) had too
	// few pixels for statistics.
	NoStats
	numReasons
)

func (r MaskReason) String() string {
	switch r {
	case NoData:
		return "no data"
	case NotFinite:
		return "not finite"
	case Saturated:
		return "saturated"
	case NoStats:
		return "no background statistics"
	}
	return fmt.Sprintf("MaskReason(%d)", int(r))
}

// MaskCounts counts masked pixels by reason.
type MaskCounts [numReasons]int

// Total returns the number of masked pixels.
func (c MaskCounts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Add adds d to c.
func (c *MaskCounts) Add(d MaskCounts) {
	for i, v := range d {
		c[i] += v
	}
}

// DroppedBand is a band left out of every statistic and detector.
type DroppedBand struct {
	Band   int
	Reason string
	// Noise is the band's shift-difference noise and LocalMedian the median
	// noise of its neighbours (both in data units; 0 for header-flagged bands).
	Noise, LocalMedian float64
}

// MaskReport tells what was left out: masked pixels by reason and dropped
// bands. Nothing masked is ever averaged in.
type MaskReport struct {
	Pixels  int        // pixels examined
	Masked  MaskCounts // of which masked, by reason
	Dropped []DroppedBand
}

func (r MaskReport) String() string {
	s := fmt.Sprintf("%d pixels, %d masked", r.Pixels, r.Masked.Total())
	for i, v := range r.Masked {
		if v > 0 {
			s += fmt.Sprintf(", %s %d", MaskReason(i), v)
		}
	}
	return s + fmt.Sprintf("; %d bands dropped", len(r.Dropped))
}

// MaskOptions says which pixels and bands are unusable.
type MaskOptions struct {
	// IgnoreValue is the header's data ignore value, used when HasIgnore.
	IgnoreValue float64
	HasIgnore   bool
	// Saturation masks pixels with a value ≥ Saturation in any band; 0
	// disables the test. SaturationFor gives the data type's maximum.
	Saturation float32
	// BBL is the header's bad-band list (BBL[b] false: bad); nil: all good.
	BBL []bool
	// NoiseFactor flags a band whose shift-difference noise exceeds
	// NoiseFactor times the median noise of its NoiseWindow neighbours on
	// each side; 0 disables the test. DefaultNoiseFactor is a good start.
	NoiseFactor float64
	NoiseWindow int
}

// DefaultNoiseFactor: a band whose noise is 5× the median of its neighbours'
// is far outside the band-to-band variation of a working detector (adjacent
// bands of imaging spectrometers differ in noise by tens of per cent, e.g.
// AVIRIS-NG SNR curves), and is a dead or hot detector row or a deep
// absorption band; 5 keeps false flags of merely textured bands rare.
const DefaultNoiseFactor = 5

// DefaultNoiseWindow is the number of neighbours on each side of a band in
// the local median.
const DefaultNoiseWindow = 5

// MaskFromHeader returns the masking options an ENVI header implies: its data
// ignore value, its bad-band list, saturation at the data type's maximum (for
// integer types), and the default noise test.
func MaskFromHeader(h *cube.Header) MaskOptions {
	return MaskOptions{
		IgnoreValue: h.DataIgnoreValue,
		HasIgnore:   h.HasDataIgnoreValue,
		Saturation:  SaturationFor(h.DataType),
		BBL:         h.BBL,
		NoiseFactor: DefaultNoiseFactor,
		NoiseWindow: DefaultNoiseWindow,
	}
}

// SaturationFor returns the largest value of an integer data type (the value
// a saturated detector reads), or 0 (no saturation test) for float types.
func SaturationFor(t cube.DataType) float32 {
	switch t {
	case cube.Uint8:
		return math.MaxUint8
	case cube.Int16:
		return math.MaxInt16
	case cube.Uint16:
		return math.MaxUint16
	case cube.Int32:
		return math.MaxInt32
	case cube.Uint32:
		return math.MaxUint32
	}
	return 0
}

// candidate reports whether the header's bad-band list allows band b.
func (m *MaskOptions) candidate(b int) bool { return m.BBL == nil || b >= len(m.BBL) || m.BBL[b] }

// pixelMask is the per-pixel test over a set of bands, prepared once.
type pixelMask struct {
	bands     []int // bands examined (the candidate bands)
	ignore    float32
	hasIgnore bool
	sat       float32
	// The screen (clean): all is true when every band is a candidate, so
	// that runs of whole pixels can be screened at once; hiOK is the
	// largest value that is neither saturated nor infinite.
	all  bool
	hiOK float32
}

func (m *MaskOptions) pixelMask(nbands int) pixelMask {
	pm := pixelMask{ignore: float32(m.IgnoreValue), hasIgnore: m.HasIgnore, sat: m.Saturation, hiOK: math.MaxFloat32}
	for b := 0; b < nbands; b++ {
		if m.candidate(b) {
			pm.bands = append(pm.bands, b)
		}
	}
	pm.all = len(pm.bands) == nbands
	if pm.sat != 0 {
		pm.hiOK = min(pm.hiOK, math.Nextafter32(pm.sat, float32(math.Inf(-1))))
	}
	return pm
}

// clean reports whether the screen proves every value of v free of every
// masking reason: no NaN, lo and hi finite and below saturation, the ignore
// value outside [lo, hi] (kernel.MinMax, at memory speed). False means "test
// each pixel exactly", not "masked".
func (pm *pixelMask) clean(v []float32) bool {
	lo, hi, nan := kernel.MinMax(v)
	return !nan && lo >= -math.MaxFloat32 && hi <= pm.hiOK &&
		(!pm.hasIgnore || pm.ignore < lo || pm.ignore > hi)
}

// screenTest is test with the screen first: one kernel.MinMax over the pixel
// when every band is a candidate, the exact test only if it fails.
func (pm *pixelMask) screenTest(px []float32) MaskReason {
	if pm.all && pm.clean(px) {
		return -1
	}
	return pm.test(px)
}

// test returns the reason px is masked, or -1.
func (pm *pixelMask) test(px []float32) MaskReason {
	reason := MaskReason(-1)
	for _, b := range pm.bands {
		v := px[b]
		switch {
		case pm.hasIgnore && v == pm.ignore:
			return NoData
		case v != v || v > math.MaxFloat32 || v < -math.MaxFloat32:
			reason = NotFinite
		case pm.sat != 0 && v >= pm.sat && reason < 0:
			reason = Saturated
		}
	}
	return reason
}

// BandScreen estimates each band's noise from the difference of horizontally
// adjacent pixels (the shift-difference method: for neighbours with the same
// signal, Var(x₁−x₂) = 2σ²; Gao, "An operational method for estimating
// signal to noise ratios from data acquired with imaging spectrometers",
// Remote Sens. Environ. 43, 1993) and decides which bands to drop. Feed it a
// subsample of lines: a few hundred lines give the noise to a few per cent.
type BandScreen struct {
	opt   MaskOptions
	pm    pixelMask
	sum   []float64 // Σ (x[i+1]-x[i])² per band
	pairs int
	diff  []float32 // a line's differences (addCleanLine)
	acc   []float32 // their per-band sums of squares
	rep   MaskReport
}

// NewBandScreen returns a screen for cubes of nbands bands.
func NewBandScreen(nbands int, m MaskOptions) *BandScreen {
	return &BandScreen{opt: m, pm: m.pixelMask(nbands), sum: make([]float64, nbands)}
}

// Add accumulates the shift differences of blk's unmasked neighbour pairs.
func (s *BandScreen) Add(blk *cube.Cube) {
	B := len(s.sum)
	if blk.Bands != B {
		panic(fmt.Sprintf("detect: BandScreen of %d bands fed a block of %d", B, blk.Bands))
	}
	w := blk.Rect.Dx()
	for y := 0; y < blk.Rect.Dy(); y++ {
		row := blk.Pix[y*blk.Stride:]
		if s.pm.all && w > 1 && s.pm.clean(row[:w*B]) {
			s.addCleanLine(row[:w*B], B)
			continue
		}
		prevOK := false
		for x := 0; x < w; x++ {
			px := row[x*B : x*B+B]
			s.rep.Pixels++
			if r := s.pm.test(px); r >= 0 {
				s.rep.Masked[r]++
				prevOK = false
				continue
			}
			if prevOK {
				prev := row[(x-1)*B : x*B]
				for _, b := range s.pm.bands {
					d := float64(px[b]) - float64(prev[b])
					s.sum[b] += d * d
				}
				s.pairs++
			}
			prevOK = true
		}
	}
}

// addCleanLine adds the shift differences of a line of w ≥ 2 pixels that the
// screen cleared: one kernel.Sub gives every difference x[i+1] − x[i] of the
// line, squared and summed per band in float32 (≤ w−1 terms: relative error
// ≤ (w−1)·2⁻²⁴, 2.4·10⁻⁴ at 4096 samples, and about √w·2⁻²⁴ in practice;
// the screen compares noises to a factor of 5), then into the float64 sums.
func (s *BandScreen) addCleanLine(line []float32, B int) {
	w := len(line) / B
	n := (w - 1) * B
	if cap(s.diff) < n {
		s.diff = make([]float32, n)
		s.acc = make([]float32, B)
	}
	d, acc := s.diff[:n], s.acc[:B]
	kernel.Sub(d, line[B:], line[:n])
	clear(acc)
	for x := 0; x < n; x += B {
		dx := d[x : x+B]
		for b, v := range dx {
			acc[b] += v * v
		}
	}
	for b, v := range acc {
		s.sum[b] += float64(v)
	}
	s.pairs += w - 1
	s.rep.Pixels += w
}

// Noise returns each band's noise standard deviation (data units), NaN when
// no pair was seen.
func (s *BandScreen) Noise() []float64 {
	n := make([]float64, len(s.sum))
	for b, v := range s.sum {
		n[b] = math.Sqrt(v / (2 * float64(s.pairs)))
	}
	return n
}

// Bands returns the bands to keep, ascending, and the report of the screen:
// pixels masked in the screened lines and the dropped bands with reasons.
func (s *BandScreen) Bands() (keep []int, rep MaskReport) {
	return decideBands(len(s.sum), s.opt, s.Noise(), s.pairs > 0), s.report()
}

func (s *BandScreen) report() MaskReport {
	rep := s.rep
	rep.Dropped = droppedBands(len(s.sum), s.opt, s.Noise(), s.pairs > 0)
	return rep
}

func decideBands(B int, m MaskOptions, noise []float64, haveNoise bool) []int {
	drop := droppedBands(B, m, noise, haveNoise)
	keep := make([]int, 0, B)
	j := 0
	for b := 0; b < B; b++ {
		if j < len(drop) && drop[j].Band == b {
			j++
			continue
		}
		keep = append(keep, b)
	}
	return keep
}

func droppedBands(B int, m MaskOptions, noise []float64, haveNoise bool) []DroppedBand {
	var out []DroppedBand
	win := m.NoiseWindow
	if win <= 0 {
		win = DefaultNoiseWindow
	}
	var nb []float64
	for b := 0; b < B; b++ {
		if !m.candidate(b) {
			out = append(out, DroppedBand{Band: b, Reason: "header bad-band list"})
			continue
		}
		if m.NoiseFactor <= 0 || !haveNoise {
			continue
		}
		nb = nb[:0]
		for j := max(0, b-win); j <= min(B-1, b+win); j++ {
			if j != b && m.candidate(j) && !math.IsNaN(noise[j]) {
				nb = append(nb, noise[j])
			}
		}
		if len(nb) == 0 {
			continue
		}
		slices.Sort(nb)
		med := nb[len(nb)/2]
		if len(nb)%2 == 0 {
			med = (nb[len(nb)/2-1] + nb[len(nb)/2]) / 2
		}
		if noise[b] > m.NoiseFactor*med {
			out = append(out, DroppedBand{Band: b, Noise: noise[b], LocalMedian: med,
				Reason: fmt.Sprintf("shift-difference noise %.4g > %g × local median %.4g", noise[b], m.NoiseFactor, med)})
		}
	}
	return out
}
