package sniff

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Gas is the gas whose source is sought.
type Gas struct {
	Name      string  // the signature library's name, e.g. "acetone"
	MolarMass float64 // g/mol
}

// Options set the priors and the likelihood of Estimate. Zero values take
// the defaults in brackets.
type Options struct {
	Gas Gas
	// Response is the channel's reading per ppm of the gas [the series'
	// Instrument.Response[Gas.Name], else 1]. The whole signal is taken to
	// be this gas.
	Response float64
	// Stability is the prior over Pasquill–Gifford classes, weights by
	// class letter [AroundClass(Series.Met.Stability), or every class B-F
	// equally when unknown].
	Stability map[string]float64
	// HeightsM, when set, are the candidate release heights, m, equally
	// likely under every class. By default the release height is uniform
	// on [0, HeightMaxM] (a vent at the ground, a window, a roof) [5 m],
	// discretised for each class in equal steps no coarser than the
	// class's σ_z at StandoffM downwind [50 m, about where a survey's
	// nearest lines run; the step is at least 0.25 m]: in stable air the
	// plume is thinner than a metre there, and a coarser grid of heights
	// mislocates the source (see doc.go).
	HeightsM              []float64
	HeightMaxM, StandoffM float64
	// The emission rate has a log-uniform prior on [QMinKgH, QMaxKgH]
	// [0.1, 1000 kg/h], evaluated at QPerDecade points a decade [10].
	QMinKgH, QMaxKgH float64
	QPerDecade       int
	// CellM is the spacing of the coarse grid [10 m] and FineM of the grid
	// laid over the 99.9 % region of the coarse posterior [2 m; CellM/FineM
	// is rounded to a whole number].
	CellM, FineM float64
	// The search region is the flight's bounding box extended by UpwindM
	// up the wind [300 m] and MarginM every way [50 m]. The position prior
	// is uniform over it.
	UpwindM, MarginM float64
	// Intermittency is α of the error model's multiplicative term: the
	// standard deviation of a reading about the mean plume is
	// √(σ² + α²m²) [1, a fluctuation intensity of order one; see doc.go].
	Intermittency float64
	// CorrelationM is the length along the track over which plume
	// fluctuations stay correlated [10 m]: each retained sample's
	// log-likelihood is weighted by min(1, spacing/CorrelationM).
	CorrelationM float64
	// DirSigmaDeg is the smallest uncertainty of the mean wind direction,
	// degrees [2]; the standard error of the measured directions is used
	// when larger.
	DirSigmaDeg float64
	// PriorSource is the prior probability that a source is in the region
	// [0.5].
	PriorSource float64
	// ClaimLogBF is the log Bayes factor above which the posterior claims a
	// source (Posterior.Claim) [3: "strong" evidence on the scale of Kass &
	// Raftery 1995, J. Am. Stat. Assoc. 90, 2 ln B > 6].
	ClaimLogBF float64
	// WindSpeedMS and WindFromDeg override the mean of the measured wind
	// when WindSpeedMS > 0 (a trace without an anemometer).
	WindSpeedMS, WindFromDeg float64
}

// AroundClass is a prior over stability classes centred on a reported one:
// half its weight on the class and a quarter on each neighbour (Pasquill's
// scheme from wind speed and insolation is uncertain by about a class). An
// empty or unknown class gives B-F equally.
func AroundClass(c string) map[string]float64 {
	const order = "ABCDEF"
	i := strings.Index(order, strings.ToUpper(c))
	if c == "" || i < 0 || len(c) != 1 {
		return map[string]float64{"B": 1, "C": 1, "D": 1, "E": 1, "F": 1}
	}
	m := map[string]float64{order[i : i+1]: 0.5}
	if i > 0 {
		m[order[i-1:i]] = 0.25
	}
	if i < len(order)-1 {
		m[order[i+1:i+2]] = 0.25
	}
	return m
}

// Cell is one cell of the posterior grid.
type Cell struct {
	East, North float64 // centre, m
	Size        float64 // side, m
	// Prob is the posterior probability that the source is in the cell,
	// given that there is one (the cells sum to one).
	Prob float64
	// LogLR is the log-likelihood ratio of a source in the cell (Q, class
	// and height marginalised) against no source.
	LogLR float64
	// HPD is whether the cell is in the 95 % highest-posterior-density set.
	HPD bool
}

