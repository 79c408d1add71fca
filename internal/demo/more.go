package demo

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/paulmach/orb"

	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/sniff"
	"github.com/atalaya-project/atalaya/internal/spectra"
	"github.com/atalaya-project/atalaya/internal/store"
)

// pointSensor estimates the source from the photoionisation detector's
// trace along the flight (the whole channel taken as acetone).
func (r *Result) pointSensor(trace string, sc *sim.Scene, lib *spectra.Library) error {
	f, err := os.Open(trace)
	if err != nil {
		return err
	}
	defer f.Close()
	series, err := sniff.ReadTraceCSV(f, "pid")
	if err != nil {
		return fmt.Errorf("point sensor: %w", err)
	}
	p, err := sniff.Process(series, sniff.ProcessOptions{})
	if err != nil {
		return fmt.Errorf("point sensor: %w", err)
	}
	e, err := lib.Get("acetone")
	if err != nil {
		return err
	}
	post, err := sniff.Estimate(p, sniff.Options{Gas: sniff.Gas{Name: e.Name, MolarMass: e.MolarMass}})
	if err != nil {
		return fmt.Errorf("point sensor: %w", err)
	}
	d := post.Detection()
	r.Point = &d
	r.PointErrM = math.Inf(1)
	for _, s := range sc.Sources {
		if dist := math.Hypot(d.East-s.East, d.North-s.North); dist < r.PointErrM {
			r.PointErrM, r.PointNear = dist, s.Name
		}
	}
	return nil
}

