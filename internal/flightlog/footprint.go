package flightlog

import (
	"errors"
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// Ground footprints of imaging passes.
//
// The sensor looks down the body's z axis (nadir when the platform is
// level) and is rotated with the platform by its attitude: roll, pitch, yaw
// as Tait-Bryan ZYX angles from the body frame (forward, right, down) to
// north-east-down, as in Sample. A ray of the sensor is followed to flat
// ground at a given elevation (metres above mean sea level, the same datum
// as Sample.Alt) and the point where it lands is placed by a local tangent
// plane at the sample: north and east metres become degrees through the
// WGS-84 meridian and prime-vertical radii of curvature at the sample's
// latitude. Over a swath of a few hundred metres the tangent plane's error
// is well under a centimetre; curvature of the Earth and refraction are
// neglected, as is terrain relief (use the local ground elevation).
//
// A pushbroom sensor images one line across track at a time: its field of
// view FOV spans the body's y (right) axis, rays at angles α in
// [−FOV/2, +FOV/2] from the boresight, α negative to the left. A frame
// camera images a rectangle: CrossFOV across (body y) and AlongFOV along
// (body x).

// ErrFootprint is wrapped by errors of the footprint functions: a field of
// view out of range, a platform not above the ground, or rays that do not
// reach the ground within maxOffNadirDeg of the vertical.
var ErrFootprint = errors.New("no ground footprint")

// maxOffNadirDeg: a ray further than this from the vertical is taken not
// to reach the ground; at 85° the ground distance is already 11.4 times the
// height above ground, and flat-ground geometry means little beyond.
const maxOffNadirDeg = 85

// WGS-84 (NIMA TR8350.2): semi-major axis and first eccentricity squared.
const (
	wgs84A  = 6378137.0
	wgs84E2 = 6.69437999014e-3
)

// metresPerDegree returns the metres of one degree of latitude and of
// longitude at latitude lat (degrees) and height h (m): the meridian radius
// of curvature M and the prime-vertical radius N, each plus h.
func metresPerDegree(lat, h float64) (mLat, mLon float64) {
	s, c := math.Sincos(lat * math.Pi / 180)
	w := 1 - wgs84E2*s*s
	m := wgs84A * (1 - wgs84E2) / (w * math.Sqrt(w))
	n := wgs84A / math.Sqrt(w)
	return (m + h) * math.Pi / 180, (n + h) * c * math.Pi / 180
}

// bodyToNED returns the rotation matrix of ZYX Tait-Bryan angles (radians)
// from body (FRD) to NED.
func bodyToNED(roll, pitch, yaw float64) [3][3]float64 {
	sr, cr := math.Sincos(roll)
	sp, cp := math.Sincos(pitch)
	sy, cy := math.Sincos(yaw)
	return [3][3]float64{
		{cp * cy, sr*sp*cy - cr*sy, cr*sp*cy + sr*sy},
		{cp * sy, sr*sp*sy + cr*cy, cr*sp*sy - sr*cy},
		{-sp, sr * cp, cr * cp},
	}
}

// Pose is where a sensor is and how it is turned: a position and ZYX
// attitude in radians.
type Pose struct {
	Lat, Lon, Alt    float64 // degrees, degrees, m above mean sea level
	Roll, Pitch, Yaw float64 // radians
}

// PoseOf returns the pose of a sample: its attitude, or level flight
// heading north if it has none (PassFootprint uses the course instead).
func PoseOf(s Sample) Pose {
	p := Pose{Lat: s.Lat, Lon: s.Lon, Alt: s.Alt}
	if s.HasAttitude {
		p.Roll, p.Pitch, p.Yaw = s.Roll, s.Pitch, s.Yaw
	}
	return p
}

// ground follows the ray with body-frame direction d from pose p to the
// ground at elevation ground and returns where it lands (lon, lat) and its
// offset north and east of the pose in metres.
func (p Pose) ground(d [3]float64, ground float64) (orb.Point, [2]float64, error) {
	h := p.Alt - ground
	if !(h > 0) {
		return orb.Point{}, [2]float64{}, fmt.Errorf("flightlog: footprint: altitude %.1f m is not above the ground at %.1f m: %w", p.Alt, ground, ErrFootprint)
	}
	r := bodyToNED(p.Roll, p.Pitch, p.Yaw)
	var n [3]float64
	norm := math.Sqrt(d[0]*d[0] + d[1]*d[1] + d[2]*d[2])
	for i := range 3 {
		n[i] = (r[i][0]*d[0] + r[i][1]*d[1] + r[i][2]*d[2]) / norm
	}
	if n[2] < math.Cos(maxOffNadirDeg*math.Pi/180) {
		return orb.Point{}, [2]float64{}, fmt.Errorf("flightlog: footprint: a ray %.1f° from the vertical does not reach the ground: %w", math.Acos(max(-1, min(1, n[2])))*180/math.Pi, ErrFootprint)
	}
	t := h / n[2]
	north, east := t*n[0], t*n[1]
	mLat, mLon := metresPerDegree(p.Lat, ground)
	return orb.Point{p.Lon + east/mLon, p.Lat + north/mLat}, [2]float64{north, east}, nil
}

// Swath is the ground line one pushbroom scan images: its left and right
// ends and the point under the boresight, as (lon, lat).
type Swath struct {
	Left, Centre, Right orb.Point
}

func checkFOV(name string, fov float64) error {
	if !(fov > 0 && fov < 180) {
		return fmt.Errorf("flightlog: footprint: %s %v° is not in (0°, 180°): %w", name, fov, ErrFootprint)
	}
	return nil
}

// SwathLine returns the ground line a pushbroom sensor with a cross-track
// field of view of fovDeg degrees images from pose p, over flat ground at
// elevation groundElev (m above mean sea level).
func SwathLine(p Pose, fovDeg, groundElev float64) (Swath, error) {
	if err := checkFOV("field of view", fovDeg); err != nil {
		return Swath{}, err
	}
	s, c := math.Sincos(fovDeg / 2 * math.Pi / 180)
	var sw Swath
	var err error
	if sw.Left, _, err = p.ground([3]float64{0, -s, c}, groundElev); err != nil {
		return Swath{}, err
	}
	if sw.Centre, _, err = p.ground([3]float64{0, 0, 1}, groundElev); err != nil {
		return Swath{}, err
	}
	if sw.Right, _, err = p.ground([3]float64{0, s, c}, groundElev); err != nil {
		return Swath{}, err
	}
	return sw, nil
}

// PassFootprint returns the ground footprint of a pushbroom pass over the
// samples (in time order): the strip swept by consecutive swath lines, as a
// polygon whose ring runs along the left ends forward and the right ends
// back (then turned counter-clockwise, as GeoJSON wants the outer ring). A
// sample without attitude is taken as level and heading along its course
// (from the neighbouring samples). Samples whose swath does not reach the
// ground (a steep bank) are left out; at least two must remain. The strip
// is the union of the swaths only where the pass does not turn back on
// itself: a tight turn makes the ring cross itself.
func PassFootprint(samples []Sample, fovDeg, groundElev float64) (orb.Polygon, error) {
	var left, right []orb.Point
	var firstErr error
	for i, s := range samples {
		p := PoseOf(s)
		if !s.HasAttitude {
			p.Yaw = course(samples, i)
		}
		sw, err := SwathLine(p, fovDeg, groundElev)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("sample %d: %w", i, err)
			}
			continue
		}
		left, right = append(left, sw.Left), append(right, sw.Right)
	}
	if len(left) < 2 {
		return nil, fmt.Errorf("flightlog: pass footprint: %d of %d samples have a swath on the ground, need 2 (%v): %w", len(left), len(samples), firstErr, ErrFootprint)
	}
	ring := make(orb.Ring, 0, 2*len(left)+1)
	ring = append(ring, left...)
	for i := len(right) - 1; i >= 0; i-- {
		ring = append(ring, right[i])
	}
	ring = append(ring, left[0])
	if ring.Orientation() == orb.CW {
		ring.Reverse()
	}
	return orb.Polygon{ring}, nil
}

