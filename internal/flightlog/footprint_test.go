package flightlog

import (
	"errors"
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// Geometry worked by hand: a sensor 300 m above flat ground.
const (
	fpLat, fpLon = 40.0, -3.7
	fpGround     = 700.0
	fpAlt        = 1000.0 // 300 m above the ground
	deg          = math.Pi / 180
)

// metres returns the offset of q from (lon0, lat0) north and east, in
// metres, by the same tangent plane the footprint uses.
func metres(lat0, lon0 float64, q orb.Point) (north, east float64) {
	mLat, mLon := metresPerDegree(lat0, fpGround)
	return (q[1] - lat0) * mLat, (q[0] - lon0) * mLon
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %g", what, got, want, tol)
	}
}

func TestSwathLevel(t *testing.T) {
	// Heading north: left is west. Swath 2·300·tan 30° = 346.41 m.
	sw, err := SwathLine(Pose{Lat: fpLat, Lon: fpLon, Alt: fpAlt}, 60, fpGround)
	if err != nil {
		t.Fatal(err)
	}
	ln, le := metres(fpLat, fpLon, sw.Left)
	rn, re := metres(fpLat, fpLon, sw.Right)
	cn, ce := metres(fpLat, fpLon, sw.Centre)
	near(t, "left east", le, -300*math.Tan(30*deg), 1e-6)
	near(t, "right east", re, 300*math.Tan(30*deg), 1e-6)
	near(t, "swath", re-le, 346.41016, 1e-4)
	near(t, "left north", ln, 0, 1e-6)
	near(t, "right north", rn, 0, 1e-6)
	near(t, "centre", math.Hypot(cn, ce), 0, 1e-9)

	// Heading east (yaw 90°): left is north.
	sw, err = SwathLine(Pose{Lat: fpLat, Lon: fpLon, Alt: fpAlt, Yaw: 90 * deg}, 60, fpGround)
	if err != nil {
		t.Fatal(err)
	}
	ln, le = metres(fpLat, fpLon, sw.Left)
	near(t, "heading east: left north", ln, 173.20508, 1e-4)
	near(t, "heading east: left east", le, 0, 1e-6)
}

func TestSwathRollPitch(t *testing.T) {
	// Right wing down 10°: the sensor looks left; the centre moves
	// 300·tan 10° = 52.90 m west, the edges to 300·tan 40° west and
	// 300·tan 20° east.
	sw, err := SwathLine(Pose{Lat: fpLat, Lon: fpLon, Alt: fpAlt, Roll: 10 * deg}, 60, fpGround)
	if err != nil {
		t.Fatal(err)
	}
	_, ce := metres(fpLat, fpLon, sw.Centre)
	_, le := metres(fpLat, fpLon, sw.Left)
	_, re := metres(fpLat, fpLon, sw.Right)
	near(t, "rolled centre east", ce, -300*math.Tan(10*deg), 1e-6)
	near(t, "rolled centre east (hand)", ce, -52.898, 1e-3)
	near(t, "rolled left east", le, -300*math.Tan(40*deg), 1e-6)
	near(t, "rolled right east", re, 300*math.Tan(20*deg), 1e-6)

	// Nose up 5°: the belly faces forward, the centre moves 300·tan 5° north.
	sw, err = SwathLine(Pose{Lat: fpLat, Lon: fpLon, Alt: fpAlt, Pitch: 5 * deg}, 60, fpGround)
	if err != nil {
		t.Fatal(err)
	}
	cn, _ := metres(fpLat, fpLon, sw.Centre)
	near(t, "pitched centre north", cn, 300*math.Tan(5*deg), 1e-6)
}

