package fusion

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/atalaya-project/atalaya/internal/sites"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

// Sites whose reality follows a known logistic law of their evidence,
// p = σ(−4 + 0.8·LogBF) (not the prior's σ(logit 0.1 + LogBF)): after
// analysts judge 300 of them, Recalibrate brings the others' probabilities
// to the law, and a second run changes nothing.
func TestRecalibrateFromVerdicts(t *testing.T) {
	truth := func(lbf float64) float64 { return 1 / (1 + math.Exp(-(-4 + 0.8*lbf))) }
	// Pages of 64 sites: the 400 are read and rewritten in seven
	// transactions.
	defer func(n int) { recalibratePage = n }(recalibratePage)
	recalibratePage = 64
	storetest.EachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rng := rand.New(rand.NewPCG(7, 8))
		prior := sites.NewCalibrator(sites.CalibratorConfig{})
		var held []store.Site
		err = db.InTx(ctx, func(tx store.Tx) error {
			for i := range 400 {
				lbf := 12 * rng.Float64()
				s, err := tx.CreateSite(ctx, store.Site{Lat: 4 + float64(i)*1e-3, Lon: -74, Evidence: lbf, Probability: prior.Probability(lbf)})
				if err != nil {
					return err
				}
				if i >= 300 {
					held = append(held, s)
					continue
				}
				act := store.ActionDismiss
				if rng.Float64() < truth(lbf) {
					act = store.ActionConfirm
				}
				if _, err := tx.AppendDecision(ctx, store.Decision{SiteID: s.ID, Actor: "analyst", Action: act}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		errOf := func() float64 {
			sum := 0.0
			for _, h := range held {
				s, err := db.Site(ctx, h.ID)
				if err != nil {
					t.Fatal(err)
				}
				sum += math.Abs(s.Probability - truth(s.Evidence))
			}
			return sum / float64(len(held))
		}
		before := errOf()
		rep, err := Recalibrate(ctx, db, sites.CalibratorConfig{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		after := errOf()
		t.Logf("%d verdicts; %d sites updated, %d alerts; mean |p − truth| of 100 unjudged sites %.3f → %.3f", rep.Verdicts, len(rep.Updated), rep.Alerts, before, after)
		if rep.Verdicts != 300 || after > 0.05 || after > before/3 {
			t.Errorf("recalibration: %d verdicts, error %.3f → %.3f; want 300 and below 0.05 and a third of before", rep.Verdicts, before, after)
		}
		again, err := Recalibrate(ctx, db, sites.CalibratorConfig{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Updated) != 0 || again.Alerts != 0 {
			t.Errorf("second recalibration changed %d sites", len(again.Updated))
		}
	})
}
