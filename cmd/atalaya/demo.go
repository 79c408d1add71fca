package main

import (
	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/demo"
	"github.com/atalaya-project/atalaya/internal/granule"
)

func newDemoCmd(g *app) *cobra.Command {
	var cfg demo.Config
	var far string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Simulate a survey, detect the plumes and compare with the truth",
		Long: `Runs Atalaya end to end on a simulated long-wave infrared survey scene with a
methamphetamine-scale source (acetone and ammonia, tens of kg/h) and a
fentanyl-scale source (a fraction of a kg/h of acetone, below a single pass's
detection limit): renders the scene, detects with the matched filter, ACE and
RX, and prints what was found against the ground truth. Everything is written
under --out.`,
		Example: "  atalaya demo\n  atalaya demo --seed 7 --far 1/km2 --out /tmp/demo",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.FARPerKm2, err = parseFAR(far); err != nil {
				return err
			}
			cfg.Log = g.log
			cfg.NewBar = func(label string, total int64) granule.Bar { return g.progress(label, total) }
			cfg.Out = cmd.OutOrStdout()
			_, err = demo.Run(cmd.Context(), cfg)
			return err
		},
	}
	cmd.Flags().StringVar(&cfg.OutDir, "out", "out/demo", "output directory")
	cmd.Flags().Uint64Var(&cfg.Seed, "seed", 1, "random seed of the scene")
	cmd.Flags().StringVar(&far, "far", "1/km2", "false alarms per km² surveyed")
	return cmd
}
