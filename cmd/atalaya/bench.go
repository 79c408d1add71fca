package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/bench"
)

func newBenchCmd(g *app) *cobra.Command {
	var (
		cfg                bench.Config
		noRef, genOnly     bool
		jsonPath, dir      string
		samples, lines, nb int
		seed               uint64
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the detectors on a synthetic cube against Spectral Python",
		Long: `Generates a deterministic synthetic long-wave infrared radiance cube (ENVI
float32 BIP, 7.6–13.4 µm; four endmembers with smooth abundance fields,
temperature jitter and spectrally correlated noise, so the covariance is full
rank and ill-conditioned), then streams it in blocks of lines as 'atalaya
detect' does and times reading, background statistics, RX, the matched
filter, ACE and CEM. It measures the memory read bandwidth in the same run
and, unless --no-reference, runs Spectral Python (scripts/spy_bench.py with
/usr/bin/python3) on the same cube, then prints one table: Mpix/s with and
without I/O, GFLOP/s and % of the float32 peak, GB/s and % of the read
bandwidth, Spectral Python's Mpix/s and the speed-up.

With --generate-only it writes the cube to --dir and stops (for example a
4096×4096×128 cube of 8.6 GB to run 'atalaya detect' on).`,
		Example: `  atalaya bench
  atalaya bench --samples 512 --lines 512 --json bench.json
  atalaya bench --samples 4096 --lines 4096 --dir /work/big --generate-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Scene = bench.Scene{Samples: samples, Lines: lines, Bands: nb, Seed: seed}
			cfg.Dir, cfg.Log = dir, g.log
			cfg.NewBar = func(label string, total int64) bench.Bar { return g.progress(label, total) }
			if genOnly {
				if dir == "" {
					return errors.New("--generate-only needs --dir")
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				hdr := filepath.Join(dir, fmt.Sprintf("bench-%dx%dx%d.hdr", samples, lines, nb))
				bar := g.progress("generate cube", int64(lines))
				err := bench.Generate(hdr, cfg.Scene, func(n int) { bar.Add(int64(n)) })
				bar.Done()
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (target spectrum: bench.Scene.Target)\n", hdr)
				return nil
			}
			if noRef {
				cfg.Python = ""
			} else if cfg.Script == "" {
				wd, _ := os.Getwd()
				if p, err := bench.FindScript(wd); err == nil {
					cfg.Script = p
				} else {
					cfg.Script = filepath.Join("scripts", "spy_bench.py")
				}
			}
			res, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := res.WriteTable(cmd.OutOrStdout()); err != nil {
				return err
			}
			if jsonPath != "" {
				f, err := os.Create(jsonPath)
				if err != nil {
					return err
				}
				if err := res.WriteJSON(f); err != nil {
					f.Close()
					return err
				}
				return f.Close()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&samples, "samples", 1024, "samples (columns) of the synthetic cube")
	f.IntVar(&lines, "lines", 1024, "lines of the synthetic cube")
	f.IntVar(&nb, "bands", 128, "bands of the synthetic cube")
	f.Uint64Var(&seed, "seed", 1, "random seed of the synthetic cube")
	f.StringVar(&dir, "dir", "", "directory for the cube (default: a temporary directory)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the cube afterwards")
	f.BoolVar(&genOnly, "generate-only", false, "write the cube to --dir and stop")
	f.IntVar(&cfg.BlockLines, "block-lines", 0, "lines per block (default: about 32 MiB)")
	f.BoolVar(&noRef, "no-reference", false, "do not run Spectral Python")
	f.StringVar(&cfg.Python, "python", "/usr/bin/python3", "Python with Spectral Python (Debian: apt-get install python3-spectral)")
	f.StringVar(&cfg.Script, "spy-script", "", "path of spy_bench.py (default: scripts/spy_bench.py of the repository)")
	f.StringVar(&jsonPath, "json", "", "also write the result as JSON to this file")
	return cmd
}
