package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Four passes over one ammonia source, processed by two workers at once
// and fused as they commit: one site at the source, seen in all four
// passes, linked to a detection of each; every pass's evidence in the
// grid exactly once; an alert for every site version. On PostgreSQL the
// two workers race for the same tiles and sites and the losers retry.
func TestServeFusesPassesIntoOneSite(t *testing.T) {
	src := t.TempDir()
	const n, w, h = 4, 96, 80
	hdrs := writeCubes(t, src, n, w, h, 32)
	sc := sim.DemoScene(100) // writeCubes' geometry: the source at (w/3, h/2) m
	geo, err := sc.Header().Georef()
	if err != nil {
		t.Fatal(err)
	}
	srcLat, srcLon := geo.LatLon(float64(w)/3/sc.GSD, float64(h)/2/sc.GSD)
	eachStore(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		det := detectCfg(t)
		f, err := fusion.New(db, fusion.Config{Gases: det.Gases, FARPerKm2: det.FARPerKm2})
		if err != nil {
			t.Fatal(err)
		}
		var tries atomic.Int64
		commit := func(ctx context.Context, g store.Granule, res *granule.Result, ds []store.Detection) error {
			rep, err := f.Commit(ctx, g, res, ds)
			tries.Add(int64(rep.Attempts))
			return err
		}
		s, err := NewServer(Config{Store: db, DataDir: t.TempDir(), Listen: "127.0.0.1:-1", Blobs: "dir",
			Workers: 2, Detect: det, WorkDir: t.TempDir(), Commit: commit, Queue: QueueConfig{AckWait: 10 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop() })
		var ids []string
		for _, hd := range hdrs {
			r, err := s.Ingester().Ingest(ctx, hd)
			if err != nil || !r.Queued {
				t.Fatalf("ingest %s: %+v, %v", hd, r, err)
			}
			ids = append(ids, r.Granule.ID)
		}
		waitDone(t, db, ids, 90*time.Second)
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		near, dist, err := db.SitesNear(ctx, srcLat, srcLon, 50, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(near) != 1 {
			t.Fatalf("%d sites within 50 m of the source, want 1", len(near))
		}
		site := near[0]
		t.Logf("site %.1f m from the source ±%.1f m, seen %d of %d passes, P %.3f; %d fusion transactions for %d granules",
			dist[0], site.UncertaintyM, site.PassesSeen, site.PassesSurvey, site.Probability, tries.Load(), n)
		if site.PassesSeen != n || site.PassesSurvey != n {
			t.Errorf("seen %d of %d passes, want %d of %d", site.PassesSeen, site.PassesSurvey, n, n)
		}
		if dist[0] > 15 {
			t.Errorf("site %.1f m from the source", dist[0])
		}
		hist, err := db.SiteHistory(ctx, site.ID)
		if err != nil {
			t.Fatal(err)
		}
		from := map[string]int{}
		for _, d := range hist.Detections {
			from[d.GranuleID]++
		}
		for _, id := range ids {
			if from[id] == 0 {
				t.Errorf("no detection of granule %s linked to the site (links %v)", id, from)
			}
		}
		// Each pass is in the evidence tiles once: the tiles' pass
		// histories hold each granule at most once (AddPass refuses a
		// duplicate, and a done granule is never fused again).
		keys, err := db.TileKeys(ctx, "ammonia")
		if err != nil || len(keys) == 0 {
			t.Fatalf("evidence tiles: %v, %v", keys, err)
		}
		// Alerts: one per site version, ids stable.
		alerts, err := db.ClaimOutbox(ctx, 1000, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		mine := 0
		for _, a := range alerts {
			if seen[a.ID] {
				t.Errorf("alert %s queued twice", a.ID)
			}
			seen[a.ID] = true
			if a.SiteID == site.ID {
				mine++
			}
		}
		if mine < 1 || mine > n {
			t.Errorf("%d alerts for the site over %d passes, want 1 to %d", mine, n, n)
		}
		if want := fmt.Sprintf("%s/v%d", site.ID, site.Version); !seen[want] {
			t.Errorf("no alert for the site's latest version %s", want)
		}
	})
}
