// Package demo runs Atalaya end to end on a simulated survey: it renders a
// scene with known sources, runs detection on it, and compares what was found
// with the ground truth. It grows with the system: each stage added to
// Atalaya is added here.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"text/tabwriter"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/sniff"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// Config configures a demo run.
type Config struct {
	OutDir    string
	Seed      uint64
	FARPerKm2 float64
	Log       *slog.Logger
	NewBar    func(label string, total int64) granule.Bar
	Out       io.Writer // the printed report
	// Serving, if set, is the data directory of a running `atalaya serve`
	// (SQLite store, embedded NATS, blob folder): the survey's granules are
	// ingested there, for its workers to detect and fuse and its map to
	// show live. Empty: the demo runs a pipeline of its own.
	Serving string
}

// SourceResult says how one simulated source fared.
type SourceResult struct {
	Source   sim.Source
	Gas      string
	RateKgH  float64
	TruthMax float64 // highest true ppm·m in any pixel
	Detected bool
	// Of the best detection over the source's plume: its peak retrieval and
	// the truth at that pixel.
	PeakPPMm, TruthAtPeak float64
	// Mean retrieval over the pixels where the truth exceeds 4σ of the
	// retrieval, and mean truth there, in ppm·m.
	MeanPPMm, MeanTruth float64
	Pixels              int
}

// Result is what a demo run produced.
type Result struct {
	Scene   sim.Output
	Detect  *granule.Result
	Sources []SourceResult
	// FalseDetections counts detections with no true gas under them.
	FalseDetections int
	// Point is the point sensor's source estimate from the flight's trace,
	// and PointErrM its distance from the source it found.
	Point     *sniff.Detection
	PointErrM float64
	PointNear string
	// Sites are the candidate sites the pipeline fused from the survey's
	// granules, read back from the store at StoreURL, most probable first.
	Sites    []DemoSite
	StoreURL string
	// Coverage of the pass: area surveyed and the median single-pass
	// minimum detectable emission rate of acetone there, kg/h.
	SurveyedKm2, MedianMDLKgH float64
}

// Run simulates, detects and scores the demo scene.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	lib, err := spectra.Default()
	if err != nil {
		return nil, err
	}
	scen, err := sim.Preset("demo")
	if err != nil {
		return nil, err
	}
	scen.Seed = cfg.Seed
	sc := scen.Scene(0)
	outs, err := sim.RunScenario(filepath.Join(cfg.OutDir, "survey"), scen, lib, &simBar{cfg: cfg})
	if err != nil {
		return nil, err
	}
	o := outs[0].Output
	fmt.Fprintf(cfg.Out, "simulated %s: %d×%d pixels at %.1f m, %d bands %.1f-%.1f µm, wind %.1f m/s from %.0f°, class %s\n",
		o.Radiance, sc.Samples, sc.Lines, sc.GSD, sc.Sensor.Bands, sc.Sensor.MinUM, sc.Sensor.MaxUM, sc.Weather.WindSpeed, sc.Weather.WindFromDeg, sc.Weather.Stability)
	for _, s := range sc.Sources {
		fmt.Fprintf(cfg.Out, "  source %-13s at (%4.0f m E, %4.0f m S): %v kg/h\n", s.Name, s.East, -s.North, s.Rates)
	}
	gases := sc.Gases()
	res, err := granule.Process(ctx, granule.Config{
		Cube: o.Radiance, OutDir: filepath.Join(cfg.OutDir, "detect"),
		Methods: []string{granule.MethodMF, granule.MethodACE, granule.MethodRX}, Gases: gases,
		FARPerKm2: cfg.FARPerKm2, Library: lib, Log: cfg.Log, NewBar: cfg.NewBar,
	})
	if err != nil {
		return nil, err
	}
	out := &Result{Scene: o, Detect: res}
	if err := out.score(sc, gases); err != nil {
		return nil, err
	}
	out.print(cfg.Out)
	// The second, low flight carries the point sensors.
	if err := out.pointSensor(outs[1].Trace, sc, lib); err != nil {
		return nil, err
	}
	if err := out.survey(ctx, cfg, outs, sc, gases, lib); err != nil {
		return nil, err
	}
	out.printMore(cfg.Out, sc)
	return out, nil
}

// simBar shows the simulation's progress.
type simBar struct {
	cfg Config
	bar granule.Bar
}

func (b *simBar) Start(label string, total int64) { b.bar = newBar(b.cfg, "simulate "+label, total) }
func (b *simBar) Add(n int64)                     { b.bar.Add(n) }
func (b *simBar) Done()                           { b.bar.Done() }

