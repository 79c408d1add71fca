package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrSensor is wrapped by errors about an invalid point sensor.
var ErrSensor = errors.New("sim: bad point sensor")

// PointSensor is one channel of a point gas sensor carried by a drone: a
// photoionisation detector, an electrochemical cell, an open-path laser.
// The reading is
//
//	r(t) = Q( lag_τ[ Σ_g s_g c_g ](t) + b(t) + n(t) )
//
// with c_g the concentration of gas g at the inlet (ppm), s_g the channel's
// sensitivity to it, lag_τ a first-order low-pass of time constant τ, b a
// baseline that starts at OffsetPPM and drifts as a random walk, n white
// noise and Q the clipping to MaxPPM and the rounding to ResolutionPPM.
type PointSensor struct {
	// Name names the channel: letters, digits and "_.+-"; its column in a
	// trace is <Name>_ppm.
	Name string
	// Response maps a library gas name to the channel's reading in ppm per
	// ppm of that gas. The target gas is usually 1; other entries are
	// cross-sensitivities. Gases not listed are not seen.
	Response map[string]float64
	// TimeConstantS is τ of the first-order response, s (0: instantaneous).
	// A datasheet's T90 is τ·ln 10.
	TimeConstantS float64
	// NoisePPM is the standard deviation of the white noise of each sample,
	// ppm, at the rate the trace is sampled.
	NoisePPM float64
	// OffsetPPM is the baseline at the start of the flight (zero error), and
	// DriftPPMPerRootHour the standard deviation of its random walk after
	// one hour, ppm.
	OffsetPPM           float64
	DriftPPMPerRootHour float64
	// ResolutionPPM is the quantisation step of the output (0: none), and
	// MaxPPM the top of its range (0: none).
	ResolutionPPM float64
	MaxPPM        float64
}

func (s PointSensor) validate() error {
	if err := checkName(s.Name); err != nil {
		return fmt.Errorf("%w: channel %q: %w", ErrSensor, s.Name, err)
	}
	if strings.HasPrefix(s.Name, "truth_") {
		return fmt.Errorf("%w: channel %q: the prefix truth_ is reserved", ErrSensor, s.Name)
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"time constant", s.TimeConstantS}, {"noise", s.NoisePPM}, {"drift", s.DriftPPMPerRootHour}, {"resolution", s.ResolutionPPM}, {"range", s.MaxPPM}} {
		if !(v.v >= 0) || math.IsInf(v.v, 0) {
			return fmt.Errorf("%w: channel %q: %s %g must be finite and non-negative", ErrSensor, s.Name, v.name, v.v)
		}
	}
	if math.IsNaN(s.OffsetPPM) || math.IsInf(s.OffsetPPM, 0) {
		return fmt.Errorf("%w: channel %q: offset %g", ErrSensor, s.Name, s.OffsetPPM)
	}
	for g, r := range s.Response {
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return fmt.Errorf("%w: channel %q: response to %s = %g", ErrSensor, s.Name, g, r)
		}
	}
	return nil
}

// checkName accepts the names of channels and gases that can stand in a
// column name: letters, digits and "_.+-".
func checkName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.+-", c) >= 0) {
			return fmt.Errorf("character %q at %d: names use letters, digits and _.+-", c, i)
		}
	}
	return nil
}

// String describes the sensor on one line, for a trace's metadata.
func (s PointSensor) String() string {
	gases := make([]string, 0, len(s.Response))
	for g := range s.Response {
		gases = append(gases, g)
	}
	sort.Strings(gases)
	var b strings.Builder
	fmt.Fprintf(&b, "tau_s=%g noise_ppm=%g offset_ppm=%g drift_ppm_per_root_h=%g resolution_ppm=%g max_ppm=%g response=",
		s.TimeConstantS, s.NoisePPM, s.OffsetPPM, s.DriftPPMPerRootHour, s.ResolutionPPM, s.MaxPPM)
	for i, g := range gases {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s:%g", g, s.Response[g])
	}
	return b.String()
}