// Posterior is the result of Estimate.
type Posterior struct {
	Gas, Channel string
	// WindSpeedMS, WindFromDeg: the mean wind used; DirSigmaDeg the
	// uncertainty of its direction.
	WindSpeedMS, WindFromDeg, DirSigmaDeg float64
	// Cells tile the search region: coarse cells, and fine cells where the
	// posterior is concentrated.
	Cells []Cell
	// MAP is the centre of the most probable cell (per unit area); Mean and
	// Cov the posterior mean (m) and covariance (m², east then north).
	MAP, Mean Point
	Cov       [2][2]float64
	// Region is the convex hull of the 95 % HPD cells (conservative: it
	// covers that set), and Ellipse the 95 % ellipse of Cov.
	Region  []Point
	Ellipse Ellipse
	// Emission rate posterior (kg/h) given a source: its median, mode and
	// 95 % equal-tailed interval; QGrid and QProb the marginal on the grid.
	RateKgH, RateModeKgH, RateLoKgH, RateHiKgH float64
	QGrid, QProb                               []float64
	// LogBayesFactor is ln p(data | source)/p(data | no source), and
	// ProbSource the posterior probability of a source in the region.
	LogBayesFactor, ProbSource float64
	// LagM is the position error the channel's lag leaves after its
	// correction, 1σ per axis, m: lagErrorFraction of the distance the
	// drone covers in one time constant. Cov, Region, Ellipse and the
	// cells are the model's posterior without it; Detection adds it.
	LagM float64
	// Claim is whether LogBayesFactor exceeds Options.ClaimLogBF: the
	// evidence for a source is strong. Without a claim the useful output
	// is the upper bound on the rate, RateHiKgH.
	Claim bool
	// ClassProb is the posterior over stability classes, HeightProb over
	// the candidate release heights HeightsM (those of every class,
	// ascending).
	ClassProb  map[string]float64
	HeightsM   []float64
	HeightProb []float64
	// Used is the number of samples in the likelihood and Weight each one's
	// weight.
	Used   int
	Weight float64
	geo    *geoFit
	// The model and the posterior weight of each class×height, for Fit.
	model *model
	chW   []float64
}

// Point is a position in local metres.
type Point struct {
	East, North float64
}

// Ellipse is a credible ellipse: semi-axes (m) and the orientation of the
// major axis, degrees clockwise from north.
type Ellipse struct {
	Centre       Point
	Major, Minor float64
	AzimuthDeg   float64
}

// data are the samples entering the likelihood, decimated.
type data struct {
	t, e, n, z, d, s2, b2 []float64
	// lsig is ln σ (σ² = s2) and del the reading in units of σ.
	lsig, del []float64
}

const gasConstant = 8.314462618 // J/(mol·K), CODATA 2018 exact

// lagErrorFraction scales Posterior.LagM. The model takes the lag
// correction as exact and its smoothing as a blur across the wind; on
// simulated flights of a slow channel that is far from true: the
// electrochemical ammonia cell (τ = 19.5 s) at 5 m/s, class D, twelve
// flights (seeds 201-212), put its posterior mean 24-141 m from the
// source (RMS 67 m, 47 m per axis) while its 95 % set held the source in
// 4 of 12; the same flights with τ = 2 s held it in all. Half the distance
// covered in one time constant (49 m there, 5 m for a PID's 2 s) is that
// error's size; TestSlowChannelUncertainty checks it on other flights.
const lagErrorFraction = 0.5

