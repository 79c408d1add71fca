package sim

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/trace.csv")

func TestLawnmower(t *testing.T) {
	area := Area{MinEast: 0, MinNorth: -200, MaxEast: 300, MaxNorth: 0}
	for _, c := range []struct {
		heading float64
		spacing float64
		lines   int
	}{
		{0, 25, 12},  // 300 m across / 25 m
		{90, 40, 5},  // 200 m across / 40 m
		{30, 20, 0},  // oblique: count checked by spacing below
		{0, 1000, 1}, // one line through the middle
	} {
		lines, err := Lawnmower(area, c.spacing, c.heading)
		if err != nil {
			t.Fatal(err)
		}
		if c.lines > 0 && len(lines) != c.lines {
			t.Errorf("heading %g°, spacing %g m: %d lines, want %d", c.heading, c.spacing, len(lines), c.lines)
		}
		h := c.heading * math.Pi / 180
		for i, l := range lines {
			for _, p := range []Point{l.From, l.To} {
				if p.East < area.MinEast-1e-9 || p.East > area.MaxEast+1e-9 || p.North < area.MinNorth-1e-9 || p.North > area.MaxNorth+1e-9 {
					t.Errorf("heading %g°: line %d end %+v outside the area", c.heading, i, p)
				}
			}
			// Odd lines are flown back.
			de, dn := l.To.East-l.From.East, l.To.North-l.From.North
			along := de*math.Sin(h) + dn*math.Cos(h)
			if (i%2 == 0) != (along > 0) {
				t.Errorf("heading %g°: line %d flown the wrong way (%g m along the heading)", c.heading, i, along)
			}
			if i > 0 {
				// Distance across between consecutive lines.
				p, q := lines[i-1].From, l.From
				across := (q.East-p.East)*math.Cos(h) - (q.North-p.North)*math.Sin(h)
				if math.Abs(math.Abs(across)-c.spacing) > 1e-9 {
					t.Errorf("heading %g°: lines %d and %d %g m apart, want %g", c.heading, i-1, i, across, c.spacing)
				}
			}
		}
	}
	if _, err := Lawnmower(area, 0, 0); !errors.Is(err, ErrFlight) {
		t.Errorf("zero spacing: %v", err)
	}
	if _, err := Lawnmower(Area{0, 0, 0, 10}, 5, 0); !errors.Is(err, ErrFlight) {
		t.Errorf("empty area: %v", err)
	}
}

func TestFlightPoses(t *testing.T) {
	start := time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)
	f := Flight{Name: "f", Start: start, SpeedMS: 4, AltitudeAGL: 20, Lines: []Line{
		{Point{0, 0}, Point{100, 0}},     // east, 25 s
		{Point{100, -30}, Point{0, -30}}, // 30 m transit south, then west
	}}
	poses, err := f.Poses(10)
	if err != nil {
		t.Fatal(err)
	}
	if want := 230.0 / 4; math.Abs(f.Duration().Seconds()-want) > 1e-9 {
		t.Errorf("duration %v, want %g s", f.Duration(), want)
	}
	if len(poses) != 576 { // 57.5 s at 10 Hz, both ends
		t.Errorf("%d poses, want 576", len(poses))
	}
	last := poses[len(poses)-1]
	if last.East != 0 || last.North != -30 || last.Line != 1 || !last.Time.Equal(start.Add(57500*time.Millisecond)) {
		t.Errorf("last pose %+v", last)
	}
	for k, p := range poses {
		if p.AltitudeAGL != 20 {
			t.Fatalf("pose %d at %g m", k, p.AltitudeAGL)
		}
		var wantLine int
		var wantHeading float64
		switch s := float64(k) / 10 * 4; {
		case s <= 100:
			wantLine, wantHeading = 0, 90
		case s <= 130:
			wantLine, wantHeading = -1, 180
		default:
			wantLine, wantHeading = 1, 270
		}
		if p.Line != wantLine || math.Abs(p.HeadingDeg-wantHeading) > 1e-9 {
			t.Errorf("pose %d: line %d heading %g, want %d %g", k, p.Line, p.HeadingDeg, wantLine, wantHeading)
		}
		if k > 0 {
			q := poses[k-1]
			// Along a leg the drone covers 0.4 m per sample; a corner cuts it.
			if d := math.Hypot(p.East-q.East, p.North-q.North); d > 0.4+1e-9 || (p.Line == q.Line && math.Abs(d-0.4) > 1e-9) {
				t.Errorf("pose %d: %g m from the last", k, d)
			}
			if p.Time.Sub(q.Time) != 100*time.Millisecond {
				t.Errorf("pose %d: %v after the last", k, p.Time.Sub(q.Time))
			}
		}
	}
	if _, err := (Flight{SpeedMS: 0, Lines: f.Lines}).Poses(10); !errors.Is(err, ErrFlight) {
		t.Errorf("zero speed: %v", err)
	}
	if _, err := f.Poses(0); !errors.Is(err, ErrFlight) {
		t.Errorf("zero rate: %v", err)
	}
}

