package flightlog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/mavlink"
	"github.com/atalaya-project/atalaya/internal/mavlink/nodemavlink"
)

func num(t *testing.T, f nodemavlink.Fields, name string) float64 {
	t.Helper()
	var v float64
	if err := json.Unmarshal(f[name], &v); err != nil {
		t.Fatalf("field %s = %s: %v", name, f[name], err)
	}
	return v
}

// node-mavlink (npm, independent) writes a tlog of GLOBAL_POSITION_INT,
// ATTITUDE (some signed), GPS_RAW_INT and WIND in MAVLink 1 and 2; the
// Track must carry its values exactly.
func TestTlogNodeMavlink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.tlog")
	recs, err := nodemavlink.WriteTlog(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := DecodeTlog(b)
	if err != nil {
		t.Fatal(err)
	}
	type wnd struct{ recv, n, e float64 }
	var pos, att []nodemavlink.Record
	var winds []wnd
	for _, r := range recs {
		switch r.Name {
		case "GLOBAL_POSITION_INT":
			pos = append(pos, r)
		case "ATTITUDE":
			att = append(att, r)
		case "WIND":
			recv, _ := strconv.ParseFloat(r.T, 64)
			d := float64(float32(num(t, r.Fields, "direction"))) * math.Pi / 180
			s := float64(float32(num(t, r.Fields, "speed")))
			winds = append(winds, wnd{recv, -s * math.Cos(d), -s * math.Sin(d)})
		}
	}
	if tr.Source != "GLOBAL_POSITION_INT" || len(tr.Samples) != len(pos) || !tr.HasUTC {
		t.Fatalf("track from %s, %d samples, HasUTC %v; node-mavlink wrote %d positions", tr.Source, len(tr.Samples), tr.HasUTC, len(pos))
	}
	for i, p := range pos {
		s := tr.Samples[i]
		recv, _ := strconv.ParseInt(p.T, 10, 64)
		if !s.Time.Equal(time.UnixMicro(recv)) || s.T != uint64(num(t, p.Fields, "time_boot_ms"))*1000 ||
			s.Lat != num(t, p.Fields, "lat")*1e-7 || s.Lon != num(t, p.Fields, "lon")*1e-7 || s.Alt != num(t, p.Fields, "alt")*1e-3 {
			t.Errorf("sample %d: %v T %d %.7f %.7f %.3f; node-mavlink %+v", i, s.Time, s.T, s.Lat, s.Lon, s.Alt, p)
		}
		// The attitude frame follows its position by 1 ms.
		a := att[i].Fields
		if !s.HasAttitude || s.Roll != float64(float32(num(t, a, "roll"))) || s.Pitch != float64(float32(num(t, a, "pitch"))) ||
			s.Yaw != float64(float32(num(t, a, "yaw"))) {
			t.Errorf("sample %d: attitude %v %v %v %v; node-mavlink %s", i, s.HasAttitude, s.Roll, s.Pitch, s.Yaw, att[i].Fields)
		}
		r, pp, y := Euler(s.Q)
		if math.Abs(r-s.Roll) > 1e-6 || math.Abs(pp-s.Pitch) > 1e-6 || math.Abs(y-s.Yaw) > 1e-6 {
			t.Errorf("sample %d: Q %v gives %v %v %v, attitude %v %v %v", i, s.Q, r, pp, y, s.Roll, s.Pitch, s.Yaw)
		}
		// Wind: the nearest WIND frame in reception time.
		best := winds[0]
		for _, w := range winds {
			if math.Abs(w.recv-float64(recv)) < math.Abs(best.recv-float64(recv)) {
				best = w
			}
		}
		if !s.HasWind || s.WindNorth != best.n || s.WindEast != best.e {
			t.Errorf("sample %d: wind %v %v %v, want %v %v", i, s.HasWind, s.WindNorth, s.WindEast, best.n, best.e)
		}
	}
}

// appendRecord appends one tlog record of m to b.
func appendRecord(t testing.TB, b []byte, usec uint64, version int, sysid uint8, m mavlink.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := mavlink.NewEncoder(&buf, sysid, 1)
	e.Version = version
	if err := e.Encode(m); err != nil {
		t.Fatal(err)
	}
	b = binary.BigEndian.AppendUint64(b, usec)
	return append(b, buf.Bytes()...)
}

func TestTlogWindDirection(t *testing.T) {
	const t0 = 1_700_000_000_000_000
	var b []byte
	b = appendRecord(t, b, t0, 2, 1, &mavlink.GlobalPositionInt{TimeBootMs: 5, Lat: 1, Lon: 1})
	b = appendRecord(t, b, t0+1, 2, 1, &mavlink.Wind{Direction: 270, Speed: 5}) // from the west
	tr, err := DecodeTlog(b)
	if err != nil {
		t.Fatal(err)
	}
	s := tr.Samples[0]
	if !s.HasWind || math.Abs(s.WindEast-5) > 1e-9 || math.Abs(s.WindNorth) > 1e-6 {
		t.Errorf("wind from 270° at 5 m/s: north %v east %v, want 0, +5 (air moving east)", s.WindNorth, s.WindEast)
	}
}

