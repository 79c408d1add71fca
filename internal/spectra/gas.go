package spectra

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Conversion constants.
const (
	// StandardAtmospherePa is one standard atmosphere (exact, by definition).
	StandardAtmospherePa = 101325.0
	// transmittanceFloor bounds digitised transmittance from below before
	// the logarithm: the Coblentz files give T to three decimals, so 0.001
	// is the smallest non-zero value they can express (absorbance ≤ 3).
	transmittanceFloor = 1e-3
	// baselineWindowCM is the width of the windows over which the
	// baseline of a digitised spectrum is estimated; wider than the
	// rotational envelope of one band at 4 cm⁻¹ resolution (typically
	// 50-100 cm⁻¹), narrow enough to follow the chart's drift.
	baselineWindowCM = 150.0
	// baselinePercentile of T in each window is taken as the clear-sky
	// level: high enough to sit on the baseline between lines, low enough
	// to ignore digitisation spikes (a few percent of points).
	baselinePercentile = 0.95
	// minBaselineT: windows at the ends of a chart whose baseline is below
	// this are instrument cut-off (KBr optics below ~450 cm⁻¹), not gas
	// absorption, and are trimmed.
	minBaselineT = 0.5
	// fineGridCM: spectra sampled finer than half this are bin-averaged to
	// bins this wide (see Downsample).
	fineGridCM = 1.0
)

// ParsePressure parses a pressure such as "50 mmHg", "101.3 kPa", "1 atm",
// "600 torr", "0.5 bar", "100 Pa" or "40 PPM" and returns it in pascal.
// Text after the first number and unit (a note) is ignored. A mixing ratio
// (ppm) is taken as the partial pressure in a cell at one standard
// atmosphere.
func ParsePressure(s string) (float64, error) {
	m := pressureRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("pressure %q: no number with a unit (mmHg, torr, atm, kPa, hPa, Pa, mbar, bar, ppm)", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("pressure %q: %q is not a positive number", s, m[1])
	}
	switch strings.ToLower(m[2]) {
	case "mmhg", "torr":
		// 1 mmHg = 101325/760 Pa (conventional millimetre of mercury).
		return v * StandardAtmospherePa / 760, nil
	case "atm":
		return v * StandardAtmospherePa, nil
	case "kpa":
		return v * 1e3, nil
	case "hpa", "mbar":
		return v * 100, nil
	case "bar":
		return v * 1e5, nil
	case "pa":
		return v, nil
	default: // ppm
		return v * 1e-6 * StandardAtmospherePa, nil
	}
}

var (
	pressureRE = regexp.MustCompile(`(?i)([-+]?[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*(mmhg|torr|atm|kpa|hpa|mbar|bar|pa|ppm)\b`)
	lengthRE   = regexp.MustCompile(`(?i)([-+]?[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*(km|mm|cm|m)\b`)
)

// ParseLength parses a length such as "5 CM", "18 CM CELL", "10 m" or
// "100 mm" and returns it in metres.
func ParseLength(s string) (float64, error) {
	m := lengthRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("length %q: no number with a unit (mm, cm, m, km)", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("length %q: %q is not a positive number", s, m[1])
	}
	switch strings.ToLower(m[2]) {
	case "mm":
		return v * 1e-3, nil
	case "cm":
		return v * 1e-2, nil
	case "km":
		return v * 1e3, nil
	default:
		return v, nil
	}
}

// xToWavenumber converts abscissae to cm⁻¹ according to ##XUNITS.
func xToWavenumber(x []float64, units string) ([]float64, error) {
	u := strings.ToUpper(strings.Join(strings.Fields(units), ""))
	var f func(float64) float64
	switch u {
	case "1/CM", "CM-1", "CM^-1", "CM^-^1", "WAVENUMBERS", "WAVENUMBER", "1/CM-1":
		f = func(v float64) float64 { return v }
	case "MICROMETERS", "MICROMETRES", "MICRONS", "UM", "µM", "MICROMETER":
		f = MicrometresToWavenumber
	case "NANOMETERS", "NANOMETRES", "NM":
		f = func(v float64) float64 { return MicrometresToWavenumber(NanometresToMicrometres(v)) }
	default:
		return nil, fmt.Errorf("##XUNITS=%q: want 1/CM, MICROMETERS or NANOMETERS", units)
	}
	out := make([]float64, len(x))
	for i, v := range x {
		w := f(v)
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("##XUNITS=%s: abscissa[%d] = %g gives wavenumber %g", units, i, v, w)
		}
		out[i] = w
	}
	return out, nil
}

