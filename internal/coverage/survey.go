package coverage

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/atalaya-project/atalaya/internal/mavlink"

	"github.com/paulmach/orb"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// MAVLink commands (MAV_CMD, common.xml) and frames (MAV_FRAME) a survey
// mission uses.
const (
	CmdWaypoint        = 16  // MAV_CMD_NAV_WAYPOINT
	CmdReturnToLaunch  = 20  // MAV_CMD_NAV_RETURN_TO_LAUNCH
	CmdTakeoff         = 22  // MAV_CMD_NAV_TAKEOFF
	CmdCamTriggerDist  = 206 // MAV_CMD_DO_SET_CAM_TRIGG_DIST
	FrameMission       = 2   // MAV_FRAME_MISSION: no position
	FrameGlobalRelAlt  = 3   // MAV_FRAME_GLOBAL_RELATIVE_ALT: lat, lon, m above home
	maxSurveyLines     = 20_000
	maxSurveyHeadingCt = 180
)

// Item is one mission item, as MAVLink's MISSION_ITEM_INT carries it:
// Params are param1…param7; for positional commands param5-7 are latitude,
// longitude (degrees) and altitude (m above home). NaN means "unset" (QGC
// writes null).
type Item struct {
	Command uint16
	Frame   uint8
	Params  [7]float64
}

// Positional reports whether the item's params 5-7 are a position.
func (it Item) Positional() bool {
	return it.Command == CmdWaypoint || it.Command == CmdTakeoff
}

// SurveyOptions describe the aircraft and sensor of a planned survey.
type SurveyOptions struct {
	// AltitudeM above ground (and home), m.
	AltitudeM float64
	// FOVDeg is the sensor's full cross-track field of view, degrees: the
	// swath is 2·AltitudeM·tan(FOV/2).
	FOVDeg float64
	// Overlap is the fraction of the swath shared by neighbouring lines,
	// [0, 0.9].
	Overlap float64
	// SpeedMS is the ground speed on the lines, m/s.
	SpeedMS float64
	// HeadingDeg fixes the lines' direction (degrees clockwise from north);
	// NaN chooses the heading, in whole degrees, that needs the fewest
	// lines (then the shortest).
	HeadingDeg float64
	// TriggerM is the camera trigger distance, m; 0 means the swath less
	// the overlap (a square frame footprint with the same overlap along track).
	TriggerM float64
	// Home is the take-off and return point (longitude, latitude); nil
	// means the start of the first line.
	Home *orb.Point
}

// SurveyLine is one survey line, flown From → To (longitude, latitude).
type SurveyLine struct {
	From, To orb.Point
}

// Survey is a planned lawnmower survey.
type Survey struct {
	Area                       orb.MultiPolygon
	HeadingDeg                 float64
	SwathM, SpacingM, TriggerM float64
	AltitudeM, SpeedMS         float64
	Home                       orb.Point
	Lines                      []SurveyLine
	// LengthM is the whole path from home back to home; Duration at SpeedMS.
	LengthM  float64
	Duration time.Duration
	// Items is the mission: take-off, then per line a waypoint at its start,
	// the trigger distance on, a waypoint at its end and the trigger off,
	// then return to launch.
	Items []Item
	zone  int
	north bool
}

// xy is a point in UTM metres.
type xy struct{ e, n float64 }

