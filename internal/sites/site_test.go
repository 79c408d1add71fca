package sites

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/sniff"
)

func catalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := NewCatalog(CatalogConfig{Zone: 18, North: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func det(kind Kind, gas string, e, n, sigmaM, z float64, day int, pass string) Detection {
	lat, lon := cube.UTMToLatLon(18, true, e, n)
	return Detection{Kind: kind, Gas: gas, Lat: lat, Lon: lon, SigmaM: sigmaM, Z: z, SigmaPPMm: 5, PPMm: 5 * z,
		Time: time.Date(2026, 3, 10+day, 15, 30, 0, 0, time.UTC), PassID: pass}
}

// Detections of several passes, sensors and gases within their location
// uncertainty join one site at their inverse-variance position; one far
// away starts another.
func TestCatalogAssociation(t *testing.T) {
	c := catalog(t)
	id1, new1 := c.Add(det(KindImaging, "dichloromethane", 512250, 249780, 8, 5, 0, "p1"))
	id2, new2 := c.Add(det(KindImaging, "dichloromethane", 512262, 249776, 8, 4.5, 1, "p2"))
	id3, new3 := c.Add(det(KindPoint, "toluene", 512246, 249784, 10, 3, 1, ""))
	id4, new4 := c.Add(det(KindImaging, "ammonia", 512500, 249600, 8, 6, 1, "p2"))
	if !new1 || new2 || new3 || !new4 || id1 != id2 || id2 != id3 || id4 == id1 {
		t.Fatalf("association: %s %v, %s %v, %s %v, %s %v", id1, new1, id2, new2, id3, new3, id4, new4)
	}
	s := c.Sites()
	var lab Site
	for _, x := range s {
		if x.ID == id1 {
			lab = x
		}
	}
	// Inverse-variance position: weights 1/64, 1/64, 1/100.
	we := (512250.0/64 + 512262.0/64 + 512246.0/100) / (2.0/64 + 1.0/100)
	if math.Abs(lab.East-we) > 0.01 {
		t.Errorf("site east %.2f, want %.2f", lab.East, we)
	}
	if lab.PassesSeen != 2 || !lab.FirstSeen.Before(lab.LastSeen) {
		t.Errorf("history: seen %d, first %s last %s", lab.PassesSeen, lab.FirstSeen, lab.LastSeen)
	}
	dcm := lab.Gases["dichloromethane"]
	if want := (5 + 4.5) / math.Sqrt2; math.Abs(dcm.Z-want) > 1e-9 {
		t.Errorf("DCM z %.3f, want Stouffer %.3f", dcm.Z, want)
	}
	t.Logf("site %s: %.1f m 1σ, types %+v, log BF %.1f, p %.3f", lab.ID, lab.SigmaM, lab.Types[:3], lab.LogBF, lab.Probability)
	// Dichloromethane and toluene alone (nothing else looked for) could be
	// a paint stripper too; the laboratory types together must lead.
	if lab.LabProbability < 0.5 {
		t.Errorf("dichloromethane + toluene: lab probability %.2f (types %+v), want > 0.5", lab.LabProbability, lab.Types)
	}
}

// Grid detections supersede each other (the grid is cumulative), and a
// later grid detection does not double the evidence.
func TestCatalogGridSupersedes(t *testing.T) {
	c := catalog(t)
	c.Add(det(KindGrid, "dichloromethane", 512250, 249780, 5, 4, 0, ""))
	c.Add(det(KindGrid, "dichloromethane", 512251, 249781, 5, 6, 5, ""))
	s := c.Sites()
	if len(s) != 1 || s[0].Gases["dichloromethane"].Z != 6 {
		t.Errorf("sites %d, z %g: want one site with the latest grid z 6", len(s), s[0].Gases["dichloromethane"].Z)
	}
}

// Site typing: a farm's ammonia, a paint shop's solvents and a fentanyl
// laboratory's dichloromethane, with every gas looked for (absent gases
// have z ≈ 0 at their σ).
func TestSiteTypes(t *testing.T) {
	p, err := DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	sigma := map[string]float64{"dichloromethane": 5, "toluene": 50, "acetone": 35, "ammonia": 33, "2-butanone": 31, "ethyl_acetate": 4}
	profile := func(present map[string]float64) map[string]float64 {
		lbf := map[string]float64{}
		for g, s := range sigma {
			lbf[g] = GasLogBF(present[g], 20/s)
		}
		return lbf
	}
	for _, tc := range []struct {
		name    string
		present map[string]float64
		want    string
		lab     bool
	}{
		{"cattle farm", map[string]float64{"ammonia": 8}, "farm", false},
		{"paint shop", map[string]float64{"toluene": 6, "acetone": 7, "2-butanone": 6, "ethyl_acetate": 9}, "paint-body-shop", false},
		{"fentanyl lab", map[string]float64{"dichloromethane": 7}, "fentanyl-lab", true},
		{"meth lab", map[string]float64{"acetone": 8, "ammonia": 7, "toluene": 5}, "methamphetamine-lab", true},
	} {
		ts, lbf := p.Classify(profile(tc.present))
		labP := 0.0
		for _, s := range ts {
			if s.Lab {
				labP += s.Probability
			}
		}
		t.Logf("%s: %s %.2f, %s %.2f; lab %.3f; log BF %.1f", tc.name, ts[0].Type, ts[0].Probability, ts[1].Type, ts[1].Probability, labP, lbf)
		if ts[0].Type != tc.want || (labP > 0.5) != tc.lab {
			t.Errorf("%s typed %s (lab %.2f), want %s", tc.name, ts[0].Type, labP, tc.want)
		}
	}
}

func TestGasLogBF(t *testing.T) {
	// No information from an insensitive retrieval; monotone in z; ≈ 0 at
	// small τ; against presence at z = 0 with a sensitive one.
	if v := GasLogBF(3, 1e-3); math.Abs(v) > 0.01 {
		t.Errorf("τ → 0: log BF %g, want 0", v)
	}
	if GasLogBF(0, 4) >= 0 {
		t.Errorf("z = 0 with τ = 4: log BF %g, want < 0", GasLogBF(0, 4))
	}
	prev := math.Inf(-1)
	for z := -40.0; z <= 10; z += 0.5 {
		v := GasLogBF(z, 3)
		if !(v > prev) || math.IsInf(v, 0) {
			t.Fatalf("log BF(%g) = %g after %g: not increasing and finite", z, v, prev)
		}
		prev = v
	}
}

// UpdateFromGrid adds the evidence of gases looked for and not detected,
// and the pass history.
func TestCatalogUpdateFromGrid(t *testing.T) {
	ctx := context.Background()
	g := newGrid(t, GridConfig{CellM: 5})
	const w, h = 100, 100
	geo := georef(t, 512200, 249800, 1, w, h)
	for n := range 3 {
		for _, gas := range []string{"dichloromethane", "toluene"} {
			p := noisePass(nil2(n), "p"+string(rune('0'+n)), n, w, h, geo, nil)
			p.Gas = gas
			if _, err := g.AddPass(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := catalog(t)
	c.Add(det(KindGrid, "dichloromethane", 512250, 249750, 5, 7, 2, ""))
	if err := c.UpdateFromGrid(ctx, g, nil, []string{"dichloromethane", "toluene"}); err != nil {
		t.Fatal(err)
	}
	s := c.Sites()[0]
	if s.PassesSurveyed != 3 || s.Gases["toluene"] == nil || s.Gases["toluene"].Detected || !s.Gases["dichloromethane"].Detected {
		t.Errorf("after grid update: surveyed %d, gases %+v", s.PassesSurveyed, s.Gases)
	}
}

func TestFromPoint(t *testing.T) {
	d := sniff.Detection{Gas: "acetone", Lat: 2.25, Lon: -74.9, Cov: [2][2]float64{{16, 0}, {0, 100}},
		RateKgH: 5, Probability: 0.999, LogBayesFactor: 12.5}
	got, err := FromPoint(d, "trace-1", "pass-1", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	// σ along the long axis: √100 = 10 m; z = √(2·12.5) = 5.
	if got.Kind != KindPoint || got.SigmaM != 10 || math.Abs(got.Z-5) > 1e-12 || got.EmissionKgH != 5 {
		t.Errorf("FromPoint = %+v", got)
	}
	d.Lat = math.NaN()
	if _, err := FromPoint(d, "trace-2", "pass-1", time.Unix(0, 0)); !errors.Is(err, ErrConfig) {
		t.Errorf("no lat/lon: %v", err)
	}
}