// course returns the direction of travel at sample i, radians clockwise
// from north, from its neighbours (0 if all samples are at one place).
func course(samples []Sample, i int) float64 {
	a, b := i, i
	for a > 0 && samples[a].Lat == samples[i].Lat && samples[a].Lon == samples[i].Lon {
		a--
	}
	for b < len(samples)-1 && samples[b].Lat == samples[i].Lat && samples[b].Lon == samples[i].Lon {
		b++
	}
	mLat, mLon := metresPerDegree(samples[i].Lat, 0)
	dn := (samples[b].Lat - samples[a].Lat) * mLat
	de := (samples[b].Lon - samples[a].Lon) * mLon
	if dn == 0 && de == 0 {
		return 0
	}
	return math.Atan2(de, dn)
}

// FrameFootprint returns the ground footprint of a frame camera with a
// cross-track field of view crossDeg (across the body's y axis) and an
// along-track field of view alongDeg (along x) from pose p, over flat
// ground at groundElev: the quadrilateral of its four corner rays,
// counter-clockwise.
func FrameFootprint(p Pose, crossDeg, alongDeg, groundElev float64) (orb.Polygon, error) {
	if err := checkFOV("cross-track field of view", crossDeg); err != nil {
		return nil, err
	}
	if err := checkFOV("along-track field of view", alongDeg); err != nil {
		return nil, err
	}
	tx := math.Tan(alongDeg / 2 * math.Pi / 180)
	ty := math.Tan(crossDeg / 2 * math.Pi / 180)
	ring := make(orb.Ring, 0, 5)
	// Front-left, front-right, back-right, back-left.
	for _, c := range [][2]float64{{1, -1}, {1, 1}, {-1, 1}, {-1, -1}} {
		pt, _, err := p.ground([3]float64{c[0] * tx, c[1] * ty, 1}, groundElev)
		if err != nil {
			return nil, err
		}
		ring = append(ring, pt)
	}
	ring = append(ring, ring[0])
	if ring.Orientation() == orb.CW {
		ring.Reverse()
	}
	return orb.Polygon{ring}, nil
}
