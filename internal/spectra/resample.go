package spectra

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// ErrNotCovered is wrapped by Resample's error when one or more bands'
// spectral response falls (partly) outside the wavenumber range an entry
// was measured over. The k of such bands is NaN: not measured, which is
// not the same as zero absorption.
var ErrNotCovered = errors.New("band not covered by the signature")

// MinCoverage is the fraction of a band's spectral response that must fall
// inside an entry's measured range for Resample to give it a value. The
// rest of the response is assumed to see the same mean k, so 0.99 bounds
// the error to 1% of the band's k even if the unmeasured part absorbed
// twice as much.
const MinCoverage = 0.99

// fwhmToSigma = 1/(2√(2 ln 2)): a Gaussian's σ from its FWHM.
var fwhmToSigma = 1 / (2 * math.Sqrt(2*math.Ln2))

// srfHalfWidthSigmas: the response is integrated over ±6σ; the Gaussian
// mass beyond is 2·10⁻⁹.
const srfHalfWidthSigmas = 6

// srfNodes is the number of extra integration nodes spread uniformly over
// each band's response, so that a band narrower than the entry's grid
// spacing is still integrated accurately.
const srfNodes = 256

// Resample returns k (natural-log absorption per ppm·m) in each band of a
// sensor whose bands have Gaussian spectral response functions with the
// given centres and full widths at half maximum, both in µm.
//
// The response of band b is Gaussian in wavelength, S(λ) = exp(−(λ−λb)²/2σ²)
// with σ = FWHM/(2√(2 ln 2)). The band's k is the response-weighted mean
// ∫k S dλ / ∫S dλ, evaluated in wavenumber on the entry's grid (plus nodes
// spread over the response): dλ = 10⁴/ν² dν, so the weight at ν is
// S(10⁴/ν)·10⁴/ν²; k between grid points is linear.
//
// If fwhmUM is nil or empty, or an element is 0 or NaN (ENVI headers
// often lack fwhm), the band spacing is used: the distance between the
// neighbouring centres' midpoints.
//
// A band whose response lies less than MinCoverage inside the entry's
// range gets NaN, and the error wraps ErrNotCovered and lists those bands;
// the returned slice is still valid for the other bands. Any other error
// (bad input) returns a nil slice. Use ResampleCoverage for the fractions.
func (e *Entry) Resample(centersUM, fwhmUM []float64) ([]float64, error) {
	k, cov, err := e.ResampleCoverage(centersUM, fwhmUM)
	if err != nil {
		return nil, err
	}
	var bad []int
	for i, c := range cov {
		if c < MinCoverage {
			k[i] = math.NaN()
			bad = append(bad, i)
		}
	}
	if len(bad) > 0 {
		lo, hi := e.CoverageCM()
		return k, fmt.Errorf("resample %s to %d bands: %w: bands %s lie less than %g inside %.5g-%.5g µm", e.Name, len(centersUM), ErrNotCovered, bandList(bad), MinCoverage, WavenumberToMicrometres(hi), WavenumberToMicrometres(lo))
	}
	return k, nil
}

func bandList(idx []int) string {
	s := ""
	for i, b := range idx {
		if i == 10 {
			return s + fmt.Sprintf(" and %d more", len(idx)-10)
		}
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(b)
	}
	return s
}