// Estimate computes the posterior over the position (east, north) and
// emission rate of a single continuous point source of the gas from a
// processed channel, with the release height and stability class as
// nuisance parameters. See doc.go for the model.
func Estimate(p *Processed, o Options) (*Posterior, error) {
	s := p.Series
	if err := o.defaults(s); err != nil {
		return nil, err
	}
	// Mean wind.
	u, from, dirSigma, err := meanWind(s, o)
	if err != nil {
		return nil, err
	}
	hd := (from + 180) * math.Pi / 180
	dE, dN := math.Sin(hd), math.Cos(hd)

	// Decimate to about one sample per smoothing σ: the corrected signal
	// carries no finer detail.
	step := max(1, int(math.Round(p.SmoothS/p.DT)))
	var dat data
	var path float64
	for k := 0; k < len(p.Conc); k += step {
		c := p.Conc[k]
		if math.IsNaN(c) {
			continue
		}
		q := s.Samples[k]
		// Crosswind speed of the drone: the smoother blurs the plume by
		// v_c·σ_s across the wind.
		a, b := max(k-1, 0), min(k+1, len(s.Samples)-1)
		var vc float64
		if dt := s.Samples[b].T - s.Samples[a].T; dt > 0 {
			ve := (s.Samples[b].East - s.Samples[a].East) / dt
			vn := (s.Samples[b].North - s.Samples[a].North) / dt
			vc = math.Abs(-ve*dN + vn*dE)
			path += math.Hypot(ve, vn) * p.DT * float64(step)
		}
		bl := vc * p.SmoothS
		dat.t = append(dat.t, q.T)
		dat.e = append(dat.e, q.East)
		dat.n = append(dat.n, q.North)
		dat.z = append(dat.z, q.AltAGL)
		dat.d = append(dat.d, c)
		// The additive variance: the corrected signal's white noise and as
		// much again for what the baseline leaves (a step of rounding,
		// drift within a window), which is not white and does not average
		// out over the samples of a weak, wide plume.
		dat.s2 = append(dat.s2, 2*p.SigmaPPM*p.SigmaPPM)
		dat.b2 = append(dat.b2, bl*bl)
	}
	if len(dat.d) < 4 {
		return nil, fmt.Errorf("%w: %d usable samples", ErrInput, len(dat.d))
	}
	for i, v := range dat.s2 {
		dat.lsig = append(dat.lsig, math.Log(v)/2)
		dat.del = append(dat.del, dat.d[i]/math.Sqrt(v))
	}
	spacing := path / float64(len(dat.d))
	weight := math.Min(1, spacing/o.CorrelationM)

	// ppm of channel reading per kg/m³ of gas.
	k := 1e6 * gasConstant * s.Met.AirTempK / (o.Gas.MolarMass * 1e-3 * s.Met.PressurePa) * o.Response

	// Emission-rate grid (kg/s) and its log-uniform prior.
	nq := int(math.Round(math.Log10(o.QMaxKgH/o.QMinKgH)*float64(o.QPerDecade))) + 1
	qs := make([]float64, nq)
	lnPQ := make([]float64, nq)
	for j := range qs {
		qs[j] = o.QMinKgH * math.Pow(10, float64(j)/float64(o.QPerDecade)) / 3600
		lnPQ[j] = -math.Log(float64(nq))
	}

	classes := make([]string, 0, len(o.Stability))
	for c := range o.Stability {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	var wsum float64
	for _, c := range classes {
		wsum += o.Stability[c]
	}
	lnPC := make([]float64, len(classes))
	for i, c := range classes {
		lnPC[i] = math.Log(o.Stability[c] / wsum)
	}

	m := &model{
		dat: dat, u: u, dE: dE, dN: dN, k: k,
		dirs: []float64{0}, lnPD: []float64{0}, broaden: dirSigma * math.Pi / 180,
		qs: qs, lnPQ: lnPQ, classes: classes, lnPC: lnPC,
		alpha: o.Intermittency, w: weight,
	}
	m.setHeights(o)
	m.qhi = nq - 1
	m.tables(math.Log(10) / float64(o.QPerDecade))

	// Search region.
	minE, minN, maxE, maxN := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for i := range dat.e {
		for _, sh := range []float64{0, o.UpwindM} {
			e, n := dat.e[i]-sh*dE, dat.n[i]-sh*dN
			minE, maxE = math.Min(minE, e), math.Max(maxE, e)
			minN, maxN = math.Min(minN, n), math.Max(maxN, n)
		}
	}
	minE -= o.MarginM
	minN -= o.MarginM
	maxE += o.MarginM
	maxN += o.MarginM
	h := o.CellM
	// Keep the coarse grid below 60 000 cells.
	for (maxE-minE)*(maxN-minN)/(h*h) > 60000 {
		h *= 1.5
	}
	nx, ny := int(math.Ceil((maxE-minE)/h)), int(math.Ceil((maxN-minN)/h))
	coarse := m.grid(minE, minN, h, nx, ny)

	// Fine grid over the coarse 99.9 % set.
	lnMass := make([]float64, len(coarse.lnZ))
	for i, v := range coarse.lnZ {
		lnMass[i] = v + 2*math.Log(h)
		if !coarse.seen[i] {
			lnMass[i] = math.Inf(-1)
		}
	}
	in := hpd(lnMass, 0.999)
	ix0, iy0, ix1, iy1 := nx, ny, -1, -1
	for i, ok := range in {
		if ok {
			ix, iy := i%nx, i/nx
			ix0, ix1 = min(ix0, ix), max(ix1, ix)
			iy0, iy1 = min(iy0, iy), max(iy1, iy)
		}
	}
	ix0, iy0 = max(ix0-2, 0), max(iy0-2, 0)
	ix1, iy1 = min(ix1+2, nx-1), min(iy1+2, ny-1)
	r := max(1, int(math.Round(h/o.FineM)))
	for r > 1 && (ix1-ix0+1)*(iy1-iy0+1)*r*r > 20000 {
		r--
	}
	var fine *gridResult
	fnx, fny := (ix1-ix0+1)*r, (iy1-iy0+1)*r
	if r > 1 {
		fm := m.withDirections(dirSigma*math.Pi/180, 1, 2)
		// Only the rates that carry mass in the coarse posterior.
		lnQm := make([]float64, nq)
		col := make([]float64, len(coarse.lnZ))
		for j := range nq {
			for i := range col {
				col[i] = coarse.lnQ[i*nq+j]
			}
			lnQm[j] = logSumExp(col)
		}
		top := logSumExp(lnQm)
		fm.qlo, fm.qhi = nq, -1
		for j, v := range lnQm {
			if v-top > math.Log(1e-9) {
				fm.qlo, fm.qhi = min(fm.qlo, j), max(fm.qhi, j)
			}
		}
		fm.qlo, fm.qhi = max(fm.qlo-3, 0), min(fm.qhi+3, nq-1)
		fine = fm.grid(minE+float64(ix0)*h, minN+float64(iy0)*h, h/float64(r), fnx, fny)
	}

	post := &Posterior{
		Gas: o.Gas.Name, Channel: s.Channel, WindSpeedMS: u, WindFromDeg: from, DirSigmaDeg: dirSigma,
		Used: len(dat.d), Weight: weight,
	}
	if dur := s.Samples[len(s.Samples)-1].T - s.Samples[0].T; dur > 0 && s.Instrument.TimeConstantS > 0 {
		var dist float64
		for k := 1; k < len(s.Samples); k++ {
			dist += math.Hypot(s.Samples[k].East-s.Samples[k-1].East, s.Samples[k].North-s.Samples[k-1].North)
		}
		post.LagM = lagErrorFraction * s.Instrument.TimeConstantS * dist / dur
	}
	// Collect the cells: coarse outside the fine box, fine inside.
	var lnQ [][]float64 // per cell, per Q: ln p(data|cell,Q)/p(data|none) + ln p(Q)
	var lnCH [][]float64
	var area float64
	add := func(g *gridResult, i int, e, n, size float64) {
		if !g.seen[i] {
			return
		}
		area += size * size
		post.Cells = append(post.Cells, Cell{East: e, North: n, Size: size, LogLR: g.lnZ[i]})
		lnQ = append(lnQ, g.lnQ[i*nq:(i+1)*nq])
		lnCH = append(lnCH, g.lnCH[i*m.nch():(i+1)*m.nch()])
	}
	for iy := range ny {
		for ix := range nx {
			if fine != nil && ix >= ix0 && ix <= ix1 && iy >= iy0 && iy <= iy1 {
				continue
			}
			add(coarse, iy*nx+ix, minE+(float64(ix)+0.5)*h, minN+(float64(iy)+0.5)*h, h)
		}
	}
	if fine != nil {
		fh := h / float64(r)
		e0, n0 := minE+float64(ix0)*h, minN+float64(iy0)*h
		for iy := range fny {
			for ix := range fnx {
				add(fine, iy*fnx+ix, e0+(float64(ix)+0.5)*fh, n0+(float64(iy)+0.5)*fh, fh)
			}
		}
	}
	if len(post.Cells) == 0 {
		return nil, fmt.Errorf("%w: the flight crossed no plume of the search region", ErrInput)
	}
	post.summarise(lnQ, lnCH, area, m, o)
	post.geo = fitGeo(s)
	return post, nil
}

func (o *Options) defaults(s *Series) error {
	if o.Gas.Name == "" || !(o.Gas.MolarMass > 0) {
		return fmt.Errorf("%w: gas %q with molar mass %g g/mol", ErrInput, o.Gas.Name, o.Gas.MolarMass)
	}
	if o.Response == 0 {
		o.Response = 1
		if r, ok := s.Instrument.Response[o.Gas.Name]; ok {
			o.Response = r
		}
	}
	if !(o.Response > 0) {
		return fmt.Errorf("%w: channel %q does not respond to %s (response %g)", ErrInput, s.Channel, o.Gas.Name, o.Response)
	}
	if o.Stability == nil {
		o.Stability = AroundClass(s.Met.Stability)
	}
	for c, w := range o.Stability {
		if _, _, err := briggs(c, 100); err != nil || !(w >= 0) {
			return fmt.Errorf("%w: stability prior %s: %g", ErrInput, c, w)
		}
	}
	setDefault := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	setDefault(&o.HeightMaxM, 5)
	setDefault(&o.StandoffM, 50)
	setDefault(&o.ClaimLogBF, 3)
	setDefault(&o.QMinKgH, 0.1)
	setDefault(&o.QMaxKgH, 1000)
	if o.QPerDecade == 0 {
		o.QPerDecade = 10
	}
	setDefault(&o.CellM, 10)
	setDefault(&o.FineM, 2)
	setDefault(&o.UpwindM, 300)
	setDefault(&o.MarginM, 50)
	setDefault(&o.Intermittency, 1)
	setDefault(&o.CorrelationM, 10)
	setDefault(&o.DirSigmaDeg, 2)
	setDefault(&o.PriorSource, 0.5)
	if s.Met.AirTempK == 0 {
		s.Met.AirTempK = 293.15
	}
	if s.Met.PressurePa == 0 {
		s.Met.PressurePa = 101325
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"minimum rate", o.QMinKgH}, {"cell", o.CellM}, {"fine cell", o.FineM}, {"intermittency", o.Intermittency}, {"correlation length", o.CorrelationM}, {"direction sigma", o.DirSigmaDeg}} {
		if !(v.v > 0) || math.IsInf(v.v, 0) {
			return fmt.Errorf("%w: %s %g must be positive", ErrInput, v.name, v.v)
		}
	}
	if !(o.QMaxKgH > o.QMinKgH) || o.QPerDecade < 1 || o.QPerDecade > 100 {
		return fmt.Errorf("%w: rate prior [%g, %g] kg/h at %d a decade", ErrInput, o.QMinKgH, o.QMaxKgH, o.QPerDecade)
	}
	if !(o.PriorSource > 0 && o.PriorSource < 1) {
		return fmt.Errorf("%w: prior probability of a source %g", ErrInput, o.PriorSource)
	}
	if !(o.UpwindM >= 0) || !(o.MarginM >= 0) {
		return fmt.Errorf("%w: region extension %g, %g m", ErrInput, o.UpwindM, o.MarginM)
	}
	for _, h := range o.HeightsM {
		if !(h >= 0) || math.IsInf(h, 0) {
			return fmt.Errorf("%w: release height %g m", ErrInput, h)
		}
	}
	if o.HeightsM != nil && len(o.HeightsM) == 0 {
		return fmt.Errorf("%w: no release height", ErrInput)
	}
	if !(o.HeightMaxM > 0) || o.HeightMaxM > 1000 || !(o.StandoffM > 0) || math.IsInf(o.StandoffM, 0) {
		return fmt.Errorf("%w: release heights up to %g m, stand-off %g m", ErrInput, o.HeightMaxM, o.StandoffM)
	}
	return nil
}