// PID is a photoionisation detector with a 10.6 eV lamp calibrated on
// isobutylene, reading in isobutylene-equivalent ppm. Its sensitivity to a
// gas is 1/CF, CF the manufacturer's correction factor: acetone 0.7,
// ammonia 8.5, benzene 0.5, toluene 0.51, ethanol 8.7, xylenes 0.43,
// 1,3-butadiene 0.85, vinyl chloride 2.2 (Ion Science's published list).
// Methane, ethane and methanol are above the lamp's 10.6 eV and are not seen.
// τ = 2 s is an assumption for a sensor of T90 ≈ 2 s behind a short inlet;
// the noise (0.05 ppm), 0.1 ppm resolution, 15 000 ppm range and drift
// (0.1 ppm/√h) are typical of handheld PIDs (stated assumptions).
func PID(name string) PointSensor {
	return PointSensor{
		Name: name,
		Response: map[string]float64{
			"acetone": 1 / 0.7, "ammonia": 1 / 8.5, "benzene": 1 / 0.5, "toluene": 1 / 0.51,
			"ethanol": 1 / 8.7, "1_2-dimethylbenzene": 1 / 0.43, "1_3-dimethylbenzene": 1 / 0.43,
			"1_4-dimethylbenzene": 1 / 0.43, "1_3-butadiene": 1 / 0.85, "vinyl_chloride": 1 / 2.2,
		},
		TimeConstantS:       2,
		NoisePPM:            0.05,
		DriftPPMPerRootHour: 0.1,
		ResolutionPPM:       0.1,
		MaxPPM:              15000,
	}
}

// ElectrochemicalNH3 is an ammonia electrochemical cell. Its response time,
// T90 < 45 s (Dräger NH3 TL data sheet), gives τ = 45/ln 10 ≈ 19.5 s; the
// zero repeatability of ±1 ppm there sets the offset scale. The white noise
// (0.3 ppm), 1 ppm resolution, 300 ppm range, drift (0.5 ppm/√h) and the
// cross-sensitivities to hydrogen sulfide (0.2) and ethanol (0.01) are
// illustrative assumptions: replace them with the table of the cell flown.
func ElectrochemicalNH3(name string) PointSensor {
	return PointSensor{
		Name:                name,
		Response:            map[string]float64{"ammonia": 1, "hydrogen_sulfide": 0.2, "ethanol": 0.01},
		TimeConstantS:       45 / math.Ln10,
		NoisePPM:            0.3,
		DriftPPMPerRootHour: 0.5,
		ResolutionPPM:       1,
		MaxPPM:              300,
	}
}

// OpenPathLaser is an open-path laser absorption sensor of one gas: its
// short, open path is effectively a point, it sees only its line
// (sensitivity 1 to the target, none to others), responds within 0.1 s and
// has 0.02 ppm noise at 0.001 ppm resolution (stated assumptions for a
// drone-borne tunable-diode or quantum-cascade instrument).
func OpenPathLaser(name, gas string) PointSensor {
	return PointSensor{
		Name:                name,
		Response:            map[string]float64{gas: 1},
		TimeConstantS:       0.1,
		NoisePPM:            0.02,
		DriftPPMPerRootHour: 0.01,
		ResolutionPPM:       0.001,
	}
}

// Anemometer is the drone's wind measurement: the true wind at the drone
// (the field's mean speed and meandering direction) plus a fixed bias and
// white noise per sample. The drone's own motion is assumed removed.
type Anemometer struct {
	SpeedBiasMS, SpeedNoiseMS float64
	DirBiasDeg, DirNoiseDeg   float64
}

// TraceConfig is a simulated survey with point sensors.
type TraceConfig struct {
	Flight     Flight
	Field      *Field
	Sensors    []PointSensor
	Anemometer Anemometer
	RateHz     float64 // samples per second, e.g. 10
	// Geo, if not nil, gives latitude and longitude (degrees) of a point in
	// scene metres; without it they are NaN (empty in the CSV).
	Geo  func(east, north float64) (lat, lon float64)
	Seed uint64 // sensor and anemometer noise; the field has its own
}

// MetaField is one "# key: value" line of a trace's metadata.
type MetaField struct {
	Key, Value string
}

// Trace is a point-sensor record of a flight, in the form of
// docs/point-sensor-trace.md.
type Trace struct {
	Meta     []MetaField
	Channels []string // one reading per channel per sample, ppm
	Gases    []string // truth columns (none for field data)
	Samples  []TraceSample
}