// PlanSurvey plans lines over area whose swaths cover it: each line is the
// along-track extent of the area within its strip (the across-track band that
// the line is responsible for, one line spacing wide), so concave areas and
// holes give several shorter lines rather than flying over ground outside.
func PlanSurvey(area orb.MultiPolygon, o SurveyOptions) (*Survey, error) {
	if !(o.AltitudeM > 0) || !(o.FOVDeg > 0 && o.FOVDeg < 170) || !(o.Overlap >= 0 && o.Overlap <= 0.9) || !(o.SpeedMS > 0) || !(o.TriggerM >= 0) {
		return nil, fmt.Errorf("%w: survey at %g m, FOV %g°, overlap %g, %g m/s, trigger %g m: want altitude > 0, 0 < FOV < 170, 0 ≤ overlap ≤ 0.9, speed > 0, trigger ≥ 0",
			ErrInput, o.AltitudeM, o.FOVDeg, o.Overlap, o.SpeedMS, o.TriggerM)
	}
	if len(area) == 0 {
		return nil, fmt.Errorf("%w: empty survey area", ErrInput)
	}
	b := area.Bound()
	for _, p := range area {
		if _, err := toSphere(p); err != nil {
			return nil, fmt.Errorf("survey area: %w", err)
		}
	}
	if b.Max[0]-b.Min[0] > 2 || b.Max[1]-b.Min[1] > 2 {
		return nil, fmt.Errorf("%w: survey area spans %.3g° × %.3g°: at most 2° (one UTM projection)", ErrInput, b.Max[0]-b.Min[0], b.Max[1]-b.Min[1])
	}
	c := b.Center()
	zone, north := cube.UTMZone(c[1], c[0])
	polys := make([][][]xy, 0, len(area))
	for _, p := range area {
		var rings [][]xy
		for _, r := range p {
			var ring []xy
			for k, q := range r {
				if k == len(r)-1 && q == r[0] {
					break
				}
				e, n := cube.LatLonToUTM(q[1], q[0], zone, north)
				ring = append(ring, xy{e, n})
			}
			if len(ring) >= 3 {
				rings = append(rings, ring)
			}
		}
		if len(rings) > 0 {
			polys = append(polys, rings)
		}
	}
	swath := 2 * o.AltitudeM * math.Tan(o.FOVDeg/2*math.Pi/180)
	spacing := swath * (1 - o.Overlap)
	s := &Survey{Area: area, SwathM: swath, SpacingM: spacing, TriggerM: o.TriggerM, AltitudeM: o.AltitudeM, SpeedMS: o.SpeedMS, zone: zone, north: north}
	if s.TriggerM == 0 {
		s.TriggerM = spacing
	}
	var best [][2]xy
	bestLen := math.Inf(1)
	headings := []float64{o.HeadingDeg}
	if math.IsNaN(o.HeadingDeg) {
		headings = headings[:0]
		for h := range maxSurveyHeadingCt {
			headings = append(headings, float64(h))
		}
	}
	for _, h := range headings {
		segs, err := lawnmower(polys, h, spacing)
		if err != nil {
			return nil, err
		}
		var l float64
		for _, sg := range segs {
			l += math.Hypot(sg[1].e-sg[0].e, sg[1].n-sg[0].n)
		}
		if best == nil || len(segs) < len(best) || len(segs) == len(best) && l < bestLen-1e-6 {
			best, bestLen, s.HeadingDeg = segs, l, math.Mod(h+360, 360)
		}
	}
	if len(best) == 0 {
		return nil, fmt.Errorf("%w: the survey area has no extent", ErrInput)
	}
	// Order: from home, fly the nearest line end next (a boustrophedon on a
	// convex area).
	var home xy
	if o.Home != nil {
		home.e, home.n = cube.LatLonToUTM(o.Home[1], o.Home[0], zone, north)
	} else {
		home = best[0][0]
	}
	ordered := orderSegments(best, home)
	at := home
	s.LengthM = 0
	for _, sg := range ordered {
		s.LengthM += dist(at, sg[0]) + dist(sg[0], sg[1])
		at = sg[1]
		s.Lines = append(s.Lines, SurveyLine{From: s.lonLat(sg[0]), To: s.lonLat(sg[1])})
	}
	s.LengthM += dist(at, home)
	s.Duration = time.Duration(s.LengthM / o.SpeedMS * float64(time.Second))
	s.Home = s.lonLat(home)
	s.Items = s.mission()
	return s, nil
}

func dist(a, b xy) float64 { return math.Hypot(b.e-a.e, b.n-a.n) }

func (s *Survey) lonLat(p xy) orb.Point {
	lat, lon := cube.UTMToLatLon(s.zone, s.north, p.e, p.n)
	return orb.Point{lon, lat}
}