// A first-order sensor reaches 1 − 1/e ≈ 63.2 % of a step after τ, and
// 90 % after τ ln 10 (a datasheet's T90).
func TestFirstOrderLagStep(t *testing.T) {
	const tau, rate = 3.0, 10.0
	c := newChannel(PointSensor{Name: "pid", Response: map[string]float64{"acetone": 1}, TimeConstantS: tau}, []string{"acetone"}, 1, 0)
	c.read([]float64{0}, 0, true)
	var r []float64
	for range int(10 * tau * rate) {
		r = append(r, c.read([]float64{1}, 1/rate, false))
	}
	at := func(s float64) float64 { return r[int(math.Round(s*rate))-1] }
	if got := at(tau); math.Abs(got-(1-1/math.E)) > 1e-12 {
		t.Errorf("after τ: %.6f, want %.6f", got, 1-1/math.E)
	}
	if got := at(tau * math.Ln10); math.Abs(got-0.9) > 0.005 { // T90 falls between samples
		t.Errorf("after T90: %.4f, want 0.9", got)
	}
}

func traceConfig(t *testing.T, seed uint64) TraceConfig {
	t.Helper()
	turb, err := DefaultTurbulence("D")
	if err != nil {
		t.Fatal(err)
	}
	w := Weather{WindSpeed: 3, WindFromDeg: 270, Stability: "D", AirTempK: 300, PressurePa: 101325}
	start := time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)
	f, err := NewField(w, turb, []Source{
		{Name: "meth-lab", East: 20, North: -30, Rates: map[string]float64{"acetone": 20, "ammonia": 8}, HeightM: 2},
	}, defaultLibrary(t), start.Add(-time.Minute), seed)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := Lawnmower(Area{MinEast: 40, MinNorth: -60, MaxEast: 80, MaxNorth: 0}, 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	return TraceConfig{
		Flight:     Flight{Name: "test flight", Start: start, SpeedMS: 5, AltitudeAGL: 3, Lines: lines},
		Field:      f,
		Sensors:    []PointSensor{PID("pid"), ElectrochemicalNH3("nh3_ec"), OpenPathLaser("nh3_laser", "ammonia")},
		Anemometer: Anemometer{SpeedBiasMS: 0.2, SpeedNoiseMS: 0.3, DirBiasDeg: 2, DirNoiseDeg: 5},
		RateHz:     2,
		Geo: func(east, north float64) (float64, float64) {
			return 2.25 + north/111320, -74.9 + east/111320
		},
		Seed: seed,
	}
}

