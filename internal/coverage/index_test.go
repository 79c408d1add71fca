package coverage

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/golang/geo/s2"
	"github.com/paulmach/orb"
)

// TestCellsAgreeWithS2: the face-ij grid names the same cells as s2, and
// its cell areas agree with s2's exact areas.
func TestCellsAgreeWithS2(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := newGrid(DefaultLevel)
	for range 2000 {
		lat := math.Asin(2*rng.Float64()-1) * 180 / math.Pi
		lon := 360*rng.Float64() - 180
		ll := s2.LatLngFromDegrees(lat, lon)
		want := s2.CellIDFromLatLng(ll).Parent(DefaultLevel)
		f, i, j := g.cellOf(lonLatToXYZ(lon, lat))
		if got := g.cellID(f, i, j); got != want {
			t.Fatalf("(%g, %g): cell %v, s2 says %v", lat, lon, got, want)
		}
		f2, i2, j2, err := g.fromCellID(want)
		if err != nil || f2 != f || i2 != i || j2 != j {
			t.Fatalf("fromCellID(%v) = %d %d %d %v, want %d %d %d", want, f2, i2, j2, err, f, i, j)
		}
		exact := s2.CellFromCellID(want).ExactArea() * earthRadiusM * earthRadiusM
		if a := g.area(i, j); math.Abs(a-exact) > 1e-6*exact {
			t.Fatalf("cell %v: area %.9g m², s2 exact %.9g", want, a, exact)
		}
	}
}

// sphereRectArea is the area (m²) of a longitude-latitude rectangle on the
// sphere of radius earthRadiusM: R²·Δλ·(sin φ₂ − sin φ₁).
func sphereRectArea(b orb.Bound) float64 {
	r := math.Pi / 180
	return earthRadiusM * earthRadiusM * (b.Max[0] - b.Min[0]) * r * (math.Sin(b.Max[1]*r) - math.Sin(b.Min[1]*r))
}

func bound(lon, lat, dlon, dlat float64) orb.Bound {
	return orb.Bound{Min: orb.Point{lon, lat}, Max: orb.Point{lon + dlon, lat + dlat}}
}

// TestAreaAccounting: a footprint of known area fills the expected number of
// cells, to within the cells its edge cuts.
func TestAreaAccounting(t *testing.T) {
	for _, c := range []struct {
		name     string
		lon, lat float64
	}{{"equator", 10.3, 0.2}, {"mid-latitude", -3.7, 40.4}, {"face edge", 45.0, 10}, {"south", 150.1, -33.9}} {
		t.Run(c.name, func(t *testing.T) {
			ix, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			// About 1.1 km × 1.1 km, with a hole of a quarter of its sides.
			outer := bound(c.lon-0.005, c.lat-0.005, 0.01, 0.01)
			hole := bound(c.lon-0.00125, c.lat-0.00125, 0.0025, 0.0025)
			poly := orb.Polygon{outer.ToRing(), hole.ToRing()}
			want := sphereRectArea(outer) - sphereRectArea(hole)
			n, err := ix.AddPolygon(Pass{Granule: "g1", Threshold: 5, Time: time.Unix(0, 0)}, poly, 1)
			if err != nil {
				t.Fatal(err)
			}
			st, err := ix.Summary(Rect(outer))
			if err != nil {
				t.Fatal(err)
			}
			if st.SurveyedCells != n {
				t.Fatalf("summary counts %d surveyed cells, AddPolygon updated %d", st.SurveyedCells, n)
			}
			got := st.SurveyedKm2 * 1e6
			// Centre sampling misclassifies only cells cut by the edge: at
			// most the perimeter times one cell diagonal (≤ 13.3·√2 m,
			// s2.MaxDiagMetric at level 20) of area either way.
			perim := 2*(math.Sqrt(sphereRectArea(outer))*2) + 2*(math.Sqrt(sphereRectArea(hole))*2)
			edge := 13.3 * math.Sqrt2
			if math.Abs(got-want) > perim*edge {
				t.Errorf("cells cover %.0f m², polygon %.0f m² (allowed ±%.0f)", got, want, perim*edge)
			}
			// And in practice much closer: the misclassified cells cancel.
			if math.Abs(got-want) > 0.01*want {
				t.Errorf("cells cover %.0f m², polygon %.0f m²: off by %.2f %%", got, want, 100*(got-want)/want)
			}
			cellsWant := want / (st.SurveyedKm2 * 1e6 / float64(n))
			t.Logf("%d cells (%.1f m² each), %.0f m² vs %.0f m² analytic (%.3f %%), %.0f cells expected", n, got/float64(n), got, want, 100*(got-want)/want, cellsWant)
			// The hole is not surveyed, the ring is.
			if r := ix.At(c.lat, c.lon); r.Surveyed() {
				t.Errorf("the hole's centre is surveyed: %+v", r)
			}
			if r := ix.At(c.lat+0.003, c.lon+0.003); !r.Surveyed() {
				t.Errorf("a point inside the ring is not surveyed")
			}
		})
	}
}

