package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/atalaya-project/atalaya/internal/spectra"
)

// This file is the three-dimensional plume that point sensors sample: the
// ensemble-mean Gaussian plume with ground reflection (DESIGN.md, "Physics")
// and an instantaneous plume that meanders and comes in puffs, whose long-time
// average at any fixed point is that mean. docs/point-sensor-trace.md
// describes the model and its parameters.

// ErrTimeRange is wrapped by errors about an instant too far from a field's
// epoch for its turbulence to be generated.
var ErrTimeRange = errors.New("sim: time out of range")

// nearFieldM is the downwind distance below which the plume widths are held at
// their value there: the source is a vent of about a metre, not a point, so the
// concentration stays finite next to it. Mass conservation does not depend on
// the widths, so it holds at every distance. (Stated assumption.)
const nearFieldM = 1.0

// maxMeanderFraction bounds the share of the ensemble lateral variance σ_y²
// that the meander may take, so that the instantaneous plume keeps a width of
// at least √(1−0.9) σ_y ≈ 0.32 σ_y. (Stated assumption; the class defaults stay
// well below it, see DefaultTurbulence.)
const maxMeanderFraction = 0.9

// briggsSigmaZ is the vertical plume width (m) at downwind distance x (m) for
// Briggs' (1973) rural fits to the Pasquill–Gifford curves, as tabulated in
// Seinfeld & Pandis, Atmospheric Chemistry and Physics, table 18.3 (the same
// coefficients as AIChE/CCPS 1999, Guidelines for Consequence Analysis, and
// Griffiths 1994, Atmos. Environ. 28, 2861).
func briggsSigmaZ(class string, x float64) (float64, error) {
	switch strings.ToUpper(class) {
	case "A":
		return 0.20 * x, nil
	case "B":
		return 0.12 * x, nil
	case "C":
		return 0.08 * x / math.Sqrt(1+0.0002*x), nil
	case "D", "":
		return 0.06 * x / math.Sqrt(1+0.0015*x), nil
	case "E":
		return 0.03 * x / (1 + 0.0003*x), nil
	case "F":
		return 0.016 * x / (1 + 0.0003*x), nil
	}
	return 0, fmt.Errorf("%w: stability class %q is not A-F", ErrScene, class)
}

// Sigmas returns the Briggs rural crosswind and vertical plume widths σ_y,
// σ_z (m) at downwind distance x (m) for a Pasquill–Gifford class A-F (empty
// means D, as in Scene).
func Sigmas(class string, x float64) (sy, sz float64, err error) {
	sy, err = briggsSigmaY(class, x)
	if err != nil {
		return 0, 0, err
	}
	sz, err = briggsSigmaZ(class, x)
	return sy, sz, err
}

// GaussianPlume is the ensemble-mean concentration (kg/m³) of a continuous
// point source of q kg/s at height h (m) in a wind of u m/s, at crosswind
// offset y and height z above ground (m), for plume widths sy, sz (m), with
// total reflection at the ground:
//
//	C = q/(2π u σ_y σ_z) · e^{−y²/2σ_y²} · [e^{−(z−h)²/2σ_z²} + e^{−(z+h)²/2σ_z²}]
//
// It is zero below ground.
func GaussianPlume(q, u, h, sy, sz, y, z float64) float64 {
	if z < 0 {
		return 0
	}
	return q / u * gauss(y, sy) * reflected(z, h, sz)
}

// gauss is the normal density of zero mean and standard deviation s at y.
func gauss(y, s float64) float64 {
	return math.Exp(-y*y/(2*s*s)) / (math.Sqrt(2*math.Pi) * s)
}

// reflected is the vertical factor of the reflected plume, 1/m; its integral
// over z ≥ 0 is 1.
func reflected(z, h, s float64) float64 {
	a, b := (z-h)/s, (z+h)/s
	return (math.Exp(-a*a/2) + math.Exp(-b*b/2)) / (math.Sqrt(2*math.Pi) * s)
}

