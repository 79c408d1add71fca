package demo

import (
	"bytes"
	"context"
	"slices"
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
	// Through the pipeline: one site at the methamphetamine laboratory,
	// typed so, with both the imaging pass's and the point sensor's
	// detections.
	lab := 0
	for _, s := range res.Sites {
		t.Logf("site %.8s: %s P %.2f, %.1f m from %s ±%.1f m, detections %v", s.Site.ID, s.Site.TypeGuess, s.Site.Probability, s.DistM, s.Nearest, s.Site.UncertaintyM, s.Methods)
		// No lead where there is nothing: the ammonia cell's estimate,
		// 43 m off and claiming ±6 m, once made a "farm" of its own.
		if s.DistM > 15 {
			t.Errorf("site %.8s (%s) stands %.0f m from the nearest source, %s", s.Site.ID, s.Site.TypeGuess, s.DistM, s.Nearest)
		}
		if s.Nearest != "meth-lab" || s.DistM > 15 {
			continue
		}
		lab++
		if s.Site.TypeGuess != "methamphetamine-lab" || !slices.Contains(s.Methods, "mf") || !slices.Contains(s.Methods, "sniff") {
			t.Errorf("the meth-lab site: type %q, detections %v; want methamphetamine-lab with mf and sniff", s.Site.TypeGuess, s.Methods)
		}
	}
	if lab != 1 {
		t.Errorf("%d sites within 15 m of the meth lab, want 1", lab)
	}
	if !(res.MedianMDLKgH > 0 && res.SurveyedKm2 > 0.1) {
		t.Errorf("coverage: %.3f km², median MDL %g kg/h", res.SurveyedKm2, res.MedianMDLKgH)
	}
	if !strings.Contains(out.String(), "meth-lab") {
		t.Errorf("report lacks the sources:\n%s", out.String())
	}
}
