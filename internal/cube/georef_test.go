package cube

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

// utmRefs are WGS-84 positions and their UTM coordinates computed with PROJ
// 9.1.1 (Debian proj-bin: cs2cs EPSG:4326 +to +proj=utm +zone=Z [+south]
// +datum=WGS84), an implementation nobody here wrote (Poder/Engsager's
// 6th-order Krüger series). Positions: Stanford, Empire State Building,
// Sydney Opera House, Eiffel Tower, Greenwich, Christ the Redeemer, Everest,
// points on the equator and a central meridian, Iceland, northern Norway.
var utmRefs = []struct {
	lat, lon float64
	zone     int
	north    bool
	e, n     float64
}{
	{37.4419, -122.1430, 10, true, 575809.691103, 4144240.308194},
	{40.748817, -73.985428, 18, true, 585650.836911, 4511369.002925},
	{-33.856784, 151.215297, 56, false, 334900.261292, 6252290.522406},
	{48.858370, 2.294481, 31, true, 448250.576820, 5411951.588030},
	{51.477928, -0.001545, 30, true, 708210.243272, 5707238.645448},
	{-22.951916, -43.210487, 23, false, 683477.820675, 7460685.520180},
	{27.988056, 86.925278, 45, true, 492652.333326, 3095881.522226},
	{0, -3, 30, true, 500000, 0},
	{-0.000001, 33, 36, false, 500000, 9999999.889470},
	{64.0, -21.9, 27, true, 455980.161906, 7097324.912408},
	{71.0, 25.8, 35, true, 456398.734616, 7877828.501461},
}

func TestUTMAgainstPROJ(t *testing.T) {
	for _, r := range utmRefs {
		z, north := UTMZone(r.lat, r.lon)
		if z != r.zone || north != r.north {
			t.Errorf("UTMZone(%v, %v) = %d %v, want %d %v", r.lat, r.lon, z, north, r.zone, r.north)
		}
		e, n := LatLonToUTM(r.lat, r.lon, r.zone, r.north)
		// PROJ printed 1 µm; both series are nm-accurate: allow 1 mm.
		if math.Abs(e-r.e) > 1e-3 || math.Abs(n-r.n) > 1e-3 {
			t.Errorf("LatLonToUTM(%v, %v) = %.6f %.6f, PROJ %.6f %.6f", r.lat, r.lon, e, n, r.e, r.n)
		}
		lat, lon := UTMToLatLon(r.zone, r.north, r.e, r.n)
		// 1e-8° is 1.1 mm of latitude.
		if math.Abs(lat-r.lat) > 1e-8 || math.Abs(lon-r.lon) > 1e-8 {
			t.Errorf("UTMToLatLon(%.6f, %.6f) = %.10f %.10f, want %v %v", r.e, r.n, lat, lon, r.lat, r.lon)
		}
	}
}

// TestTmercSnyder checks the series on another ellipsoid against the worked
// example in Snyder (1987), Map Projections—A Working Manual, USGS PP 1395,
// p. 269: Clarke 1866 (a = 6378206.4 m, b = 6356583.8 m), k0 = 0.9996,
// central meridian 75°W, φ = 40°30′N, λ = 73°30′W gives x = 127 106.5 m,
// y = 4 484 124.4 m (Snyder's own series, printed to 0.1 m; PROJ 9.1.1 gives
// 127 106.4674, 4 484 124.4344).
func TestTmercSnyder(t *testing.T) {
	a, b := 6378206.4, 6356583.8
	tm := newTmerc(a, 1-b/a, 0.9996)
	x, y := tm.forward(40.5*math.Pi/180, 1.5*math.Pi/180)
	if math.Abs(x-127106.4674) > 1e-3 || math.Abs(y-4484124.4344) > 1e-3 {
		t.Errorf("x, y = %.4f %.4f, want 127106.4674 4484124.4344 (Snyder 127106.5 4484124.4)", x, y)
	}
	phi, lam := tm.inverse(127106.5, 4484124.4)
	// Snyder's inverse example returns 40°30′N 73°30′W from the rounded x, y
	// (0.05 m is 5e-7°).
	if math.Abs(phi*180/math.Pi-40.5) > 1e-6 || math.Abs(lam*180/math.Pi-1.5) > 1e-6 {
		t.Errorf("inverse = %.8f %.8f", phi*180/math.Pi, lam*180/math.Pi)
	}
}

// TestUTMRoundTrip checks inverse∘forward and forward∘inverse across a whole
// zone and half a degree beyond its edges, from 80°S to 84°N, to 1 mm.
func TestUTMRoundTrip(t *testing.T) {
	worst := 0.0
	for lat := -80.0; lat <= 84; lat += 0.5 {
		for dl := -3.5; dl <= 3.5; dl += 0.25 {
			lon := 9 + dl // zone 32, central meridian 9°E
			north := lat >= 0
			e, n := LatLonToUTM(lat, lon, 32, north)
			lat2, lon2 := UTMToLatLon(32, north, e, n)
			// metres on the sphere are close enough to judge a 1 mm bound.
			d := math.Hypot((lat2-lat)*111e3, (lon2-lon)*111e3*math.Cos(lat*math.Pi/180))
			worst = math.Max(worst, d)
			e2, n2 := LatLonToUTM(lat2, lon2, 32, north)
			worst = math.Max(worst, math.Hypot(e2-e, n2-n))
		}
	}
	if worst > 1e-3 {
		t.Errorf("worst round trip error %.3g m, want < 1 mm", worst)
	}
	t.Logf("worst round trip error %.3g m", worst)
}