// Turbulence sets how the instantaneous plume departs from the ensemble mean.
// The zero value has no meander and no puffs: the instantaneous plume is the
// mean plume.
type Turbulence struct {
	// MeanderDeg is the standard deviation of the large-eddy wind direction
	// (an Ornstein–Uhlenbeck process), degrees, and MeanderTimeS its
	// correlation time, s. The wind is uniform in space, so the plume's
	// centreline at x downwind is displaced by u∫θ dt over the last x/u
	// seconds (Taylor 1921 for the variance).
	MeanderDeg   float64
	MeanderTimeS float64
	// PuffSigma is the standard deviation of the logarithm of the
	// intermittency factor (log-normal, mean one), and PuffLengthM its
	// coherence length along the wind, m: puffs are frozen in the air and
	// carried downwind at the wind speed.
	PuffSigma   float64
	PuffLengthM float64
}

// DefaultTurbulence is the turbulence assumed for a Pasquill–Gifford class:
// a meander of half the near-field spreading angle of the Briggs σ_y (so the
// meander carries a quarter of the lateral variance near the source: A 6.3°,
// B 4.6°, C 3.2°, D 2.3°, E 1.7°, F 1.1°) with a correlation time of 30 s,
// and log-normal puffs of σ_ln = 0.8 (a fluctuation intensity of
// √(e^{0.64}−1) ≈ 0.95, of the order of one that is measured within a few
// hundred metres of a source, e.g. Mylne & Mason 1991, Q. J. R. Meteorol. Soc.
// 117, 177) coherent over 10 m along the wind. These are stated assumptions,
// not fits to a campaign; see docs/point-sensor-trace.md.
func DefaultTurbulence(class string) (Turbulence, error) {
	sy, err := briggsSigmaY(class, 1) // σ_y ≈ a·x near the source
	if err != nil {
		return Turbulence{}, err
	}
	return Turbulence{
		MeanderDeg:   0.5 * sy * 180 / math.Pi,
		MeanderTimeS: 30,
		PuffSigma:    0.8,
		PuffLengthM:  10,
	}, nil
}

// Field is the gas concentration around a set of emitters under one weather:
// the ensemble mean and, from a seed, one realisation in time. Methods that
// take an instant are safe for concurrent use; the turbulence is generated
// lazily but the same seed gives the same field whatever the order of the
// calls.
type Field struct {
	w        Weather
	turb     Turbulence
	epoch    time.Time
	class    string
	downE    float64 // unit vector of the mean wind's heading
	downN    float64
	gases    []string
	ppmPerKg []float64 // ppm per kg/m³ of each gas at the weather's T and P
	emitters []fieldEmitter
	meander  *ouProcess // wind direction deviation, rad, clockwise positive
}

type fieldEmitter struct {
	src         Source // for its schedule
	name        string
	east, north float64
	h           float64
	rateKgS     []float64 // per gas index
	puff        *ouProcess
}