// Without GLOBAL_POSITION_INT the positions come from GPS_RAW_INT with a
// fix; other systems' messages are ignored.
func TestTlogGPSFallbackAndSystems(t *testing.T) {
	const t0 = 1_700_000_000_000_000
	var b []byte
	b = appendRecord(t, b, t0, 1, 1, &mavlink.GPSRawInt{TimeUsec: 1_000_000, FixType: 1, Lat: 10, Lon: 20})             // no fix
	b = appendRecord(t, b, t0+100, 1, 1, &mavlink.GPSRawInt{TimeUsec: 2_000_000, FixType: 3, Lat: 11, Lon: 21, Alt: 5}) // 3D fix
	b = appendRecord(t, b, t0+150, 2, 2, &mavlink.GPSRawInt{TimeUsec: 2_000_000, FixType: 3, Lat: 99, Lon: 99})         // another vehicle
	b = appendRecord(t, b, t0+200, 2, 1, &mavlink.GPSRawInt{TimeUsec: t0, FixType: 2, Lat: -12, Lon: -22})              // Unix time
	b = appendRecord(t, b, t0+300, 2, 1, &mavlink.GlobalPositionInt{})                                                  // no origin yet
	tr, err := DecodeTlog(b)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Source != "GPS_RAW_INT" || len(tr.Samples) != 2 {
		t.Fatalf("%s, %d samples: %+v", tr.Source, len(tr.Samples), tr.Samples)
	}
	s0, s1 := tr.Samples[0], tr.Samples[1]
	if s0.T != 2_000_000 || s0.Lat != 11e-7 || s0.Lon != 21e-7 || s0.Alt != 5e-3 || s1.T != 0 || s1.Lat != -12e-7 {
		t.Errorf("samples %+v %+v", s0, s1)
	}
	if tr.UTCOffset != t0+100-2_000_000 {
		t.Errorf("UTCOffset %d", tr.UTCOffset)
	}
}

func TestTlogCorruptAndTruncated(t *testing.T) {
	b, err := os.ReadFile("testdata/node_mavlink.tlog")
	if err != nil {
		t.Fatal(err)
	}
	clean, err := DecodeTlog(b)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(b[:len(b)-5]) // cut inside the last record
	bad[1000] ^= 0x55                // a flipped byte inside some frame
	bad = append(bad[:3000:3000], append([]byte("garbage\xfd\xfe"), bad[3000:]...)...)
	tr, err := DecodeTlog(bad)
	if !errors.Is(err, mavlink.ErrTruncated) || (!errors.Is(err, mavlink.ErrChecksum) && !errors.Is(err, mavlink.ErrFormat)) {
		t.Errorf("error %v, want truncated and checksum/format", err)
	}
	if tr == nil || len(tr.Samples) < len(clean.Samples)-2 {
		t.Fatalf("corrupt log: %v samples of %d", tr, len(clean.Samples))
	}
	t.Logf("corrupt log: %d of %d samples; %v", len(tr.Samples), len(clean.Samples), err)

	if _, err := DecodeTlog([]byte("not a tlog at all")); !errors.Is(err, ErrNotTlog) {
		t.Errorf("text: %v, want ErrNotTlog", err)
	}
	if _, err := DecodeTlog(nil); !errors.Is(err, ErrNotTlog) {
		t.Errorf("empty: %v, want ErrNotTlog", err)
	}
	hb := appendRecord(t, nil, 1_700_000_000_000_000, 2, 1, &mavlink.Heartbeat{})
	if _, err := DecodeTlog(hb); !errors.Is(err, ErrNoPosition) {
		t.Errorf("heartbeat only: %v, want ErrNoPosition", err)
	}
}

func TestQuaternionEuler(t *testing.T) {
	for _, a := range [][3]float64{{0, 0, 0}, {0.1, -0.2, 3}, {-1, 1.2, -2.5}, {0.3, 0, -math.Pi / 2}} {
		r, p, y := Euler(Quaternion(a[0], a[1], a[2]))
		if math.Abs(r-a[0]) > 1e-6 || math.Abs(p-a[1]) > 1e-6 || math.Abs(y-a[2]) > 1e-6 {
			t.Errorf("%v → %v %v %v", a, r, p, y)
		}
	}
}

// FuzzReadTlog: never panics; a Track comes with its error or without one,
// and positions are in range.
func FuzzReadTlog(f *testing.F) {
	b, err := os.ReadFile("testdata/node_mavlink.tlog")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/3])
	f.Add(b[100:700])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := DecodeTlog(b)
		if tr == nil {
			if err == nil {
				t.Fatal("nil track without an error")
			}
			return
		}
		if len(tr.Samples) == 0 {
			t.Fatal("track without samples")
		}
		for _, s := range tr.Samples {
			if math.Abs(s.Lat) > 90 || math.Abs(s.Lon) > 180 || math.IsNaN(s.Alt) {
				t.Fatalf("sample out of range: %+v", s)
			}
		}
	})
}
