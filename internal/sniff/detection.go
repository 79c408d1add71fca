package sniff

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// LatLon is a WGS-84 position, degrees.
type LatLon struct {
	Lat, Lon float64
}

// Detection is a located source of one gas with its uncertainty: what the
// site-fusion stage takes from a point-sensor trace, alongside the
// detections of the imaging pipeline.
type Detection struct {
	Gas, Channel string
	// East, North: the posterior mean position in the survey's local
	// metres; Cov its covariance, m² (east, north).
	East, North float64
	Cov         [2][2]float64
	// Region is the 95 % credible region (a convex polygon, local metres,
	// counter-clockwise).
	Region []Point
	// Lat, Lon and RegionLatLon are the same in WGS-84, and CovDeg the
	// covariance in degrees² (lat, lon); NaN and nil when the trace has no
	// positions in latitude and longitude.
	Lat, Lon     float64
	RegionLatLon []LatLon
	CovDeg       [2][2]float64
	// RateKgH is the posterior median emission rate and RateLoKgH,
	// RateHiKgH its 95 % interval, kg/h.
	RateKgH, RateLoKgH, RateHiKgH float64
	// Probability is the posterior probability that a source is in the
	// searched region; LogBayesFactor the natural log of the Bayes factor
	// against no source; Claim whether that is strong evidence of one
	// (Posterior.Claim). Without a claim, RateHiKgH is the useful output:
	// the rate no source in the region is likely to exceed.
	Probability, LogBayesFactor float64
	Claim                       bool
}

// Detection summarises the posterior for fusion, with the lag's position
// error (Posterior.LagM) added to its covariance and its region.
func (p *Posterior) Detection() Detection {
	cov := p.Cov
	region := append([]Point(nil), p.Region...)
	if l := p.LagM; l > 0 {
		cov[0][0] += l * l
		cov[1][1] += l * l
		region = dilate(region, math.Sqrt(chi2x95)*l) // the 95 % disc's radius
	}
	d := Detection{
		Gas: p.Gas, Channel: p.Channel, East: p.Mean.East, North: p.Mean.North, Cov: cov,
		Region: region,
		Lat:    math.NaN(), Lon: math.NaN(),
		RateKgH: p.RateKgH, RateLoKgH: p.RateLoKgH, RateHiKgH: p.RateHiKgH,
		Probability: p.ProbSource, LogBayesFactor: p.LogBayesFactor, Claim: p.Claim,
	}
	if g := p.geo; g != nil {
		d.Lat, d.Lon = g.latLon(d.East, d.North)
		for _, q := range d.Region {
			la, lo := g.latLon(q.East, q.North)
			d.RegionLatLon = append(d.RegionLatLon, LatLon{la, lo})
		}
		// J · Cov · Jᵀ with J = ∂(lat, lon)/∂(east, north).
		j := [2][2]float64{{g.lat[1], g.lat[2]}, {g.lon[1], g.lon[2]}}
		for a := range 2 {
			for b := range 2 {
				var s float64
				for k := range 2 {
					for l := range 2 {
						s += j[a][k] * cov[k][l] * j[b][l]
					}
				}
				d.CovDeg[a][b] = s
			}
		}
	}
	return d
}

// dilate returns the convex hull of a convex polygon grown by r (its
// Minkowski sum with a disc of radius r, each vertex's disc drawn as a
// 16-gon circumscribing it).
func dilate(poly []Point, r float64) []Point {
	if len(poly) == 0 || !(r > 0) {
		return poly
	}
	const k = 16
	rr := r / math.Cos(math.Pi/k)
	pts := make([]Point, 0, k*len(poly))
	for _, q := range poly {
		for i := range k {
			sn, cs := math.Sincos(2 * math.Pi * float64(i) / k)
			pts = append(pts, Point{q.East + rr*cs, q.North + rr*sn})
		}
	}
	return convexHull(pts)
}

// LatLon converts a local position to WGS-84, if the trace had positions in
// latitude and longitude.
func (p *Posterior) LatLon(q Point) (lat, lon float64, ok bool) {
	if p.geo == nil {
		return math.NaN(), math.NaN(), false
	}
	lat, lon = p.geo.latLon(q.East, q.North)
	return lat, lon, true
}

// geoFit maps local metres to latitude and longitude by an affine fit to the
// samples that have both: lat = a₀ + a₁·(e−ē) + a₂·(n−n̄), likewise lon. Over
// a survey of a few kilometres a conformal projection (UTM) differs from
// affine by well under a metre.
type geoFit struct {
	e0, n0   float64
	lat, lon [3]float64
}

func (g *geoFit) latLon(e, n float64) (float64, float64) {
	de, dn := e-g.e0, n-g.n0
	return g.lat[0] + g.lat[1]*de + g.lat[2]*dn, g.lon[0] + g.lon[1]*de + g.lon[2]*dn
}

// fitGeo returns nil if fewer than three samples have latitude and
// longitude or they lie on a line.
func fitGeo(s *Series) *geoFit {
	var pts []Sample
	var e0, n0 float64
	for _, q := range s.Samples {
		if !math.IsNaN(q.Lat) && !math.IsNaN(q.Lon) {
			pts = append(pts, q)
			e0 += q.East
			n0 += q.North
		}
	}
	if len(pts) < 3 {
		return nil
	}
	e0 /= float64(len(pts))
	n0 /= float64(len(pts))
	a := mat.NewDense(len(pts), 3, nil)
	b := mat.NewDense(len(pts), 2, nil)
	for i, q := range pts {
		a.Set(i, 0, 1)
		a.Set(i, 1, q.East-e0)
		a.Set(i, 2, q.North-n0)
		b.Set(i, 0, q.Lat)
		b.Set(i, 1, q.Lon)
	}
	var qr mat.QR
	qr.Factorize(a)
	if c := qr.Cond(); !(c < 1e12) {
		return nil
	}
	var x mat.Dense
	if err := qr.SolveTo(&x, false, b); err != nil {
		return nil
	}
	g := &geoFit{e0: e0, n0: n0}
	for k := range 3 {
		g.lat[k] = x.At(k, 0)
		g.lon[k] = x.At(k, 1)
	}
	return g
}