// TraceSample is one row of a trace. Optional values are NaN when unknown.
type TraceSample struct {
	Time                     time.Time
	East, North              float64   // scene metres
	Lat, Lon                 float64   // degrees, optional
	AltitudeAGL              float64   // m
	HeadingDeg               float64   // track, degrees clockwise from north, optional
	Line                     int       // survey line, −1 on transit
	WindSpeedMS, WindFromDeg float64   // measured, optional
	Readings                 []float64 // per channel, ppm; NaN for a dropout
	// Truth is the noise-free instantaneous concentration of each gas at the
	// inlet, ppm, the input of the sensors' lag.
	Truth []float64
}

// Value returns the value of the first metadata field of key, if any.
func (tr *Trace) Value(key string) (string, bool) {
	for _, m := range tr.Meta {
		if m.Key == key {
			return m.Value, true
		}
	}
	return "", false
}

// SimulateTrace flies cfg.Flight through cfg.Field and records every
// channel of cfg.Sensors at cfg.RateHz. The same configuration and seeds give
// the same trace.
func SimulateTrace(cfg TraceConfig) (*Trace, error) {
	if cfg.Field == nil {
		return nil, fmt.Errorf("%w: trace of flight %q without a field", ErrFlight, cfg.Flight.Name)
	}
	seen := map[string]bool{}
	for _, s := range cfg.Sensors {
		if err := s.validate(); err != nil {
			return nil, err
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("%w: two channels named %q", ErrSensor, s.Name)
		}
		seen[s.Name] = true
	}
	a := cfg.Anemometer
	for _, v := range []float64{a.SpeedBiasMS, a.SpeedNoiseMS, a.DirBiasDeg, a.DirNoiseDeg} {
		if math.IsNaN(v) || math.IsInf(v, 0) || a.SpeedNoiseMS < 0 || a.DirNoiseDeg < 0 {
			return nil, fmt.Errorf("%w: anemometer %+v", ErrSensor, a)
		}
	}
	poses, err := cfg.Flight.Poses(cfg.RateHz)
	if err != nil {
		return nil, err
	}
	f := cfg.Field
	gases := f.Gases()
	for _, g := range gases {
		if checkName(g) != nil {
			return nil, fmt.Errorf("%w: gas %q cannot name a column", ErrSensor, g)
		}
	}
	tr := &Trace{Meta: traceMeta(cfg), Gases: gases, Samples: make([]TraceSample, len(poses))}
	for _, s := range cfg.Sensors {
		tr.Channels = append(tr.Channels, s.Name)
	}
	windRng := rand.New(rand.NewPCG(cfg.Seed, 0x77696e64)) // "wind"
	chans := make([]channel, len(cfg.Sensors))
	for c, s := range cfg.Sensors {
		chans[c] = newChannel(s, gases, cfg.Seed, uint64(c))
	}
	for k, p := range poses {
		s := TraceSample{
			Time: p.Time, East: p.East, North: p.North, AltitudeAGL: p.AltitudeAGL,
			HeadingDeg: p.HeadingDeg, Line: p.Line, Lat: math.NaN(), Lon: math.NaN(),
			Truth: make([]float64, len(gases)), Readings: make([]float64, len(cfg.Sensors)),
		}
		if cfg.Geo != nil {
			s.Lat, s.Lon = cfg.Geo(p.East, p.North)
		}
		if err := f.PPM(p.Time, p.East, p.North, p.AltitudeAGL, s.Truth); err != nil {
			return nil, fmt.Errorf("sim: flight %q sample %d: %w", cfg.Flight.Name, k, err)
		}
		speed, from, err := f.WindAt(p.Time)
		if err != nil {
			return nil, fmt.Errorf("sim: flight %q sample %d: %w", cfg.Flight.Name, k, err)
		}
		s.WindSpeedMS = math.Max(0, speed+a.SpeedBiasMS+a.SpeedNoiseMS*windRng.NormFloat64())
		s.WindFromDeg = wrapDeg(from + a.DirBiasDeg + a.DirNoiseDeg*windRng.NormFloat64())
		dt := 0.0
		if k > 0 {
			dt = p.Time.Sub(poses[k-1].Time).Seconds()
		}
		for c := range chans {
			s.Readings[c] = chans[c].read(s.Truth, dt, k == 0)
		}
		tr.Samples[k] = s
	}
	return tr, nil
}