func (s *Survey) mission() []Item {
	nan := math.NaN()
	pos := func(cmd uint16, p orb.Point) Item {
		return Item{Command: cmd, Frame: FrameGlobalRelAlt, Params: [7]float64{0, 0, 0, nan, p[1], p[0], s.AltitudeM}}
	}
	trig := func(d float64) Item {
		// param1 distance (0: stop), param2 shutter integration (0: default),
		// param3 trigger once at once (1 when starting).
		once := 0.0
		if d > 0 {
			once = 1
		}
		return Item{Command: CmdCamTriggerDist, Frame: FrameMission, Params: [7]float64{d, 0, once, 0, 0, 0, 0}}
	}
	items := []Item{pos(CmdTakeoff, s.Home)}
	for _, l := range s.Lines {
		items = append(items, pos(CmdWaypoint, l.From), trig(s.TriggerM), pos(CmdWaypoint, l.To), trig(0))
	}
	return append(items, Item{Command: CmdReturnToLaunch, Frame: FrameMission})
}

// lawnmower returns the segments, in metres, of lines along heading h
// (degrees) spaced spacing apart across the polygons.
func lawnmower(polys [][][]xy, h, spacing float64) ([][2]xy, error) {
	hr := h * math.Pi / 180
	ae, an := math.Sin(hr), math.Cos(hr) // along
	ce, cn := an, -ae                    // across, to the right
	// Rotate into (along, across) coordinates.
	rot := make([][][]xy, len(polys))
	cmin, cmax := math.Inf(1), math.Inf(-1)
	for k, p := range polys {
		rot[k] = make([][]xy, len(p))
		for r, ring := range p {
			rot[k][r] = make([]xy, len(ring))
			for v, q := range ring {
				a, c := q.e*ae+q.n*an, q.e*ce+q.n*cn
				rot[k][r][v] = xy{a, c}
				cmin, cmax = math.Min(cmin, c), math.Max(cmax, c)
			}
		}
	}
	n := max(1, int(math.Ceil((cmax-cmin)/spacing-1e-9)))
	if n > maxSurveyLines {
		return nil, fmt.Errorf("%w: %d lines at %.1f m spacing", ErrInput, n, spacing)
	}
	mid := (cmin + cmax) / 2
	var segs [][2]xy
	for k := range n {
		off := mid + (float64(k)-float64(n-1)/2)*spacing
		for _, iv := range stripIntervals(rot, off-spacing/2, off+spacing/2) {
			from := xy{iv[0]*ae + off*ce, iv[0]*an + off*cn}
			to := xy{iv[1]*ae + off*ce, iv[1]*an + off*cn}
			segs = append(segs, [2]xy{from, to})
		}
	}
	return segs, nil
}

// stripIntervals returns the along-track extent of the polygons (in (along,
// across) coordinates, xy{e: along, n: across}) within the band lo ≤ across ≤
// hi: the projection of polygon ∩ band on the along axis, as sorted disjoint
// intervals. Between consecutive vertex offsets the crossings of a line with
// the edges move linearly, so the projection over each sub-band is the hull
// of the intervals at its two ends.
func stripIntervals(polys [][][]xy, lo, hi float64) [][2]float64 {
	var all [][2]float64
	for _, p := range polys {
		breaks := []float64{lo, hi}
		for _, ring := range p {
			for _, q := range ring {
				if q.n > lo && q.n < hi {
					breaks = append(breaks, q.n)
				}
			}
		}
		slices.Sort(breaks)
		breaks = slices.Compact(breaks)
		for k := 0; k+1 < len(breaks); k++ {
			a, b := breaks[k], breaks[k+1]
			eps := (b - a) * 1e-9
			ia, ib := lineIntervals(p, a+eps), lineIntervals(p, b-eps)
			if len(ia) == len(ib) {
				for m := range ia {
					all = append(all, [2]float64{math.Min(ia[m][0], ib[m][0]), math.Max(ia[m][1], ib[m][1])})
				}
			} else {
				all = append(append(all, ia...), ib...)
			}
		}
	}
	slices.SortFunc(all, func(x, y [2]float64) int { return cmp.Compare(x[0], y[0]) })
	var out [][2]float64
	for _, iv := range all {
		if len(out) > 0 && iv[0] <= out[len(out)-1][1] {
			out[len(out)-1][1] = math.Max(out[len(out)-1][1], iv[1])
			continue
		}
		out = append(out, iv)
	}
	return out
}