// meanWind is the vector mean of the measured wind (or the override), and
// the uncertainty of its direction: the standard error of the mean of a
// stationary series of integral time scale T over a record of D ≫ T,
// σ_θ·√(2T/D) (e.g. Lumley & Panofsky 1964, The Structure of Atmospheric
// Turbulence, or Lenschow, Mann & Kristensen 1994, J. Atmos. Oceanic
// Technol. 11, eq. 18), with T = meanderTimeS; at least o.DirSigmaDeg.
// (Until 2026-11 this was σ_θ·√(T/D), half the variance: the credible
// regions were too narrow across the wind in unstable air.)
func meanWind(s *Series, o Options) (u, from, sigma float64, err error) {
	if o.WindSpeedMS > 0 {
		return o.WindSpeedMS, o.WindFromDeg, o.DirSigmaDeg, nil
	}
	var se, sn, ss float64
	var n int
	for _, q := range s.Samples {
		if math.IsNaN(q.WindSpeedMS) || math.IsNaN(q.WindFromDeg) {
			continue
		}
		a := q.WindFromDeg * math.Pi / 180
		se += math.Sin(a)
		sn += math.Cos(a)
		ss += q.WindSpeedMS
		n++
	}
	if n == 0 || ss <= 0 {
		return 0, 0, 0, fmt.Errorf("%w: series %q has no wind; set Options.WindSpeedMS", ErrInput, s.Channel)
	}
	u = ss / float64(n)
	from = math.Mod(math.Atan2(se, sn)*180/math.Pi+360, 360)
	rbar := math.Hypot(se, sn) / float64(n)
	circ := math.Sqrt(-2*math.Log(math.Min(rbar, 1))) * 180 / math.Pi // circular standard deviation
	dur := s.Samples[len(s.Samples)-1].T - s.Samples[0].T
	neff := math.Max(1, dur/(2*meanderTimeS))
	sigma = math.Max(o.DirSigmaDeg, circ/math.Sqrt(neff))
	return u, from, sigma, nil
}

