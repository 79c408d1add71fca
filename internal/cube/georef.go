package cube

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrNoGeoref is wrapped by Header.Georef's error for a header without map
// info.
var ErrNoGeoref = errors.New("cube: no georeference (no map info)")

// Georef maps pixel coordinates of a cube to map coordinates and to WGS-84
// latitude and longitude.
//
// Pixel coordinates are continuous and 0-based: (0, 0) is the upper-left
// corner of the upper-left pixel and the centre of pixel (x, y) is
// (x+0.5, y+0.5). ENVI's map info uses 1-based file coordinates for its
// reference pixel, where (1, 1) is that same corner; Georef converts.
type Georef struct {
	MapInfo MapInfo
	// GeoTransform is the affine pixel → map transform in GDAL's order:
	// E = T[0] + T[1]·x + T[2]·y, N = T[3] + T[4]·x + T[5]·y, with (x, y)
	// 0-based continuous pixel coordinates as above and (E, N) easting and
	// northing in metres (UTM) or longitude and latitude in degrees
	// (Geographic Lat/Lon).
	GeoTransform [6]float64
	geographic   bool
	centreLat    float64 // latitude of the scene's centre, degrees
}

// Georef returns the georeference of the header's map info. It supports the
// projections "UTM" (units metres) and "Geographic Lat/Lon" (units degrees)
// on the WGS-84 datum; others are refused with an error wrapping
// ErrUnsupported. A header without map info gives an error wrapping
// ErrNoGeoref.
//
// A rotation=θ in map info follows GDAL's ENVI driver (frmts/raw/
// envidataset.cpp): T[1] = cos θ·px, T[2] = −sin θ·px, T[4] = −sin θ·py,
// T[5] = −cos θ·py. The reference pixel is placed exactly at the given map
// coordinates; for the usual reference pixel (1, 1) this is GDAL's transform
// too (GDAL places the origin unrotated for other reference pixels).
func (h *Header) Georef() (*Georef, error) {
	mi := h.MapInfo
	if mi == nil {
		return nil, ErrNoGeoref
	}
	g := &Georef{MapInfo: *mi}
	proj := strings.ToLower(strings.Join(strings.Fields(mi.Projection), " "))
	units := strings.ToLower(mi.Units)
	switch proj {
	case "utm":
		if units != "" && units != "meters" && units != "metres" && units != "m" {
			return nil, fmt.Errorf("%w: map info units = %q for UTM: only meters", ErrUnsupported, mi.Units)
		}
	case "geographic lat/lon":
		if units != "" && units != "degrees" {
			return nil, fmt.Errorf("%w: map info units = %q for Geographic Lat/Lon: only degrees", ErrUnsupported, mi.Units)
		}
		g.geographic = true
	default:
		return nil, fmt.Errorf("%w: map info projection = %q: only UTM and Geographic Lat/Lon", ErrUnsupported, mi.Projection)
	}
	switch d := strings.ToLower(strings.NewReplacer("-", "", " ", "", "_", "").Replace(mi.Datum)); d {
	case "", "wgs84":
	default:
		return nil, fmt.Errorf("%w: map info datum = %q: only WGS-84", ErrUnsupported, mi.Datum)
	}
	s, c := math.Sincos(mi.Rotation * math.Pi / 180)
	t := &g.GeoTransform
	t[1], t[2] = c*mi.PixelX, -s*mi.PixelX
	t[4], t[5] = -s*mi.PixelY, -c*mi.PixelY
	x0, y0 := mi.RefX-1, mi.RefY-1
	t[0] = mi.Easting - t[1]*x0 - t[2]*y0
	t[3] = mi.Northing - t[4]*x0 - t[5]*y0
	g.centreLat, _ = g.LatLon(float64(h.Samples)/2, float64(h.Lines)/2)
	return g, nil
}

// Map returns the map coordinates of pixel coordinates (x, y): easting and
// northing in metres (UTM), or longitude and latitude in degrees.
func (g *Georef) Map(x, y float64) (e, n float64) {
	t := &g.GeoTransform
	return t[0] + t[1]*x + t[2]*y, t[3] + t[4]*x + t[5]*y
}

// Pixel is the inverse of Map.
func (g *Georef) Pixel(e, n float64) (x, y float64) {
	t := &g.GeoTransform
	det := t[1]*t[5] - t[2]*t[4]
	de, dn := e-t[0], n-t[3]
	return (t[5]*de - t[2]*dn) / det, (t[1]*dn - t[4]*de) / det
}

