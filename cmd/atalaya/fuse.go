package main

import (
	"context"
	"log/slog"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/store"
)

// fuseCommit makes workers commit each granule with its fusion into the
// evidence grid and the candidate sites (internal/fusion), searching the
// grid for the gases the workers detect at the same false-alarm rate.
// committed, if not nil, is told each granule committed and the sites it
// created or changed (after the commit: serve publishes them as events).
func fuseCommit(db *store.DB, det pipeline.DetectConfig, log *slog.Logger, committed func(context.Context, store.Granule, fusion.Report)) (pipeline.CommitFunc, error) {
	f, err := fusion.New(db, fusion.Config{Gases: det.Gases, FARPerKm2: det.FARPerKm2, Log: log, Owners: ownersOf(db)})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, g store.Granule, res *granule.Result, ds []store.Detection) error {
		rep, err := f.Commit(ctx, g, res, ds)
		if err == nil {
			log.Info("granule fused", "granule", g.ID, "detections", rep.Detections, "grid", rep.GridDetections,
				"sites_created", len(rep.Created), "sites_updated", len(rep.Updated), "alerts", rep.Alerts)
			if committed != nil {
				committed(ctx, g, rep)
			}
		}
		return err
	}, nil
}

// ownersOf is the jurisdiction of the moment, from the agencies in db: the
// owning (host) agency of a point.
func ownersOf(db *store.DB) func(context.Context) (func(lat, lon float64) string, error) {
	acc := access.New(db, access.Options{})
	return func(ctx context.Context) (func(lat, lon float64) string, error) {
		o, err := acc.Owners(ctx)
		if err != nil {
			return nil, err
		}
		return o.Of, nil
	}
}
