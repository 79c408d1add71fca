package flightlog

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Sample is one point of a Track.
type Sample struct {
	T    uint64    // µs since boot
	Time time.Time // UTC, from GPS time; zero if the log has none

	Lat, Lon float64 // degrees, WGS-84
	Alt      float64 // metres above mean sea level

	HasAttitude      bool
	Q                [4]float32 // w, x, y, z: body (FRD) to NED, as logged
	Roll, Pitch, Yaw float64    // radians, Tait-Bryan ZYX, from Q

	HasWind             bool
	WindNorth, WindEast float64 // m/s, velocity of the air
}

// Track is a time series of positions with attitude and wind where logged.
type Track struct {
	Source  string // the topic the positions came from
	Samples []Sample

	// GasChannels names the channels of a point gas sensor logged with the
	// track (atalaya_gas_sensor, info key atalaya_gas_channels) and Gas
	// its samples; GasInfo holds more about each channel (the info key
	// atalaya_gas_channel.<name>: the instrument's model).
	GasChannels []string
	Gas         []GasSample
	GasInfo     map[string]string

	// HasUTC says whether GPS time was logged; then Time = T + UTCOffset µs.
	HasUTC    bool
	UTCOffset int64 // µs: UTC (µs since the Unix epoch) minus µs since boot
}

// How far (µs) from a position sample the nearest attitude or wind message
// may be and still be attached to it. PX4 logs vehicle_attitude at 20-50 Hz
// and wind at 1-10 Hz in its default profile (logged_topics.cpp), so these
// are several logging periods: a larger gap means the topic was not logged.
const (
	maxAttitudeGap = 500_000
	maxWindGap     = 10_000_000
)

// Positions come from the first of these topics (instance 0) that has a
// usable message: the estimator's fused position, then the selected GPS,
// then the raw GPS driver output.
var positionTopics = []string{"vehicle_global_position", "vehicle_gps_position", "sensor_gps"}

// Track extracts the positions of the log with attitude (vehicle_attitude)
// and wind (wind, or wind_estimate in older logs) attached from the nearest
// message in time, and UTC time from GPS time_utc_usec. GPS messages without
// a fix (fix_type < 2) and fused positions flagged !lat_lon_valid are left
// out. It fails with ErrNoPosition if no topic has a usable position.
func (l *Log) Track() (*Track, error) {
	tr := &Track{}
	for _, name := range positionTopics {
		t := l.Topic(name, 0)
		if t == nil || t.Len() == 0 {
			continue
		}
		s, err := positions(t)
		if err != nil {
			return nil, err
		}
		if len(s) > 0 {
			tr.Source, tr.Samples = name, s
			break
		}
	}
	if tr.Source == "" {
		return nil, fmt.Errorf("flightlog: none of %v has a position: %w", positionTopics, ErrNoPosition)
	}
	tr.UTCOffset, tr.HasUTC = l.utcOffset()
	if tr.HasUTC {
		for i := range tr.Samples {
			tr.Samples[i].Time = time.UnixMicro(int64(tr.Samples[i].T) + tr.UTCOffset).UTC()
		}
	}
	l.attachAttitude(tr)
	l.attachWind(tr)
	if err := l.attachGas(tr); err != nil {
		return nil, err
	}
	return tr, nil
}

// attachGas reads the point gas sensor's samples (atalaya_gas_sensor), if
// logged, with the channels' names and models from the info messages.
func (l *Log) attachGas(tr *Track) error {
	t := l.Topic("atalaya_gas_sensor", 0)
	if t == nil || t.Len() == 0 {
		return nil
	}
	names := l.InfoString("atalaya_gas_channels")
	if names == "" {
		return fmt.Errorf("flightlog: atalaya_gas_sensor logged without the info key atalaya_gas_channels naming its channels: %w", ErrNoField)
	}
	tr.GasChannels = strings.Split(names, ",")
	if len(tr.GasChannels) > GasChannels {
		return fmt.Errorf("flightlog: %d gas channels named, at most %d: %w", len(tr.GasChannels), GasChannels, ErrNoField)
	}
	for _, ch := range tr.GasChannels {
		if v := l.InfoString(GasInfoKey(ch)); v != "" {
			if tr.GasInfo == nil {
				tr.GasInfo = map[string]string{}
			}
			tr.GasInfo[ch] = v
		}
	}
	var cols [GasChannels][]float64
	for k := range GasChannels {
		v, err := t.Float64s(fmt.Sprintf("concentration_ppm[%d]", k))
		if err != nil {
			return err
		}
		cols[k] = v
	}
	n, err := t.Int64s("channel_count")
	if err != nil {
		return err
	}
	tr.Gas = make([]GasSample, t.Len())
	for i := range tr.Gas {
		g := GasSample{Timestamp: t.Timestamps[i], Channels: uint8(min(max(n[i], 0), GasChannels))}
		for k := range GasChannels {
			g.PPM[k] = float32(cols[k][i])
		}
		tr.Gas[i] = g
	}
	return nil
}

// positions reads lat, lon, alt in the topic's own encoding: float64 degrees
// (lat/lon of vehicle_global_position, latitude_deg of newer GPS topics) or
// int32 1e-7 degrees and int32 mm (lat/lon/alt of older GPS topics).
func positions(t *Topic) ([]Sample, error) {
	lat, lon, alt, err := latLonAlt(t)
	if err != nil {
		return nil, err
	}
	valid := make([]bool, t.Len())
	for i := range valid {
		valid[i] = !math.IsNaN(lat[i]) && !math.IsNaN(lon[i])
	}
	if v, err := t.Int64s("lat_lon_valid"); err == nil {
		for i := range valid {
			valid[i] = valid[i] && v[i] != 0
		}
	}
	if v, err := t.Int64s("fix_type"); err == nil {
		for i := range valid {
			valid[i] = valid[i] && v[i] >= 2 // 2: 2D fix (SensorGps.msg)
		}
	}
	var out []Sample
	for i := range valid {
		if valid[i] {
			out = append(out, Sample{T: t.Timestamps[i], Lat: lat[i], Lon: lon[i], Alt: alt[i]})
		}
	}
	return out, nil
}