// channel is the state of one sensor channel along a trace.
type channel struct {
	s                PointSensor
	sens             []float64 // sensitivity to each gas of the truth
	rng              *rand.Rand
	lagged, baseline float64
}

func newChannel(s PointSensor, gases []string, seed, index uint64) channel {
	c := channel{s: s, sens: make([]float64, len(gases)), rng: rand.New(rand.NewPCG(seed, 0x73656e73<<16+index))} // "sens"
	for i, g := range gases {
		c.sens[i] = s.Response[g]
	}
	return c
}

// read advances the channel by dt seconds to a sample whose inlet sees the
// concentrations truth (ppm per gas) and returns its reading. The first
// sample starts the sensor in equilibrium with its input, at its offset.
func (c *channel) read(truth []float64, dt float64, first bool) float64 {
	x := 0.0
	for i, v := range truth {
		x += c.sens[i] * v
	}
	// First-order lag, exact for an input held over each sample interval.
	if first || c.s.TimeConstantS == 0 {
		c.lagged = x
	} else {
		c.lagged += -math.Expm1(-dt/c.s.TimeConstantS) * (x - c.lagged)
	}
	if first {
		c.baseline = c.s.OffsetPPM
	} else {
		c.baseline += c.s.DriftPPMPerRootHour * math.Sqrt(dt/3600) * c.rng.NormFloat64()
	}
	r := c.lagged + c.baseline + c.s.NoisePPM*c.rng.NormFloat64()
	if c.s.MaxPPM > 0 {
		r = math.Min(r, c.s.MaxPPM)
	}
	if q := c.s.ResolutionPPM; q > 0 {
		r = math.Round(r/q) * q
	}
	if r == 0 {
		r = 0 // not −0
	}
	return r
}

// traceMeta records what made a simulated trace, truth included.
func traceMeta(cfg TraceConfig) []MetaField {
	f := cfg.Field
	w, t := f.Weather(), f.Turbulence()
	fl := cfg.Flight
	m := []MetaField{
		{"flight", oneLine(fl.Name)},
		{"start", fl.Start.UTC().Format(time.RFC3339Nano)},
		{"speed_m_s", ftoa(fl.SpeedMS)},
		{"altitude_agl_m", ftoa(fl.AltitudeAGL)},
		{"rate_hz", ftoa(cfg.RateHz)},
		{"seed", strconv.FormatUint(cfg.Seed, 10)},
		{"weather", fmt.Sprintf("wind_speed_m_s=%g wind_from_deg=%g stability=%s air_temp_k=%g pressure_pa=%g",
			w.WindSpeed, w.WindFromDeg, f.class, w.AirTempK, w.PressurePa)},
		{"turbulence", fmt.Sprintf("meander_deg=%g meander_time_s=%g puff_sigma_ln=%g puff_length_m=%g field_epoch=%s",
			t.MeanderDeg, t.MeanderTimeS, t.PuffSigma, t.PuffLengthM, f.Epoch().UTC().Format(time.RFC3339Nano))},
		{"anemometer", fmt.Sprintf("speed_bias_m_s=%g speed_noise_m_s=%g dir_bias_deg=%g dir_noise_deg=%g",
			cfg.Anemometer.SpeedBiasMS, cfg.Anemometer.SpeedNoiseMS, cfg.Anemometer.DirBiasDeg, cfg.Anemometer.DirNoiseDeg)},
	}
	for _, e := range f.emitters {
		var b strings.Builder
		fmt.Fprintf(&b, "name=%s east_m=%g north_m=%g height_m=%g rates_kg_h=", strings.ReplaceAll(oneLine(e.name), " ", "_"), e.east, e.north, e.h)
		first := true
		for i, q := range e.rateKgS {
			if q == 0 {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&b, "%s:%g", f.gases[i], q*3600)
		}
		m = append(m, MetaField{"source", b.String()})
	}
	for _, s := range cfg.Sensors {
		m = append(m, MetaField{"channel." + s.Name, s.String()})
	}
	return m
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// oneLine makes s fit a metadata value: no line breaks, no surrounding space.
func oneLine(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r", " ", "\n", " ").Replace(s))
}