// meanderTimeS is the integral time scale of the wind direction's
// fluctuations, s: the large-eddy meander's correlation time, 30 s as in
// sim.DefaultTurbulence (a stated assumption there, of the order of the
// tens of seconds to minutes of near-surface large eddies).
const meanderTimeS = 30

// model is the forward model and likelihood of Estimate.
type model struct {
	dat       data
	u, dE, dN float64 // mean wind speed and downwind unit vector
	k         float64
	// dirs are offsets of the wind direction (rad, clockwise) with log
	// prior weights lnPD; broaden is an extra spread of the direction (rad)
	// folded into the plume width instead.
	dirs, lnPD []float64
	broaden    float64
	qs, lnPQ   []float64
	classes    []string
	lnPC       []float64
	// The class×height combinations, ch: class ci's run from chStart[ci]
	// to chStart[ci+1]; chH is the release height (m) and chLnP the log
	// prior of class and height together.
	chStart    []int
	chClass    []int
	chH, chLnP []float64
	// binVar is the variance of a uniform bin of each class's height step,
	// step²/12 (zero for Options.HeightsM), added to σ_z².
	binVar   []float64
	alpha, w float64
	// qlo, qhi bound the rates evaluated (indices into qs); the others
	// have no posterior mass.
	qlo, qhi int
	// Table of the quasi-likelihood's two terms against ln(m/σ), sub steps
	// per step of the rate grid (see quasi), read at the nearest entry: a
	// step is 1/64 of the rate grid's, 0.0036 in ln(m/σ), so ℓ errs by
	// less than 0.002·max(δ, ln t) per sample, with no bias.
	tab     [][2]float64
	tabStep float64
	sub     int
}