// survey runs the survey's granules (every imaging pass and point-sensor
// flight) through the pipeline as a deployment would: a store under
// DIR/data (SQLite), the embedded NATS server, two workers that detect and
// fuse each granule into the evidence grid, the coverage index and the
// candidate sites. It reads the sites and the coverage back from the store.
func (r *Result) survey(ctx context.Context, cfg Config, outs []sim.PassOutput, sc *sim.Scene, gases []string, lib *spectra.Library) error {
	var (
		db  *store.DB
		in  *pipeline.Ingester
		err error
	)
	if cfg.Serving != "" {
		// A running `atalaya serve` on DIR: ingest as `atalaya ingest`
		// does, and its workers detect and fuse while the map shows it.
		data := cfg.Serving
		r.StoreURL = "sqlite:" + filepath.Join(data, "atalaya.db")
		if db, err = store.Open(ctx, r.StoreURL, store.Options{}); err != nil {
			return err
		}
		defer db.Close()
		url := pipeline.ReadURLFile(data)
		if url == "" {
			return fmt.Errorf("no NATS URL in %s: is atalaya serve running there?", data)
		}
		nc, err := nats.Connect(url, nats.Name("atalaya demo"))
		if err != nil {
			return err
		}
		defer nc.Close()
		q, err := pipeline.OpenQueue(ctx, nc, pipeline.QueueConfig{PublishOnly: true})
		if err != nil {
			return err
		}
		blobs, err := pipeline.NewDir(filepath.Join(data, "blobs"))
		if err != nil {
			return err
		}
		in = &pipeline.Ingester{Store: db, Blobs: blobs, Queue: q}
	} else {
		data := filepath.Join(cfg.OutDir, "data")
		if err := os.RemoveAll(data); err != nil { // a fresh deployment each run
			return err
		}
		if err := os.MkdirAll(data, 0o750); err != nil {
			return err
		}
		r.StoreURL = "sqlite:" + filepath.Join(data, "atalaya.db")
		if db, err = store.Open(ctx, r.StoreURL, store.Options{}); err != nil {
			return err
		}
		defer db.Close()
		det := pipeline.DetectConfig{Methods: []string{granule.MethodMF}, Gases: gases, FARPerKm2: cfg.FARPerKm2, Library: lib}
		f, err := fusion.New(db, fusion.Config{Gases: gases, FARPerKm2: cfg.FARPerKm2, Library: lib, Log: cfg.Log})
		if err != nil {
			return err
		}
		commit := func(ctx context.Context, g store.Granule, res *granule.Result, ds []store.Detection) error {
			_, err := f.Commit(ctx, g, res, ds)
			return err
		}
		srv, err := pipeline.NewServer(pipeline.Config{Store: db, DataDir: data, Listen: "127.0.0.1:-1", Blobs: "dir",
			Workers: 2, Detect: det, Commit: commit, Log: cfg.Log})
		if err != nil {
			return err
		}
		if err := srv.Start(ctx); err != nil {
			return err
		}
		defer srv.Stop()
		in = srv.Ingester()
	}
	var ids []string
	for _, o := range outs {
		var got pipeline.Ingested
		switch {
		case o.Radiance != "":
			got, err = in.Ingest(ctx, o.Radiance)
		case o.Trace != "":
			got, err = in.IngestTrace(ctx, o.Trace)
		default:
			continue
		}
		if err != nil {
			return err
		}
		ids = append(ids, got.Granule.ID)
		if o.FlightLog != "" { // the flight's track, for the map
			if got, err = in.IngestFlightLog(ctx, o.FlightLog); err != nil {
				return err
			}
			ids = append(ids, got.Granule.ID)
		}
	}
	fmt.Fprintf(cfg.Out, "\npipeline: %d granules (imaging passes, point-sensor flights and their flight logs) ingested into %s, detected and fused by the workers\n", len(ids), r.StoreURL)
	for _, id := range ids {
		for {
			g, err := db.Granule(ctx, id)
			if err != nil {
				return err
			}
			if g.Status == store.GranuleDone {
				break
			}
			if g.Status == store.GranuleFailed && strings.HasPrefix(g.Error, pipeline.DeadPrefix) {
				return fmt.Errorf("granule %s (%s) failed: %s", g.ID, g.Name, g.Error)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	geo, err := sc.Header().Georef()
	if err != nil {
		return err
	}
	var ring orb.Ring
	box := store.BBox{MinLat: 90, MinLon: 180, MaxLat: -90, MaxLon: -180}
	for _, c := range [][2]float64{{0, 0}, {float64(sc.Samples), 0}, {float64(sc.Samples), float64(sc.Lines)}, {0, float64(sc.Lines)}, {0, 0}} {
		lat, lon := geo.LatLon(c[0], c[1])
		ring = append(ring, orb.Point{lon, lat})
		box.MinLat, box.MaxLat = math.Min(box.MinLat, lat), math.Max(box.MaxLat, lat)
		box.MinLon, box.MaxLon = math.Min(box.MinLon, lon), math.Max(box.MaxLon, lon)
	}
	all, err := db.SitesInBBox(ctx, box, 0)
	if err != nil {
		return err
	}
	for _, s := range all {
		h, err := db.SiteHistory(ctx, s.ID)
		if err != nil {
			return err
		}
		ds := DemoSite{Site: s, DistM: math.Inf(1)}
		for _, d := range h.Detections {
			ds.Methods = append(ds.Methods, d.Method)
		}
		for _, src := range sc.Sources {
			lat, lon := geo.LatLon(src.East/sc.GSD, -src.North/sc.GSD)
			if d := store.DistanceM(s.Lat, s.Lon, lat, lon); d < ds.DistM {
				ds.DistM, ds.Nearest = d, src.Name
			}
		}
		r.Sites = append(r.Sites, ds)
	}
	slices.SortFunc(r.Sites, func(a, b DemoSite) int { return cmp.Compare(b.Site.Probability, a.Site.Probability) })
	if ring.Orientation() == orb.CW {
		ring.Reverse()
	}
	cov, err := fusion.CoverageIndex(ctx, db, "acetone")
	if err != nil {
		return err
	}
	st, err := cov.Summary(orb.Polygon{ring})
	if err != nil {
		return err
	}
	if err := cov.Err(); err != nil {
		return err
	}
	r.SurveyedKm2, r.MedianMDLKgH = st.SurveyedKm2, st.MedianAccMDL
	return nil
}

// DemoSite is a candidate site as the store has it, with how far it is
// from the nearest true source.
type DemoSite struct {
	Site    store.Site
	Methods []string // of its detections
	Nearest string
	DistM   float64
}

func (r *Result) printMore(w io.Writer, sc *sim.Scene) {
	if p := r.Point; p != nil {
		fmt.Fprintf(w, "\npoint sensor (PID, %s): source at (%.0f m E, %.0f m S) ± %.0f m, %.2g kg/h [%.2g-%.2g], P(source) %.3f — %.1f m from %s\n",
			p.Channel, p.East, -p.North, math.Sqrt((p.Cov[0][0]+p.Cov[1][1])/2), p.RateKgH, p.RateLoKgH, p.RateHiKgH, p.Probability, r.PointErrM, r.PointNear)
	}
	fmt.Fprintf(w, "\ncandidate sites in the store (analysts review before anything is shared):\n")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tLAT\tLON\t±m\tTYPE\tP\tSEEN/SURVEYED\tDETECTIONS\tTRUTH")
	for _, d := range r.Sites {
		s := d.Site
		fmt.Fprintf(tw, "%.8s\t%.6f\t%.6f\t%.0f\t%s\t%.2f\t%d/%d\t%s\t%.0f m from %s\n", s.ID, s.Lat, s.Lon, s.UncertaintyM, s.TypeGuess,
			s.Probability, s.PassesSeen, s.PassesSurvey, strings.Join(d.Methods, ","), d.DistM, d.Nearest)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ncoverage (from the store): %.3f km² surveyed at %s; median minimum detectable acetone emission %.2g kg/h\n",
		r.SurveyedKm2, sc.LineTime(0).Format(time.RFC3339), r.MedianMDLKgH)
}
