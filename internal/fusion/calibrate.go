package fusion

import (
	"context"
	"math"

	"github.com/atalaya-project/atalaya/internal/sites"
	"github.com/atalaya-project/atalaya/internal/store"
)

// calibrator fits site probabilities to the verdicts in the store
// (analysts' confirm/dismiss decisions and partners' ground truth;
// store.Verdicts), from the prior of cfg (docs/sites.md, "Calibration").
// With no verdicts it is the prior.
func calibrator(ctx context.Context, r store.DecisionReader, cfg sites.CalibratorConfig) (*sites.Calibrator, int, error) {
	vs, err := r.Verdicts(ctx)
	if err != nil {
		return nil, 0, err
	}
	cal := sites.NewCalibrator(cfg)
	if len(vs) == 0 {
		return cal, 0, nil
	}
	ds := make([]sites.Decision, 0, len(vs))
	for _, v := range vs {
		if math.IsNaN(v.Evidence) || math.IsInf(v.Evidence, 0) {
			continue
		}
		ds = append(ds, sites.Decision{LogBF: v.Evidence, Confirmed: v.Real})
	}
	if err := cal.Fit(ds); err != nil {
		return nil, 0, err
	}
	return cal, len(ds), nil
}

// Recalibrated says what Recalibrate changed.
type Recalibrated struct {
	Verdicts int      // verdicts fitted
	Updated  []string // sites whose probability changed by 0.001 or more
	Alerts   int
}

// recalibratePage is how many sites Recalibrate reads and rewrites per
// transaction: a store of a hundred thousand sites is neither held in
// memory at once nor locked for the whole run (SQLite has one writer).
// A variable for the tests.
var recalibratePage = 500

// Recalibrate refits site probabilities to every verdict in the store and
// updates every site whose probability moves by 0.001 or more, with an
// alert for each that moves by 0.01 or more. The fit is made once; the
// sites are then read and rewritten a page at a time (by id), each page
// in its own transaction, so a site fusion changes meanwhile is rewritten
// from its new state. Run it after analysts decide (the HTTP server
// does); fusion also fits the verdicts at every commit, so new passes are
// scored with them.
func Recalibrate(ctx context.Context, db Store, cfg sites.CalibratorConfig, owners func(context.Context) (func(lat, lon float64) string, error)) (Recalibrated, error) {
	var owner func(lat, lon float64) string
	if owners != nil {
		var err error
		if owner, err = owners(ctx); err != nil {
			return Recalibrated{}, err
		}
	}
	f := &Fuser{}
	var rep Recalibrated
	var cal *sites.Calibrator
	if err := db.InTx(ctx, func(tx store.Tx) error {
		var err error
		cal, rep.Verdicts, err = calibrator(ctx, tx, cfg)
		return err
	}); err != nil {
		return Recalibrated{}, err
	}
	var after store.SiteKey
	for {
		var n int
		var next store.SiteKey
		var updated []string
		var alerts int
		err := db.InTx(ctx, func(tx store.Tx) error {
			updated, alerts = nil, 0 // a retried transaction starts again
			page, err := tx.SitesPage(ctx, store.SiteQuery{Order: store.ByID, After: after, Limit: recalibratePage})
			if err != nil {
				return err
			}
			n = len(page)
			if n > 0 {
				next = page[n-1].Key()
			}
			for _, s := range page {
				p := cal.Probability(s.Evidence)
				if math.IsNaN(p) || math.Abs(p-s.Probability) < 1e-3 {
					continue
				}
				old := s.Probability
				s.Probability = p
				out, err := tx.UpdateSite(ctx, s)
				if err != nil {
					return err
				}
				updated = append(updated, s.ID)
				if math.Abs(p-old) < 0.01 {
					continue
				}
				if err := f.enqueue(ctx, tx, owner, out, "site.updated"); err != nil {
					return err
				}
				alerts++
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
		after = next // only once the page is committed: a retry reads it again
		rep.Updated = append(rep.Updated, updated...)
		rep.Alerts += alerts
		if n < recalibratePage {
			return rep, nil
		}
	}
}
