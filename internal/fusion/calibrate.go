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

// Recalibrate refits site probabilities to every verdict in the store and
// updates every site whose probability moves by 0.001 or more, with an
// alert for each that moves by 0.01 or more — in one transaction. Run it
// after analysts decide (the HTTP server does); fusion also fits the
// verdicts at every commit, so new passes are scored with them.
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
	err := db.InTx(ctx, func(tx store.Tx) error {
		rep = Recalibrated{}
		cal, n, err := calibrator(ctx, tx, cfg)
		if err != nil {
			return err
		}
		rep.Verdicts = n
		all, err := tx.SitesInBBox(ctx, store.BBox{MinLat: -90, MinLon: -180, MaxLat: 90, MaxLon: 180}, 0)
		if err != nil {
			return err
		}
		for _, s := range all {
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
			rep.Updated = append(rep.Updated, s.ID)
			if math.Abs(p-old) < 0.01 {
				continue
			}
			if err := f.enqueue(ctx, tx, owner, out, "site.updated"); err != nil {
				return err
			}
			rep.Alerts++
		}
		return nil
	})
	return rep, err
}
