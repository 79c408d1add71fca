package sim

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// ErrScene is wrapped by errors about an invalid scene description.
var ErrScene = errors.New("sim: bad scene")

// Sensor describes a long-wave infrared imaging spectrometer.
type Sensor struct {
	Bands          int     // number of bands, evenly spaced in wavelength
	MinUM, MaxUM   float64 // first and last band centre, µm
	FWHMFactor     float64 // band FWHM as a multiple of the band spacing
	NESR           float64 // noise-equivalent spectral radiance, W/(m²·sr·µm)
	BadBands       []int   // dead bands: pure noise, flagged in the header's bbl
	AltitudeMeters float64 // above ground
}

// Wavelengths returns the band centres and FWHMs in µm.
func (s Sensor) Wavelengths() (centres, fwhm []float64) {
	centres = make([]float64, s.Bands)
	fwhm = make([]float64, s.Bands)
	step := 0.0
	if s.Bands > 1 {
		step = (s.MaxUM - s.MinUM) / float64(s.Bands-1)
	}
	for i := range centres {
		centres[i] = s.MinUM + float64(i)*step
		fwhm[i] = s.FWHMFactor * step
	}
	return centres, fwhm
}

// Weather is the state of the atmosphere during a pass.
type Weather struct {
	WindSpeed   float64 `json:"wind_speed_ms"` // m/s at plume height
	WindFromDeg float64 `json:"wind_from_deg"` // direction the wind blows from, degrees clockwise from north
	Stability   string  `json:"stability"`     // Pasquill–Gifford class A (very unstable) to F (very stable)
	AirTempK    float64 `json:"air_temp_k"`    // air (and plume) temperature
	PressurePa  float64 `json:"pressure_pa"`   // surface pressure
}

// Source is an emitter of one or more gases.
type Source struct {
	Name string `json:"name"`
	// East, North locate the source in metres from the scene's upper-left corner
	// (North is negative going down the image).
	East  float64 `json:"east_m"`
	North float64 `json:"north_m"`
	// Rates maps a library gas name to its emission rate in kg/h.
	Rates map[string]float64 `json:"rates_kg_h"`
	// HeightM is the release height above ground (a window, a chimney), m.
	HeightM float64 `json:"height_m,omitempty"`
	// Schedule lists when the source emits; empty means always. Vapour
	// signatures are transient: a laboratory emits while it cooks.
	Schedule []Interval `json:"schedule,omitempty"`
}

// Interval is a span of time [From, To).
type Interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ActiveAt reports whether the source emits at t.
func (s Source) ActiveAt(t time.Time) bool {
	if len(s.Schedule) == 0 {
		return true
	}
	for _, iv := range s.Schedule {
		if !t.Before(iv.From) && t.Before(iv.To) {
			return true
		}
	}
	return false
}

// Scene is a synthetic survey granule: ground, weather, sources and sensor.
type Scene struct {
	Samples, Lines int
	GSD            float64 // ground sample distance, m
	// UTM of the upper-left corner of the upper-left pixel.
	UTMZone  int
	North    bool
	Easting  float64
	Northing float64
	Sensor   Sensor
	Weather  Weather
	Sources  []Source
	// Start is when the first line is acquired; the sensor sweeps one line
	// every GSD/SpeedMS seconds (pushbroom), so a plume moves and meanders
	// during the acquisition. Zero: DefaultStart.
	Start   time.Time
	SpeedMS float64 // platform ground speed, m/s (default 10)
	// Turbulence of the plumes; nil: DefaultTurbulence of the stability
	// class. &Turbulence{} gives the ensemble-mean plume.
	Turbulence *Turbulence
	// Seed makes the noise, the turbulence and the ground's temperature
	// texture; GroundSeed (default Seed) lays out the ground cover, so
	// passes over the same area share it.
	Seed          uint64
	GroundSeed    uint64
	TempContrastK float64 // mean ground-minus-air temperature of bare ground
	TextureK      float64 // standard deviation of ground temperature texture
	gases         []string
	k             [][]float64 // per gas, per band natural-log absorption per ppm·m
}

// DefaultStart is the acquisition time of scenes that do not say: late
// morning in Colombia (UTC−5), when the ground has warmed.
var DefaultStart = time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)

