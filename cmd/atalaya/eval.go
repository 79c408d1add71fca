package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/eval"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/sim"
)

func newEvalCmd(g *app) *cobra.Command {
	var (
		presets, scenarios, gases, mdlGases, far, libPath, work, ueff, from string
		cfg                                                                 eval.Config
		quick, noMDL                                                        bool
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate detection, quantification and localisation on simulated surveys",
		Long: `Simulates survey scenarios, runs detection on every pass exactly as
"atalaya detect" does, and scores the result against the simulation's truth
(docs/evaluation.md): probability of detection of sources at the requested
false alarms per km², false alarms per km² measured, the detection-level and
pixel-level ROC, the ppm·m retrieval's bias and RMSE, the emission-rate error
and localisation error of detected sources, and the minimum detectable
emission rate of one pass and of several passes combined.

Writes --out/report.json and SVG plots next to it. The effective wind speed
of the emission-rate estimate is fitted first to simulated plumes of known
rate (unless --ueff gives it).`,
		Example: `  atalaya eval --out docs/eval
  atalaya eval --quick --preset meth,clean --out /tmp/eval
  atalaya eval --preset fentanyl --seeds 4 --far 0.1/km2 --no-mdl --out fentanyl-eval`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from != "" {
				rep, err := eval.ReadReport(from)
				if err != nil {
					return err
				}
				if err := rep.WriteFiles(cfg.OutDir); err != nil {
					return err
				}
				printEval(cmd.OutOrStdout(), rep)
				return nil
			}
			var err error
			if cfg.FARPerKm2, err = parseFAR(far); err != nil {
				return err
			}
			if cfg.Library, err = loadLibrary(libPath); err != nil {
				return err
			}
			for _, name := range splitList(presets) {
				s, err := sim.Preset(name)
				if err != nil {
					return err
				}
				cfg.Scenarios = append(cfg.Scenarios, s)
			}
			for _, path := range splitList(scenarios) {
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				s, err := sim.LoadScenario(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				cfg.Scenarios = append(cfg.Scenarios, s)
			}
			cfg.SkipScenarios = len(cfg.Scenarios) == 0
			cfg.Gases = splitList(gases)
			cfg.MDL.Gases = splitList(mdlGases)
			cfg.MDL.Quick = quick
			cfg.SkipMDL = noMDL
			if ueff != "" {
				if _, err := fmt.Sscanf(strings.ReplaceAll(ueff, ",", " "), "%g %g", &cfg.UEff.A, &cfg.UEff.B); err != nil {
					return fmt.Errorf("--ueff %q: want a,b for U_eff = a + b·U", ueff)
				}
				cfg.UEff.N = 1
			}
			if work == "" {
				if work, err = os.MkdirTemp("", "atalaya-eval-"); err != nil {
					return err
				}
				if !cfg.Keep {
					defer os.RemoveAll(work)
				}
			}
			cfg.WorkDir = work
			cfg.Log = g.log
			cfg.NewBar = func(label string, total int64) granule.Bar { return g.progress(label, total) }
			rep, err := eval.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			printEval(cmd.OutOrStdout(), rep)
			fmt.Fprintf(cmd.OutOrStdout(), "\nwrote %s and %d plots in %.0f s\n", filepath.Join(cfg.OutDir, "report.json"), len(rep.Plots), rep.Seconds)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&presets, "preset", "demo,meth,fentanyl,clean,confusers", "built-in scenarios, comma-separated (empty: none)")
	f.StringVar(&scenarios, "scenario", "", "scenario files (docs/scenario.md), comma-separated")
	f.IntVar(&cfg.Seeds, "seeds", 3, "repetitions of each scenario with new seeds (ground, noise, turbulence)")
	f.StringVar(&gases, "gas", "", "gases tested in every pass (default: every gas the scenarios emit)")
	f.StringVar(&far, "far", "0.1/km2", "false alarms per km² of each pass")
	f.Float64Var(&cfg.WindSigmaMS, "wind-sigma", 0.5, "1σ error of the wind speed given to quantification, m/s")
	f.Float64Var(&cfg.WindDirSigmaDeg, "wind-dir-sigma", 10, "1σ error of the wind direction given to quantification, degrees")
	f.StringVar(&ueff, "ueff", "", "U_eff = a + b·U as a,b (default: fit it to simulated plumes first)")
	f.StringVar(&mdlGases, "mdl-gas", "dichloromethane,acetone", "gases of the minimum-detectable-rate experiment")
	f.IntVar(&cfg.MDL.Seeds, "mdl-seeds", 0, "seeds per rate of the minimum-detectable-rate experiment (default 6, quick 2)")
	f.BoolVar(&noMDL, "no-mdl", false, "leave out the minimum-detectable-rate experiment")
	f.BoolVar(&quick, "quick", false, "fewer rates, seeds and calibration plumes (a look in a minute or two)")
	f.StringVar(&cfg.OutDir, "out", "out/eval", "directory for report.json and the plots")
	f.StringVar(&work, "work", "", "directory for the simulated cubes (default: a temporary one, removed)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the simulated cubes and detection outputs in --work")
	f.StringVar(&libPath, "library", "", "signature library file (default: built-in)")
	f.StringVar(&from, "from", "", "redraw the plots and summary of an existing report.json into --out, evaluating nothing")
	return cmd
}

func printEval(w io.Writer, r *eval.Report) {
	s := r.Summary
	if len(r.Scenarios) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "SCENARIO\tPASSES\tkm²\tSOURCES DETECTED\tPd\tFALSE ALARMS\tper km²\tCROSS-GAS\n")
		for _, sc := range r.Scenarios {
			fmt.Fprintf(tw, "%s\t%d\t%.3f\t%d/%d\t%s\t%d\t%.3g\t%d\n", sc.Name, sc.Passes, sc.AreaKm2, sc.Detected, sc.SourcePasses, pct(sc.Pd), sc.FalseAlarms, sc.FARPerKm2, sc.CrossGas)
		}
		tw.Flush()
		fmt.Fprintf(w, "all: Pd %s at %.3g false alarms/km² requested; %.3g/km² measured (%d on %.2f km²)\n",
			pct(s.Pd), s.FARPerKm2, s.FalseAlarmsPerKm2, s.FalseAlarms, s.AreaKm2)
		for _, p := range r.PixelROC {
			fmt.Fprintf(w, "pixel AUC, true column ≥ %gσ: %.4f\n", p.K, float64(p.AUC))
		}
		for _, st := range r.Retrieval {
			if st.Gas == "all" {
				fmt.Fprintf(w, "retrieval, true SNR ≥ %g: bias %+.1f%%, RMSE %.1f%% (%d px)\n", st.MinSNR, 100*float64(st.RelBias), 100*float64(st.RelRMSE), st.Pixels)
			}
		}
		rs, ls := r.RateSummary, r.LocSummary
		fmt.Fprintf(w, "emission rate: median error %+.0f%%, median |error| %.0f%%, 90%% within %.0f%%, %.0f%% within 1σ (n %d)\n",
			100*rs.Median, 100*rs.MedianAbs, 100*rs.P90Abs, 100*rs.Within1Sigma, rs.N)
		fmt.Fprintf(w, "localisation: median %.1f m, 90th percentile %.1f m (n %d)\n", ls.MedianAbs, ls.P90Abs, ls.N)
	}
	u := r.UEff.Fit
	fmt.Fprintf(w, "U_eff = %.3f + %.3f·U m/s (relative scatter %.2f, %d plumes, fitted %v)\n", u.A, u.B, u.RelRMS, u.N, r.UEff.Fitted)
	for _, m := range r.MDL {
		fmt.Fprintf(w, "minimum detectable rate, %s, %g m/s class %s:\n", m.Gas, m.Weather.WindSpeed, m.Weather.Stability)
		for _, c := range m.Curves {
			fmt.Fprintf(w, "  %-24s MDL50 %s kg/h, MDL90 %s kg/h, false alarms %.3g/km²\n", c.Label, num(c.MDL50KgH), num(c.MDL90KgH), c.FARPerKm2)
		}
		for _, q := range m.SqrtN {
			fmt.Fprintf(w, "  MDL50(1)/MDL50(%d) = %s (√n = %.2f)\n", q.Passes, num(q.Ratio50), float64(q.Expected))
		}
	}
}

func pct(v eval.F) string {
	if float64(v) != float64(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(v))
}

func num(v eval.F) string {
	if float64(v) != float64(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.3g", float64(v))
}