// NewField prepares emitters under a weather for evaluation. epoch is the
// instant of the field's time zero; the turbulence is generated from seed.
func NewField(w Weather, turb Turbulence, emitters []Source, lib *spectra.Library, epoch time.Time, seed uint64) (*Field, error) {
	switch {
	case !(w.WindSpeed > 0) || math.IsInf(w.WindSpeed, 0):
		return nil, fmt.Errorf("%w: wind speed %g m/s must be positive", ErrScene, w.WindSpeed)
	case !(w.AirTempK >= 150 && w.AirTempK <= 350):
		return nil, fmt.Errorf("%w: air temperature %g K is implausible", ErrScene, w.AirTempK)
	case math.IsNaN(w.WindFromDeg) || math.IsInf(w.WindFromDeg, 0):
		return nil, fmt.Errorf("%w: wind direction %g", ErrScene, w.WindFromDeg)
	case w.PressurePa < 0 || math.IsNaN(w.PressurePa) || math.IsInf(w.PressurePa, 0):
		return nil, fmt.Errorf("%w: pressure %g Pa", ErrScene, w.PressurePa)
	}
	if _, err := briggsSigmaY(w.Stability, 100); err != nil {
		return nil, err
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"meander", turb.MeanderDeg}, {"meander time", turb.MeanderTimeS}, {"puff sigma", turb.PuffSigma}, {"puff length", turb.PuffLengthM}} {
		if v.v < 0 || math.IsNaN(v.v) || math.IsInf(v.v, 0) {
			return nil, fmt.Errorf("%w: turbulence %s %g", ErrScene, v.name, v.v)
		}
	}
	if turb.MeanderDeg > 0 && turb.MeanderTimeS == 0 {
		return nil, fmt.Errorf("%w: meander of %g° needs a correlation time", ErrScene, turb.MeanderDeg)
	}
	if turb.PuffSigma > 0 && turb.PuffLengthM == 0 {
		return nil, fmt.Errorf("%w: puffs of σ_ln %g need a coherence length", ErrScene, turb.PuffSigma)
	}
	heading := (w.WindFromDeg + 180) * math.Pi / 180
	f := &Field{
		w: w, turb: turb, epoch: epoch, class: strings.ToUpper(w.Stability),
		downE: math.Sin(heading), downN: math.Cos(heading),
	}
	seen := map[string]bool{}
	for _, e := range emitters {
		for g := range e.Rates {
			if !seen[g] {
				seen[g] = true
				f.gases = append(f.gases, g)
			}
		}
	}
	sortStrings(f.gases)
	pressure := w.PressurePa
	if pressure == 0 {
		pressure = 101325
	}
	cond := spectra.Conditions{PressurePa: pressure, TemperatureK: w.AirTempK}
	f.ppmPerKg = make([]float64, len(f.gases))
	for i, g := range f.gases {
		e, err := lib.Get(g)
		if err != nil {
			return nil, fmt.Errorf("sim: emitter gas: %w", err)
		}
		// A mixing ratio in ppm per kg/m³ is numerically the ppm·m per kg/m²
		// of a column: both are 10⁶ R T/(M P).
		f.ppmPerKg[i] = spectra.KgPerM2ToPPMm(1, e.MolarMass, cond)
	}
	if turb.MeanderDeg > 0 {
		f.meander = newOUProcess(turb.MeanderDeg*math.Pi/180, turb.MeanderTimeS, seed, 1)
	}
	for k, e := range emitters {
		if math.IsNaN(e.East) || math.IsInf(e.East, 0) || math.IsNaN(e.North) || math.IsInf(e.North, 0) {
			return nil, fmt.Errorf("%w: emitter %q at (%g, %g)", ErrScene, e.Name, e.East, e.North)
		}
		if !(e.HeightM >= 0) || math.IsInf(e.HeightM, 0) {
			return nil, fmt.Errorf("%w: emitter %q: height %g m", ErrScene, e.Name, e.HeightM)
		}
		fe := fieldEmitter{src: e, name: e.Name, east: e.East, north: e.North, h: e.HeightM, rateKgS: make([]float64, len(f.gases))}
		for i, g := range f.gases {
			q, ok := e.Rates[g]
			if !ok {
				continue
			}
			if !(q >= 0) || math.IsInf(q, 0) {
				return nil, fmt.Errorf("%w: emitter %q: rate of %s = %g kg/h", ErrScene, e.Name, g, q)
			}
			fe.rateKgS[i] = q / 3600
		}
		if turb.PuffSigma > 0 {
			// ξ is a unit-variance process in the release time; its
			// correlation time is the coherence length over the wind speed.
			fe.puff = newOUProcess(1, turb.PuffLengthM/w.WindSpeed, seed, uint64(2+k))
		}
		f.emitters = append(f.emitters, fe)
	}
	return f, nil
}

// Gases returns the library names of the gases of the field, in the order of
// the per-gas slices its methods fill.
func (f *Field) Gases() []string { return append([]string(nil), f.gases...) }

// Epoch is the instant of the field's time zero.
func (f *Field) Epoch() time.Time { return f.epoch }

// Weather is the field's mean weather.
func (f *Field) Weather() Weather { return f.w }

// Turbulence is the field's turbulence.
func (f *Field) Turbulence() Turbulence { return f.turb }

// frame returns the downwind and crosswind coordinates of a point relative to
// an emitter; the crosswind axis points to the left of the wind, as in the
// column of scene.go.
func (f *Field) frame(e *fieldEmitter, east, north float64) (x, y float64) {
	de, dn := east-e.east, north-e.north
	return de*f.downE + dn*f.downN, -de*f.downN + dn*f.downE
}