func (sc *Scene) start() time.Time {
	if sc.Start.IsZero() {
		return DefaultStart
	}
	return sc.Start
}

func (sc *Scene) lineSeconds() float64 {
	v := sc.SpeedMS
	if v <= 0 {
		v = 10
	}
	return sc.GSD / v
}

// LineTime returns when line y is acquired.
func (sc *Scene) LineTime(y int) time.Time {
	return sc.start().Add(time.Duration(float64(y) * sc.lineSeconds() * float64(time.Second)))
}

// Gases returns the library names of the gases the scene's sources emit (at
// any time), in the order of the truth cube's bands.
func (sc *Scene) Gases() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range sc.Sources {
		for g := range s.Rates {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (sc *Scene) validate() error {
	switch {
	case sc.Samples <= 0 || sc.Lines <= 0:
		return fmt.Errorf("%w: size %d×%d must be positive", ErrScene, sc.Samples, sc.Lines)
	case sc.GSD <= 0:
		return fmt.Errorf("%w: gsd %g m must be positive", ErrScene, sc.GSD)
	case sc.Sensor.Bands < 2 || sc.Sensor.MinUM <= 0 || sc.Sensor.MaxUM <= sc.Sensor.MinUM:
		return fmt.Errorf("%w: sensor %d bands %g–%g µm", ErrScene, sc.Sensor.Bands, sc.Sensor.MinUM, sc.Sensor.MaxUM)
	case sc.Sensor.NESR < 0:
		return fmt.Errorf("%w: sensor NESR %g is negative", ErrScene, sc.Sensor.NESR)
	case sc.Weather.WindSpeed <= 0:
		return fmt.Errorf("%w: wind speed %g m/s must be positive", ErrScene, sc.Weather.WindSpeed)
	case sc.Weather.AirTempK < 150 || sc.Weather.AirTempK > 350:
		return fmt.Errorf("%w: air temperature %g K is implausible", ErrScene, sc.Weather.AirTempK)
	case sc.UTMZone < 1 || sc.UTMZone > 60:
		return fmt.Errorf("%w: UTM zone %d is not 1-60", ErrScene, sc.UTMZone)
	}
	if _, err := briggsSigmaY(sc.Weather.Stability, 100); err != nil {
		return err
	}
	for _, b := range sc.Sensor.BadBands {
		if b < 0 || b >= sc.Sensor.Bands {
			return fmt.Errorf("%w: bad band %d outside 0-%d", ErrScene, b, sc.Sensor.Bands-1)
		}
	}
	return nil
}

// Header returns the ENVI header of the radiance cube the scene renders:
// float32 BIL, wavelengths and FWHM in micrometres, bad-band list and UTM map
// info.
func (sc *Scene) Header() *cube.Header {
	c, f := sc.Sensor.Wavelengths()
	bbl := make([]bool, sc.Sensor.Bands)
	for i := range bbl {
		bbl[i] = true
	}
	for _, b := range sc.Sensor.BadBands {
		bbl[b] = false
	}
	return &cube.Header{
		Samples: sc.Samples, Lines: sc.Lines, Bands: sc.Sensor.Bands,
		DataType: cube.Float32, Interleave: cube.BIL,
		Wavelength: c, FWHM: f, WavelengthUnits: "Micrometers", BBL: bbl,
		Description: fmt.Sprintf("Atalaya simulated LWIR radiance, W/(m2 sr um); seed %d", sc.Seed),
		MapInfo:     sc.mapInfo(),
	}
}

// TruthHeader returns the header of the truth cube: one float32 band of
// concentration-pathlength (ppm·m) per gas, named after the gas.
func (sc *Scene) TruthHeader() *cube.Header {
	g := sc.Gases()
	return &cube.Header{
		Samples: sc.Samples, Lines: sc.Lines, Bands: max(len(g), 1),
		DataType: cube.Float32, Interleave: cube.BSQ,
		BandNames:   truthBandNames(g),
		Description: "Atalaya simulation ground truth: concentration-pathlength per gas, ppm*m",
		MapInfo:     sc.mapInfo(),
	}
}

func truthBandNames(g []string) []string {
	if len(g) == 0 {
		return []string{"none"}
	}
	return append([]string(nil), g...)
}

func (sc *Scene) mapInfo() *cube.MapInfo {
	return &cube.MapInfo{
		Projection: "UTM", RefX: 1, RefY: 1, Easting: sc.Easting, Northing: sc.Northing,
		PixelX: sc.GSD, PixelY: sc.GSD, Zone: sc.UTMZone, North: sc.North, Datum: "WGS-84", Units: "Meters",
	}
}

// prepare resamples the gases of the scene to the sensor's bands.
func (sc *Scene) prepare(lib *spectra.Library) error {
	if err := sc.validate(); err != nil {
		return err
	}
	centres, fwhm := sc.Sensor.Wavelengths()
	sc.gases = sc.Gases()
	sc.k = make([][]float64, len(sc.gases))
	for i, g := range sc.gases {
		e, err := lib.Get(g)
		if err != nil {
			return fmt.Errorf("sim: source gas: %w", err)
		}
		k, err := e.Resample(centres, fwhm)
		if err != nil {
			return fmt.Errorf("sim: resample %s to the sensor: %w", g, err)
		}
		sc.k[i] = k
	}
	return nil
}

// field returns the gas field of the scene's sources (each emitting on its
// own schedule), with every gas of the scene in the scene's order.
func (sc *Scene) field(lib *spectra.Library) (*Field, error) {
	active := append([]Source(nil), sc.Sources...)
	// Zero-rate placeholders keep every gas in the field's order.
	zero := Source{Name: "gases", Rates: map[string]float64{}}
	for _, g := range sc.gases {
		zero.Rates[g] = 0
	}
	active = append(active, zero)
	turb := sc.Turbulence
	if turb == nil {
		t, err := DefaultTurbulence(sc.Weather.Stability)
		if err != nil {
			return nil, err
		}
		turb = &t
	}
	return NewField(sc.Weather, *turb, active, lib, sc.start(), sc.Seed)
}

// Render simulates the scene block by block (blockLines lines at a time),
// calling emit with the radiance block and the truth block (ppm·m per gas)
// for each. Memory is bounded by the block size. The blocks are reused
// between calls.
func (sc *Scene) Render(lib *spectra.Library, blockLines int, emit func(radiance, truth *cube.Cube) error) error {
	if err := sc.prepare(lib); err != nil {
		return err
	}
	if blockLines <= 0 {
		blockLines = 64
	}
	nb := sc.Sensor.Bands
	ng := len(sc.gases)
	centres, _ := sc.Sensor.Wavelengths()
	atm := newAtmosphere(centres, sc.Weather.AirTempK)
	mats := materials(centres)
	gs := sc.GroundSeed
	if gs == 0 {
		gs = sc.Seed
	}
	ground := newGroundModel(gs, sc.Seed)
	bad := make([]bool, nb)
	for _, b := range sc.Sensor.BadBands {
		bad[b] = true
	}
	field, err := sc.field(lib)
	if err != nil {
		return err
	}
	bPlume := make([]float64, nb)
	for b, lam := range centres {
		bPlume[b] = spectra.PlanckWavelength(lam, sc.Weather.AirTempK)
	}
	// Ground temperatures lie within a few times the contrast and the
	// texture of the air temperature.
	span := 3*math.Abs(sc.TempContrastK) + 6*sc.TextureK + 5
	planck := newPlanckTable(centres, sc.Weather.AirTempK-span, sc.Weather.AirTempK+span)
	rad := cube.New(image.Rect(0, 0, sc.Samples, min(blockLines, sc.Lines)), nb)
	tru := cube.New(image.Rect(0, 0, sc.Samples, min(blockLines, sc.Lines)), max(ng, 1))
	for y0 := 0; y0 < sc.Lines; y0 += blockLines {
		y1 := min(y0+blockLines, sc.Lines)
		r := image.Rect(0, y0, sc.Samples, y1)
		rad.Rect, tru.Rect = r, r
		rad.Pix = rad.Pix[:r.Dy()*rad.Stride]
		tru.Pix = tru.Pix[:r.Dy()*tru.Stride]
		// Lines are independent: render them on every core.
		workers := min(runtime.GOMAXPROCS(0), y1-y0)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				col := make([]float64, max(ng, 1))
				optDepth, bGround := make([]float64, nb), make([]float64, nb)
				for y := y0 + w; y < y1; y += workers {
					if err := sc.renderLine(y, rad, tru, ground, mats, atm, planck, field, bad, bPlume, col, optDepth, bGround); err != nil {
						errs[w] = err
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := emit(rad, tru); err != nil {
			return err
		}
	}
	return nil
}

// renderLine renders line y into the radiance and truth blocks.
func (sc *Scene) renderLine(y int, rad, tru *cube.Cube, ground groundModel, mats [numMaterials]material, atm atmosphere,
	planck *planckTable, field *Field, bad []bool, bPlume, col, optDepth, bGround []float64) error {
	nb, ng := sc.Sensor.Bands, len(sc.gases)
	// The noise stream of each line depends only on the seed and the line,
	// so any block size and any number of workers render the same scene.
	rng := rand.New(rand.NewPCG(sc.Seed, uint64(y)+1))
	north := -(float64(y) + 0.5) * sc.GSD
	tLine := sc.LineTime(y)
	for x := 0; x < sc.Samples; x++ {
		east := (float64(x) + 0.5) * sc.GSD
		m, tex := ground.at(east, north)
		tg := sc.Weather.AirTempK + mats[m].deltaK*sc.TempContrastK + sc.TextureK*tex
		if err := field.ColumnPPMm(tLine, east, north, sc.GSD, col); err != nil {
			return err
		}
		tp := tru.Pix[tru.PixOffset(x, y):]
		for g := 0; g < ng; g++ {
			tp[g] = float32(col[g])
		}
		clear(optDepth)
		for g := 0; g < ng; g++ {
			if col[g] == 0 {
				continue
			}
			for b, kb := range sc.k[g] {
				optDepth[b] += kb * col[g]
			}
		}
		px := rad.Pix[rad.PixOffset(x, y):]
		eps := mats[m].emissivity
		planck.fill(tg, bGround)
		for b := 0; b < nb; b++ {
			if bad[b] {
				px[b] = float32(atm.path[b] + 50*sc.Sensor.NESR*rng.NormFloat64())
				continue
			}
			lg := eps[b]*bGround[b] + (1-eps[b])*atm.down[b]
			l := atm.tau[b]*lg + atm.path[b]
			if od := optDepth[b]; od != 0 {
				tr := math.Exp(-od)
				l = atm.tau[b]*(lg*tr+bPlume[b]*(1-tr)) + atm.path[b]
			}
			px[b] = float32(l + sc.Sensor.NESR*rng.NormFloat64())
		}
	}
	return nil
}

// planckTable tabulates Planck radiance per band on a fine temperature grid,
// so that a scene's hundreds of millions of ground radiances cost a linear
// interpolation each instead of an exponential. With 0.05 K steps the
// interpolation error is ΔT²/8·∂²B/∂T², below 10⁻⁶ of B in 7–14 µm at
// 250–350 K, three orders below any sensor's noise.
type planckTable struct {
	t0, dt  float64
	nb      int
	v       []float64 // [temperature step][band]
	centres []float64
}

func newPlanckTable(centres []float64, tmin, tmax float64) *planckTable {
	const dt = 0.05
	n := int(math.Ceil((tmax-tmin)/dt)) + 2
	p := &planckTable{t0: tmin, dt: dt, nb: len(centres), v: make([]float64, n*len(centres)), centres: centres}
	for i := 0; i < n; i++ {
		t := tmin + float64(i)*dt
		for b, lam := range centres {
			p.v[i*p.nb+b] = spectra.PlanckWavelength(lam, t)
		}
	}
	return p
}

// fill sets dst[b] = B(λ_b, T), interpolated; outside the table it is
// computed exactly.
func (p *planckTable) fill(t float64, dst []float64) {
	f := (t - p.t0) / p.dt
	i := int(math.Floor(f))
	if f < 0 || (i+2)*p.nb > len(p.v) {
		for b := range dst {
			dst[b] = spectra.PlanckWavelength(p.centres[b], t)
		}
		return
	}
	w := f - float64(i)
	lo, hi := p.v[i*p.nb:(i+1)*p.nb], p.v[(i+1)*p.nb:(i+2)*p.nb]
	for b := range dst {
		dst[b] = lo[b] + w*(hi[b]-lo[b])
	}
}

// atmosphere is a simple clear-sky model for a low-flying drone: high
// transmittance in the 8–12 µm window, falling at the water-vapour edges;
// path and downwelling radiance from an isothermal atmosphere at air
// temperature (L_path = (1−τ)·B(T_air)).
type atmosphere struct {
	tau, path, down []float64
}

func newAtmosphere(centres []float64, airK float64) atmosphere {
	n := len(centres)
	a := atmosphere{tau: make([]float64, n), path: make([]float64, n), down: make([]float64, n)}
	for i, lam := range centres {
		// Window transmittance of a few hundred metres of humid air; the
		// logistic edges stand in for the 6.3 µm water band and the water
		// continuum beyond 12.5 µm.
		t := 0.96 - 0.25/(1+math.Exp(-(lam-12.9)/0.25)) - 0.3/(1+math.Exp((lam-7.8)/0.12))
		t = math.Max(t, 0.05)
		b := spectra.PlanckWavelength(lam, airK)
		a.tau[i] = t
		a.path[i] = (1 - t) * b
		// The whole sky is far thicker than the drone's path: an effective
		// transmittance t^8 gives a window sky emissivity of about 0.3.
		a.down[i] = (1 - math.Pow(t, 8)) * b
	}
	return a
}

// material is a ground cover class.
type material struct {
	name       string
	emissivity []float64
	deltaK     float64 // temperature above air, as a fraction of the scene's contrast
}

const (
	matVegetation = iota
	matSoil
	matAsphalt
	matConcrete
	matMetal
	matWater
	numMaterials
)

// materials returns emissivity spectra of typical tropical ground covers and
// their temperature above air as a fraction of the scene's contrast (sunlit
// canopy a few kelvin above air at midday, bare soil and roofs far more,
// water slightly below),
// shaped after the ASTER/ECOSTRESS spectral library's broad features: flat
// near-blackbody vegetation and water, quartz reststrahlen bands at 8.2 and
// 9.2 µm in soil, a carbonate feature at 11.3 µm in concrete, and
// low-emissivity bare metal roofing.
func materials(centres []float64) [numMaterials]material {
	g := func(lam, c, w float64) float64 { d := (lam - c) / w; return math.Exp(-d * d) }
	var m [numMaterials]material
	spec := func(f func(lam float64) float64) []float64 {
		out := make([]float64, len(centres))
		for i, lam := range centres {
			out[i] = f(lam)
		}
		return out
	}
	m[matVegetation] = material{"vegetation", spec(func(l float64) float64 { return 0.975 }), 0.35}
	m[matSoil] = material{"soil", spec(func(l float64) float64 {
		return 0.96 - 0.10*g(l, 8.25, 0.25) - 0.08*g(l, 9.2, 0.25)
	}), 1}
	m[matAsphalt] = material{"asphalt", spec(func(l float64) float64 { return 0.95 - 0.01*g(l, 9.0, 0.5) }), 1.6}
	m[matConcrete] = material{"concrete", spec(func(l float64) float64 {
		return 0.93 - 0.04*g(l, 9.0, 0.4) - 0.05*g(l, 11.3, 0.1)
	}), 1.3}
	m[matMetal] = material{"metal", spec(func(l float64) float64 { return 0.25 + 0.01*l }), 2.0}
	m[matWater] = material{"water", spec(func(l float64) float64 { return 0.985 - 0.01*g(l, 12.5, 1.5) }), -0.2}
	return m
}

// groundModel lays out ground cover as smooth random fields so the scene has
// fields, bare patches, roads, roofs and water rather than white noise.
type groundModel struct {
	cover, texture noiseField
	roofs          noiseField
}

// The ground's scales are in metres, so passes at different altitudes see
// the same ground: fields and patches of about 80 m, roofs of about 10 m,
// temperature texture of about 12 m.
func newGroundModel(coverSeed, textureSeed uint64) groundModel {
	return groundModel{
		cover:   newNoiseField(coverSeed^0x9e3779b97f4a7c15, 80),
		texture: newNoiseField(textureSeed^0xbf58476d1ce4e5b9, 12),
		roofs:   newNoiseField(coverSeed^0x94d049bb133111eb, 10),
	}
}

// at returns the material at a point and the temperature texture there, a
// smooth field in [-1, 1].
func (g groundModel) at(east, north float64) (int, float64) {
	c := g.cover.at(east, -north)
	r := g.roofs.at(east, -north)
	var m int
	switch {
	case c < -0.55:
		m = matWater
	case c < 0.05:
		m = matVegetation
	case c < 0.35:
		m = matSoil
	default:
		// Built-up: roofs of concrete or metal, asphalt between.
		switch {
		case r > 0.35:
			m = matMetal
		case r > 0.05:
			m = matConcrete
		default:
			m = matAsphalt
		}
	}
	return m, g.texture.at(east, -north)
}

// noiseField is deterministic smooth value noise in [-1, 1] with three octaves.
type noiseField struct {
	seed  uint64
	scale float64 // metres per lattice cell of the coarsest octave
}

func newNoiseField(seed uint64, scaleM float64) noiseField {
	return noiseField{seed: seed, scale: scaleM}
}

func (f noiseField) at(x, y float64) float64 {
	v, amp, sum := 0.0, 1.0, 0.0
	s := f.scale
	for o := uint64(0); o < 3; o++ {
		v += amp * f.lattice(x/s, y/s, o)
		sum += amp
		amp *= 0.5
		s *= 0.5
	}
	return v / sum
}

func (f noiseField) lattice(x, y float64, octave uint64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := smooth(x-x0), smooth(y-y0)
	ix, iy := int64(x0), int64(y0)
	h := func(i, j int64) float64 {
		z := f.seed ^ (uint64(i) * 0x9e3779b97f4a7c15) ^ (uint64(j) * 0xc2b2ae3d27d4eb4f) ^ (octave * 0x165667b19e3779f9)
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		return float64(z>>11)/float64(1<<53)*2 - 1
	}
	a := h(ix, iy) + fx*(h(ix+1, iy)-h(ix, iy))
	b := h(ix, iy+1) + fx*(h(ix+1, iy+1)-h(ix, iy+1))
	return a + fy*(b-a)
}

func smooth(t float64) float64 { return t * t * (3 - 2*t) }

// briggsSigmaY is the crosswind plume width (m) at downwind distance x (m)
// for Briggs' (1973) rural fits to the Pasquill–Gifford curves, as tabulated
// in Seinfeld & Pandis, Atmospheric Chemistry and Physics, table 18.3.
func briggsSigmaY(class string, x float64) (float64, error) {
	var a float64
	switch strings.ToUpper(class) {
	case "A":
		a = 0.22
	case "B":
		a = 0.16
	case "C":
		a = 0.11
	case "D", "":
		a = 0.08
	case "E":
		a = 0.06
	case "F":
		a = 0.04
	default:
		return 0, fmt.Errorf("%w: stability class %q is not A-F", ErrScene, class)
	}
	return a * x / math.Sqrt(1+0.0001*x), nil
}

// NearestSource returns the index of the source whose plume axis (the
// downwind half-line from the source under the scene's wind) passes closest
// to the centre of pixel (x, y) — upwind of a source, the distance to the
// source itself — or −1 if the scene has no source. With sources far apart
// it says which plume a pixel's gas belongs to.
func (sc *Scene) NearestSource(x, y int) int {
	e, n := (float64(x)+0.5)*sc.GSD, -(float64(y)+0.5)*sc.GSD
	best, idx := math.Inf(1), -1
	heading := (sc.Weather.WindFromDeg + 180) * math.Pi / 180
	de, dn := math.Sin(heading), math.Cos(heading)
	for i, s := range sc.Sources {
		dx, dy := e-s.East, n-s.North
		along := dx*de + dy*dn
		d := math.Abs(-dx*dn + dy*de)
		if along < 0 {
			d = math.Hypot(along, d)
		}
		if d < best {
			best, idx = d, i
		}
	}
	return idx
}
