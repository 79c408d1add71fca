package sniff

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/sim"
)

// ErrInput is wrapped by errors about a series or options the estimator
// cannot use: an unknown channel, no samples, no wind, a bad option.
var ErrInput = errors.New("sniff: bad input")

// Sample is one reading of one channel together with the drone's state at
// that instant. Optional values are NaN when unknown.
type Sample struct {
	T           float64 // seconds since Series.Start; never decreasing
	East, North float64 // m in the local frame of the survey
	Lat, Lon    float64 // degrees WGS-84, optional
	AltAGL      float64 // height of the inlet above ground, m
	WindSpeedMS float64 // measured wind speed, m/s, optional
	WindFromDeg float64 // measured direction the wind blows from, degrees clockwise from north, optional
	PPM         float64 // the channel's reading in its calibration units; NaN for a dropout
}

// Instrument is what the processing needs to know about a channel. Zero
// values mean unknown: the noise is then estimated from the trace, and a
// zero time constant means no lag correction.
type Instrument struct {
	// TimeConstantS is τ of the channel's first-order response, s (a data
	// sheet's T90 is τ·ln 10).
	TimeConstantS float64
	// NoisePPM is the standard deviation of the white noise of one sample.
	NoisePPM float64
	// ResolutionPPM is the quantisation step of the output.
	ResolutionPPM float64
	// Response maps a gas to the reading per ppm of that gas (1/CF of a PID).
	Response map[string]float64
}

// Met is the weather the estimator needs besides the wind, which the samples
// carry.
type Met struct {
	// Stability is the Pasquill–Gifford class A-F, as a met station or
	// Pasquill's table of wind speed and insolation gives it; empty if
	// unknown (the estimator then averages over every class).
	Stability  string
	AirTempK   float64 // 0: 293.15 K
	PressurePa float64 // 0: 101 325 Pa
}

// Series is one channel of a point-sensor record along a flight: the input
// of Process. It is built from a trace file by FromTrace or ReadTraceCSV,
// and can equally be filled from a flight log (positions, wind) merged with
// a logger's readings.
type Series struct {
	Channel    string
	Start      time.Time
	Instrument Instrument
	Met        Met
	Samples    []Sample
}

// ReadTraceCSV reads a point-sensor trace (docs/point-sensor-trace.md) and
// returns the series of one of its channels.
func ReadTraceCSV(r io.Reader, channel string) (*Series, error) {
	tr, err := sim.ReadTraceCSV(r)
	if err != nil {
		return nil, err
	}
	return FromTrace(tr, channel)
}

// FromTrace takes one channel of a trace. The channel's model (τ, noise,
// resolution, responses) comes from its "channel.<name>" metadata line, and
// air temperature, pressure and stability class from the "weather" line,
// when the trace has them. The "source" lines (the simulator's truth) are
// not read.
func FromTrace(tr *sim.Trace, channel string) (*Series, error) {
	col := -1
	for i, c := range tr.Channels {
		if c == channel {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("%w: no channel %q in the trace (have %s)", ErrInput, channel, strings.Join(tr.Channels, ", "))
	}
	if len(tr.Samples) == 0 {
		return nil, fmt.Errorf("%w: trace without samples", ErrInput)
	}
	s := &Series{Channel: channel, Start: tr.Samples[0].Time, Samples: make([]Sample, len(tr.Samples))}
	if v, ok := tr.Value("channel." + channel); ok {
		ins, err := parseInstrument(v)
		if err != nil {
			return nil, fmt.Errorf("%w: metadata channel.%s: %w", ErrInput, channel, err)
		}
		s.Instrument = ins
	}
	if v, ok := tr.Value("weather"); ok {
		kv := keyValues(v)
		s.Met.Stability = strings.ToUpper(kv["stability"])
		s.Met.AirTempK, _ = strconv.ParseFloat(kv["air_temp_k"], 64)
		s.Met.PressurePa, _ = strconv.ParseFloat(kv["pressure_pa"], 64)
	}
	for k, t := range tr.Samples {
		s.Samples[k] = Sample{
			T: t.Time.Sub(s.Start).Seconds(), East: t.East, North: t.North, Lat: t.Lat, Lon: t.Lon,
			AltAGL: t.AltitudeAGL, WindSpeedMS: t.WindSpeedMS, WindFromDeg: t.WindFromDeg, PPM: t.Readings[col],
		}
	}
	return s, nil
}

// keyValues splits "a=1 b=2" into a map.
func keyValues(s string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

// parseInstrument reads the simulator's one-line channel description
// (sim.PointSensor.String).
func parseInstrument(s string) (Instrument, error) {
	kv := keyValues(s)
	var ins Instrument
	for _, f := range []struct {
		key string
		dst *float64
	}{{"tau_s", &ins.TimeConstantS}, {"noise_ppm", &ins.NoisePPM}, {"resolution_ppm", &ins.ResolutionPPM}} {
		v, ok := kv[f.key]
		if !ok {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || !(x >= 0) || math.IsInf(x, 0) {
			return ins, fmt.Errorf("%s=%q is not a finite non-negative number", f.key, v)
		}
		*f.dst = x
	}
	if r := kv["response"]; r != "" {
		ins.Response = map[string]float64{}
		for _, p := range strings.Split(r, ",") {
			g, v, ok := strings.Cut(p, ":")
			x, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return ins, fmt.Errorf("response %q: want gas:factor", p)
			}
			ins.Response[g] = x
		}
	}
	return ins, nil
}

// Track is the drone's path as a sequence of positions, for plots.
func (s *Series) Track() (east, north []float64) {
	for _, p := range s.Samples {
		east = append(east, p.East)
		north = append(north, p.North)
	}
	return east, north
}
