package flightlog

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// testTrack is a fixed-seed track with every part set; altitudes are
// float32 values (vehicle_global_position stores alt as float32).
func testTrack(n int) *Track {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2025, 3, 14, 15, 9, 26, 535_897_000, time.UTC)
	tr := &Track{Source: "vehicle_global_position", HasUTC: true}
	for i := range n {
		t := uint64(5_000_000 + i*100_000 + rng.IntN(1000))
		q := [4]float32{rng.Float32() + 0.5, rng.Float32() - 0.5, rng.Float32() - 0.5, rng.Float32() - 0.5}
		norm := float32(math.Sqrt(float64(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])))
		for k := range q {
			q[k] /= norm
		}
		s := Sample{
			T:    t,
			Time: base.Add(time.Duration(t) * time.Microsecond),
			Lat:  4.6 + rng.Float64()*0.01, Lon: -74.08 + rng.Float64()*0.01,
			Alt:         float64(float32(2600 + 100*rng.Float64())),
			HasAttitude: i%7 != 3, Q: q,
			HasWind:   i%5 != 0,
			WindNorth: float64(float32(rng.NormFloat64() * 3)), WindEast: float64(float32(rng.NormFloat64() * 3)),
		}
		if !s.HasAttitude {
			s.Q = [4]float32{}
		} else {
			s.Roll, s.Pitch, s.Yaw = Euler(s.Q)
		}
		if !s.HasWind {
			s.WindNorth, s.WindEast = 0, 0
		}
		tr.Samples = append(tr.Samples, s)
	}
	tr.UTCOffset = base.UnixMicro()
	return tr
}