// The tables span m/σ from e^tabLo = 10⁻⁴ to e^tabHi ≈ 10¹⁰.
const (
	tabLo = -9.210340371976182 // ln 10⁻⁴
	tabHi = 23.0
)

// quasi is the log quasi-likelihood ratio of a mean m against none for a
// reading d with variance function V(m) = σ² + α²m² (Wedderburn 1974):
//
//	ℓ = ∫₀^m (d − t)/V(t) dt = (δ/α)·atan(α t) − ln(1 + α²t²)/(2α²)
//
// with δ = d/σ and t = m/σ. It returns the two terms, atan(αt)/α and
// ln(1+α²t²)/(2α²), so that ℓ = δ·A − B.
func quasi(alpha, t float64) (a, b float64) {
	return math.Atan(alpha*t) / alpha, math.Log1p(alpha*alpha*t*t) / (2 * alpha * alpha)
}

// quasiTail is quasi beyond the tables, at u = ln t.
func (m *model) quasiTail(u float64) (a, b float64) { return quasi(m.alpha, math.Exp(u)) }

// tables fills the interpolation tables for a rate grid of step dlnQ.
func (m *model) tables(dlnQ float64) {
	m.sub = 64
	m.tabStep = dlnQ / float64(m.sub)
	n := int(math.Ceil((tabHi-tabLo)/m.tabStep)) + 2
	m.tab = make([][2]float64, n)
	for k := range n {
		m.tab[k][0], m.tab[k][1] = quasi(m.alpha, math.Exp(tabLo+float64(k)*m.tabStep))
	}
}

func (m *model) nch() int { return len(m.chH) }

// setHeights lays out the release heights of each class: o.HeightsM, or
// [0, o.HeightMaxM] in equal steps no coarser than the class's σ_z at
// o.StandoffM (at least 0.25 m), at the steps' midpoints. Each height
// stands for its step: the vertical profile is averaged over the step's
// uniform bin to second moment, σ_z² + step²/12 (binVar), so that a source
// between two heights is not forced onto either. The step of one σ_z was
// chosen over half a σ_z (same coverage in class F, 8.5 against 9.0 m
// median error over six seeds, at 1.6 times the cost) and over 1 m (five
// of six flights covered, 10.5 m).
func (m *model) setHeights(o Options) {
	m.chStart, m.chClass, m.chH, m.chLnP, m.binVar = nil, nil, nil, nil, nil
	for ci, c := range m.classes {
		hs := o.HeightsM
		var bv float64
		if hs == nil {
			_, sz, _ := briggs(c, o.StandoffM)
			step := math.Min(o.HeightMaxM, math.Max(0.25, sz))
			n := int(math.Ceil(o.HeightMaxM/step - 1e-9))
			step = o.HeightMaxM / float64(n)
			bv = step * step / 12
			hs = make([]float64, n)
			for k := range hs {
				hs[k] = (float64(k) + 0.5) * step
			}
		}
		m.binVar = append(m.binVar, bv)
		m.chStart = append(m.chStart, len(m.chH))
		for _, h := range hs {
			m.chClass = append(m.chClass, ci)
			m.chH = append(m.chH, h)
			m.chLnP = append(m.chLnP, m.lnPC[ci]-math.Log(float64(len(hs))))
		}
	}
	m.chStart = append(m.chStart, len(m.chH))
}

// withDirections is a copy of m whose wind direction is marginalised over
// offsets of step·σ up to ±span·σ under a normal prior of σ (rad), instead
// of broadening the plume.
func (m *model) withDirections(sigma, step, span float64) *model {
	c := *m
	c.dirs, c.lnPD, c.broaden = nil, nil, 0
	n := int(math.Floor(span / step))
	var w []float64
	for k := -n; k <= n; k++ {
		z := float64(k) * step
		c.dirs = append(c.dirs, z*sigma)
		w = append(w, -z*z/2)
	}
	lz := logSumExp(w)
	for _, v := range w {
		c.lnPD = append(c.lnPD, v-lz)
	}
	return &c
}

type gridResult struct {
	lnZ  []float64 // per cell: ln of the likelihood ratio marginalised over Q, class and height
	seen []bool    // per cell: the flight crossed the core of its plume
	lnQ  []float64 // per cell, per Q (class and height marginalised), prior of Q included
	lnCH []float64 // per cell, per class×height (Q marginalised)
}

// grid evaluates the model on nx×ny cells of side h from (e0, n0).
func (m *model) grid(e0, n0, h float64, nx, ny int) *gridResult {
	nq, nch := len(m.qs), m.nch()
	g := &gridResult{lnZ: make([]float64, nx*ny), seen: make([]bool, nx*ny), lnQ: make([]float64, nx*ny*nq), lnCH: make([]float64, nx*ny*nch)}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	rows := make(chan int, ny)
	for iy := range ny {
		rows <- iy
	}
	close(rows)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := newScratch(len(m.dat.d), nq, nch*len(m.dirs))
			for iy := range rows {
				for ix := range nx {
					i := iy*nx + ix
					m.cell(e0+(float64(ix)+0.5)*h, n0+(float64(iy)+0.5)*h, sc,
						g.lnQ[i*nq:(i+1)*nq], g.lnCH[i*nch:(i+1)*nch], &g.lnZ[i], &g.seen[i])
				}
			}
		}()
	}
	wg.Wait()
	return g
}