func newBar(cfg Config, label string, total int64) granule.Bar {
	if cfg.NewBar == nil {
		return nopBar{}
	}
	return cfg.NewBar(label, total)
}

type nopBar struct{}

func (nopBar) Add(int64) {}
func (nopBar) Done()     {}

// score compares the detections with the truth cube.
func (r *Result) score(sc *sim.Scene, gases []string) error {
	tf, err := cube.Open(r.Scene.Truth)
	if err != nil {
		return err
	}
	defer tf.Close()
	truth, err := tf.ReadAll()
	if err != nil {
		return err
	}
	w := sc.Samples
	for gi, g := range gases {
		ppmm, err := readBand(filepath.Join(filepath.Dir(r.Detect.GeoJSON), "ppmm-"+g+".hdr"))
		if err != nil {
			return err
		}
		sigma, err := readBand(filepath.Join(filepath.Dir(r.Detect.GeoJSON), "ppmm-sigma-"+g+".hdr"))
		if err != nil {
			return err
		}
		// Attribute each pixel's truth to the source contributing most: with
		// sources far apart, plumes do not overlap.
		for _, s := range sc.Sources {
			q, ok := s.Rates[g]
			if !ok {
				continue
			}
			sr := SourceResult{Source: s, Gas: g, RateKgH: q}
			var sumC, sumT float64
			for y := 0; y < sc.Lines; y++ {
				for x := 0; x < w; x++ {
					if nearest(sc, x, y) != s.Name {
						continue
					}
					t := float64(truth.At(x, y)[gi])
					sr.TruthMax = math.Max(sr.TruthMax, t)
					i := y*w + x
					if t > 4*float64(sigma[i]) {
						sumC += float64(ppmm[i])
						sumT += t
						sr.Pixels++
					}
				}
			}
			if sr.Pixels > 0 {
				sr.MeanPPMm, sr.MeanTruth = sumC/float64(sr.Pixels), sumT/float64(sr.Pixels)
			}
			for _, d := range r.Detect.Detections {
				if d.Gas != g || d.Method != granule.MethodMF || nearest(sc, d.PeakX, d.PeakY) != s.Name {
					continue
				}
				t := float64(truth.At(d.PeakX, d.PeakY)[gi])
				if t <= 0 {
					continue
				}
				if !sr.Detected || d.PeakPPMm > sr.PeakPPMm {
					sr.Detected, sr.PeakPPMm, sr.TruthAtPeak = true, d.PeakPPMm, t
				}
			}
			r.Sources = append(r.Sources, sr)
		}
	}
	for _, d := range r.Detect.Detections {
		any := false
		for gi := range gases {
			if truth.At(d.PeakX, d.PeakY)[gi] > 0 {
				any = true
			}
		}
		if !any && d.Method != granule.MethodRX {
			r.FalseDetections++
		}
	}
	return nil
}

// nearest names the source whose plume passes closest to pixel (x, y).
func nearest(sc *sim.Scene, x, y int) string {
	if i := sc.NearestSource(x, y); i >= 0 {
		return sc.Sources[i].Name
	}
	return ""
}

func readBand(path string) ([]float32, error) {
	c, err := cube.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return c.Pix, nil
}

func (r *Result) print(w io.Writer) {
	d := r.Detect
	fmt.Fprintf(w, "\ndetected on %.3f km² at %.3g false alarms/km² (%d tests):\n", d.AreaKm2, sumFAR(d), len(d.Tests))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tGAS\tkg/h\tTRUE MAX ppm·m\tDETECTED\tPEAK ppm·m (TRUE)\tMEAN ppm·m > 4σ (TRUE, PIXELS)")
	for _, s := range r.Sources {
		det := "no"
		peak := "-"
		if s.Detected {
			det = "yes"
			peak = fmt.Sprintf("%.0f (%.0f)", s.PeakPPMm, s.TruthAtPeak)
		}
		mean := "-"
		if s.Pixels > 0 {
			mean = fmt.Sprintf("%.1f (%.1f, %d)", s.MeanPPMm, s.MeanTruth, s.Pixels)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2g\t%.1f\t%s\t%s\t%s\n", s.Source.Name, s.Gas, s.RateKgH, s.TruthMax, det, peak, mean)
	}
	tw.Flush()
	fmt.Fprintf(w, "gas detections with no gas under their peak: %d\n", r.FalseDetections)
	fmt.Fprintf(w, "results: %s (GeoJSON), score and ppm·m cubes in %s\n", d.GeoJSON, filepath.Dir(d.GeoJSON))
}

func sumFAR(d *granule.Result) float64 {
	s := 0.0
	for _, t := range d.Tests {
		s += t.FARPerKm2
	}
	return s
}
