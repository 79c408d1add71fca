package demo

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/paulmach/orb"

	"github.com/atalaya-project/atalaya/internal/coverage"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/sites"
	"github.com/atalaya-project/atalaya/internal/sniff"
	"github.com/atalaya-project/atalaya/internal/spectra"
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

// fuse turns the pass's imaging detections and the point estimate into
// candidate sites.
func (r *Result) fuse(sc *sim.Scene, pass string) error {
	cat, err := sites.NewCatalog(sites.CatalogConfig{Zone: sc.UTMZone, North: sc.North})
	if err != nil {
		return err
	}
	t := sc.LineTime(0)
	for _, d := range r.Detect.Detections {
		if d.Method == granule.MethodMF {
			cat.Add(sites.FromGranule(d, pass, t))
		}
	}
	if r.Point != nil && r.Point.Probability > 0.9 {
		pd, err := sites.FromPoint(*r.Point, pass+"/pid", pass, t)
		if err != nil {
			return err
		}
		cat.Add(pd)
	}
	r.Sites = cat.Sites()
	return nil
}

// coverage records the pass in a coverage index from its per-pixel
// retrieval noise and reports how sensitive it was.
func (r *Result) coverage(sc *sim.Scene, lib *spectra.Library, pass sim.ScenarioPass) error {
	ix, err := coverage.New(coverage.Options{})
	if err != nil {
		return err
	}
	sigma, err := readBand(filepath.Join(filepath.Dir(r.Detect.GeoJSON), "ppmm-sigma-acetone.hdr"))
	if err != nil {
		return err
	}
	g, err := sc.Header().Georef()
	if err != nil {
		return err
	}
	e, err := lib.Get("acetone")
	if err != nil {
		return err
	}
	thr := 0.0
	for _, t := range r.Detect.Tests {
		if t.Gas == "acetone" {
			thr = t.Threshold
		}
	}
	ras, err := coverage.NewRaster(g, sc.Samples, sc.Lines, sigma, coverage.Plume{WindMS: pass.Weather.WindSpeed, Stability: pass.Weather.Stability, MolarMass: e.MolarMass})
	if err != nil {
		return err
	}
	if _, err := ix.AddRaster(coverage.Pass{Granule: pass.Name, Sensor: "lwir", Time: pass.Start, Threshold: thr}, ras); err != nil {
		return err
	}
	var ring orb.Ring
	for _, c := range [][2]float64{{0, 0}, {float64(sc.Samples), 0}, {float64(sc.Samples), float64(sc.Lines)}, {0, float64(sc.Lines)}, {0, 0}} {
		lat, lon := g.LatLon(c[0], c[1])
		ring = append(ring, orb.Point{lon, lat})
	}
	if ring.Orientation() == orb.CW {
		ring.Reverse()
	}
	st, err := ix.Summary(orb.Polygon{ring})
	if err != nil {
		return err
	}
	r.SurveyedKm2, r.MedianMDLKgH = st.SurveyedKm2, st.MedianAccMDL
	return nil
}

func (r *Result) printMore(w io.Writer, sc *sim.Scene) {
	if p := r.Point; p != nil {
		fmt.Fprintf(w, "\npoint sensor (PID, %s): source at (%.0f m E, %.0f m S) ± %.0f m, %.2g kg/h [%.2g-%.2g], P(source) %.3f — %.1f m from %s\n",
			p.Channel, p.East, -p.North, math.Sqrt((p.Cov[0][0]+p.Cov[1][1])/2), p.RateKgH, p.RateLoKgH, p.RateHiKgH, p.Probability, r.PointErrM, r.PointNear)
	}
	fmt.Fprintf(w, "\ncandidate sites (one pass; analysts review before anything is shared):\n")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tLAT\tLON\t±m\tGASES\tTYPE\tP(LAB)\tDETECTIONS")
	for _, s := range r.Sites {
		gases := ""
		for g := range s.Gases {
			if gases != "" {
				gases += ","
			}
			gases += g
		}
		fmt.Fprintf(tw, "%s\t%.6f\t%.6f\t%.0f\t%s\t%s\t%.2f\t%d\n", s.ID, s.Lat, s.Lon, s.SigmaM, gases, s.Type(), s.LabProbability, len(s.Detections))
	}
	tw.Flush()
	fmt.Fprintf(w, "\ncoverage: %.3f km² surveyed at %s; median minimum detectable acetone emission %.2g kg/h in one pass\n",
		r.SurveyedKm2, sc.LineTime(0).Format(time.RFC3339), r.MedianMDLKgH)
}