func TestWriteTrackRoundTrip(t *testing.T) {
	// Gaps in attitude and wind are wider than maxAttitudeGap/maxWindGap
	// apart only if messages are missing for long; here every missing one
	// has neighbours 100 ms away, so drop them from the expectation by
	// writing a track whose gaps the reader fills from the nearest message.
	tr := testTrack(300)
	var buf bytes.Buffer
	if err := WriteTrack(&buf, tr); err != nil {
		t.Fatal(err)
	}
	l, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	got, err := l.Track()
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != tr.Source || got.HasUTC != tr.HasUTC || got.UTCOffset != tr.UTCOffset || len(got.Samples) != len(tr.Samples) {
		t.Fatalf("track: source %s utc %v %d, %d samples; want %s %v %d, %d",
			got.Source, got.HasUTC, got.UTCOffset, len(got.Samples), tr.Source, tr.HasUTC, tr.UTCOffset, len(tr.Samples))
	}
	for i, w := range tr.Samples {
		g := got.Samples[i]
		// Where the writer had no attitude or wind the reader attaches the
		// nearest message (100 ms away): check only the written ones.
		if !w.HasAttitude {
			g.HasAttitude, g.Q, g.Roll, g.Pitch, g.Yaw = false, [4]float32{}, 0, 0, 0
		}
		if !w.HasWind {
			g.HasWind, g.WindNorth, g.WindEast = false, 0, 0
		}
		if !g.Time.Equal(w.Time) {
			t.Fatalf("sample %d: time %v, want %v", i, g.Time, w.Time)
		}
		g.Time = w.Time
		if g != w {
			t.Fatalf("sample %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// TestWriterFormatsArePX4s checks the generated layouts against formats
// written by PX4 itself in the real logs, where the .msg file has not
// changed since (VehicleAttitude.msg, Wind.msg).
func TestWriterFormatsArePX4s(t *testing.T) {
	l, err := ReadFile(filepath.Join(realLogDir, "sample_px4_events.ulg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{formatAttitude, formatWind} {
		pf, err := ParseFormat(f)
		if err != nil {
			t.Fatal(err)
		}
		if real := l.Formats[pf.Name]; real == nil || real.String() != f {
			t.Errorf("format %s:\n got %s\nPX4 %v", pf.Name, f, real)
		}
	}
}

func TestWriterAllTopics(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{StartTime: 1000, GasChannels: []string{"acetone", "toluene"}, Info: map[string]string{"atalaya_survey": "s-42"}})
	if err != nil {
		t.Fatal(err)
	}
	gas := GasSample{Timestamp: 2000, DeviceID: 7, PPM: [4]float32{1.5, 0.25, float32(math.NaN()), 0}, Channels: 2}
	steps := []error{
		w.WriteGlobalPosition(GlobalPosition{Timestamp: 2000, Lat: 4.5, Lon: -74.25, Alt: 2600.5, Eph: 1, Epv: 2}),
		w.WriteGPS(GPS{Timestamp: 2000, Lat: 4.5, Lon: -74.25, AltMSL: 2600.5, TimeUTC: 1_700_000_000_000_000, FixType: 3, Satellites: 12, VelN: 3, VelE: 4}),
		w.WriteAttitude(Attitude{Timestamp: 2000, Q: [4]float32{1, 0, 0, 0}}),
		w.WriteWind(Wind{Timestamp: 2000, North: 1.25, East: -2.5}),
		w.WriteGas(gas),
		w.WriteLog('6', 2000, "survey leg 1"),
		w.Flush(),
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteGas(GasSample{Channels: 5}); err == nil {
		t.Error("WriteGas with 5 channels: no error")
	}
	l, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if l.InfoString("sys_name") != "Atalaya simulator" || l.InfoString("atalaya_gas_channels") != "acetone,toluene" || l.InfoString("atalaya_survey") != "s-42" || l.StartTime != 1000 {
		t.Errorf("info: %v start %d", l.Info, l.StartTime)
	}
	if len(l.Messages) != 1 || l.Messages[0].Text != "survey leg 1" || l.Messages[0].Level != '6' {
		t.Errorf("logging messages: %+v", l.Messages)
	}
	g := l.Topic("atalaya_gas_sensor", 0)
	if g == nil || g.Len() != 1 {
		t.Fatalf("gas topic: %+v", g)
	}
	for i, want := range gas.PPM {
		v, err := g.Float32s("concentration_ppm[" + strconv.Itoa(i) + "]")
		if err != nil || math.Float32bits(v[0]) != math.Float32bits(want) {
			t.Errorf("concentration_ppm[%d] = %v (%v), want %v", i, v, err, want)
		}
	}
	if v, _ := g.Int64s("channel_count"); v[0] != 2 {
		t.Errorf("channel_count %v", v)
	}
	if v, _ := l.Float64s("vehicle_gps_position", 0, "latitude_deg"); len(v) != 1 || v[0] != 4.5 {
		t.Errorf("latitude_deg %v", v)
	}
	if v, _ := l.Float64s("wind", 0, "windspeed_east"); len(v) != 1 || v[0] != -2.5 {
		t.Errorf("windspeed_east %v", v)
	}
	// Data messages leave trailing padding out, as PX4 does.
	for _, tp := range l.Topics {
		f := l.Formats[tp.Name]
		last := f.Fields[len(f.Fields)-1]
		if isPadding(last.Name) && tp.RecordSize%8 == 0 {
			t.Errorf("%s: record of %d bytes includes its padding", tp.Name, tp.RecordSize)
		}
	}
}

// TestWrittenLogAgainstFoxglove reads a written track with @foxglove/ulog:
// every message and field of every topic must match, bit for bit.
func TestWrittenLogAgainstFoxglove(t *testing.T) {
	tr := testTrack(120)
	path := filepath.Join(t.TempDir(), "track.ulg")
	var buf bytes.Buffer
	if err := WriteTrack(&buf, tr); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	d := foxDumpFile(t, path, "*")
	if d.Info["sys_name"] == nil || string(d.Info["sys_name"]) != `"Atalaya simulator"` {
		t.Errorf("foxglove sys_name %s", d.Info["sys_name"])
	}
	want := map[string]int{"vehicle_global_position/0": 120, "vehicle_gps_position/0": 120, "vehicle_attitude/0": 0, "wind/0": 0}
	for _, s := range tr.Samples {
		if s.HasAttitude {
			want["vehicle_attitude/0"]++
		}
		if s.HasWind {
			want["wind/0"]++
		}
	}
	for k, n := range want {
		if d.Counts[k] != n {
			t.Errorf("foxglove %s: %d messages, want %d", k, d.Counts[k], n)
		}
	}
	for _, tp := range l.Topics {
		ft := d.Topics[topicKeyString(tp)]
		compareTopic(t, tp, ft.Timestamps, ft.Fields)
	}
	// And the positions foxglove reads are the track's.
	gp := d.Topics["vehicle_global_position/0"]
	for i, s := range tr.Samples {
		var lat, lon float64
		if err := jsonFloat(gp.Fields["lat"][i], &lat); err != nil || lat != s.Lat {
			t.Fatalf("sample %d: foxglove lat %v (%v), want %v", i, lat, err, s.Lat)
		}
		if err := jsonFloat(gp.Fields["lon"][i], &lon); err != nil || lon != s.Lon {
			t.Fatalf("sample %d: foxglove lon %v, want %v", i, lon, s.Lon)
		}
	}
}

func jsonFloat(raw []byte, v *float64) error {
	f, err := strconv.ParseFloat(string(raw), 64)
	*v = f
	return err
}