// The footprint of a straight line is a rectangle: length × swath.
func TestPassFootprintStraight(t *testing.T) {
	mLat, _ := metresPerDegree(fpLat, fpGround)
	var samples []Sample
	for i := range 11 { // 1000 m north, no attitude: level along the course
		samples = append(samples, Sample{Lat: fpLat + float64(i)*100/mLat, Lon: fpLon, Alt: fpAlt})
	}
	poly, err := PassFootprint(samples, 60, fpGround)
	if err != nil {
		t.Fatal(err)
	}
	ring := poly[0]
	if len(ring) != 23 || !ring.Closed() || ring.Orientation() != orb.CCW {
		t.Fatalf("ring of %d points, closed %v, orientation %v", len(ring), ring.Closed(), ring.Orientation())
	}
	// Shoelace area in the tangent plane: exactly 1000 × 346.41 m².
	var a float64
	for i := 0; i+1 < len(ring); i++ {
		n1, e1 := metres(fpLat, fpLon, ring[i])
		n2, e2 := metres(fpLat, fpLon, ring[i+1])
		a += e1*n2 - e2*n1
	}
	want := 1000 * 2 * 300 * math.Tan(30*deg)
	near(t, "tangent-plane area", a/2, want, 1e-3*want)
	// orb's spherical area (a sphere of radius 6378137 m, not the
	// ellipsoid): within 1%.
	near(t, "spherical area", geo.Area(poly), want, 0.01*want)
}

func TestFrameFootprint(t *testing.T) {
	// 60° across, 40° along, level heading north: 346.41 m across (east)
	// by 2·300·tan 20° = 218.38 m along (north).
	poly, err := FrameFootprint(Pose{Lat: fpLat, Lon: fpLon, Alt: fpAlt}, 60, 40, fpGround)
	if err != nil {
		t.Fatal(err)
	}
	ring := poly[0]
	if len(ring) != 5 || ring.Orientation() != orb.CCW {
		t.Fatalf("ring %v", ring)
	}
	for _, q := range ring {
		n, e := metres(fpLat, fpLon, q)
		near(t, "corner |north|", math.Abs(n), 300*math.Tan(20*deg), 1e-6)
		near(t, "corner |east|", math.Abs(e), 300*math.Tan(30*deg), 1e-6)
	}
	// Yawed 90°: across is now north-south.
	poly, err = FrameFootprint(Pose{Lat: fpLat, Lon: fpLon, Alt: fpAlt, Yaw: 90 * deg}, 60, 40, fpGround)
	if err != nil {
		t.Fatal(err)
	}
	n, e := metres(fpLat, fpLon, poly[0][0])
	near(t, "yawed |north|", math.Abs(n), 173.20508, 1e-4)
	near(t, "yawed |east|", math.Abs(e), 109.19107, 1e-4) // 300·tan 20°
}

func TestFootprintErrors(t *testing.T) {
	p := Pose{Lat: fpLat, Lon: fpLon, Alt: fpAlt}
	for name, f := range map[string]func() error{
		"fov 0":        func() error { _, err := SwathLine(p, 0, fpGround); return err },
		"fov 180":      func() error { _, err := SwathLine(p, 180, fpGround); return err },
		"fov NaN":      func() error { _, err := FrameFootprint(p, 60, math.NaN(), fpGround); return err },
		"below ground": func() error { _, err := SwathLine(p, 60, fpAlt+1); return err },
		"banked 70°":   func() error { q := p; q.Roll = 70 * deg; _, err := SwathLine(q, 60, fpGround); return err },
		"one sample":   func() error { _, err := PassFootprint([]Sample{{Lat: 1, Alt: fpAlt}}, 60, fpGround); return err },
	} {
		if err := f(); !errors.Is(err, ErrFootprint) {
			t.Errorf("%s: %v, want ErrFootprint", name, err)
		}
	}
	// A steeply banked sample in a pass is left out.
	samples := []Sample{
		{Lat: fpLat, Lon: fpLon, Alt: fpAlt, HasAttitude: true},
		{Lat: fpLat + 0.001, Lon: fpLon, Alt: fpAlt, HasAttitude: true, Roll: 70 * deg},
		{Lat: fpLat + 0.002, Lon: fpLon, Alt: fpAlt, HasAttitude: true},
	}
	poly, err := PassFootprint(samples, 60, fpGround)
	if err != nil || len(poly[0]) != 5 {
		t.Errorf("pass with a banked sample: %v, %v", poly, err)
	}
}