// MeanKgM3 sets out[g] to the ensemble-mean concentration (kg/m³) of each gas
// at a point alt metres above ground, for sources emitting steadily (the
// schedules are ignored). out must have one element per gas.
func (f *Field) MeanKgM3(east, north, alt float64, out []float64) {
	clear(out[:len(f.gases)])
	if alt < 0 {
		return
	}
	for k := range f.emitters {
		e := &f.emitters[k]
		x, y := f.frame(e, east, north)
		if x <= 0 {
			continue
		}
		sy, sz, _ := Sigmas(f.class, math.Max(x, nearFieldM))
		base := GaussianPlume(1, f.w.WindSpeed, e.h, sy, sz, y, alt)
		for i, q := range e.rateKgS {
			out[i] += q * base
		}
	}
}

// MeanPPM is MeanKgM3 as volume mixing ratios, ppm.
func (f *Field) MeanPPM(east, north, alt float64, out []float64) {
	f.MeanKgM3(east, north, alt, out)
	for i := range f.gases {
		out[i] *= f.ppmPerKg[i]
	}
}

// seconds is t relative to the epoch.
func (f *Field) seconds(t time.Time) float64 { return t.Sub(f.epoch).Seconds() }

// WindAt returns the true wind at instant t: the mean speed and the mean
// direction turned by the meander (degrees from north the wind blows from,
// in [0, 360)).
func (f *Field) WindAt(t time.Time) (speed, fromDeg float64, err error) {
	theta := 0.0
	if f.meander != nil {
		if theta, err = f.meander.value(f.seconds(t)); err != nil {
			return 0, 0, err
		}
	}
	return f.w.WindSpeed, wrapDeg(f.w.WindFromDeg + theta*180/math.Pi), nil
}

func wrapDeg(d float64) float64 {
	d = math.Mod(d, 360)
	if d < 0 {
		d += 360
	}
	return d
}

// meanderVariance is the variance (m²) of the lateral displacement of the
// centreline at x downwind: Taylor's (1921) result for an exponentially
// correlated direction, σ_m² = 2 (u σ_θ T)² (τ/T − 1 + e^{−τ/T}), τ = x/u.
func meanderVariance(sigmaTheta, tCorr, u, x float64) float64 {
	if sigmaTheta == 0 || x <= 0 {
		return 0
	}
	s := x / u / tCorr
	var g float64
	if s < 1e-4 {
		g = s * s / 2 * (1 - s/3) // series of s − 1 + e^{−s}
	} else {
		g = s - 1 + math.Exp(-s)
	}
	a := u * sigmaTheta * tCorr
	return 2 * a * a * g
}

// KgM3 sets out[g] to the instantaneous concentration (kg/m³) of each gas at
// instant t at a point alt metres above ground. The centreline of each plume
// is displaced by the meander, its crosswind width is the relative width
// σ_r = √(σ_y² − σ_m²), and its concentration is multiplied by the log-normal
// puff factor of the air that left the source x/u seconds earlier. Averaged
// over a long time this is MeanKgM3.
func (f *Field) KgM3(t time.Time, east, north, alt float64, out []float64) error {
	clear(out[:len(f.gases)])
	if alt < 0 {
		return nil
	}
	return f.instant(t, east, north, func(e *fieldEmitter, y, sr, sz, factor float64) {
		c := gauss(y, sr) * reflected(alt, e.h, sz) * factor / f.w.WindSpeed
		for i, q := range e.rateKgS {
			out[i] += q * c
		}
	})
}

// ColumnPPMm sets out[g] to the vertical column of each gas (ppm·m) at
// instant t over a point, averaged across a pixel of width pixelM (the
// crosswind Gaussian widened by the pixel's variance pixelM²/12, a box
// convolved with it to second moment, so a plume narrower than a pixel keeps
// its mass). A reflected plume's concentration integrates to one Gaussian
// over z ≥ 0, so the column does not depend on the release height.
func (f *Field) ColumnPPMm(t time.Time, east, north, pixelM float64, out []float64) error {
	clear(out[:len(f.gases)])
	w2 := pixelM * pixelM / 12
	return f.instant(t, east, north, func(e *fieldEmitter, y, sr, _, factor float64) {
		c := gauss(y, math.Sqrt(sr*sr+w2)) * factor / f.w.WindSpeed
		for i, q := range e.rateKgS {
			out[i] += q * c * f.ppmPerKg[i]
		}
	})
}

