package sniff

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/atalaya-project/atalaya/internal/flightlog"
)

// FromFlightLog takes one channel of the point gas sensor logged in a
// flight log (the atalaya_gas_sensor topic of a PX4 ULog, read by
// flightlog.Log.Track) — the other form of a trace besides the CSV file.
// Each reading is placed where the drone was at its time (the track's
// positions interpolated linearly) with the wind the log has nearest in
// time; the channel's model comes from the log's info message
// (flightlog.GasInfoKey) when there is one. groundAltM is the ground's
// altitude in the log's altitude reference (PX4 logs altitude above mean
// sea level): heights above ground are the log's altitudes minus it. The
// local frame is metres east and north of the first reading (an
// equirectangular projection, exact to well under a metre over a survey);
// latitude and longitude are kept, so estimates map back to them.
func FromFlightLog(tr *flightlog.Track, channel string, groundAltM float64) (*Series, error) {
	col := slices.Index(tr.GasChannels, channel)
	if col < 0 {
		return nil, fmt.Errorf("%w: no gas channel %q in the flight log (have %v)", ErrInput, channel, tr.GasChannels)
	}
	if len(tr.Gas) == 0 || len(tr.Samples) == 0 {
		return nil, fmt.Errorf("%w: the flight log has no gas readings or no positions", ErrInput)
	}
	if math.IsNaN(groundAltM) || math.IsInf(groundAltM, 0) {
		return nil, fmt.Errorf("%w: ground altitude %g", ErrInput, groundAltM)
	}
	s := &Series{Channel: channel}
	if v, ok := tr.GasInfo[channel]; ok {
		ins, err := parseInstrument(v)
		if err != nil {
			return nil, fmt.Errorf("%w: flight log info %s: %w", ErrInput, flightlog.GasInfoKey(channel), err)
		}
		s.Instrument = ins
	}
	pos := tr.Samples
	windy := slices.ContainsFunc(pos, func(p flightlog.Sample) bool { return p.HasWind })
	var t0 uint64
	const mPerDeg = 6371008.8 * math.Pi / 180
	var lat0, lon0, cos0 float64
	for k, g := range tr.Gas {
		if k > 0 && g.Timestamp < tr.Gas[k-1].Timestamp {
			return nil, fmt.Errorf("%w: gas reading %d goes back in time", ErrInput, k)
		}
		if int(g.Channels) <= col {
			continue // this message does not carry the channel
		}
		// The positions around the reading.
		i := sort.Search(len(pos), func(i int) bool { return pos[i].T >= g.Timestamp })
		if i == len(pos) || (i == 0 && pos[0].T > g.Timestamp) {
			continue // outside the track: no position
		}
		p := pos[i]
		lat, lon, alt := p.Lat, p.Lon, p.Alt
		if i > 0 && p.T > g.Timestamp {
			a := pos[i-1]
			f := float64(g.Timestamp-a.T) / float64(p.T-a.T)
			lat, lon, alt = a.Lat+f*(p.Lat-a.Lat), a.Lon+f*(p.Lon-a.Lon), a.Alt+f*(p.Alt-a.Alt)
		}
		if len(s.Samples) == 0 { // the first reading placed: the frame's origin and time zero
			lat0, lon0, cos0 = lat, lon, math.Cos(lat*math.Pi/180)
			t0 = g.Timestamp
			if tr.HasUTC {
				s.Start = time.UnixMicro(int64(t0) + tr.UTCOffset).UTC()
			}
		}
		smp := Sample{
			T: float64(g.Timestamp-t0) / 1e6, Lat: lat, Lon: lon,
			East: (lon - lon0) * cos0 * mPerDeg, North: (lat - lat0) * mPerDeg,
			AltAGL: alt - groundAltM, WindSpeedMS: math.NaN(), WindFromDeg: math.NaN(),
			PPM: float64(g.PPM[col]),
		}
		if w, ok := nearestWind(pos, i); windy && ok {
			smp.WindSpeedMS = math.Hypot(w.WindNorth, w.WindEast)
			// The logged wind is the air's velocity; it blows from the
			// opposite direction.
			smp.WindFromDeg = math.Mod(math.Atan2(-w.WindEast, -w.WindNorth)*180/math.Pi+360, 360)
		}
		s.Samples = append(s.Samples, smp)
	}
	if len(s.Samples) == 0 {
		return nil, fmt.Errorf("%w: no reading of channel %s falls within the track", ErrInput, channel)
	}
	return s, nil
}

// nearestWind is the track sample with a wind nearest to index i.
func nearestWind(pos []flightlog.Sample, i int) (flightlog.Sample, bool) {
	for d := 0; d < len(pos); d++ {
		for _, j := range []int{i - d, i + d} {
			if j >= 0 && j < len(pos) && pos[j].HasWind {
				return pos[j], true
			}
		}
		if i-d < 0 && i+d >= len(pos) {
			break
		}
	}
	return flightlog.Sample{}, false
}
