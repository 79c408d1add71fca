package sniff

import (
	"math"
	"testing"
)

// TestSlowChannelUncertainty: flights of the electrochemical ammonia cell
// (τ = 19.5 s) over a 5 kg/h ammonia source in class D, on seeds other
// than those lagErrorFraction was read from. The model's own 95 % set
// holds the source in few of them; the detection's, with the lag's
// position error added, in at least 10 of 12 (as TestCoverage asks of the
// PID, 85 %).
func TestSlowChannelUncertainty(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("twelve flights on fine grids")
	}
	winds := []float64{1.5, 3, 6}
	const n = 12
	inModel, inDet := 0, 0
	for k := range n {
		c := evalCase{WindMS: winds[k%len(winds)], Class: "D", Seed: uint64(301 + k), RateKgH: 5, Lines: 6, NH3: true}
		_, post, truth := run(t, c, coverageOptions)
		if post.InHPD(Point{truth.East, truth.North}) {
			inModel++
		}
		d := post.Detection()
		// Mahalanobis distance of the truth from the detection.
		de, dn := truth.East-d.East, truth.North-d.North
		a, b, cc := d.Cov[0][0], d.Cov[0][1], d.Cov[1][1]
		det := a*cc - b*b
		m2 := (cc*de*de - 2*b*de*dn + a*dn*dn) / det
		if m2 <= chi2Two95*chi2Two95 {
			inDet++
		}
		t.Logf("%.1f m/s, seed %d: error %.1f m; lag σ %.1f m; model σ %.1f m; Mahalanobis %.2f", c.WindMS, c.Seed, math.Hypot(de, dn), post.LagM, math.Sqrt((post.Cov[0][0]+post.Cov[1][1])/2), math.Sqrt(m2))
	}
	t.Logf("truth in the model's 95 %% set %d/%d; in the detection's 95 %% ellipse %d/%d", inModel, n, inDet, n)
	if inDet < 10 {
		t.Errorf("the detection's 95 %% ellipse holds the source in %d of %d flights, want ≥ 10", inDet, n)
	}
}