type scratch struct {
	ll  []float64 // per direction, class×height, per Q
	idx []int32
	// Per sample in the footprint: the log of its mean per kg/s without
	// the vertical factor, in table steps from the first rate (see cell);
	// 1/σ_z², and ln(√(2π)σ_z).
	base, isz2, lsz []float64
}

func newScratch(n, nq, nch int) *scratch {
	return &scratch{ll: make([]float64, nq*nch), idx: make([]int32, 0, n),
		base: make([]float64, 0, n), isz2: make([]float64, 0, n), lsz: make([]float64, 0, n)}
}

// softplus tabulates ln(1 + e^{−x}) for x in [0, softplusMax], the ground
// reflection's share of the vertical factor, at softplusStep (linear
// interpolation errs by less than step²/32 = 3·10⁻⁵).
const (
	softplusStep = 1.0 / 32
	softplusMax  = 36.0 // e^{−36} ≈ 2·10⁻¹⁶
)

var softplusTab = func() []float64 {
	n := int(softplusMax/softplusStep) + 2
	t := make([]float64, n)
	for k := range t {
		t[k] = math.Log1p(math.Exp(-float64(k) * softplusStep))
	}
	return t
}()

func softplus(x float64) float64 {
	if x >= softplusMax {
		return 0
	}
	u := x / softplusStep
	k := int(u)
	f := u - float64(k)
	return softplusTab[k] + f*(softplusTab[k+1]-softplusTab[k])
}

// cell computes, for a source at (es, ns), the log-likelihood ratio against
// no source for every Q, class and height, and marginalises.
func (m *model) cell(es, ns float64, sc *scratch, lnQ, lnCH []float64, lnZ *float64, seen *bool) {
	nq := len(m.qs)
	core := 0
	clear(sc.ll)
	d := &m.dat
	nch := m.nch()
	for di, th := range m.dirs {
		// The wind turned clockwise by th.
		sn, cs := math.Sin(th), math.Cos(th)
		dE, dN := m.dE*cs+m.dN*sn, m.dN*cs-m.dE*sn
		b2 := m.broaden * m.broaden
		lnQ0 := math.Log(m.qs[0]*m.k/m.u) - tabLo
		for ci, c := range m.classes {
			// Footprint: samples downwind of the cell within 5 σ of the axis.
			sc.idx, sc.base, sc.isz2, sc.lsz = sc.idx[:0], sc.base[:0], sc.isz2[:0], sc.lsz[:0]
			for i := range d.e {
				de, dn := d.e[i]-es, d.n[i]-ns
				x := de*dE + dn*dN
				if x <= 0 || d.z[i] < 0 {
					continue
				}
				y := -de*dN + dn*dE
				xe := math.Max(x, 1)
				sy, sz, _ := briggs(c, xe)
				v := sy*sy + x*x*b2 + d.b2[i]
				if y*y > 25*v {
					continue
				}
				if y*y < 4*v {
					core++
				}
				// ln of ppm per kg/s at the sample without the vertical
				// factor, Gaussian crosswind (DESIGN.md), plus ln Q₀/σ, in
				// steps of the tables.
				sc.idx = append(sc.idx, int32(i))
				sc.base = append(sc.base, lnQ0-y*y/(2*v)-0.5*math.Log(2*math.Pi*v)-d.lsig[i])
				// The class's heights stand for bins of its height step: the
				// vertical profile averaged over a bin, to second moment.
				sz2 := sz*sz + m.binVar[ci]
				sc.isz2 = append(sc.isz2, 1/sz2)
				sc.lsz = append(sc.lsz, 0.5*math.Log(2*math.Pi*sz2))
			}
			for ch := m.chStart[ci]; ch < m.chStart[ci+1]; ch++ {
				hgt := m.chH[ch]
				o := di*nch + ch
				ll := sc.ll[o*nq : (o+1)*nq]
				for k, i := range sc.idx {
					// The vertical factor of the reflected plume in logs:
					// (e^{−(z−h)²/2σ_z²} + e^{−(z+h)²/2σ_z²})/(√(2π)σ_z)
					// = e^{−(z−h)²/2σ_z²}(1 + e^{−2zh/σ_z²})/(√(2π)σ_z).
					z := d.z[i]
					dz := z - hgt
					lv := -dz*dz*sc.isz2[k]/2 + softplus(2*z*hgt*sc.isz2[k]) - sc.lsz[k]
					// The rate grid is log-spaced, so t_j = Q_j·a/σ walks the
					// tables by a whole number of steps: one fractional
					// weight serves every Q.
					pos := (sc.base[k] + lv) / m.tabStep
					if pos <= -float64((nq-1)*m.sub) {
						continue // too faint at every rate
					}
					k0 := int(math.Floor(pos + 0.5))
					delta := d.del[i]
					j0 := m.qlo
					if k0 < 0 {
						// Rates whose mean is below e^tabLo·σ (10⁻⁴ σ) change
						// the likelihood by less than 10⁻⁴: skip them.
						j0 = max(j0, (-k0+m.sub-1)/m.sub)
					}
					// Within the table up to j1, beyond it in closed form.
					j1 := -1
					if k0 < len(m.tab) {
						j1 = min(m.qhi, (len(m.tab)-1-k0)/m.sub)
					}
					tab := m.tab
					for j := j0; j <= j1; j++ {
						t := tab[k0+j*m.sub]
						ll[j] += delta*t[0] - t[1]
					}
					for j := max(j0, j1+1); j <= m.qhi; j++ {
						ta, tb := m.quasiTail(tabLo + float64(k0+j*m.sub)*m.tabStep)
						ll[j] += delta*ta - tb
					}
				}
			}
		}
	}
	// Samples are correlated along the track: each counts for m.w.
	for i := range sc.ll {
		sc.ll[i] *= m.w
	}
	// Seen: at least two samples within 2σ of the axis, for some direction
	// and class.
	*seen = core >= 2
	// Marginalise over direction, class and height for each Q, and over
	// direction and Q for each class and height.
	lw := func(di, ch int) float64 { return m.lnPD[di] + m.chLnP[ch] }
	for j := range nq {
		mx := math.Inf(-1)
		for di := range m.dirs {
			for ch := range nch {
				mx = math.Max(mx, sc.ll[(di*nch+ch)*nq+j]+lw(di, ch))
			}
		}
		var s float64
		for di := range m.dirs {
			for ch := range nch {
				s += math.Exp(sc.ll[(di*nch+ch)*nq+j] + lw(di, ch) - mx)
			}
		}
		lnQ[j] = mx + math.Log(s) + m.lnPQ[j]
		if j < m.qlo || j > m.qhi {
			lnQ[j] = math.Inf(-1)
		}
	}
	*lnZ = logSumExp(lnQ)
	for ch := range nch {
		mx := math.Inf(-1)
		for di := range m.dirs {
			for j := range nq {
				if j >= m.qlo && j <= m.qhi {
					mx = math.Max(mx, sc.ll[(di*nch+ch)*nq+j]+m.lnPQ[j]+m.lnPD[di])
				}
			}
		}
		var s float64
		for di := range m.dirs {
			for j := range nq {
				if j >= m.qlo && j <= m.qhi {
					s += math.Exp(sc.ll[(di*nch+ch)*nq+j] + m.lnPQ[j] + m.lnPD[di] - mx)
				}
			}
		}
		lnCH[ch] = mx + math.Log(s)
	}
}

