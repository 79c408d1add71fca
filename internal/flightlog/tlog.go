package flightlog

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/atalaya-project/atalaya/internal/mavlink"
)

// MAVLink telemetry logs (.tlog)
//
// A .tlog is what a ground station (Mission Planner, MAVProxy,
// QGroundControl) received over the telemetry link: MAVLink 1 or 2 frames,
// each preceded by the time it was received, 8 bytes big-endian, µs since
// the Unix epoch (UTC); internal/mavlink splits and checks it. ReadTlog
// turns it into a Track:
//
//   - positions from GLOBAL_POSITION_INT (the autopilot's fused estimate:
//     lat, lon 1e-7 degrees, alt mm above mean sea level), or, if the log
//     has none with a position, from GPS_RAW_INT with a fix (fix_type ≥ 2,
//     GPS_FIX_TYPE_2D_FIX); GLOBAL_POSITION_INT at exactly 0, 0 is left
//     out (ArduPilot sends zeros until its estimator has an origin), and so
//     is any latitude or longitude out of range;
//   - the vehicle is the system (sysid) of the first position message:
//     messages of other systems (the ground station, other vehicles) are
//     ignored;
//   - Sample.Time is the reception time logged with the position frame, in
//     UTC; Sample.T is the vehicle's time since boot carried by the message
//     (GLOBAL_POSITION_INT time_boot_ms; GPS_RAW_INT time_usec when it
//     counts from boot, 0 when it is a Unix time). Track.HasUTC is true and
//     Track.UTCOffset is the median of Time − T: unlike a ULog's, a tlog's
//     Time is not exactly T + UTCOffset but includes the link's latency
//     and jitter (tens of ms on a radio link);
//   - attitude from ATTITUDE (roll, pitch, yaw in radians, aeronautical
//     frame: FRD body to NED, ZYX order), kept as sent in Roll, Pitch, Yaw
//     and converted to the quaternion Q;
//   - wind from ardupilotmega WIND, whose direction is where the wind comes
//     FROM, degrees clockwise from north, and speed is m/s in the ground
//     plane; Track wind is the velocity of the air (as PX4's), so
//     WindNorth = −speed·cos(direction), WindEast = −speed·sin(direction):
//     a wind from the west (270°) gives WindEast = +speed;
//   - attitude and wind are attached from the message nearest in reception
//     time (the one clock all messages share in a tlog; WIND has no time
//     of its own) within the gaps the ULog reader uses.
//
// A corrupt or truncated log gives back the Track of what was readable and
// an error wrapping mavlink.ErrTruncated or mavlink.ErrChecksum /
// mavlink.ErrFormat (bytes skipped while resynchronising).

// ErrNotTlog is returned for input in which no MAVLink telemetry record is
// found.
var ErrNotTlog = errors.New("not a MAVLink telemetry log")

// ReadTlog reads a MAVLink telemetry log (.tlog) into a Track.
func ReadTlog(r io.Reader) (*Track, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("flightlog: read tlog: %w", err)
	}
	return DecodeTlog(b)
}

// Tlog messages' times and values, before they become samples.
type tlogPos struct {
	recv, boot    uint64
	lat, lon, alt float64
}

type tlogAtt struct {
	recv             uint64
	roll, pitch, yaw float32
}

type tlogWind struct {
	recv        uint64
	north, east float64
}

// bootMaxUsec: GPS_RAW_INT time_usec below this counts from boot, above
// it from the Unix epoch (1e15 µs is 31.7 years of uptime, and 2001-09-09
// as a Unix time).
const bootMaxUsec = 1e15

