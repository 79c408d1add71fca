package flightlog

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadTrackCSV(t *testing.T) {
	f, err := os.Open("testdata/track.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ReadTrackCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Samples) != 5 || tr.Source != "csv" || !tr.HasUTC {
		t.Fatalf("%d samples from %s", len(tr.Samples), tr.Source)
	}
	t0 := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	wantTimes := []time.Time{t0, t0.Add(500 * time.Millisecond), t0.Add(1000250 * time.Microsecond), t0.Add(2 * time.Second), t0.Add(2500 * time.Millisecond)}
	for i, s := range tr.Samples {
		if !s.Time.Equal(wantTimes[i]) || s.Time.Location() != time.UTC {
			t.Errorf("sample %d: time %v, want %v", i, s.Time, wantTimes[i])
		}
		if int64(s.T)+tr.UTCOffset != s.Time.UnixMicro() {
			t.Errorf("sample %d: T %d + offset %d != %v", i, s.T, tr.UTCOffset, s.Time)
		}
	}
	s := tr.Samples[3]
	if s.Lat != 40.416935 || s.Lon != -3.703795 || s.Alt != 950.2 || !s.HasAttitude ||
		math.Abs(s.Roll-10*math.Pi/180) > 1e-15 || math.Abs(s.Yaw-15*math.Pi/180) > 1e-15 || !s.HasWind || s.WindEast != -3.25 {
		t.Errorf("sample 3: %+v", s)
	}
	if tr.Samples[1].HasWind || tr.Samples[2].HasAttitude || !tr.Samples[2].HasWind {
		t.Errorf("empty cells: samples %+v, %+v", tr.Samples[1], tr.Samples[2])
	}
	r, p, y := Euler(s.Q)
	if math.Abs(r-s.Roll) > 1e-6 || math.Abs(p-s.Pitch) > 1e-6 || math.Abs(y-s.Yaw) > 1e-6 {
		t.Errorf("quaternion %v is not the attitude", s.Q)
	}
}

func TestReadTrackCSVErrors(t *testing.T) {
	const h = "time,lat,lon,alt_m\n"
	for _, c := range []struct {
		in     string
		line   int
		column string
		text   string
	}{
		{"", 1, "", "empty file"},
		{"time,lat,lon\n", 1, "alt_m", "required column missing"},
		{"time,lat,lon,alt_m,speed\n", 1, "speed", "unknown column"},
		{"time,lat,lat,lon,alt_m\n", 1, "lat", "twice"},
		{"time,lat,lon,alt_m,roll_deg\n", 1, "", "all or none"},
		{h + "2025-01-01T00:00:00Z,91,0,0\n", 2, "lat", "out of range"},
		{h + "2025-01-01T00:00:00Z,1,0,0\n2025-01-01T00:00:01Z,1,x,0\n", 3, "lon", `"x" is not a finite number`},
		{h + "# comment\n2025-01-01T00:00:00Z,1,0,NaN\n", 3, "alt_m", "finite"},
		{h + "yesterday,1,0,0\n", 2, "time", "neither"},
		{h + "2025-01-01T25:00:00Z,1,0,0\n", 2, "time", "RFC 3339"},
		{h + "1700000001,1,0,0\n1700000000,1,0,0\n", 3, "time", "before the previous"},
		{h + "1700000001.1234567891,1,0,0\n", 2, "time", "9 decimals"},
		{h + "1700000001,1,0\n", 2, "", "3 fields, the header has 4"},
		{h + "1700000001,\"1,0,0\n", 2, "", "quote"},
		{"time,lat,lon,alt_m,roll_deg,pitch_deg,yaw_deg\n1700000001,1,0,0,1,,2\n", 2, "pitch_deg", "finite"},
		{h, 1, "", "no samples"},
	} {
		tr, err := ReadTrackCSV(strings.NewReader(c.in))
		var ce *CSVError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCSV) {
			t.Errorf("%q: error %v (track %v), want a CSVError", c.in, err, tr)
			continue
		}
		if ce.Line != c.line || ce.Column != c.column || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%q: %v (line %d, column %q), want line %d, column %q, %q", c.in, err, ce.Line, ce.Column, c.line, c.column, c.text)
		}
	}
}

// A track written as CSV reads back: times to the µs, positions to 1e-9
// degrees, attitude and wind.
func TestTrackCSVRoundTrip(t *testing.T) {
	b, _ := os.ReadFile("testdata/track.csv")
	tr, err := ReadTrackCSV(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTrackCSV(&buf, tr); err != nil {
		t.Fatal(err)
	}
	tr2, err := ReadTrackCSV(&buf)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	compareTracks(t, tr, tr2)
}

func compareTracks(t *testing.T, a, b *Track) {
	t.Helper()
	if len(a.Samples) != len(b.Samples) || a.UTCOffset != b.UTCOffset {
		t.Fatalf("%d samples (offset %d), read back %d (offset %d)", len(a.Samples), a.UTCOffset, len(b.Samples), b.UTCOffset)
	}
	for i := range a.Samples {
		x, y := a.Samples[i], b.Samples[i]
		if !x.Time.Equal(y.Time) || x.T != y.T || math.Abs(x.Lat-y.Lat) > 1e-9 || math.Abs(x.Lon-y.Lon) > 1e-9 || math.Abs(x.Alt-y.Alt) > 1e-3 ||
			x.HasAttitude != y.HasAttitude || math.Abs(x.Roll-y.Roll) > 1e-12 || math.Abs(x.Pitch-y.Pitch) > 1e-12 || math.Abs(x.Yaw-y.Yaw) > 1e-12 ||
			x.HasWind != y.HasWind || x.WindNorth != y.WindNorth || x.WindEast != y.WindEast {
			t.Errorf("sample %d: %+v, read back %+v", i, x, y)
		}
	}
}

// FuzzReadTrackCSV: never panics; errors are CSVErrors; what reads, writes
// and reads back the same.
func FuzzReadTrackCSV(f *testing.F) {
	b, err := os.ReadFile("testdata/track.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("time,lat,lon,alt_m\n1700000000.5,1,2,3\n"))
	f.Add([]byte("lon,alt_m,time,lat,wind_east_ms,wind_north_ms\n1,2,2020-01-01T00:00:00.123456789+02:00,3,,\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ReadTrackCSV(bytes.NewReader(b))
		if err != nil {
			var ce *CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("not a CSVError: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := WriteTrackCSV(&buf, tr); err != nil {
			t.Fatal(err)
		}
		tr2, err := ReadTrackCSV(&buf)
		if err != nil {
			t.Fatalf("read back: %v\n%s", err, buf.String())
		}
		compareTracks(t, tr, tr2)
	})
}
