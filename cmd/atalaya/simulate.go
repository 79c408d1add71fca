package main

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/sim"
)

// simProgress adapts the command's progress bars to sim.Progress.
type simProgress struct {
	g   *app
	bar interface {
		Add(int64)
		Done()
	}
}

func (p *simProgress) Start(label string, total int64) { p.bar = p.g.progress(label, total) }
func (p *simProgress) Add(n int64)                     { p.bar.Add(n) }
func (p *simProgress) Done()                           { p.bar.Done() }

func newSimulateCmd(g *app) *cobra.Command {
	var (
		out, preset, scenario, libPath string
		seed                           uint64
		passes                         int
		rateScale                      float64
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Simulate a survey: radiance cubes, point-sensor traces and flight logs with ground truth",
		Long: `Simulates every flight of a survey scenario (docs/scenario.md): for each pass,
in --out/<pass>/, an ENVI long-wave infrared radiance cube (radiance.hdr), the
true concentration-pathlength of every gas (truth.hdr, ppm·m), the scene and
its sources (truth.json), the point-sensor trace along the flight path
(trace.csv, docs/point-sensor-trace.md) and the flight log (flight.ulg, PX4
ULog). Built-in scenarios: ` + strings.Join(sim.Presets(), ", ") + `.`,
		Example: `  atalaya simulate --preset fentanyl --out survey/
  atalaya simulate --scenario my-survey.json --seed 7 --out survey/
  atalaya simulate --preset fentanyl --passes 25 --rate-scale 2 --out survey/   # a longer survey of a stronger lab
  atalaya detect survey/pass-1/radiance.hdr --gas acetone,ammonia --out survey/pass-1/detect`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lib, err := loadLibrary(libPath)
			if err != nil {
				return err
			}
			var s *sim.Scenario
			if scenario != "" {
				f, err := os.Open(scenario)
				if err != nil {
					return err
				}
				s, err = sim.LoadScenario(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", scenario, err)
				}
			} else if s, err = sim.Preset(preset); err != nil {
				return err
			}
			if cmd.Flags().Changed("seed") {
				s.Seed = seed
			}
			if !(rateScale > 0) || math.IsInf(rateScale, 0) {
				return fmt.Errorf("--rate-scale %g: want a positive factor", rateScale)
			}
			for i := range s.Sources {
				for g, q := range s.Sources[i].Rates {
					s.Sources[i].Rates[g] = q * rateScale
				}
			}
			if passes < 0 {
				return fmt.Errorf("--passes %d: want 0 (the scenario's) or more", passes)
			}
			s.Repeat(passes)
			outs, err := sim.RunScenario(out, s, lib, &simProgress{g: g})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "scenario %s: %d passes in %s\n", s.Name, len(outs), out)
			for i, o := range outs {
				if s.Flights[i].PointOnly {
					fmt.Fprintf(w, "  %-10s point sensors only at %g m: %s", s.Flights[i].Name, s.Flights[i].AltitudeM, o.FlightLog)
				} else {
					sc := s.Scene(i)
					fmt.Fprintf(w, "  %-10s %s (%d×%d px at %.2f m), %s", s.Flights[i].Name, o.Radiance, sc.Samples, sc.Lines, sc.GSD, o.FlightLog)
				}
				if o.Trace != "" {
					fmt.Fprintf(w, ", %s", o.Trace)
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "out/survey", "output directory")
	cmd.Flags().StringVar(&preset, "preset", "demo", "built-in scenario: "+strings.Join(sim.Presets(), ", "))
	cmd.Flags().StringVar(&scenario, "scenario", "", "scenario file (JSON, docs/scenario.md); overrides --preset")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed (default: the scenario's)")
	cmd.Flags().StringVar(&libPath, "library", "", "signature library file (default: built-in)")
	cmd.Flags().IntVar(&passes, "passes", 0, "fly the scenario's passes again, days later with other winds, until there are this many (0: the scenario's)")
	cmd.Flags().Float64Var(&rateScale, "rate-scale", 1, "multiply every source's emission rates by this factor")
	return cmd
}