// The truth of a trace is the field at the sample, and a perfect sensor reads
// exactly its sensitivity-weighted sum.
func TestSimulateTraceTruth(t *testing.T) {
	cfg := traceConfig(t, 3)
	perfect := PID("perfect")
	perfect.TimeConstantS, perfect.NoisePPM, perfect.DriftPPMPerRootHour, perfect.ResolutionPPM, perfect.MaxPPM = 0, 0, 0, 0, 0
	cfg.Sensors = append(cfg.Sensors, perfect)
	tr, err := SimulateTrace(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tr.Gases, ","); got != "acetone,ammonia" {
		t.Fatalf("gases %s", got)
	}
	want := make([]float64, 2)
	peak := 0.0
	for k, s := range tr.Samples {
		if err := cfg.Field.PPM(s.Time, s.East, s.North, s.AltitudeAGL, want); err != nil {
			t.Fatal(err)
		}
		if s.Truth[0] != want[0] || s.Truth[1] != want[1] {
			t.Fatalf("sample %d: truth %v, field %v", k, s.Truth, want)
		}
		r := perfect.Response["acetone"]*want[0] + perfect.Response["ammonia"]*want[1]
		if s.Readings[3] != r {
			t.Fatalf("sample %d: perfect PID %g, want %g", k, s.Readings[3], r)
		}
		peak = math.Max(peak, s.Truth[0])
	}
	if !(peak > 1) {
		t.Errorf("the flight never met the plume: peak acetone %g ppm", peak)
	}
	if v, ok := tr.Value("source"); !ok || !strings.Contains(v, "acetone:20") {
		t.Errorf("metadata source = %q", v)
	}
}

func TestSimulateTraceDeterministic(t *testing.T) {
	var out [3]bytes.Buffer
	for i, seed := range []uint64{5, 5, 6} {
		tr, err := SimulateTrace(traceConfig(t, seed))
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteTraceCSV(&out[i], tr); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out[0].Bytes(), out[1].Bytes()) {
		t.Error("the same seed gave different traces")
	}
	if bytes.Equal(out[0].Bytes(), out[2].Bytes()) {
		t.Error("seeds 5 and 6 gave the same trace")
	}
}

// sameTrace reports the first difference between two traces, floats compared
// to a relative tolerance (0 for exact), NaN equal to NaN.
func sameTrace(a, b *Trace, tol float64) string {
	switch {
	case len(a.Meta) != len(b.Meta) || strings.Join(a.Channels, ",") != strings.Join(b.Channels, ",") ||
		strings.Join(a.Gases, ",") != strings.Join(b.Gases, ",") || len(a.Samples) != len(b.Samples):
		return "shape or columns differ"
	}
	for i := range a.Meta {
		if a.Meta[i] != b.Meta[i] {
			return "metadata " + a.Meta[i].Key
		}
	}
	eq := func(x, y float64) bool {
		return x == y || math.IsNaN(x) && math.IsNaN(y) || math.Abs(x-y) <= tol*math.Max(math.Abs(x), math.Abs(y))
	}
	for k := range a.Samples {
		s, r := a.Samples[k], b.Samples[k]
		if !s.Time.Equal(r.Time) || s.Line != r.Line {
			return "time or line of sample " + s.Time.String()
		}
		x := append([]float64{s.East, s.North, s.Lat, s.Lon, s.AltitudeAGL, s.HeadingDeg, s.WindSpeedMS, s.WindFromDeg}, append(s.Readings, s.Truth...)...)
		y := append([]float64{r.East, r.North, r.Lat, r.Lon, r.AltitudeAGL, r.HeadingDeg, r.WindSpeedMS, r.WindFromDeg}, append(r.Readings, r.Truth...)...)
		for i := range x {
			if !eq(x[i], y[i]) {
				return "value " + strings.Repeat("·", i) + " of sample " + s.Time.String()
			}
		}
	}
	return ""
}

// The CSV reads back exactly what was written, and testdata/trace.csv (the
// fuzz seed) is what the simulation makes today, to a tolerance for other
// floating-point units (arm64 fuses multiply-adds).
func TestTraceCSVRoundTripAndGolden(t *testing.T) {
	tr, err := SimulateTrace(traceConfig(t, 11))
	if err != nil {
		t.Fatal(err)
	}
	tr.Samples[3].Readings[1] = math.NaN() // a dropout
	var buf bytes.Buffer
	if err := WriteTraceCSV(&buf, tr); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTraceCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTrace(tr, back, 0); d != "" {
		t.Errorf("round trip: %s", d)
	}
	golden := filepath.Join("testdata", "trace.csv")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update)", err)
	}
	want, err := ReadTraceCSV(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTrace(tr, want, 1e-9); d != "" {
		t.Errorf("differs from %s: %s (run go test -run Golden -update if intended)", golden, d)
	}
}