// FromJCAMP converts a gas-phase infrared spectrum read by ReadJCAMP into a
// library entry in natural-log absorption per ppm·m on an ascending
// wavenumber grid.
//
//   - ##YUNITS=(micromol/mol)-1m-1 (base 10), the NIST quantitative
//     database: decadic absorbance per ppm·m, so k = ln(10)·y. Quality
//     "quantitative". Small negative values (noise about zero) are kept.
//   - ##YUNITS=TRANSMITTANCE (or percent), the Coblentz/Dow charts, with
//     ##PARTIAL_PRESSURE (or a pressure in ##STATE) and ##PATH LENGTH: the
//     baseline is removed (see RemoveBaseline), T is floored at 0.001, and
//     A = −log10(T) / (p/p_atm · 10⁶ · L[m]) is the decadic absorbance per
//     ppm·m of a gas at partial pressure p in a cell of length L; k =
//     ln(10)·A. Quality "digitised".
//   - ##YUNITS=ABSORBANCE with a pressure and path length: as above
//     without the baseline step. Without them (e.g. the Sadtler/EPA
//     vapour spectra) the scale is unknown and FromJCAMP refuses.
//
// name is the entry's name (GasID is applied); if empty, the title is
// used. source is recorded in the entry with the file's ##ORIGIN and
// ##OWNER. Spectra sampled finer than 0.5 cm⁻¹ are bin-averaged to 1 cm⁻¹
// (see Downsample).
func FromJCAMP(s *Spectrum, name, source string) (*Entry, error) {
	if name == "" {
		name = s.Title
	}
	id := GasID(name)
	if id == "" {
		return nil, fmt.Errorf("spectrum %q: no name", s.Title)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("spectrum %q (%s): %s", s.Title, id, fmt.Sprintf(format, args...))
	}
	state := s.Label("STATE")
	yunits := s.Label("YUNITS")
	yu := strings.ToUpper(strings.Join(strings.Fields(yunits), ""))
	quantitative := strings.Contains(yu, "MICROMOL/MOL") && strings.Contains(yu, "BASE10")
	ls := strings.ToLower(state)
	gas := strings.Contains(ls, "gas") || strings.Contains(ls, "vapor") || strings.Contains(ls, "vapour")
	if !gas && !(state == "" && quantitative) {
		return nil, fail("##STATE=%q is not gas phase", state)
	}
	if len(s.X) < 2 {
		return nil, fail("%d points", len(s.X))
	}
	nu, err := xToWavenumber(s.X, s.Label("XUNITS"))
	if err != nil {
		return nil, fail("%v", err)
	}
	nu, y := sortByWavenumber(nu, s.Y)

	e := &Entry{Name: id, YUnits: yunits, CAS: strings.TrimSpace(s.Label("CASREGISTRYNO"))}
	var notes []string
	k := make([]float64, len(y))
	switch {
	case quantitative:
		e.Quality = QualityQuantitative
		for i, v := range y {
			k[i] = math.Ln10 * v
		}
		if p := s.Label("PRESSURE"); p != "" {
			notes = append(notes, "measured at "+p+", "+s.Label("TEMPERATURE"))
		}
	case strings.Contains(yu, "TRANSMITTANCE") || yu == "%T" || strings.Contains(yu, "ABSORBANCE"):
		p, l, cond, err := cellConditions(s)
		if err != nil {
			return nil, fail("%v", err)
		}
		ppmm := p / StandardAtmospherePa * 1e6 * l
		notes = append(notes, cond)
		a := make([]float64, len(y))
		if strings.Contains(yu, "ABSORBANCE") {
			copy(a, y)
			e.Quality = QualityUnspecified
		} else {
			t := slices.Clone(y)
			if strings.Contains(yu, "%") || strings.Contains(yu, "PERCENT") || slices.Max(t) > 2 {
				for i := range t {
					t[i] /= 100
				}
				notes = append(notes, "percent transmittance divided by 100")
			}
			var lo, hi int
			t, lo, hi = RemoveBaseline(nu, t)
			if hi-lo < 2 {
				return nil, fail("no window with a baseline transmittance above %g", minBaselineT)
			}
			nu, a = nu[lo:hi], a[lo:hi]
			k = k[lo:hi]
			for i, v := range t {
				a[i] = -math.Log10(math.Max(v, transmittanceFloor))
			}
			e.Quality = QualityDigitised
			notes = append(notes, fmt.Sprintf("baseline removed: T divided by the upper envelope (%.0fth percentile in %.0f cm-1 windows, dilated by one window), clamped to [%g, 1]", baselinePercentile*100, baselineWindowCM, transmittanceFloor))
			if lo > 0 || hi < len(y) {
				notes = append(notes, fmt.Sprintf("chart ends with baseline below T=%g trimmed", minBaselineT))
			}
		}
		for i, v := range a {
			k[i] = math.Ln10 * v / ppmm
		}
	default:
		return nil, fail("##YUNITS=%q: want (micromol/mol)-1m-1 (base 10), TRANSMITTANCE or ABSORBANCE", yunits)
	}
	if d := medianSpacing(nu); d < fineGridCM/2 {
		nu, k = Downsample(nu, k, fineGridCM)
		notes = append(notes, fmt.Sprintf("bin-averaged from %.3g cm-1 to %g cm-1 bins", d, fineGridCM))
	}
	e.Wavenumber, e.K = nu, k

	if mf := s.Label("MOLFORM"); mf != "" {
		counts, err := ParseFormula(mf)
		if err != nil {
			return nil, fail("##MOLFORM: %v", err)
		}
		e.Formula = HillFormula(counts)
		e.MolarMass = MolarMass(counts)
	}
	for _, alt := range []string{s.Title, s.Label("CASNAME")} {
		if a := GasID(alt); a != "" && a != id && !slices.Contains(e.Aliases, a) {
			e.Aliases = append(e.Aliases, a)
		}
	}
	src := []string{}
	if source != "" {
		src = append(src, source)
	}
	for _, l := range []string{"ORIGIN", "OWNER", "SOURCEREFERENCE"} {
		if v := strings.Join(strings.Fields(s.Label(l)), " "); v != "" {
			src = append(src, strings.ToLower(l)+": "+v)
		}
	}
	e.Source = strings.Join(src, "; ")
	e.Notes = strings.Join(notes, "; ")
	if err := e.Validate(); err != nil {
		return nil, fail("%v", err)
	}
	return e, nil
}