// LatLon returns the WGS-84 latitude and longitude in degrees of pixel
// coordinates (x, y) (the centre of pixel (i, j) is (i+0.5, j+0.5)).
func (g *Georef) LatLon(x, y float64) (lat, lon float64) {
	e, n := g.Map(x, y)
	if g.geographic {
		return n, e
	}
	return UTMToLatLon(g.MapInfo.Zone, g.MapInfo.North, e, n)
}

// PixelSizeMeters returns the ground size of a pixel along a line (dx) and
// along a column (dy) in metres. For UTM these are the map info pixel sizes
// (grid metres, which differ from ground metres by the point scale factor,
// within 0.04 % inside a zone). For geographic grids they are the degree steps
// converted to metres at the latitude of the scene's centre, with the
// meridian radius of curvature M = a(1−e²)/(1−e² sin²φ)^{3/2} and the
// parallel radius N cos φ = a cos φ/(1−e² sin²φ)^{1/2} of the WGS-84
// ellipsoid (Snyder 1987, USGS PP 1395, eqs. 4-18 and 4-20); a rotated grid's
// steps are combined from their east and north parts.
func (g *Georef) PixelSizeMeters() (dx, dy float64) {
	t := &g.GeoTransform
	if !g.geographic {
		return math.Hypot(t[1], t[4]), math.Hypot(t[2], t[5])
	}
	lat := g.centreLat * math.Pi / 180
	s := math.Sin(lat)
	w := math.Sqrt(1 - wgs84E2*s*s)
	rad := math.Pi / 180
	mer := wgs84A * (1 - wgs84E2) / (w * w * w) * rad // metres per degree of latitude
	par := wgs84A / w * math.Cos(lat) * rad           // metres per degree of longitude
	return math.Hypot(t[1]*par, t[4]*mer), math.Hypot(t[2]*par, t[5]*mer)
}

// The WGS-84 ellipsoid (NIMA TR8350.2, 3rd ed., 2000, table 3.1).
const (
	wgs84A  = 6378137.0
	wgs84F  = 1 / 298.257223563
	wgs84E2 = wgs84F * (2 - wgs84F)
)

// UTM (NIMA TR8350.2 and DMA TM 8358.2): central scale factor and false
// easting and northing.
const (
	utmK0     = 0.9996
	utmFalseE = 500000.0
	utmFalseN = 10000000.0 // southern hemisphere
)

// tmerc holds the constants of the transverse Mercator projection on one
// ellipsoid, after Karney (2011), "Transverse Mercator with an accuracy of a
// few nanometers", J. Geodesy 85:475-485, §2-3: the Krüger series to order
// n^6 in the third flattening n, eqs. (14) (A), (35) (α) and (36) (β). Within
// a UTM zone (and far beyond, to 3 900 km from the central meridian) their
// truncation error is below 5 nm; float64 round-off is a few nm.
type tmerc struct {
	a, e, e2, k0 float64
	rectA        float64    // A, the rectifying radius
	alpha, beta  [7]float64 // α_j, β_j for j = 1…6 (index 0 unused)
}

func newTmerc(a, f, k0 float64) *tmerc {
	n := f / (2 - f)
	n2 := n * n
	n3 := n2 * n
	n4, n5, n6 := n2*n2, n2*n3, n3*n3
	t := &tmerc{a: a, e2: f * (2 - f), k0: k0}
	t.e = math.Sqrt(t.e2)
	t.rectA = a / (1 + n) * (1 + n2/4 + n4/64 + n6/256)
	t.alpha = [7]float64{0,
		n/2 - 2*n2/3 + 5*n3/16 + 41*n4/180 - 127*n5/288 + 7891*n6/37800,
		13*n2/48 - 3*n3/5 + 557*n4/1440 + 281*n5/630 - 1983433*n6/1935360,
		61*n3/240 - 103*n4/140 + 15061*n5/26880 + 167603*n6/181440,
		49561*n4/161280 - 179*n5/168 + 6601661*n6/7257600,
		34729*n5/80640 - 3418889*n6/1995840,
		212378941 * n6 / 319334400,
	}
	t.beta = [7]float64{0,
		n/2 - 2*n2/3 + 37*n3/96 - n4/360 - 81*n5/512 + 96199*n6/604800,
		n2/48 + n3/15 - 437*n4/1440 + 46*n5/105 - 1118711*n6/3870720,
		17*n3/480 - 37*n4/840 - 209*n5/4480 + 5569*n6/90720,
		4397*n4/161280 - 11*n5/504 - 830251*n6/7257600,
		4583*n5/161280 - 108847*n6/3991680,
		20648693 * n6 / 638668800,
	}
	return t
}

var wgs84TM = newTmerc(wgs84A, wgs84F, utmK0)

