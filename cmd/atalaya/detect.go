package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/plume"
)

// parseFAR parses a false-alarm rate such as "0.1/km2", "0.1/km²" or "0.1".
func parseFAR(s string) (float64, error) {
	v := strings.TrimSpace(s)
	for _, suf := range []string{"/km2", "/km²", "/km^2", "km2", "km²"} {
		v = strings.TrimSuffix(v, suf)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("--far %q: want a positive number of false alarms per km², e.g. 0.1/km2", s)
	}
	return f, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newDetectCmd(g *app) *cobra.Command {
	var (
		methods, gases, far, libPath string
		cfg                          granule.Config
		windFrom, windSpeed          float64
	)
	cmd := &cobra.Command{
		Use:   "detect CUBE.hdr",
		Short: "Detect gas plumes in an imaging-spectrometer cube (ENVI)",
		Long: `Scores every pixel of an ENVI cube with the chosen detectors and gases,
retrieves concentration-pathlength (ppm·m) and its 1σ with the matched filter,
thresholds the scores for the requested false-alarm rate per km² surveyed, and
writes to --out:

  <method>-<gas>.hdr     score cubes (mf: z-score ĉ/σ; ace: squared cosine; cem)
  rx.hdr                 RX anomaly score (no gas)
  ppmm-<gas>.hdr         matched-filter ppm·m
  ppmm-sigma-<gas>.hdr   its 1σ
  detections.geojson     connected plumes above threshold, with their figures
  summary.json           thresholds, masks, timings

Thermal-infrared cubes need the plume (air) temperature (--plume-temp, or the
header key "atalaya air temperature k"). With the pass's wind (--wind-from and
--wind-speed, or the header keys "atalaya wind from deg" and "atalaya wind speed
ms"), a plume's puffs are grouped into one plume, placed at its upwind end (the
source) and given an emission rate (docs/detect-outputs.md). Cubes without map info need
--pixel-size for the per-km² rate. The cube is streamed in blocks of lines, so
its size is not limited by memory.`,
		Example: `  atalaya detect scene.hdr --gas ammonia,acetone --far 0.1/km2 --out results/
  atalaya detect scene.hdr --method mf,ace,rx,cem --gas acetone --plume-temp 301.5 --out results/
  atalaya detect pass-1.hdr --gas acetone --wind-from 270 --wind-speed 3.5 --out results/
  atalaya detect hydice.hdr --method rx --pixel-size 1 --far 10 --out rx/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if cfg.FARPerKm2, err = parseFAR(far); err != nil {
				return err
			}
			cfg.Cube = args[0]
			cfg.Methods = splitList(methods)
			cfg.Gases = splitList(gases)
			if len(cfg.Gases) > 0 {
				if cfg.Library, err = loadLibrary(libPath); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("wind-speed") || cmd.Flags().Changed("wind-from") {
				if !(windSpeed > 0 && windSpeed <= 100) || math.IsNaN(windFrom) || math.Abs(windFrom) > 360 {
					return fmt.Errorf("--wind-speed %g --wind-from %g: give both, the speed in (0, 100] m/s and the direction in degrees clockwise from north", windSpeed, windFrom)
				}
				cfg.Wind = &plume.Wind{SpeedMS: windSpeed, FromDeg: windFrom}
			}
			cfg.Log = g.log
			cfg.NewBar = func(label string, total int64) granule.Bar { return g.progress(label, total) }
			res, err := granule.Process(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&methods, "method", "mf", "detectors, comma-separated: mf (matched filter + ppm·m), ace, rx, cem")
	f.StringVar(&gases, "gas", "", "gases, comma-separated, as the library names them (atalaya library list)")
	f.StringVar(&far, "far", "0.1/km2", "false alarms per km² surveyed, for the whole run")
	f.StringVar(&cfg.OutDir, "out", "out/detect", "output directory")
	f.Float64Var(&cfg.PixelSizeM, "pixel-size", 0, "pixel size in metres (default: from the header's map info)")
	f.Float64Var(&cfg.PlumeTempK, "plume-temp", 0, "plume (air) temperature in kelvin, for thermal-infrared targets")
	f.Float64Var(&cfg.Transmittance, "transmittance", 1, "atmospheric transmittance between plume and sensor")
	f.StringVar(&cfg.Background, "background", "global", "background statistics: global, columns (pushbroom), clusters")
	f.IntVar(&cfg.ColumnWidth, "column-width", 1, "columns per background with --background columns")
	f.IntVar(&cfg.Clusters, "clusters", 6, "number of classes with --background clusters")
	f.IntVar(&cfg.Passes, "passes", 2, "1, or 2 to re-estimate the background without the plumes found")
	f.IntVar(&cfg.BlockLines, "block-lines", 0, "lines per block (default: about 32 MiB)")
	f.StringVar(&libPath, "library", "", "signature library file (default: built-in)")
	f.Float64Var(&windFrom, "wind-from", 0, "where the pass's wind blows from, degrees clockwise from north (default: the header's)")
	f.Float64Var(&windSpeed, "wind-speed", 0, "the pass's wind speed at plume height, m/s (default: the header's)")
	return cmd
}

func printSummary(w io.Writer, res *granule.Result) {
	fmt.Fprintf(w, "%s: %d×%d pixels, %d bands (%d kept), %.4f km², pixel %.2f×%.2f m\n",
		res.Cube, res.Samples, res.Lines, res.Bands, res.KeptBands, res.AreaKm2, res.PixelSizeM[0], res.PixelSizeM[1])
	if res.PlumeTempK > 0 {
		fmt.Fprintf(w, "plume temperature %.2f K; ", res.PlumeTempK)
	}
	fmt.Fprintf(w, "masked pixels %d; dropped bands %d; second pass left out %d plume pixels\n",
		res.Masked.Masked.Total(), len(res.Masked.Dropped), res.Excluded)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TEST\tFAR/km²\tTHRESHOLD\tσ ppm·m\tMIN DETECTABLE ppm·m\tDETECTIONS")
	for _, t := range res.Tests {
		name := t.Method
		if t.Gas != "" {
			name += "-" + t.Gas
		}
		sig, mdc := "-", "-"
		if t.SigmaPPMm > 0 {
			sig, mdc = fmt.Sprintf("%.3g", t.SigmaPPMm), fmt.Sprintf("%.3g", t.MDCppmm)
		}
		fmt.Fprintf(tw, "%s\t%.3g\t%.4g\t%s\t%s\t%d\n", name, t.FARPerKm2, t.Threshold, sig, mdc, t.Detections)
	}
	tw.Flush()
	if len(res.Detections) > 0 {
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nDETECTION\tPIXELS\tPEAK\tp-VALUE\tPEAK ppm·m\tIME kg\tLAT\tLON")
		for i, d := range res.Detections {
			if i == 20 {
				fmt.Fprintf(tw, "… %d more in %s\n", len(res.Detections)-20, res.GeoJSON)
				break
			}
			fmt.Fprintf(tw, "%s\t%d\t%.3g\t%.2g\t%.3g\t%.3g\t%.6f\t%.6f\n", d.ID, d.Pixels, d.PeakScore, d.PValue, d.PeakPPMm, d.IMEkg, d.Lat, d.Lon)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nwrote %d cubes, %s and summary.json in %.1f s (peak memory %s)\n", len(res.Outputs), res.GeoJSON, res.Seconds, peakRSS())
}