// cellConditions finds the gas's partial pressure (Pa) and the cell length
// (m): ##PARTIAL_PRESSURE, else the first pressure in ##STATE (e.g. "GAS
// (150 mmHg, N2 ADDED, TOTAL PRESSURE 600 mmHg)"), and ##PATH LENGTH.
func cellConditions(s *Spectrum) (p, l float64, desc string, err error) {
	pp := s.Label("PARTIALPRESSURE")
	field := "##PARTIAL_PRESSURE"
	if pp == "" {
		pp, field = s.Label("STATE"), "##STATE"
	}
	p, err = ParsePressure(pp)
	if err != nil {
		return 0, 0, "", fmt.Errorf("no partial pressure, so no scale per ppm·m: %s: %w", field, err)
	}
	pl := s.Label("PATHLENGTH")
	l, err = ParseLength(pl)
	if err != nil {
		return 0, 0, "", fmt.Errorf("no path length, so no scale per ppm·m: ##PATH LENGTH: %w", err)
	}
	ppmm := p / StandardAtmospherePa * 1e6 * l
	return p, l, fmt.Sprintf("cell: partial pressure %.4g Pa (%s=%s), path %.4g m: %.4g ppm·m", p, field, strings.Join(strings.Fields(pp), " "), l, ppmm), nil
}

// sortByWavenumber returns copies sorted ascending, dropping repeated
// wavenumbers (keeping the first).
func sortByWavenumber(nu, y []float64) ([]float64, []float64) {
	idx := make([]int, len(nu))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return nu[idx[a]] < nu[idx[b]] })
	n2 := make([]float64, 0, len(nu))
	y2 := make([]float64, 0, len(nu))
	for _, i := range idx {
		if len(n2) > 0 && nu[i] == n2[len(n2)-1] {
			continue
		}
		n2 = append(n2, nu[i])
		y2 = append(y2, y[i])
	}
	return n2, y2
}