// DecodeTlog reads a MAVLink telemetry log held in memory into a Track.
func DecodeTlog(b []byte) (*Track, error) {
	recs, st, splitErr := mavlink.SplitTlog(b)
	if splitErr != nil {
		splitErr = fmt.Errorf("flightlog: %w", splitErr)
	}
	if len(recs) == 0 {
		return nil, errors.Join(fmt.Errorf("flightlog: %d bytes, no MAVLink record (%d skipped): %w", len(b), st.Skipped, ErrNotTlog), splitErr)
	}
	var (
		gpi, gps    []tlogPos
		att         []tlogAtt
		wind        []tlogWind
		sysid       = -1
		attByID     = map[uint8][]tlogAtt{}
		windByID    = map[uint8][]tlogWind{}
		validLatLon = func(lat, lon int32) bool {
			return lat >= -900_000_000 && lat <= 900_000_000 && lon >= -1_800_000_000 && lon <= 1_800_000_000
		}
	)
	for _, r := range recs {
		f := &r.Frame
		switch f.MsgID {
		case mavlink.IDGlobalPositionInt, mavlink.IDGPSRawInt, mavlink.IDAttitude, mavlink.IDWind:
		default:
			continue
		}
		m, err := f.Message()
		if err != nil {
			continue // SplitTlog returns only frames that decode
		}
		switch m := m.(type) {
		case *mavlink.GlobalPositionInt:
			if (m.Lat == 0 && m.Lon == 0) || !validLatLon(m.Lat, m.Lon) || (sysid >= 0 && int(f.SysID) != sysid) {
				continue
			}
			sysid = int(f.SysID)
			gpi = append(gpi, tlogPos{r.Usec, uint64(m.TimeBootMs) * 1000, float64(m.Lat) * 1e-7, float64(m.Lon) * 1e-7, float64(m.Alt) * 1e-3})
		case *mavlink.GPSRawInt:
			if m.FixType < 2 || !validLatLon(m.Lat, m.Lon) || (sysid >= 0 && int(f.SysID) != sysid) {
				continue
			}
			sysid = int(f.SysID)
			boot := m.TimeUsec
			if boot >= bootMaxUsec {
				boot = 0
			}
			gps = append(gps, tlogPos{r.Usec, boot, float64(m.Lat) * 1e-7, float64(m.Lon) * 1e-7, float64(m.Alt) * 1e-3})
		case *mavlink.Attitude:
			attByID[f.SysID] = append(attByID[f.SysID], tlogAtt{r.Usec, m.Roll, m.Pitch, m.Yaw})
		case *mavlink.Wind:
			d := float64(m.Direction) * math.Pi / 180
			s := float64(m.Speed)
			windByID[f.SysID] = append(windByID[f.SysID], tlogWind{r.Usec, -s * math.Cos(d), -s * math.Sin(d)})
		}
	}
	tr := &Track{Source: "GLOBAL_POSITION_INT"}
	pos := gpi
	if len(pos) == 0 {
		tr.Source, pos = "GPS_RAW_INT", gps
	}
	if len(pos) == 0 {
		return nil, errors.Join(fmt.Errorf("flightlog: tlog of %d records: no GLOBAL_POSITION_INT or GPS_RAW_INT with a position: %w", len(recs), ErrNoPosition), splitErr)
	}
	att, wind = attByID[uint8(sysid)], windByID[uint8(sysid)]
	tr.Samples = make([]Sample, len(pos))
	var offs []int64
	for i, p := range pos {
		tr.Samples[i] = Sample{T: p.boot, Time: time.UnixMicro(int64(p.recv)).UTC(), Lat: p.lat, Lon: p.lon, Alt: p.alt}
		if p.boot > 0 {
			offs = append(offs, int64(p.recv)-int64(p.boot))
		}
	}
	tr.HasUTC = true
	if len(offs) > 0 {
		slices.Sort(offs)
		tr.UTCOffset = offs[len(offs)/2]
	}
	attachTlog(tr, pos, att, wind)
	return tr, splitErr
}

// attachTlog attaches to each position the attitude and wind nearest in
// reception time.
func attachTlog(tr *Track, pos []tlogPos, att []tlogAtt, wind []tlogWind) {
	sort.SliceStable(att, func(a, b int) bool { return att[a].recv < att[b].recv })
	sort.SliceStable(wind, func(a, b int) bool { return wind[a].recv < wind[b].recv })
	at := make([]uint64, len(att))
	for i, a := range att {
		at[i] = a.recv
	}
	wt := make([]uint64, len(wind))
	for i, w := range wind {
		wt[i] = w.recv
	}
	for i, p := range pos {
		s := &tr.Samples[i]
		if j := nearest(at, p.recv, maxAttitudeGap); j >= 0 {
			a := att[j]
			s.HasAttitude = true
			s.Roll, s.Pitch, s.Yaw = float64(a.roll), float64(a.pitch), float64(a.yaw)
			s.Q = Quaternion(s.Roll, s.Pitch, s.Yaw)
		}
		if j := nearest(wt, p.recv, maxWindGap); j >= 0 {
			s.HasWind, s.WindNorth, s.WindEast = true, wind[j].north, wind[j].east
		}
	}
}

// Quaternion converts roll, pitch, yaw in radians (Tait-Bryan ZYX, body
// FRD to NED) to the unit quaternion (w, x, y, z); Euler inverts it.
func Quaternion(roll, pitch, yaw float64) [4]float32 {
	sr, cr := math.Sincos(roll / 2)
	sp, cp := math.Sincos(pitch / 2)
	sy, cy := math.Sincos(yaw / 2)
	return [4]float32{
		float32(cr*cp*cy + sr*sp*sy),
		float32(sr*cp*cy - cr*sp*sy),
		float32(cr*sp*cy + sr*cp*sy),
		float32(cr*cp*sy - sr*sp*cy),
	}
}
