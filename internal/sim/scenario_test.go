package sim

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/flightlog"
	"github.com/atalaya-project/atalaya/internal/flightlog/foxglove"
)

func TestPresetsLoad(t *testing.T) {
	names := Presets()
	for _, want := range []string{"clean", "confusers", "demo", "fentanyl", "meth"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("no preset %q in %v", want, names)
		}
	}
	for _, n := range names {
		s, err := Preset(n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		for i := range s.Flights {
			if err := s.Scene(i).validate(); err != nil {
				t.Errorf("%s pass %d: %v", n, i, err)
			}
		}
	}
	if _, err := Preset("nope"); !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), "fentanyl") {
		t.Errorf("unknown preset: %v", err)
	}
	f, err := Preset("fentanyl")
	if err != nil {
		t.Fatal(err)
	}
	// The fentanyl laboratory works on the afternoons it is flown.
	for i, p := range f.Flights {
		if !f.Sources[0].ActiveAt(p.Start) {
			t.Errorf("fentanyl pass %d at %s: source idle", i, p.Start)
		}
	}
}

func TestScenarioErrorsNameTheField(t *testing.T) {
	base := `{"name":"x","seed":1,"area":{"utm_zone":18,"north":true,"easting_m":500000,"northing_m":100000,"width_m":50,"height_m":40},
"ground":{"temperature_contrast_k":8,"texture_k":1},"sensor":{"bands":16,"min_um":8,"max_um":12,"fwhm_factor":1.2,"nesr_w_m2_sr_um":0.01,"ifov_mrad":3.3,"swath_pixels":40},
"sources":[{"name":"s","east_m":10,"north_m":-10,"rates_kg_h":{"acetone":1}}],
"flights":[{"name":"p","start":"2026-03-10T15:30:00Z","altitude_m":300,"speed_ms":10,"weather":{"wind_speed_ms":3,"wind_from_deg":270,"stability":"D","air_temp_k":300}}]}`
	if _, err := LoadScenario(strings.NewReader(base)); err != nil {
		t.Fatalf("base scenario: %v", err)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"utm_zone":18`, `"utm_zone":61`, "area.utm_zone"},
		{`"bands":16`, `"bands":1`, "sensor.bands"},
		{`"east_m":10`, `"east_m":900`, "sources[0].east_m"},
		{`"acetone":1`, `"acetone":-1`, "sources[0].rates_kg_h.acetone"},
		{`"stability":"D"`, `"stability":"Q"`, "flights[0].weather.stability"},
		{`"altitude_m":300`, `"altitude_m":0`, "flights[0].altitude_m"},
		{`"seed":1`, `"sede":1`, "unknown field"},
		{`"name":"p"`, `"name":"a/b"`, "flights[0].name"},
	} {
		s := strings.Replace(base, c.from, c.to, 1)
		_, err := LoadScenario(strings.NewReader(s))
		if !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: error %v, want one naming %q", c.from, c.to, err, c.want)
		}
	}
}

// A small scenario runs end to end: each pass's cube, truth, trace and
// flight log, and the log's positions are where the drone flew.
func TestRunScenario(t *testing.T) {
	s, err := Preset("demo")
	if err != nil {
		t.Fatal(err)
	}
	s.Area.WidthM, s.Area.HeightM = 80, 60
	s.Sensor.Bands, s.Sensor.BadBands = 16, nil
	s.Sources = s.Sources[:1]
	s.Sources[0].East, s.Sources[0].North = 20, -30
	s.Sensor.SwathPixels = 30
	s.Flights = append(s.Flights[:1], s.Flights[0])
	s.Flights[1].Name = "pass-2"
	s.Flights[1].Start = s.Flights[0].Start.Add(24 * 3600e9)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	outs, err := RunScenario(dir, s, defaultLibrary(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 {
		t.Fatalf("%d passes", len(outs))
	}
	var covers [2]*cube.Cube
	for i, o := range outs {
		for _, p := range []string{o.Radiance, o.Truth, o.Sources, o.Trace, o.FlightLog} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("pass %d: %v", i, err)
			}
		}
		f, err := cube.Open(o.Radiance)
		if err != nil {
			t.Fatal(err)
		}
		covers[i], err = f.ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		log, err := flightlog.ReadFile(o.FlightLog)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := log.Track()
		if err != nil {
			t.Fatal(err)
		}
		fl, _ := s.Flight(i)
		poses, _ := fl.Poses(traceRateHz)
		if len(tr.Samples) != len(poses) {
			t.Fatalf("pass %d: %d logged positions for %d poses", i, len(tr.Samples), len(poses))
		}
		h, _ := cube.Open(o.Radiance)
		g, err := h.Header.Georef()
		h.Close()
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < len(poses); k += 50 {
			lat, lon := g.LatLon(poses[k].East/s.GSD(s.Flights[i]), -poses[k].North/s.GSD(s.Flights[i]))
			if math.Abs(tr.Samples[k].Lat-lat) > 1e-7 || math.Abs(tr.Samples[k].Lon-lon) > 1e-7 {
				t.Errorf("pass %d sample %d: logged (%g, %g), flown (%g, %g)", i, k, tr.Samples[k].Lat, tr.Samples[k].Lon, lat, lon)
			}
		}
		b, err := os.ReadFile(o.Trace)
		if err != nil {
			t.Fatal(err)
		}
		trace, err := ReadTraceCSV(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if len(trace.Samples) != len(poses) || len(trace.Channels) != 2 {
			t.Errorf("pass %d: trace of %d samples, channels %v", i, len(trace.Samples), trace.Channels)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "scenario.json")); err != nil {
		t.Error(err)
	}
	// Same ground, other noise: the passes differ, but not by much.
	diff, n := 0.0, 0
	for i := range covers[0].Pix {
		d := float64(covers[0].Pix[i] - covers[1].Pix[i])
		diff += d * d
		n++
	}
	if rms := math.Sqrt(diff / float64(n)); rms == 0 || rms > 1 {
		t.Errorf("rms difference between passes %g W/(m²·sr·µm): want noise and texture, not another ground", rms)
	}
}

// A flight log written by the simulator is read by an independent ULog
// reader (npm @foxglove/ulog) with the positions the project's reader gets.
func TestSimulatedFlightLogReadByFoxglove(t *testing.T) {
	s, err := Preset("demo")
	if err != nil {
		t.Fatal(err)
	}
	s.Area.WidthM, s.Area.HeightM = 60, 40
	s.Sensor.Bands, s.Sensor.BadBands, s.Sensor.SwathPixels = 8, nil, 20
	s.Sources = s.Sources[:1]
	s.Sources[0].East, s.Sources[0].North = 10, -20
	s.PointSensors = nil
	s.Flights = s.Flights[:1]
	outs, err := RunScenario(t.TempDir(), s, defaultLibrary(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	path := outs[0].FlightLog
	log, err := flightlog.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := log.Track()
	if err != nil {
		t.Fatal(err)
	}
	d, err := foxglove.DumpFile(path, "vehicle_global_position")
	if err != nil {
		t.Fatal(err)
	}
	pos, ok := d.Topics["vehicle_global_position/0"]
	if !ok {
		t.Fatalf("foxglove sees no vehicle_global_position; topics %v", d.Counts)
	}
	if len(pos.Timestamps) != len(tr.Samples) {
		t.Fatalf("foxglove reads %d positions, we read %d", len(pos.Timestamps), len(tr.Samples))
	}
	for i := 0; i < len(tr.Samples); i += 17 {
		var lat, lon float64
		if err := json.Unmarshal(pos.Fields["lat"][i], &lat); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(pos.Fields["lon"][i], &lon); err != nil {
			t.Fatal(err)
		}
		if lat != tr.Samples[i].Lat || lon != tr.Samples[i].Lon {
			t.Errorf("sample %d: foxglove (%v, %v), ours (%v, %v)", i, lat, lon, tr.Samples[i].Lat, tr.Samples[i].Lon)
		}
		ts, _ := strconv.ParseUint(pos.Timestamps[i], 10, 64)
		if ts != tr.Samples[i].T {
			t.Errorf("sample %d: foxglove timestamp %d, ours %d", i, ts, tr.Samples[i].T)
		}
	}
}

// A point-only flight writes a trace and a flight log and no image, low
// enough for its sensors to be in the plume.
func TestPointOnlyFlight(t *testing.T) {
	s, err := Preset("demo")
	if err != nil {
		t.Fatal(err)
	}
	s.Area.WidthM, s.Area.HeightM = 120, 80
	s.Sources = s.Sources[:1]
	s.Sources[0].East, s.Sources[0].North = 20, -40
	s.Flights = s.Flights[1:2]
	if !s.Flights[0].PointOnly {
		t.Fatal("the demo's second flight is not point-only")
	}
	outs, err := RunScenario(t.TempDir(), s, defaultLibrary(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	o := outs[0]
	if o.Radiance != "" || o.Trace == "" || o.FlightLog == "" {
		t.Fatalf("point-only outputs %+v", o)
	}
	b, err := os.ReadFile(o.Trace)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTraceCSV(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	peak := 0.0
	for _, smp := range tr.Samples {
		if smp.AltitudeAGL != s.Flights[0].AltitudeM {
			t.Fatalf("sample at %g m, flight at %g m", smp.AltitudeAGL, s.Flights[0].AltitudeM)
		}
		for _, v := range smp.Truth {
			peak = math.Max(peak, v)
		}
	}
	if peak < 1 {
		t.Errorf("the low flight never met the plume: peak true concentration %g ppm", peak)
	}
	bad := *s
	bad.PointSensors = nil
	if err := bad.Validate(); !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), "point_only") {
		t.Errorf("point-only flight without point sensors: %v", err)
	}
}

// TestRepeat: a preset repeated to 25 passes is a valid scenario whose
// extra passes are the preset's own, days later, with the source working
// during every one of them.
func TestRepeat(t *testing.T) {
	s, err := Preset("fentanyl")
	if err != nil {
		t.Fatal(err)
	}
	m := len(s.Flights)
	s.Repeat(2)
	if len(s.Flights) != m {
		t.Fatalf("Repeat(2) on %d passes made %d", m, len(s.Flights))
	}
	s.Repeat(25)
	if len(s.Flights) != 25 {
		t.Fatalf("%d passes, want 25", len(s.Flights))
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for k := m; k < 25; k++ {
		f, b := s.Flights[k], s.Flights[k%m]
		if d := f.Start.Sub(b.Start); d != time.Duration(k/m*m)*24*time.Hour {
			t.Errorf("%s starts %v after %s", f.Name, d, b.Name)
		}
		if f.AltitudeM != b.AltitudeM || f.Weather.Stability != b.Weather.Stability {
			t.Errorf("%s is not %s flown again: %+v", f.Name, b.Name, f)
		}
		if r := f.Weather.WindSpeed / b.Weather.WindSpeed; r < 0.8 || r > 1.2 {
			t.Errorf("%s wind speed %.2f against %.2f", f.Name, f.Weather.WindSpeed, b.Weather.WindSpeed)
		}
		working := false
		for _, iv := range s.Sources[0].Schedule {
			working = working || (!f.Start.Before(iv.From) && f.Start.Before(iv.To))
		}
		if !working {
			t.Errorf("the laboratory is not working during %s (%s)", f.Name, f.Start)
		}
	}
}
