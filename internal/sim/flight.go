package sim

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrFlight is wrapped by errors about an invalid flight.
var ErrFlight = errors.New("sim: bad flight")

// maxFlightSamples bounds the samples of one flight: 10 Hz for 24 hours.
const maxFlightSamples = 864_000

// Point is a position in scene metres: east of the scene's upper-left corner
// and north of it (negative down the image), as Source.
type Point struct {
	East, North float64
}

// Line is a straight survey line, flown from From to To.
type Line struct {
	From, To Point
}

// Area is a rectangle in scene metres.
type Area struct {
	MinEast, MinNorth, MaxEast, MaxNorth float64
}

// Flight is a drone flying survey lines in order at a constant speed and
// height above (flat) ground; it flies straight from the end of each line to
// the start of the next, so its path is the polyline through the lines'
// endpoints.
type Flight struct {
	Name        string
	Start       time.Time
	SpeedMS     float64 // ground speed, m/s
	AltitudeAGL float64 // m above ground
	Lines       []Line
}

// Pose is the drone's position at one sample.
type Pose struct {
	Time        time.Time
	East, North float64 // scene metres
	AltitudeAGL float64 // m
	HeadingDeg  float64 // track, degrees clockwise from north, [0, 360)
	// Line is the index of the survey line being flown, or −1 on a transit
	// between lines.
	Line int
}

// Lawnmower returns parallel survey lines spacing metres apart covering area,
// flown along headingDeg (degrees clockwise from north) and back in turn. The
// first line is half a spacing inside the area's edge on the left of the
// heading; each line is clipped to the area. If the area is narrower than one
// spacing a single line runs through its middle.
func Lawnmower(area Area, spacing, headingDeg float64) ([]Line, error) {
	for _, v := range []float64{area.MinEast, area.MinNorth, area.MaxEast, area.MaxNorth, spacing, headingDeg} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: lawnmower over %+v, spacing %g m, heading %g°: not finite", ErrFlight, area, spacing, headingDeg)
		}
	}
	if !(area.MaxEast > area.MinEast && area.MaxNorth > area.MinNorth) {
		return nil, fmt.Errorf("%w: area %+v is empty", ErrFlight, area)
	}
	if !(spacing > 0) {
		return nil, fmt.Errorf("%w: line spacing %g m must be positive", ErrFlight, spacing)
	}
	h := headingDeg * math.Pi / 180
	de, dn := math.Sin(h), math.Cos(h) // along the lines
	re, rn := dn, -de                  // across, to the right of the heading
	corners := [4]Point{{area.MinEast, area.MinNorth}, {area.MaxEast, area.MinNorth}, {area.MinEast, area.MaxNorth}, {area.MaxEast, area.MaxNorth}}
	cmin, cmax := math.Inf(1), math.Inf(-1)
	for _, p := range corners {
		c := p.East*re + p.North*rn
		cmin, cmax = math.Min(cmin, c), math.Max(cmax, c)
	}
	n := int(math.Floor((cmax - cmin) / spacing))
	if n > 100_000 {
		return nil, fmt.Errorf("%w: %d lines of %g m spacing", ErrFlight, n, spacing)
	}
	var offsets []float64
	if n == 0 {
		offsets = []float64{(cmin + cmax) / 2}
	}
	for k := range n {
		offsets = append(offsets, cmin+spacing/2+float64(k)*spacing)
	}
	var lines []Line
	for _, c := range offsets {
		// The line through c·r along d, clipped to the rectangle
		// (Liang–Barsky on the parameter s along d).
		oe, on := c*re, c*rn
		s0, s1 := math.Inf(-1), math.Inf(1)
		clip := func(o, d, lo, hi float64) {
			if math.Abs(d) < 1e-12 {
				if o < lo || o > hi {
					s0, s1 = 1, 0
				}
				return
			}
			a, b := (lo-o)/d, (hi-o)/d
			s0, s1 = math.Max(s0, math.Min(a, b)), math.Min(s1, math.Max(a, b))
		}
		clip(oe, de, area.MinEast, area.MaxEast)
		clip(on, dn, area.MinNorth, area.MaxNorth)
		if !(s1 > s0) {
			continue
		}
		l := Line{From: Point{oe + s0*de, on + s0*dn}, To: Point{oe + s1*de, on + s1*dn}}
		if len(lines)%2 == 1 {
			l.From, l.To = l.To, l.From
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%w: no line of the lawnmower crosses area %+v", ErrFlight, area)
	}
	return lines, nil
}