// briggs returns Briggs' (1973) rural σ_y, σ_z (m) at x m downwind, as
// tabulated in Seinfeld & Pandis table 18.3 (the same fits as sim.Sigmas).
func briggs(class string, x float64) (sy, sz float64, err error) {
	switch class {
	case "A":
		return 0.22 * x / math.Sqrt(1+0.0001*x), 0.20 * x, nil
	case "B":
		return 0.16 * x / math.Sqrt(1+0.0001*x), 0.12 * x, nil
	case "C":
		return 0.11 * x / math.Sqrt(1+0.0001*x), 0.08 * x / math.Sqrt(1+0.0002*x), nil
	case "D":
		return 0.08 * x / math.Sqrt(1+0.0001*x), 0.06 * x / math.Sqrt(1+0.0015*x), nil
	case "E":
		return 0.06 * x / math.Sqrt(1+0.0001*x), 0.03 * x / (1 + 0.0003*x), nil
	case "F":
		return 0.04 * x / math.Sqrt(1+0.0001*x), 0.016 * x / (1 + 0.0003*x), nil
	}
	return 0, 0, fmt.Errorf("%w: stability class %q is not A-F", ErrInput, class)
}

func logSumExp(v []float64) float64 {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, x)
	}
	if math.IsInf(mx, -1) {
		return mx
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - mx)
	}
	return mx + math.Log(s)
}

// hpd marks the smallest set of cells holding a fraction p of the mass,
// given each cell's log-mass (the densest per cell first: for equal cells
// that is the highest-density set).
func hpd(lnMass []float64, p float64) []bool {
	idx := make([]int, len(lnMass))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return lnMass[idx[a]] > lnMass[idx[b]] })
	tot := logSumExp(lnMass)
	in := make([]bool, len(lnMass))
	var acc float64
	for _, i := range idx {
		in[i] = true
		acc += math.Exp(lnMass[i] - tot)
		if acc >= p {
			break
		}
	}
	return in
}
