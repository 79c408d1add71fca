package sim

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/flightlog"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// ErrScenario is wrapped by errors about a scenario file.
var ErrScenario = errors.New("sim: bad scenario")

// Scenario is a simulated survey: an area, its ground, the sources in it,
// the instruments, and the flights over it, each with its own weather. The
// file format is JSON, documented in docs/scenario.md.
type Scenario struct {
	Name         string         `json:"name"`
	Description  string         `json:"description,omitempty"`
	Seed         uint64         `json:"seed"`
	Area         ScenarioArea   `json:"area"`
	Ground       ScenarioGround `json:"ground"`
	Sensor       ScenarioSensor `json:"sensor"`
	PointSensors []string       `json:"point_sensors,omitempty"`
	Sources      []Source       `json:"sources"`
	Flights      []ScenarioPass `json:"flights"`
}

// ScenarioArea is the surveyed rectangle: its upper-left corner in UTM
// (WGS-84) and its size.
type ScenarioArea struct {
	UTMZone   int     `json:"utm_zone"`
	North     bool    `json:"north"`
	EastingM  float64 `json:"easting_m"`
	NorthingM float64 `json:"northing_m"`
	WidthM    float64 `json:"width_m"`
	HeightM   float64 `json:"height_m"`
}

// ScenarioGround sets the ground's thermal contrast and texture.
type ScenarioGround struct {
	// TemperatureContrastK is the temperature of bare soil above air, K;
	// other covers scale it (vegetation 0.35, asphalt 1.6, water −0.2, …).
	TemperatureContrastK float64 `json:"temperature_contrast_k"`
	// TextureK is the standard deviation of the ground temperature texture.
	TextureK float64 `json:"texture_k"`
}

// ScenarioSensor is the imaging spectrometer.
type ScenarioSensor struct {
	Bands      int     `json:"bands"`
	MinUM      float64 `json:"min_um"`
	MaxUM      float64 `json:"max_um"`
	FWHMFactor float64 `json:"fwhm_factor"`
	NESR       float64 `json:"nesr_w_m2_sr_um"`
	BadBands   []int   `json:"bad_bands,omitempty"`
	// IFOVmrad is the instantaneous field of view: the ground sample
	// distance is altitude × IFOV.
	IFOVmrad float64 `json:"ifov_mrad"`
	// SwathPixels is the number of cross-track pixels of one line of flight.
	SwathPixels int `json:"swath_pixels"`
}

// ScenarioPass is one flight over the whole area.
type ScenarioPass struct {
	Name        string    `json:"name"`
	Start       time.Time `json:"start"`
	AltitudeM   float64   `json:"altitude_m"`
	SpeedMS     float64   `json:"speed_ms"`
	HeadingDeg  float64   `json:"heading_deg"`
	OverlapFrac float64   `json:"overlap"`
	Weather     Weather   `json:"weather"`
	// PointOnly flights carry only the point sensors: low and slow, with
	// lines LineSpacingM apart across the area, and no image.
	PointOnly    bool    `json:"point_only,omitempty"`
	LineSpacingM float64 `json:"line_spacing_m,omitempty"`
}