func (f Flight) validate() error {
	switch {
	case !(f.SpeedMS > 0) || math.IsInf(f.SpeedMS, 0):
		return fmt.Errorf("%w: flight %q: speed %g m/s must be positive", ErrFlight, f.Name, f.SpeedMS)
	case !(f.AltitudeAGL >= 0) || math.IsInf(f.AltitudeAGL, 0):
		return fmt.Errorf("%w: flight %q: altitude %g m must be non-negative", ErrFlight, f.Name, f.AltitudeAGL)
	case len(f.Lines) == 0:
		return fmt.Errorf("%w: flight %q has no lines", ErrFlight, f.Name)
	}
	for i, l := range f.Lines {
		for _, v := range []float64{l.From.East, l.From.North, l.To.East, l.To.North} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: flight %q: line %d %+v is not finite", ErrFlight, f.Name, i, l)
			}
		}
	}
	return nil
}

// leg is one straight piece of a flight's path.
type leg struct {
	from, to Point
	length   float64
	line     int // survey line index, −1 for a transit
}

func (f Flight) legs() []leg {
	var out []leg
	add := func(a, b Point, line int) {
		l := math.Hypot(b.East-a.East, b.North-a.North)
		if l > 0 {
			out = append(out, leg{a, b, l, line})
		}
	}
	for i, l := range f.Lines {
		if i > 0 {
			add(f.Lines[i-1].To, l.From, -1)
		}
		add(l.From, l.To, i)
	}
	return out
}

// Length is the length of the flight's path, m.
func (f Flight) Length() float64 {
	s := 0.0
	for _, l := range f.legs() {
		s += l.length
	}
	return s
}

// Duration is the time the flight takes at its speed.
func (f Flight) Duration() time.Duration {
	return time.Duration(f.Length() / f.SpeedMS * float64(time.Second))
}

// Poses samples the flight at rateHz from its start: sample k is at
// Start + k/rateHz, until the end of the path. A flight whose lines have no
// length is a hover of one sample at the first line's start.
func (f Flight) Poses(rateHz float64) ([]Pose, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	if !(rateHz > 0) || math.IsInf(rateHz, 0) {
		return nil, fmt.Errorf("%w: flight %q: sample rate %g Hz must be positive", ErrFlight, f.Name, rateHz)
	}
	legs := f.legs()
	total := 0.0
	for _, l := range legs {
		total += l.length
	}
	dur := total / f.SpeedMS
	n := int64(math.Floor(dur*rateHz*(1+1e-12))) + 1
	if n > maxFlightSamples {
		return nil, fmt.Errorf("%w: flight %q: %d samples (%.0f s at %g Hz) exceed %d", ErrFlight, f.Name, n, dur, rateHz, maxFlightSamples)
	}
	if len(legs) == 0 {
		p := f.Lines[0].From
		return []Pose{{Time: f.Start, East: p.East, North: p.North, AltitudeAGL: f.AltitudeAGL, Line: 0}}, nil
	}
	out := make([]Pose, 0, n)
	j, s0 := 0, 0.0 // current leg and the path length at its start
	for k := range n {
		t := float64(k) / rateHz
		s := math.Min(t*f.SpeedMS, total)
		for j < len(legs)-1 && s > s0+legs[j].length {
			s0 += legs[j].length
			j++
		}
		l := legs[j]
		w := math.Min((s-s0)/l.length, 1)
		de, dn := l.to.East-l.from.East, l.to.North-l.from.North
		out = append(out, Pose{
			Time:        f.Start.Add(time.Duration(math.Round(t * 1e9))),
			East:        l.from.East + w*de,
			North:       l.from.North + w*dn,
			AltitudeAGL: f.AltitudeAGL,
			HeadingDeg:  wrapDeg(math.Atan2(de, dn) * 180 / math.Pi),
			Line:        l.line,
		})
	}
	return out, nil
}