func medianSpacing(nu []float64) float64 {
	if len(nu) < 2 {
		return math.Inf(1)
	}
	d := make([]float64, len(nu)-1)
	for i := range d {
		d[i] = nu[i+1] - nu[i]
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// RemoveBaseline normalises a digitised transmittance spectrum (nu
// ascending, cm⁻¹) by its upper envelope, because paper charts do not reach
// T = 1 where the gas does not absorb (the files' clear-region T runs from
// about 0.64 to 1.04 and drifts across the chart).
//
// Method: cut the range into baselineWindowCM-wide windows; take the
// baselinePercentile-th percentile of T in each; dilate (each window takes
// the largest value among itself and its two neighbours, so that a window
// filled by one broad band borrows the clear level beside it); interpolate
// linearly between window centres; divide T by it and clamp to at most 1.
// Windows at either end whose percentile is below minBaselineT are chart
// cut-off and are trimmed: the result is points [lo, hi) of the input.
//
// Limits: where the true baseline slopes by more than a few percent per
// window the dilation overestimates it and adds a small positive
// absorbance; a band wider than about three windows with no clear gap
// would be partly taken for baseline.
func RemoveBaseline(nu, t []float64) (out []float64, lo, hi int) {
	n := len(nu)
	if n == 0 {
		return nil, 0, 0
	}
	start := nu[0]
	nw := int(math.Floor((nu[n-1]-start)/baselineWindowCM)) + 1
	win := func(v float64) int { return min(nw-1, max(0, int((v-start)/baselineWindowCM))) }
	p := make([]float64, nw)
	buf := make([][]float64, nw)
	for i, v := range nu {
		buf[win(v)] = append(buf[win(v)], t[i])
	}
	for w := range p {
		if len(buf[w]) == 0 {
			p[w] = math.NaN()
			continue
		}
		slices.Sort(buf[w])
		p[w] = buf[w][int(baselinePercentile*float64(len(buf[w])-1))]
	}
	// Trim chart ends.
	first, last := 0, nw-1
	for first < nw && !(p[first] >= minBaselineT) {
		first++
	}
	for last >= 0 && !(p[last] >= minBaselineT) {
		last--
	}
	if first > last {
		return nil, 0, 0
	}
	env := make([]float64, nw)
	for w := range env {
		env[w] = math.NaN()
		if w < first || w > last {
			continue
		}
		for d := -1; d <= 1; d++ {
			if j := w + d; j >= first && j <= last && !math.IsNaN(p[j]) {
				if math.IsNaN(env[w]) || p[j] > env[w] {
					env[w] = p[j]
				}
			}
		}
	}
	// Centres of the windows that have an envelope value.
	var cx, cy []float64
	for w := first; w <= last; w++ {
		if !math.IsNaN(env[w]) {
			cx = append(cx, start+(float64(w)+0.5)*baselineWindowCM)
			cy = append(cy, env[w])
		}
	}
	lo, hi = n, 0
	for i, v := range nu {
		if w := win(v); w >= first && w <= last {
			lo, hi = min(lo, i), max(hi, i+1)
		}
	}
	out = make([]float64, n)
	for i := lo; i < hi; i++ {
		b := interpClamped(cx, cy, nu[i])
		out[i] = math.Min(t[i]/b, 1)
	}
	return out[lo:hi], lo, hi
}

// interpClamped interpolates linearly in (xs, ys), xs ascending, holding
// the end values beyond the ends.
func interpClamped(xs, ys []float64, x float64) float64 {
	n := len(xs)
	if x <= xs[0] {
		return ys[0]
	}
	if x >= xs[n-1] {
		return ys[n-1]
	}
	j := sort.SearchFloat64s(xs, x)
	t := (x - xs[j-1]) / (xs[j] - xs[j-1])
	return ys[j-1] + t*(ys[j]-ys[j-1])
}

// Downsample bin-averages a spectrum (nu ascending, cm⁻¹) into bins of the
// given width aligned on multiples of it: each non-empty bin gives one
// point at the mean wavenumber and the mean k of the samples in it, so the
// spectrum's integral over each bin is kept.
//
// This is safe for the detector because the sensors it serves integrate
// far wider: an airborne LWIR imaging spectrometer's bands are several to
// tens of cm⁻¹ wide (e.g. 128 bands over 7.5-13.5 µm is ~5 cm⁻¹ per band at
// 13 µm, ~8 cm⁻¹ at 10 µm). Averaging over a 1 cm⁻¹ box adds a variance of
// 1/12 cm⁻² to a band's response: a Gaussian band of 5 cm⁻¹ FWHM (σ = 2.1
// cm⁻¹) widens by under 1%. Only spectrometers with bands narrower than
// ~3 cm⁻¹ (FTIR imagers at full resolution) should use the original files.
func Downsample(nu, k []float64, width float64) ([]float64, []float64) {
	var on, ok []float64
	i := 0
	for i < len(nu) {
		bin := math.Floor(nu[i] / width)
		var sn, sk float64
		j := i
		for j < len(nu) && math.Floor(nu[j]/width) == bin {
			sn += nu[j]
			sk += k[j]
			j++
		}
		c := float64(j - i)
		on = append(on, sn/c)
		ok = append(ok, sk/c)
		i = j
	}
	return on, ok
}
