package sites

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// poissonBounds returns the central 99% interval of a Poisson count of
// mean mu (by summing the distribution).
func poissonBounds(mu float64) (lo, hi int) {
	p := math.Exp(-mu)
	cdf := p
	lo = -1
	for k := 0; ; k++ {
		if k > 0 {
			p *= mu / float64(k)
			cdf += p
		}
		if lo < 0 && cdf >= 0.005 {
			lo = k
		}
		if cdf >= 0.995 {
			return lo, k
		}
	}
}

// On background alone the grid's false alarms per km² stay at the
// configured rate whatever the number of passes, and a faint persistent
// source that no single pass detects surfaces as passes accumulate.
func TestGridFalseAlarmRateFixedInN(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	const w, h = 1000, 1000 // 1 km² at 1 m
	geo := georef(t, 600000, 300000, 1, w, h)
	g := newGrid(t, GridConfig{CellM: 5})
	// 6 cells of 5 m (a 10×15 m building) at 1.2 ppm·m: 0.2σ per pixel,
	// a cell z of ≈1.0 per pass.
	src := func(x, y int) float64 {
		if x >= 500 && x < 510 && y >= 500 && y < 515 {
			return 1.2
		}
		return 0
	}
	const far = 20.0 // per km²: enough false alarms to count on 1 km²
	lo, hi := poissonBounds(far)
	total, runs := 0, 0
	surfaced := 0
	for n := 1; n <= 16; n++ {
		if _, err := g.AddPass(ctx, noisePass(rng, fmt.Sprint("p", n), n, w, h, geo, src)); err != nil {
			t.Fatal(err)
		}
		if n != 1 && n != 4 && n != 9 && n != 16 {
			continue
		}
		res, err := g.Detect(ctx, DetectConfig{FARPerKm2: far, Gases: []string{"dichloromethane"}})
		if err != nil {
			t.Fatal(err)
		}
		fa, found := 0, false
		for _, d := range res.Detections {
			if math.Abs(d.East-600505) < 15 && math.Abs(d.North-(300000-507)) < 15 {
				found = true
				continue
			}
			fa++
		}
		total += fa
		runs++
		tst := res.Tests[0]
		t.Logf("n=%2d: threshold z %.2f, %d false alarms on %.3f km² (99%% Poisson %d-%d), source found %v", n, tst.Threshold, fa, tst.AreaKm2, lo, hi, found)
		if fa < lo || fa > hi {
			t.Errorf("n=%d: %d false alarms on 1 km², want %d-%d (rate %g)", n, fa, lo, hi, far)
		}
		if found && surfaced == 0 {
			surfaced = n
		}
		if n == 1 && found {
			t.Errorf("the faint source was detected by a single pass")
		}
	}
	if surfaced == 0 || surfaced > 16 {
		t.Errorf("the persistent source did not surface in 16 passes")
	}
	t.Logf("source surfaced at n = %d; mean false alarms %.1f per km² (set %g)", surfaced, float64(total)/float64(runs), far)
}