// lineIntervals returns the along-track intervals of the line across = c
// inside polygon p (even-odd over its rings).
func lineIntervals(p [][]xy, c float64) [][2]float64 {
	var xs []float64
	for _, ring := range p {
		for k := range ring {
			q, r := ring[k], ring[(k+1)%len(ring)]
			if (q.n <= c) != (r.n <= c) {
				xs = append(xs, q.e+(c-q.n)*(r.e-q.e)/(r.n-q.n))
			}
		}
	}
	slices.Sort(xs)
	out := make([][2]float64, 0, len(xs)/2)
	for k := 0; k+1 < len(xs); k += 2 {
		out = append(out, [2]float64{xs[k], xs[k+1]})
	}
	return out
}

// orderSegments orders segments greedily: from the current position, the
// segment with the nearest end next, flown from that end.
func orderSegments(segs [][2]xy, from xy) [][2]xy {
	left := slices.Clone(segs)
	out := make([][2]xy, 0, len(segs))
	at := from
	for len(left) > 0 {
		bi, rev, bd := 0, false, math.Inf(1)
		for k, sg := range left {
			if d := dist(at, sg[0]); d < bd {
				bi, rev, bd = k, false, d
			}
			if d := dist(at, sg[1]); d < bd {
				bi, rev, bd = k, true, d
			}
		}
		sg := left[bi]
		if rev {
			sg[0], sg[1] = sg[1], sg[0]
		}
		out = append(out, sg)
		at = sg[1]
		left = slices.Delete(left, bi, bi+1)
	}
	return out
}

func utmOf(p orb.Point, zone int, north bool) (e, n float64) {
	return cube.LatLonToUTM(p[1], p[0], zone, north)
}

// MissionItems returns the survey as MAVLink MISSION_ITEM_INT items in
// order, numbered from 0: positions as degrees × 10⁷, altitude in metres
// relative to home, every item set to continue automatically.
func (s *Survey) MissionItems() []mavlink.MissionItem {
	out := make([]mavlink.MissionItem, len(s.Items))
	for i, it := range s.Items {
		m := mavlink.MissionItem{
			Seq: uint16(i), Frame: it.Frame, Command: it.Command, Autocontinue: 1,
			Param1: float32(it.Params[0]), Param2: float32(it.Params[1]),
			Param3: float32(it.Params[2]), Param4: float32(it.Params[3]),
			Z: float32(it.Params[6]),
		}
		if it.Positional() {
			m.X = int32(math.Round(it.Params[4] * 1e7))
			m.Y = int32(math.Round(it.Params[5] * 1e7))
		}
		out[i] = m
	}
	return out
}

// DefaultSurveyOptions are the aircraft and sensor `atalaya plan` and
// `atalaya serve` assume unless told: 300 m above home, a 30° field of
// view, 20 % side overlap, 10 m/s, the heading that needs the fewest lines.
func DefaultSurveyOptions() SurveyOptions {
	return SurveyOptions{AltitudeM: 300, FOVDeg: 30, Overlap: 0.2, SpeedMS: 10, HeadingDeg: math.NaN()}
}

// Circle is a 72-gon of radius r metres around a point (local flat earth:
// under 10⁻⁴ relative error for r below a few km). Its vertices lie on the
// circle, so it is inscribed: the survey of Circle(…, r·1.001) covers the
// whole disc of radius r.
func Circle(lat, lon, r float64) orb.Polygon {
	const R = 6371008.8
	var ring orb.Ring
	for k := range 72 {
		a := float64(k) * 2 * math.Pi / 72
		dn, de := r*math.Cos(a), r*math.Sin(a)
		ring = append(ring, orb.Point{lon + de/(R*math.Cos(lat*math.Pi/180))*180/math.Pi, lat + dn/R*180/math.Pi})
	}
	return orb.Polygon{append(ring, ring[0])}
}