// ResampleCoverage is Resample without the coverage threshold: it returns
// each band's k averaged over the part of its response inside the entry's
// range (NaN where none is) and the fraction of the response's integral
// (in wavelength) that lies inside, in [0, 1].
func (e *Entry) ResampleCoverage(centersUM, fwhmUM []float64) (k, coverage []float64, err error) {
	fw, err := bandWidths(centersUM, fwhmUM)
	if err != nil {
		return nil, nil, fmt.Errorf("resample %s: %w", e.Name, err)
	}
	if len(e.Wavenumber) < 2 || len(e.Wavenumber) != len(e.K) {
		return nil, nil, fmt.Errorf("resample %s: %w: %d wavenumbers, %d k values", e.Name, ErrInvalid, len(e.Wavenumber), len(e.K))
	}
	k = make([]float64, len(centersUM))
	coverage = make([]float64, len(centersUM))
	nuLo, nuHi := e.CoverageCM()
	lamLo, lamHi := WavenumberToMicrometres(nuHi), WavenumberToMicrometres(nuLo)
	nodes := make([]float64, 0, 2*srfNodes)
	for b, lc := range centersUM {
		sigma := fw[b] * fwhmToSigma
		// Fraction of the Gaussian's integral over λ inside [lamLo, lamHi].
		cov := normCDF((lamHi-lc)/sigma) - normCDF((lamLo-lc)/sigma)
		coverage[b] = math.Max(0, math.Min(1, cov))
		// The response's support in wavenumber, clipped to the entry.
		l1 := math.Max(lc-srfHalfWidthSigmas*sigma, lamLo)
		l2 := math.Min(lc+srfHalfWidthSigmas*sigma, lamHi)
		if !(l2 > l1) {
			k[b] = math.NaN()
			continue
		}
		// Clamped again: 10⁴/(10⁴/ν) may round past the grid's ends.
		v1 := math.Max(MicrometresToWavenumber(l2), nuLo)
		v2 := math.Min(MicrometresToWavenumber(l1), nuHi)
		if !(v2 > v1) {
			k[b] = math.NaN()
			continue
		}
		nodes = nodes[:0]
		for i := range srfNodes + 1 {
			nodes = append(nodes, v1+(v2-v1)*float64(i)/srfNodes)
		}
		j0 := sort.SearchFloat64s(e.Wavenumber, v1)
		for j := j0; j < len(e.Wavenumber) && e.Wavenumber[j] <= v2; j++ {
			nodes = append(nodes, e.Wavenumber[j])
		}
		slices.Sort(nodes)
		// Trapezoid rule over the merged nodes.
		var num, den float64
		prevV, prevW, prevK := math.NaN(), 0.0, 0.0
		for _, v := range nodes {
			if v == prevV {
				continue
			}
			lam := MicrometresToWavenumber(v) // 10⁴/ν, µm
			z := (lam - lc) / sigma
			w := math.Exp(-0.5*z*z) * 1e4 / (v * v)
			kv := e.At(v)
			if !math.IsNaN(prevV) {
				h := v - prevV
				num += 0.5 * h * (w*kv + prevW*prevK)
				den += 0.5 * h * (w + prevW)
			}
			prevV, prevW, prevK = v, w, kv
		}
		if den > 0 {
			k[b] = num / den
		} else {
			k[b] = math.NaN()
		}
	}
	return k, coverage, nil
}

// bandWidths checks centres and widths (µm) and fills missing widths with
// the band spacing.
func bandWidths(c, fwhm []float64) ([]float64, error) {
	n := len(c)
	if n == 0 {
		return nil, errors.New("no bands")
	}
	for i, v := range c {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("band %d: centre %g µm is not a positive finite wavelength", i, v)
		}
	}
	if len(fwhm) != 0 && len(fwhm) != n {
		return nil, fmt.Errorf("%d band centres but %d fwhm values", n, len(fwhm))
	}
	out := make([]float64, n)
	for i := range c {
		if len(fwhm) > 0 {
			w := fwhm[i]
			if w < 0 || math.IsInf(w, 0) {
				return nil, fmt.Errorf("band %d: fwhm %g µm is not a positive finite width", i, w)
			}
			if w > 0 {
				out[i] = w
				continue
			}
		}
		// The band spacing: half the distance between the neighbours.
		var s float64
		switch {
		case n == 1:
			return nil, fmt.Errorf("band %d: no fwhm and no neighbouring band to take the spacing from", i)
		case i == 0:
			s = math.Abs(c[1] - c[0])
		case i == n-1:
			s = math.Abs(c[n-1] - c[n-2])
		default:
			s = math.Abs(c[i+1]-c[i-1]) / 2
		}
		if !(s > 0) {
			return nil, fmt.Errorf("band %d: no fwhm and zero spacing to its neighbours at %g µm", i, c[i])
		}
		out[i] = s
	}
	return out, nil
}

// normCDF is the standard normal cumulative distribution function.
func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }
