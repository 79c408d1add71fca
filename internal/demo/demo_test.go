package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The demo finds the methamphetamine-scale source in both of its gases, not
// the fentanyl-scale one (below a single pass's detection limit by design),
// and raises no gas detection where there is no gas.
func TestDemoEndToEnd(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(context.Background(), Config{OutDir: t.TempDir(), Seed: 1, FARPerKm2: 1, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range res.Sources {
		key := s.Source.Name + "/" + s.Gas
		seen[key] = s.Detected
		if s.Detected && (s.PeakPPMm < 0.5*s.TruthAtPeak || s.PeakPPMm > 1.5*s.TruthAtPeak) {
			t.Errorf("%s: peak retrieval %.0f ppm·m against truth %.0f", key, s.PeakPPMm, s.TruthAtPeak)
		}
	}
	for key, want := range map[string]bool{"meth-lab/acetone": true, "meth-lab/ammonia": true, "fentanyl-lab/acetone": false} {
		if got, ok := seen[key]; !ok || got != want {
			t.Errorf("%s detected = %v (reported %v), want %v", key, got, ok, want)
		}
	}
	if res.FalseDetections != 0 {
		t.Errorf("%d gas detections with no gas under them", res.FalseDetections)
	}
	// The low flight's point sensor places the methamphetamine laboratory.
	if res.Point == nil || res.PointNear != "meth-lab" || res.PointErrM > 20 || res.Point.Probability < 0.99 {
		t.Errorf("point-sensor estimate %+v: %.1f m from %s", res.Point, res.PointErrM, res.PointNear)
	}
	lab := false
	for _, s := range res.Sites {
		if s.Type() == "methamphetamine-lab" {
			lab = true
		}
	}
	if !lab {
		t.Errorf("no candidate site typed methamphetamine-lab among %d", len(res.Sites))
	}
	if !(res.MedianMDLKgH > 0 && res.SurveyedKm2 > 0.1) {
		t.Errorf("coverage: %.3f km², median MDL %g kg/h", res.SurveyedKm2, res.MedianMDLKgH)
	}
	if !strings.Contains(out.String(), "meth-lab") {
		t.Errorf("report lacks the sources:\n%s", out.String())
	}
}