// LoadScenario reads a scenario. Unknown fields are errors (a misspelt key
// must not silently fall back to a default), and so are values out of range,
// named by their field.
func LoadScenario(r io.Reader) (*Scenario, error) {
	dec := json.NewDecoder(io.LimitReader(r, 16<<20))
	dec.DisallowUnknownFields()
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrScenario)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate checks every field.
func (s *Scenario) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s = %v: %s", ErrScenario, field, v, want)
	}
	pos := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	a := s.Area
	switch {
	case s.Name == "":
		return bad("name", `""`, "give the scenario a name")
	case a.UTMZone < 1 || a.UTMZone > 60:
		return bad("area.utm_zone", a.UTMZone, "want 1-60")
	case !pos(a.WidthM) || a.WidthM > 200_000:
		return bad("area.width_m", a.WidthM, "want 0 < width ≤ 200 km")
	case !pos(a.HeightM) || a.HeightM > 200_000:
		return bad("area.height_m", a.HeightM, "want 0 < height ≤ 200 km")
	case a.EastingM < 100_000 || a.EastingM > 900_000:
		return bad("area.easting_m", a.EastingM, "want a UTM easting, 100 000-900 000 m")
	case a.NorthingM < 0 || a.NorthingM > 10_000_000:
		return bad("area.northing_m", a.NorthingM, "want a UTM northing, 0-10 000 000 m")
	case s.Ground.TemperatureContrastK < -30 || s.Ground.TemperatureContrastK > 60:
		return bad("ground.temperature_contrast_k", s.Ground.TemperatureContrastK, "want -30 to 60 K")
	case s.Ground.TextureK < 0 || s.Ground.TextureK > 20:
		return bad("ground.texture_k", s.Ground.TextureK, "want 0 to 20 K")
	case s.Sensor.Bands < 2 || s.Sensor.Bands > 4096:
		return bad("sensor.bands", s.Sensor.Bands, "want 2-4096")
	case !pos(s.Sensor.MinUM) || s.Sensor.MaxUM <= s.Sensor.MinUM:
		return bad("sensor.min_um/max_um", fmt.Sprintf("%g-%g", s.Sensor.MinUM, s.Sensor.MaxUM), "want 0 < min < max")
	case !pos(s.Sensor.FWHMFactor):
		return bad("sensor.fwhm_factor", s.Sensor.FWHMFactor, "want > 0")
	case s.Sensor.NESR < 0:
		return bad("sensor.nesr_w_m2_sr_um", s.Sensor.NESR, "want ≥ 0")
	case !pos(s.Sensor.IFOVmrad):
		return bad("sensor.ifov_mrad", s.Sensor.IFOVmrad, "want > 0")
	case s.Sensor.SwathPixels < 1:
		return bad("sensor.swath_pixels", s.Sensor.SwathPixels, "want ≥ 1")
	case len(s.Flights) == 0:
		return bad("flights", "[]", "want at least one flight")
	}
	for _, b := range s.Sensor.BadBands {
		if b < 0 || b >= s.Sensor.Bands {
			return bad("sensor.bad_bands", b, fmt.Sprintf("want 0-%d", s.Sensor.Bands-1))
		}
	}
	for _, p := range s.PointSensors {
		if _, err := pointSensor(p); err != nil {
			return err
		}
	}
	names := map[string]bool{}
	for i, src := range s.Sources {
		f := fmt.Sprintf("sources[%d]", i)
		switch {
		case src.Name == "" || names[src.Name]:
			return bad(f+".name", src.Name, "want a unique name")
		case src.East < 0 || src.East > a.WidthM || src.North > 0 || -src.North > a.HeightM:
			return bad(f+".east_m/north_m", fmt.Sprintf("(%g, %g)", src.East, src.North), "want a point inside the area (north_m ≤ 0 down the image)")
		case !(src.HeightM >= 0) || src.HeightM > 500:
			return bad(f+".height_m", src.HeightM, "want 0-500 m")
		}
		names[src.Name] = true
		for g, q := range src.Rates {
			if !(q >= 0) || math.IsInf(q, 0) {
				return bad(f+".rates_kg_h."+g, q, "want ≥ 0 kg/h")
			}
		}
		for j, iv := range src.Schedule {
			if !iv.To.After(iv.From) {
				return bad(fmt.Sprintf("%s.schedule[%d]", f, j), fmt.Sprintf("%s to %s", iv.From, iv.To), "want from before to")
			}
		}
	}
	passes := map[string]bool{}
	for i, p := range s.Flights {
		f := fmt.Sprintf("flights[%d]", i)
		switch {
		case p.Name == "" || passes[p.Name] || strings.ContainsAny(p.Name, `/\`):
			return bad(f+".name", p.Name, "want a unique name without slashes")
		case p.Start.IsZero():
			return bad(f+".start", "missing", "want an RFC 3339 time")
		case !pos(p.AltitudeM) || p.AltitudeM > 5000:
			return bad(f+".altitude_m", p.AltitudeM, "want 0-5000 m")
		case p.PointOnly && (!pos(p.LineSpacingM) || p.LineSpacingM > s.Area.WidthM+s.Area.HeightM):
			return bad(f+".line_spacing_m", p.LineSpacingM, "a point-only flight needs its line spacing, > 0 m")
		case p.PointOnly && len(s.PointSensors) == 0:
			return bad(f+".point_only", true, "the scenario has no point_sensors to fly")
		case !pos(p.SpeedMS) || p.SpeedMS > 100:
			return bad(f+".speed_ms", p.SpeedMS, "want 0-100 m/s")
		case p.OverlapFrac < 0 || p.OverlapFrac >= 0.9:
			return bad(f+".overlap", p.OverlapFrac, "want 0 to 0.9")
		case !pos(p.Weather.WindSpeed) || p.Weather.WindSpeed > 40:
			return bad(f+".weather.wind_speed_ms", p.Weather.WindSpeed, "want 0-40 m/s")
		case p.Weather.AirTempK < 200 || p.Weather.AirTempK > 340:
			return bad(f+".weather.air_temp_k", p.Weather.AirTempK, "want 200-340 K")
		}
		if _, err := briggsSigmaY(p.Weather.Stability, 1); err != nil {
			return bad(f+".weather.stability", p.Weather.Stability, "want A-F")
		}
		if n := s.pixels(p); !p.PointOnly && n > 1<<31 {
			return bad(f+".altitude_m", p.AltitudeM, fmt.Sprintf("the area at this altitude's ground sample distance is %d pixels; fly higher or split the area", n))
		}
		passes[p.Name] = true
	}
	return nil
}

// Repeat flies the scenario's passes again until it has n (n no more
// than its passes leaves it as it is): cycle c of pass k is pass k flown
// c·m days later (m the scenario's passes), its wind direction turned by
// N(0, 15°) and its speed scaled by U(0.8, 1.2) from a generator seeded
// with the scenario's seed, named pass-<k+1>; every source works on the
// repeated days as on the originals. It is how a survey of more passes
// than a preset has is made (docs/evidence.md's accumulation runs).
func (s *Scenario) Repeat(n int) {
	m := len(s.Flights)
	if m == 0 || n <= m {
		return
	}
	base := append([]ScenarioPass(nil), s.Flights...)
	cycle := time.Duration(m) * 24 * time.Hour
	rng := rand.New(rand.NewPCG(s.Seed, 0xe47e))
	for k := m; k < n; k++ {
		f := base[k%m]
		f.Name = fmt.Sprintf("pass-%d", k+1)
		f.Start = f.Start.Add(time.Duration(k/m) * cycle)
		f.Weather.WindFromDeg = math.Mod(f.Weather.WindFromDeg+15*rng.NormFloat64()+360, 360)
		f.Weather.WindSpeed *= 0.8 + 0.4*rng.Float64()
		s.Flights = append(s.Flights, f)
	}
	for i := range s.Sources {
		sched := s.Sources[i].Schedule
		for c := 1; c*m < n; c++ {
			d := time.Duration(c) * cycle
			for _, iv := range sched {
				s.Sources[i].Schedule = append(s.Sources[i].Schedule, Interval{From: iv.From.Add(d), To: iv.To.Add(d)})
			}
		}
	}
}

// GSD returns the ground sample distance of a pass, m.
func (s *Scenario) GSD(p ScenarioPass) float64 { return p.AltitudeM * s.Sensor.IFOVmrad / 1000 }

func (s *Scenario) pixels(p ScenarioPass) int64 {
	g := s.GSD(p)
	return int64(math.Ceil(s.Area.WidthM/g)) * int64(math.Ceil(s.Area.HeightM/g))
}

// Scene returns the imaging granule of flight i: the whole area at the
// pass's ground sample distance, under its weather.
func (s *Scenario) Scene(i int) *Scene {
	p := s.Flights[i]
	g := s.GSD(p)
	sensor := Sensor{
		Bands: s.Sensor.Bands, MinUM: s.Sensor.MinUM, MaxUM: s.Sensor.MaxUM, FWHMFactor: s.Sensor.FWHMFactor,
		NESR: s.Sensor.NESR, BadBands: append([]int(nil), s.Sensor.BadBands...), AltitudeMeters: p.AltitudeM,
	}
	return &Scene{
		Samples: int(math.Ceil(s.Area.WidthM / g)), Lines: int(math.Ceil(s.Area.HeightM / g)), GSD: g,
		UTMZone: s.Area.UTMZone, North: s.Area.North, Easting: s.Area.EastingM, Northing: s.Area.NorthingM,
		Sensor: sensor, Weather: p.Weather, Sources: s.Sources,
		Start: p.Start, SpeedMS: p.SpeedMS,
		// The ground is the same on every pass (one seed); the noise,
		// turbulence and texture of the pass's own seed differ.
		Seed:          s.Seed*1_000_003 + uint64(i),
		GroundSeed:    s.Seed,
		TempContrastK: s.Ground.TemperatureContrastK, TextureK: s.Ground.TextureK,
	}
}

// Flight returns the lawnmower flight of pass i over the area: lines along
// the heading, spaced by the swath less the overlap.
func (s *Scenario) Flight(i int) (Flight, error) {
	p := s.Flights[i]
	spacing := float64(s.Sensor.SwathPixels) * s.GSD(p) * (1 - p.OverlapFrac)
	if p.PointOnly {
		spacing = p.LineSpacingM
	}
	lines, err := Lawnmower(Area{MinEast: 0, MinNorth: -s.Area.HeightM, MaxEast: s.Area.WidthM, MaxNorth: 0},
		spacing, p.HeadingDeg)
	if err != nil {
		return Flight{}, fmt.Errorf("flight %s: %w", p.Name, err)
	}
	return Flight{Name: p.Name, Start: p.Start, SpeedMS: p.SpeedMS, AltitudeAGL: p.AltitudeM, Lines: lines}, nil
}

func pointSensor(name string) (PointSensor, error) {
	switch strings.ToLower(name) {
	case "pid":
		return PID("pid"), nil
	case "nh3", "ec-nh3":
		return ElectrochemicalNH3("nh3"), nil
	}
	if gas, ok := strings.CutPrefix(strings.ToLower(name), "laser-"); ok && gas != "" {
		return OpenPathLaser("laser_"+spectra.GasID(gas), spectra.GasID(gas)), nil
	}
	return PointSensor{}, fmt.Errorf("%w: point sensor %q: want pid, nh3 or laser-<gas>", ErrScenario, name)
}

//go:embed presets/*.json
var presetFS embed.FS

// Presets lists the built-in scenarios.
func Presets() []string {
	ents, _ := presetFS.ReadDir("presets")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(out)
	return out
}

// Preset returns a built-in scenario by name.
func Preset(name string) (*Scenario, error) {
	b, err := presetFS.ReadFile("presets/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("%w: no preset %q (have %s)", ErrScenario, name, strings.Join(Presets(), ", "))
	}
	return LoadScenario(bytes.NewReader(b))
}

// PassOutput names the files of one simulated pass (no cube for a
// point-only flight).
type PassOutput struct {
	Output
	Trace     string `json:"trace,omitempty"`
	FlightLog string `json:"flight_log"`
}

// Progress receives the progress of a long simulation.
type Progress interface {
	Start(label string, total int64)
	Add(n int64)
	Done()
}

// RunScenario simulates every pass of a scenario into dir/<pass>/:
// radiance.hdr, truth.hdr, truth.json, trace.csv (with point sensors) and
// flight.ulg. p may be nil.
func RunScenario(dir string, s *Scenario, lib *spectra.Library, p Progress) ([]PassOutput, error) {
	var outs []PassOutput
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "scenario.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	for i, pass := range s.Flights {
		pdir := filepath.Join(dir, pass.Name)
		sc := s.Scene(i)
		var po PassOutput
		if pass.PointOnly {
			if err := os.MkdirAll(pdir, 0o755); err != nil {
				return outs, err
			}
		} else {
			if p != nil {
				p.Start(pass.Name+": image", int64(sc.Lines))
			}
			o, err := WriteScene(pdir, sc, lib, func(n int) {
				if p != nil {
					p.Add(int64(n))
				}
			})
			if p != nil {
				p.Done()
			}
			if err != nil {
				return outs, fmt.Errorf("pass %s: %w", pass.Name, err)
			}
			po.Output = o
		}
		fl, err := s.Flight(i)
		if err != nil {
			return outs, err
		}
		geo, err := sc.Header().Georef()
		if err != nil {
			return outs, err
		}
		latlon := func(east, north float64) (float64, float64) {
			return geo.LatLon(east/sc.GSD, -north/sc.GSD)
		}
		if po.Trace, po.FlightLog, err = s.writeFlight(pdir, i, sc, fl, latlon, lib); err != nil {
			return outs, fmt.Errorf("pass %s: %w", pass.Name, err)
		}
		outs = append(outs, po)
	}
	return outs, nil
}

// traceRateHz is the sampling rate of simulated point sensors and flight
// logs (a typical logging rate of drone gas sensors).
const traceRateHz = 5

func (s *Scenario) writeFlight(dir string, i int, sc *Scene, fl Flight, latlon func(e, n float64) (float64, float64), lib *spectra.Library) (tracePath, logPath string, err error) {
	pass := s.Flights[i]
	var sensors []PointSensor
	for _, name := range s.PointSensors {
		ps, err := pointSensor(name)
		if err != nil {
			return "", "", err
		}
		sensors = append(sensors, ps)
	}
	poses, err := fl.Poses(traceRateHz)
	if err != nil {
		return "", "", err
	}
	var trace *Trace
	if len(sensors) > 0 {
		field, err := sc.field(lib)
		if err != nil {
			return "", "", err
		}
		tr, err := SimulateTrace(TraceConfig{
			Flight: fl, Field: field, Sensors: sensors, RateHz: traceRateHz,
			Anemometer: Anemometer{SpeedNoiseMS: 0.3, DirNoiseDeg: 5},
			Geo:        latlon, Seed: sc.Seed,
		})
		if err != nil {
			return "", "", err
		}
		trace = tr
		tracePath = filepath.Join(dir, "trace.csv")
		var buf bytes.Buffer
		if err := WriteTraceCSV(&buf, tr); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(tracePath, buf.Bytes(), 0o644); err != nil {
			return "", "", err
		}
	}
	// The flight log: positions (altitude above the WGS-84 ellipsoid taken as
	// ground at 0 m plus the flight altitude), attitude level on the
	// heading, and the true wind.
	track := &flightlog.Track{Source: "vehicle_global_position", HasUTC: true}
	from := (pass.Weather.WindFromDeg) * math.Pi / 180
	for _, q := range poses {
		lat, lon := latlon(q.East, q.North)
		yaw := q.HeadingDeg * math.Pi / 180
		track.Samples = append(track.Samples, flightlog.Sample{
			T: uint64(q.Time.Sub(pass.Start).Microseconds()) + 1_000_000, Time: q.Time,
			Lat: lat, Lon: lon, Alt: q.AltitudeAGL,
			HasAttitude: true, Q: yawQuaternion(yaw), Yaw: yaw,
			HasWind:   true,
			WindNorth: -pass.Weather.WindSpeed * math.Cos(from), WindEast: -pass.Weather.WindSpeed * math.Sin(from),
		})
	}
	// The point sensors' readings go into the flight log too, as a logger
	// on the drone records them (atalaya_gas_sensor), with each channel's
	// model in an info message.
	if trace != nil && len(trace.Channels) <= flightlog.GasChannels {
		track.GasChannels = trace.Channels
		track.GasInfo = map[string]string{}
		for _, ps := range sensors {
			track.GasInfo[ps.Name] = ps.String()
		}
		for _, ts := range trace.Samples {
			g := flightlog.GasSample{Timestamp: uint64(ts.Time.Sub(pass.Start).Microseconds()) + 1_000_000, Channels: uint8(len(trace.Channels))}
			for k, v := range ts.Readings {
				g.PPM[k] = float32(v)
			}
			track.Gas = append(track.Gas, g)
		}
	}
	logPath = filepath.Join(dir, "flight.ulg")
	f, err := os.Create(logPath)
	if err != nil {
		return "", "", err
	}
	if err := flightlog.WriteTrack(f, track); err != nil {
		f.Close()
		return "", "", err
	}
	if err := f.Close(); err != nil {
		return "", "", err
	}
	return tracePath, logPath, nil
}

// yawQuaternion is the attitude quaternion (w, x, y, z) of a level vehicle
// heading yaw radians clockwise from north (PX4's NED frame).
func yawQuaternion(yaw float64) [4]float32 {
	return [4]float32{float32(math.Cos(yaw / 2)), 0, 0, float32(math.Sin(yaw / 2))}
}