func decodeTestHeader(t *testing.T, name string) *Header {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := DecodeHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestGeorefUTM(t *testing.T) {
	h := decodeTestHeader(t, "utm.hdr")
	g, err := h.Georef()
	if err != nil {
		t.Fatal(err)
	}
	// Reference pixel (1, 1) is the upper-left corner of pixel (0, 0).
	if e, n := g.Map(0, 0); e != 553282.5 || n != 4136045 {
		t.Errorf("corner = %v %v", e, n)
	}
	// Centre of pixel (1, 2): 1.5 and 2.5 pixels of 2.5 m from the corner.
	if e, n := g.Map(1.5, 2.5); e != 553282.5+1.5*2.5 || n != 4136045-2.5*2.5 {
		t.Errorf("centre of (1, 2) = %v %v", e, n)
	}
	lat, lon := g.LatLon(1.5, 2.5)
	wlat, wlon := UTMToLatLon(10, true, 553282.5+1.5*2.5, 4136045-2.5*2.5)
	if lat != wlat || lon != wlon {
		t.Errorf("LatLon = %v %v, want %v %v", lat, lon, wlat, wlon)
	}
	if dx, dy := g.PixelSizeMeters(); dx != 2.5 || dy != 2.5 {
		t.Errorf("pixel size %v × %v", dx, dy)
	}
}

func TestGeorefReferencePixel(t *testing.T) {
	// Reference pixel (1.5, 1.5): the centre of pixel (0, 0) is at (E, N).
	h, err := DecodeHeader(strings.NewReader(goodHeader + "map info = {UTM, 1.5, 1.5, 1000, 2000, 30, 30, 11, South, WGS-84, units=Meters}\n"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := h.Georef()
	if err != nil {
		t.Fatal(err)
	}
	if e, n := g.Map(0.5, 0.5); e != 1000 || n != 2000 {
		t.Errorf("centre of pixel (0, 0) = %v %v, want 1000 2000", e, n)
	}
	if e, n := g.Map(0, 0); e != 985 || n != 2015 {
		t.Errorf("corner = %v %v, want 985 2015", e, n)
	}
}

func TestGeorefRotatedGeographic(t *testing.T) {
	h := decodeTestHeader(t, "geographic.hdr")
	g, err := h.Georef()
	if err != nil {
		t.Fatal(err)
	}
	th := 15 * math.Pi / 180
	// GDAL's ENVI driver for reference pixel (1, 1): origin at (E, N), x
	// step (cos θ, −sin θ)·px, y step (−sin θ, −cos θ)·py.
	want := [6]float64{-122.25, math.Cos(th) * 1e-4, -math.Sin(th) * 1e-4, 37.5, -math.Sin(th) * 1e-4, -math.Cos(th) * 1e-4}
	for i := range want {
		if math.Abs(g.GeoTransform[i]-want[i]) > 1e-15 {
			t.Errorf("GeoTransform = %v, want %v", g.GeoTransform, want)
			break
		}
	}
	lat, lon := g.LatLon(2.5, 1.5)
	e, n := g.Map(2.5, 1.5)
	if lat != n || lon != e {
		t.Errorf("LatLon = %v %v, Map = %v %v", lat, lon, e, n)
	}
	x, y := g.Pixel(e, n)
	if math.Abs(x-2.5) > 1e-9 || math.Abs(y-1.5) > 1e-9 {
		t.Errorf("Pixel(Map(2.5, 1.5)) = %v %v", x, y)
	}
	// A rotated grid keeps its pixel size.
	dx, dy := g.PixelSizeMeters()
	if math.Abs(dx-dy) > 3 {
		t.Errorf("pixel size %v × %v", dx, dy)
	}
}

// TestPixelSizeGeographic compares the metres of a 1e-4° pixel at 37.49995°N
// with geodesic distances from PROJ 9.1.1's geod (+ellps=WGS84 -I): 8.842550312
// m along the parallel, 11.098703582 m along the meridian.
func TestPixelSizeGeographic(t *testing.T) {
	h, err := DecodeHeader(strings.NewReader("ENVI\nsamples = 1\nlines = 1\nbands = 1\ndata type = 1\nmap info = {Geographic Lat/Lon, 1, 1, -122.25, 37.5, 1e-4, 1e-4, WGS-84, units=Degrees}\n"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := h.Georef()
	if err != nil {
		t.Fatal(err)
	}
	dx, dy := g.PixelSizeMeters()
	// geod printed 1 nm; the arc and the geodesic differ by far less.
	if math.Abs(dx-8.842550312) > 1e-6 || math.Abs(dy-11.098703582) > 1e-6 {
		t.Errorf("pixel size %.9f × %.9f m, want 8.842550312 × 11.098703582", dx, dy)
	}
}

func TestGeorefErrors(t *testing.T) {
	h, err := DecodeHeader(strings.NewReader(goodHeader))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Georef(); !errors.Is(err, ErrNoGeoref) {
		t.Errorf("no map info: %v", err)
	}
	for _, mi := range []string{
		"{State Plane (NAD 83), 1, 1, 0, 0, 1, 1, 403, units=Feet}",
		"{UTM, 1, 1, 0, 0, 1, 1, 10, North, NAD 27, units=Meters}",
		"{UTM, 1, 1, 0, 0, 1, 1, 10, North, WGS-84, units=Feet}",
	} {
		h, err := DecodeHeader(strings.NewReader(goodHeader + "map info = " + mi + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Georef(); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v", mi, err)
		}
	}
}