// tauPrime is Karney's τ′(τ), eqs. (7)-(9): the tangent of the conformal
// latitude from the tangent of the geographic latitude.
func (t *tmerc) tauPrime(tau float64) float64 {
	s := math.Sqrt(1 + tau*tau)
	sig := math.Sinh(t.e * math.Atanh(t.e*tau/s))
	return tau*math.Sqrt(1+sig*sig) - sig*s
}

// forward maps latitude φ and longitude λ relative to the central meridian
// (radians) to x (east) and y (north) in metres from the central meridian on
// the equator.
func (t *tmerc) forward(phi, lam float64) (x, y float64) {
	tp := t.tauPrime(math.Tan(phi))
	sl, cl := math.Sincos(lam)
	xi := math.Atan2(tp, cl)                       // ξ′, eq. (10)
	eta := math.Asinh(sl / math.Sqrt(tp*tp+cl*cl)) // η′
	xs, es := xi, eta
	for j := 1; j <= 6; j++ {
		s, c := math.Sincos(2 * float64(j) * xi)
		xs += t.alpha[j] * s * math.Cosh(2*float64(j)*eta)
		es += t.alpha[j] * c * math.Sinh(2*float64(j)*eta)
	}
	return t.k0 * t.rectA * es, t.k0 * t.rectA * xs
}

// inverse is forward's inverse: Karney eqs. (11), (36), then Newton's method
// for τ from τ′, eqs. (19)-(21).
func (t *tmerc) inverse(x, y float64) (phi, lam float64) {
	xi := y / (t.k0 * t.rectA)
	eta := x / (t.k0 * t.rectA)
	xp, ep := xi, eta
	for j := 1; j <= 6; j++ {
		s, c := math.Sincos(2 * float64(j) * xi)
		xp -= t.beta[j] * s * math.Cosh(2*float64(j)*eta)
		ep -= t.beta[j] * c * math.Sinh(2*float64(j)*eta)
	}
	sx, cx := math.Sincos(xp)
	she := math.Sinh(ep)
	tp := sx / math.Sqrt(she*she+cx*cx)
	lam = math.Atan2(she, cx)
	tau := tp
	// Karney (2011) §2: Newton's method from τ = τ′ converges to full double
	// precision in at most 2 iterations for |φ| < 90°; 5 leaves a margin.
	for i := 0; i < 5; i++ {
		tpi := t.tauPrime(tau)
		d := (tp - tpi) / math.Sqrt(1+tpi*tpi) * (1 + (1-t.e2)*tau*tau) / ((1 - t.e2) * math.Sqrt(1+tau*tau))
		tau += d
		if math.Abs(d) < 1e-15*math.Max(1, math.Abs(tau)) {
			break
		}
	}
	return math.Atan(tau), lam
}

// UTMZone returns the standard UTM zone of a WGS-84 position (with the
// Norway and Svalbard exceptions) and whether it is in the northern
// hemisphere (latitude ≥ 0).
func UTMZone(lat, lon float64) (zone int, north bool) {
	lon = math.Mod(lon+180, 360)
	if lon < 0 {
		lon += 360
	}
	zone = int(lon/6) + 1
	lon -= 180
	switch {
	case lat >= 56 && lat < 64 && lon >= 3 && lon < 12:
		zone = 32
	case lat >= 72 && lat < 84 && lon >= 0 && lon < 42:
		switch {
		case lon < 9:
			zone = 31
		case lon < 21:
			zone = 33
		case lon < 33:
			zone = 35
		default:
			zone = 37
		}
	}
	return min(zone, 60), lat >= 0
}

// LatLonToUTM projects a WGS-84 latitude and longitude (degrees) to UTM in
// the given zone and hemisphere: easting and northing in metres, northing
// with 10 000 km added in the southern hemisphere. The zone need not be the
// position's own (use UTMZone for that): the series stay accurate far beyond
// a zone's edges.
func LatLonToUTM(lat, lon float64, zone int, north bool) (easting, northing float64) {
	lam := (lon - utmCentralMeridian(zone)) * math.Pi / 180
	lam = math.Remainder(lam, 2*math.Pi)
	x, y := wgs84TM.forward(lat*math.Pi/180, lam)
	if !north {
		y += utmFalseN
	}
	return x + utmFalseE, y
}

// UTMToLatLon is the inverse of LatLonToUTM.
func UTMToLatLon(zone int, north bool, easting, northing float64) (lat, lon float64) {
	y := northing
	if !north {
		y -= utmFalseN
	}
	phi, lam := wgs84TM.inverse(easting-utmFalseE, y)
	lon = lam*180/math.Pi + utmCentralMeridian(zone)
	if lon > 180 {
		lon -= 360
	} else if lon < -180 {
		lon += 360
	}
	return phi * 180 / math.Pi, lon
}

func utmCentralMeridian(zone int) float64 { return float64(6*zone - 183) }