// MeanColumnPPMm is ColumnPPMm for the ensemble-mean plume: Q/(√(2π)·u·σ_y)
// · exp(−y²/2σ_y²) with σ_y widened by the pixel.
func (f *Field) MeanColumnPPMm(east, north, pixelM float64, out []float64) {
	clear(out[:len(f.gases)])
	w2 := pixelM * pixelM / 12
	for k := range f.emitters {
		e := &f.emitters[k]
		x, y := f.frame(e, east, north)
		if x <= 0 {
			continue
		}
		sy, _, _ := Sigmas(f.class, math.Max(x, nearFieldM))
		c := gauss(y, math.Sqrt(sy*sy+w2)) / f.w.WindSpeed
		for i, q := range e.rateKgS {
			out[i] += q * c * f.ppmPerKg[i]
		}
	}
}

// instant calls add for every emitter whose plume reaches the point at
// instant t, with the point's crosswind distance from the meandering
// centreline, the instantaneous crosswind width, the vertical width and the
// puff factor (mean one).
func (f *Field) instant(t time.Time, east, north float64, add func(e *fieldEmitter, y, sr, sz, factor float64)) error {
	ts := f.seconds(t)
	u := f.w.WindSpeed
	var iNow float64
	if f.meander != nil {
		var err error
		if iNow, err = f.meander.integral(ts); err != nil {
			return err
		}
	}
	sigmaTheta := f.turb.MeanderDeg * math.Pi / 180
	for k := range f.emitters {
		e := &f.emitters[k]
		x, y := f.frame(e, east, north)
		if x <= 0 {
			continue
		}
		release := ts - x/u
		// Air at x left the source x/u ago: it carries gas only if the
		// source was emitting then (vapour sources switch on and off).
		if len(e.src.Schedule) > 0 && !e.src.ActiveAt(f.epoch.Add(time.Duration(release*float64(time.Second)))) {
			continue
		}
		xe := math.Max(x, nearFieldM)
		sy, sz, _ := Sigmas(f.class, xe)
		d, sr := 0.0, sy
		if f.meander != nil {
			iThen, err := f.meander.integral(release)
			if err != nil {
				return err
			}
			// Wind turned clockwise by θ carries the air to the right of
			// the mean wind, which is −y.
			d = -u * (iNow - iThen)
			vm := meanderVariance(sigmaTheta, f.turb.MeanderTimeS, u, x)
			if lim := maxMeanderFraction * sy * sy; vm > lim {
				d *= math.Sqrt(lim / vm)
				vm = lim
			}
			sr = math.Sqrt(sy*sy - vm)
		}
		factor := 1.0
		if e.puff != nil {
			xi, err := e.puff.value(release)
			if err != nil {
				return err
			}
			s := f.turb.PuffSigma
			factor = math.Exp(s*xi - s*s/2)
		}
		add(e, y-d, sr, sz, factor)
	}
	return nil
}

// PPM is KgM3 as volume mixing ratios, ppm.
func (f *Field) PPM(t time.Time, east, north, alt float64, out []float64) error {
	if err := f.KgM3(t, east, north, alt, out); err != nil {
		return err
	}
	for i := range f.gases {
		out[i] *= f.ppmPerKg[i]
	}
	return nil
}

// ouMaxSamples bounds each direction of an ouProcess: at the default step of
// 0.1 s it is about 11.6 days either side of the epoch.
const ouMaxSamples = 10_000_000

// ouProcess is a stationary Ornstein–Uhlenbeck process of standard deviation
// sigma and correlation time tau, sampled exactly on a grid of step dt from
// time zero forwards and backwards (the process is time-reversible, so the
// backward samples are another forward chain from the same start) and
// linearly interpolated between samples. It is extended lazily; each
// direction draws from its own PCG stream in order, so the values do not
// depend on the order of the queries.
type ouProcess struct {
	mu         sync.Mutex
	sigma, dt  float64
	rho, innov float64
	fwd, bwd   []float64 // values at k·dt, k ≥ 0, and at −(k+1)·dt
	fwdI, bwdI []float64 // ∫₀ of the interpolated process to those times
	rngF, rngB *rand.Rand
}

