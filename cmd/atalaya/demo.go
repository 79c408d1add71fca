package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/demo"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/sim"
)

func newDemoCmd(g *app) *cobra.Command {
	var (
		cfg      demo.Config
		far      string
		serve    bool
		httpAddr string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Simulate a survey, detect, fuse into sites and serve the map with live results",
		Long: `Runs Atalaya end to end on a simulated long-wave infrared survey with a
methamphetamine-scale source (acetone and ammonia, tens of kg/h) and a
fentanyl-scale source (a fraction of a kg/h of acetone, below a single pass's
detection limit): starts ` + "`atalaya serve`" + ` on the embedded defaults (SQLite store,
embedded NATS, workers, the HTTP API and web map) under --out/data, renders the
survey (an imaging pass and a low point-sensor flight), ingests it, and lets the
workers detect and fuse it into candidate sites while the map shows them
arrive. It prints what was found against the ground truth, the map's address
and the administrator's password (first run), then serves until interrupted.

--serve=false runs the same survey through a pipeline of its own and exits.`,
		Example: "  atalaya demo                                  # then open http://127.0.0.1:8080\n  atalaya demo --seed 7 --far 1/km2 --out /tmp/demo --http 127.0.0.1:9090\n  atalaya demo --serve=false                    # report only",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.FARPerKm2, err = parseFAR(far); err != nil {
				return err
			}
			cfg.Log = g.log
			cfg.NewBar = func(label string, total int64) granule.Bar { return g.progress(label, total) }
			cfg.Out = cmd.OutOrStdout()
			ctx := cmd.Context()
			if !serve {
				_, err = demo.Run(ctx, cfg)
				return err
			}
			data := filepath.Join(cfg.OutDir, "data")
			if err := os.RemoveAll(data); err != nil { // a fresh deployment each run
				return err
			}
			gases, err := demoGases()
			if err != nil {
				return err
			}
			sctx, stop := context.WithCancel(ctx)
			defer stop()
			srv := newRootCmd()
			srv.SetOut(cmd.OutOrStdout())
			srv.SetErr(cmd.ErrOrStderr())
			srv.SetArgs([]string{"serve", "--data", data, "--http", httpAddr, "--listen", "127.0.0.1:-1",
				"--workers", "2", "--gas", strings.Join(gases, ","), "--far", far, "--log-level", "warn"})
			done := make(chan error, 1)
			go func() { done <- srv.ExecuteContext(sctx) }()
			if err := waitReady(ctx, data, "http://"+httpAddr, done); err != nil {
				return err
			}
			cfg.Serving = data
			if _, err := demo.Run(ctx, cfg); err != nil {
				stop()
				<-done
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nthe map: http://%s — sign in as admin with the password printed above (first run); interrupt to stop\n", httpAddr)
			select {
			case <-ctx.Done():
				stop()
				return <-done
			case err := <-done:
				return err
			}
		},
	}
	cmd.Flags().StringVar(&cfg.OutDir, "out", "out/demo", "output directory (the survey, detections and the server's data)")
	cmd.Flags().Uint64Var(&cfg.Seed, "seed", 1, "random seed of the scene")
	cmd.Flags().StringVar(&far, "far", "1/km2", "false alarms per km² surveyed")
	cmd.Flags().BoolVar(&serve, "serve", true, "serve the map and API with the results (false: report and exit)")
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "address of the map and API, host:port")
	return cmd
}

// demoGases are the gases of the demo survey's sources.
func demoGases() ([]string, error) {
	scen, err := sim.Preset("demo")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range scen.Sources {
		for gas := range s.Rates {
			if !seen[gas] {
				seen[gas] = true
				out = append(out, gas)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// waitReady waits until the server on data answers /readyz at base, or
// fails (done) or a minute passes.
func waitReady(ctx context.Context, data, base string, done <-chan error) error {
	deadline := time.Now().Add(time.Minute)
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		if pipeline.ReadURLFile(data) != "" {
			if resp, err := client.Get(base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("atalaya serve: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("atalaya serve did not become ready at %s within a minute", base)
		}
	}
}