// TestMDLHandComputed checks MDL against the formula worked by hand.
func TestMDLHandComputed(t *testing.T) {
	// Ammonia (NH3, 17.031 g/mol), σ_c = 10 ppm·m, threshold 5, wind
	// 3 m/s, 1 m pixels, class A. By hand:
	//   κ = 10⁻⁶ · 101325/(8.314462618·288.15) · 17.031·10⁻³ = 7.2028e-7 kg/m² per ppm·m
	//   σ_y(1 m) = 0.22/√1.0001 = 0.219989 m; f = erf(1/(2√2·0.219989)) = erf(1.60715) = 0.976964
	//   MDL = 3600 · 5 · 10 · κ · 3 · 1 / f = 0.398125 kg/h
	m := Plume{WindMS: 3, Stability: "A", MolarMass: 17.031}
	got, err := MDL(10, 5, 1, m)
	if err != nil {
		t.Fatal(err)
	}
	if want := 0.398125; math.Abs(got-want) > 1e-5 {
		t.Errorf("MDL = %.6f kg/h, want %.6f", got, want)
	}
	// Class D: the plume is far narrower than the pixel, f = 1 to 10⁻⁹:
	// MDL = 3600·5·10·κ·3 = 0.388954 kg/h.
	m.Stability = "D"
	if got, _ := MDL(10, 5, 1, m); math.Abs(got-0.388954) > 1e-5 {
		t.Errorf("class D: MDL = %.6f kg/h, want 0.388954", got)
	}
	// Linear in σ_c, wind and pixel size (f ≈ 1).
	m2 := m
	m2.WindMS = 6
	if a, b := must(MDL(10, 5, 2, m)), must(MDL(20, 5, 1, m2)); math.Abs(b/a-2) > 1e-6 {
		t.Errorf("MDL(σ=20, u=6, p=1)/MDL(σ=10, u=3, p=2) = %g, want 2", b/a)
	}
	for _, bad := range []Plume{{WindMS: 0, MolarMass: 17}, {WindMS: 3}, {WindMS: 3, MolarMass: 17, Stability: "G"}} {
		if _, err := MDL(10, 5, 1, bad); err == nil {
			t.Errorf("MDL with %+v: no error", bad)
		}
	}
}

func must(v float64, err error) float64 {
	if err != nil {
		panic(err)
	}
	return v
}

// TestAccumulatedMDL: n identical passes give MDL₁/√n; the best single pass,
// the count and the latest look are kept.
func TestAccumulatedMDL(t *testing.T) {
	ix, err := New(Options{Threshold: 5})
	if err != nil {
		t.Fatal(err)
	}
	area := Rect(bound(-100.001, 20.001, 0.002, 0.002))
	const sigma = 0.8 // kg/h
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	order := []int{3, 0, 5, 1, 8, 2, 7, 4, 6} // out of time order
	for n, k := range order {
		p := Pass{Granule: "g" + string(rune('a'+k)), Sensor: "lwir", Time: t0.Add(time.Duration(k) * time.Hour), Threshold: 5}
		if _, err := ix.AddPolygon(p, area, sigma); err != nil {
			t.Fatal(err)
		}
		r := ix.At(20.002, -100.0)
		want := 5 * sigma / math.Sqrt(float64(n+1))
		if math.Abs(r.AccMDL-want) > 1e-5*want {
			t.Errorf("after %d passes: accumulated MDL %g, want %g", n+1, r.AccMDL, want)
		}
		if math.Abs(r.BestMDL-5*sigma) > 1e-6 || r.Passes != n+1 {
			t.Errorf("after %d passes: best %g, passes %d", n+1, r.BestMDL, r.Passes)
		}
	}
	r := ix.At(20.002, -100.0)
	if r.Last.Granule != "gi" || !r.Last.Time.Equal(t0.Add(8*time.Hour)) {
		t.Errorf("last look %+v, want granule gi at %v", r.Last, t0.Add(8*time.Hour))
	}
	if got := Accumulate(1, 1, 1, 1); got != 0.5 {
		t.Errorf("Accumulate(1,1,1,1) = %g", got)
	}
	// A more sensitive pass lowers the best single-pass MDL.
	if _, err := ix.AddPolygon(Pass{Granule: "fine", Time: t0, Threshold: 4}, area, 0.1); err != nil {
		t.Fatal(err)
	}
	if r := ix.At(20.002, -100.0); math.Abs(r.BestMDL-0.4) > 1e-6 {
		t.Errorf("best MDL %g, want 0.4", r.BestMDL)
	}
	if r := ix.At(21, -100.0); r.Surveyed() || !math.IsInf(r.AccMDL, 1) {
		t.Errorf("an unsurveyed cell: %+v", r)
	}
}

func TestBadInput(t *testing.T) {
	ix, _ := New(Options{})
	p := Pass{Granule: "g", Threshold: 5}
	for _, poly := range []orb.Polygon{nil, {{{0, 0}, {1, 1}}}, Rect(bound(0, 0, 20, 1)), Rect(bound(200, 0, 1, 1))} {
		if _, err := ix.AddPolygon(p, poly, 1); err == nil {
			t.Errorf("AddPolygon(%v): no error", poly)
		}
	}
	if _, err := ix.AddPolygon(p, Rect(bound(0, 0, .01, .01)), math.NaN()); err == nil {
		t.Error("NaN sigma: no error")
	}
	if _, err := ix.AddPolygon(Pass{Granule: "g"}, Rect(bound(0, 0, .01, .01)), 1); err == nil {
		t.Error("no threshold: no error")
	}
	for _, o := range []Options{{Level: 31}, {Level: 20, TileLevel: 5}, {Threshold: -1}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
}