func latLonAlt(t *Topic) (lat, lon, alt []float64, err error) {
	scaled := func(name string, scale float64) ([]float64, error) {
		f, ok := t.Field(name)
		if !ok {
			return nil, fmt.Errorf("flightlog: %s: field %q: %w", t.Name, name, ErrNoField)
		}
		v, err := t.Float64s(name)
		if err != nil {
			return nil, err
		}
		if f.Type != Float32 && f.Type != Float64 {
			for i := range v {
				v[i] *= scale
			}
		}
		return v, nil
	}
	latName, lonName, altName := "lat", "lon", "alt"
	if _, ok := t.Field("latitude_deg"); ok {
		latName, lonName, altName = "latitude_deg", "longitude_deg", "altitude_msl_m"
	}
	if lat, err = scaled(latName, 1e-7); err != nil {
		return
	}
	if lon, err = scaled(lonName, 1e-7); err != nil {
		return
	}
	alt, err = scaled(altName, 1e-3)
	return
}

// utcOffset is the median over GPS messages with a time of
// time_utc_usec − (timestamp + timestamp_time_relative): SensorGps.msg says
// the UTC time was valid at timestamp + timestamp_time_relative.
func (l *Log) utcOffset() (int64, bool) {
	for _, name := range []string{"vehicle_gps_position", "sensor_gps"} {
		t := l.Topic(name, 0)
		if t == nil {
			continue
		}
		utc, err := t.Uint64s("time_utc_usec")
		if err != nil {
			continue
		}
		rel, err := t.Int64s("timestamp_time_relative")
		if err != nil {
			rel = make([]int64, t.Len())
		}
		var offs []int64
		for i, u := range utc {
			if u > 0 && u < math.MaxInt64/2 {
				offs = append(offs, int64(u)-int64(t.Timestamps[i])-rel[i])
			}
		}
		if len(offs) > 0 {
			slices.Sort(offs)
			return offs[len(offs)/2], true
		}
	}
	return 0, false
}

// nearest returns the index of the timestamp in sorted ts closest to t, or
// -1 if none is within gap.
func nearest(ts []uint64, t, gap uint64) int {
	i := sort.Search(len(ts), func(i int) bool { return ts[i] >= t })
	best, bestD := -1, gap+1
	for _, j := range []int{i - 1, i} {
		if j < 0 || j >= len(ts) {
			continue
		}
		d := max(ts[j], t) - min(ts[j], t)
		if d < bestD {
			best, bestD = j, d
		}
	}
	return best
}

// byTime returns the message indices of t in timestamp order (stable).
func byTime(t *Topic) ([]int, []uint64) {
	idx := make([]int, t.Len())
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return t.Timestamps[idx[a]] < t.Timestamps[idx[b]] })
	ts := make([]uint64, len(idx))
	for i, j := range idx {
		ts[i] = t.Timestamps[j]
	}
	return idx, ts
}

func (l *Log) attachAttitude(tr *Track) {
	t := l.Topic("vehicle_attitude", 0)
	if t == nil || t.Len() == 0 {
		return
	}
	var q [4][]float32
	for k := range q {
		var err error
		if q[k], err = t.Float32s(fmt.Sprintf("q[%d]", k)); err != nil {
			return
		}
	}
	idx, ts := byTime(t)
	for i := range tr.Samples {
		s := &tr.Samples[i]
		j := nearest(ts, s.T, maxAttitudeGap)
		if j < 0 {
			continue
		}
		m := idx[j]
		s.HasAttitude = true
		s.Q = [4]float32{q[0][m], q[1][m], q[2][m], q[3][m]}
		s.Roll, s.Pitch, s.Yaw = Euler(s.Q)
	}
}

func (l *Log) attachWind(tr *Track) {
	var t *Topic
	for _, name := range []string{"wind", "wind_estimate"} {
		if t = l.Topic(name, 0); t != nil && t.Len() > 0 {
			break
		}
	}
	if t == nil || t.Len() == 0 {
		return
	}
	n, err1 := t.Float64s("windspeed_north")
	e, err2 := t.Float64s("windspeed_east")
	if err1 != nil || err2 != nil {
		return
	}
	idx, ts := byTime(t)
	for i := range tr.Samples {
		s := &tr.Samples[i]
		if j := nearest(ts, s.T, maxWindGap); j >= 0 {
			s.HasWind, s.WindNorth, s.WindEast = true, n[idx[j]], e[idx[j]]
		}
	}
}

// Euler converts a unit quaternion (w, x, y, z) to roll, pitch, yaw in
// radians (Tait-Bryan ZYX, as PX4's matrix::Eulerf; pitch clamped to ±π/2).
func Euler(q [4]float32) (roll, pitch, yaw float64) {
	w, x, y, z := float64(q[0]), float64(q[1]), float64(q[2]), float64(q[3])
	roll = math.Atan2(2*(w*x+y*z), 1-2*(x*x+y*y))
	pitch = math.Asin(math.Max(-1, math.Min(1, 2*(w*y-z*x))))
	yaw = math.Atan2(2*(w*z+x*y), 1-2*(y*y+z*z))
	return
}