func newOUProcess(sigma, tau float64, seed, stream uint64) *ouProcess {
	// A step of a twentieth of the correlation time, at most 0.1 s, keeps
	// the variance lost by linear interpolation between samples below
	// dt/(2τ) = 2.5 % at worst; the value of the puff process is
	// renormalised for it, and the meander's integral smooths it to below
	// (dt/τ)²/12 over long times.
	dt := math.Min(0.1, tau/20)
	rho := math.Exp(-dt / tau)
	p := &ouProcess{
		sigma: sigma, dt: dt, rho: rho, innov: sigma * math.Sqrt(1-rho*rho),
		rngF: rand.New(rand.NewPCG(seed, 2*stream)),
		rngB: rand.New(rand.NewPCG(seed, 2*stream+1)),
	}
	v0 := sigma * p.rngF.NormFloat64()
	p.fwd = []float64{v0}
	p.fwdI = []float64{0}
	return p
}

// at returns the sample of index k (any sign) and the integral from zero to
// it, extending the process as needed. p.mu must be held.
func (p *ouProcess) at(k int64) (v, integral float64, err error) {
	if k >= ouMaxSamples || k <= -ouMaxSamples {
		return 0, 0, fmt.Errorf("%w: %.0f s from the epoch, beyond %.0f s", ErrTimeRange, float64(k)*p.dt, ouMaxSamples*p.dt)
	}
	if k >= 0 {
		for int64(len(p.fwd)) <= k {
			last := p.fwd[len(p.fwd)-1]
			next := p.rho*last + p.innov*p.rngF.NormFloat64()
			p.fwd = append(p.fwd, next)
			p.fwdI = append(p.fwdI, p.fwdI[len(p.fwdI)-1]+p.dt*(last+next)/2)
		}
		return p.fwd[k], p.fwdI[k], nil
	}
	j := -k - 1
	for int64(len(p.bwd)) <= j {
		last, lastI := p.fwd[0], 0.0
		if n := len(p.bwd); n > 0 {
			last, lastI = p.bwd[n-1], p.bwdI[n-1]
		}
		next := p.rho*last + p.innov*p.rngB.NormFloat64()
		p.bwd = append(p.bwd, next)
		p.bwdI = append(p.bwdI, lastI-p.dt*(last+next)/2)
	}
	return p.bwd[j], p.bwdI[j], nil
}

// bracket returns the samples around t and t's fraction of the way between.
func (p *ouProcess) bracket(t float64) (v0, v1, i0, w float64, err error) {
	if math.IsNaN(t) || math.IsInf(t, 0) {
		return 0, 0, 0, 0, fmt.Errorf("%w: %g s", ErrTimeRange, t)
	}
	s := t / p.dt
	k := math.Floor(s)
	if math.Abs(k) >= ouMaxSamples {
		return 0, 0, 0, 0, fmt.Errorf("%w: %.0f s from the epoch, beyond %.0f s", ErrTimeRange, t, ouMaxSamples*p.dt)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v0, i0, err = p.at(int64(k))
	if err != nil {
		return
	}
	v1, _, err = p.at(int64(k) + 1)
	return v0, v1, i0, s - k, err
}

// value is the process at t (s), linearly interpolated and rescaled to the
// process's variance: between two samples of correlation ρ the interpolant
// has variance σ²[(1−w)² + w² + 2w(1−w)ρ], and dividing by its square root
// keeps every marginal exactly N(0, σ²) (which keeps the mean of a log-normal
// factor exactly one).
func (p *ouProcess) value(t float64) (float64, error) {
	v0, v1, _, w, err := p.bracket(t)
	if err != nil {
		return 0, err
	}
	norm := math.Sqrt((1-w)*(1-w) + w*w + 2*w*(1-w)*p.rho)
	return ((1-w)*v0 + w*v1) / norm, nil
}

// integral is ∫₀ᵗ of the linearly interpolated process (negative for t < 0).
func (p *ouProcess) integral(t float64) (float64, error) {
	v0, v1, i0, w, err := p.bracket(t)
	if err != nil {
		return 0, err
	}
	return i0 + p.dt*(w*v0+w*w/2*(v1-v0)), nil
}