func TestReadTraceCSVErrors(t *testing.T) {
	hdr := TraceMagic + "\n# flight: x\n" + strings.Join(traceFixed[:], ",") + ",pid_ppm,truth_acetone_ppm\n"
	row := "2025-03-14T15:00:00Z,1,-2,,,3,90,0,3,270,0.5,0.4\n"
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "empty file"},
		{"magic", "time,east_m\n", "line 1:"},
		{"metadata", TraceMagic + "\n# no colon here\n", "line 2: metadata"},
		{"no header", TraceMagic + "\n# a: b\n", "line 3: no header row"},
		{"fixed column", TraceMagic + "\ntime,east_m,north,x,x,x,x,x,x,x\n", "line 2, column 3: header \"north\", want \"north_m\""},
		{"unit", hdr[:len(hdr)-1] + ",pid2\n", "line 3, column 13: \"pid2\" does not end in _ppm"},
		{"order", strings.Replace(hdr, "pid_ppm,truth_acetone_ppm", "truth_acetone_ppm,pid_ppm", 1), "column 12: channel \"pid_ppm\" after the truth"},
		{"repeat", hdr[:len(hdr)-1] + ",truth_acetone_ppm\n", "line 3, column 13: \"truth_acetone_ppm\" repeats"},
		{"fields", hdr + row + "2025-03-14T15:00:01Z,1\n", "line 5: 2 fields, the header has 12"},
		{"number", hdr + row + strings.Replace(row, ",-2,", ",south,", 1), "line 5, column 3 (north_m): \"south\" is not a finite number"},
		{"nan", hdr + strings.Replace(row, ",0.5,", ",NaN,", 1), "line 4, column 11 (pid_ppm): \"NaN\""},
		{"required", hdr + strings.Replace(row, ",1,-2,", ",,-2,", 1), "line 4, column 2 (east_m): empty, but required"},
		{"time", hdr + strings.Replace(row, "15:00:00Z", "15h", 1), "line 4, column 1 (time)"},
		{"backwards", hdr + strings.Replace(row, ":00Z", ":09Z", 1) + row, "line 5, column 1 (time):"},
		{"line", hdr + strings.Replace(row, ",90,0,", ",90,-2,", 1), "line 4, column 8 (line)"},
		{"long", hdr + strings.Repeat("1", maxTraceLine+1), "line 4: longer than"},
	} {
		_, err := ReadTraceCSV(strings.NewReader(c.in))
		if !errors.Is(err, ErrTrace) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrTrace containing %q", c.name, err, c.want)
		}
	}
	tr, err := ReadTraceCSV(strings.NewReader(strings.ReplaceAll(hdr+row, "\n", "\r\n")))
	if err != nil || len(tr.Samples) != 1 || !math.IsNaN(tr.Samples[0].Lat) || tr.Samples[0].Readings[0] != 0.5 {
		t.Errorf("CRLF file: %+v, %v", tr, err)
	}
}

// FuzzReadTraceCSV: the reader never panics, and whatever it accepts it
// writes back and reads again unchanged.
func FuzzReadTraceCSV(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "trace.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	lines := bytes.SplitAfter(data, []byte("\n"))
	f.Add(bytes.Join(lines[:min(len(lines), 20)], nil))
	f.Add([]byte(TraceMagic + "\n" + strings.Join(traceFixed[:], ",") + "\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		tr, err := ReadTraceCSV(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrTrace) {
				t.Fatalf("error %v does not wrap ErrTrace", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := WriteTraceCSV(&buf, tr); err != nil {
			t.Fatalf("read but cannot write: %v", err)
		}
		back, err := ReadTraceCSV(&buf)
		if err != nil {
			t.Fatalf("cannot read what was written: %v", err)
		}
		if d := sameTrace(tr, back, 0); d != "" {
			t.Fatalf("round trip: %s", d)
		}
	})
}
