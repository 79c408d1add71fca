package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/progress"
)

// app is what every subcommand gets: the logger and how to report progress.
type app struct {
	logLevel  string
	logFormat string
	quiet     bool
	log       *slog.Logger
}

func newRootCmd() *cobra.Command {
	g := &app{log: slog.New(slog.DiscardHandler)}
	root := &cobra.Command{
		Use:   "atalaya",
		Short: "Find clandestine drug laboratories in drone survey data",
		Long: `Atalaya detects faint chemical vapour signatures (solvents and reagent gases)
in airborne imaging-spectrometer cubes and drone point-sensor traces, fuses them
into candidate sites for analysts to review, and shares released sites with
partner agencies.

It produces leads for human review and lawful follow-up, with calibrated
false-alarm rates; it is not evidence on its own.`,
		Example: `  atalaya demo                          # simulate a survey, detect, write results
  atalaya detect scene.hdr --gas ammonia --far 0.1/km2 --out results/
  atalaya library list`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setupLogging(cmd.ErrOrStderr())
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "no progress bars")
	root.Version = version()
	root.AddCommand(
		newDetectCmd(g),
		newEvalCmd(g),
		newDemoCmd(g),
		newSimulateCmd(g),
		newBenchCmd(g),
		newLibraryCmd(),
		newPlanCmd(g),
		newBackupCmd(g),
		newServeCmd(g),
		newWorkerCmd(g),
		newIngestCmd(g),
		newFeedCmd(g),
		newReportCmd(g),
		newExportCmd(g),
		newAgencyCmd(),
		newUserCmd(),
		newTokenCmd(),
		newAuditCmd(),
		newTAKCmd(g),
		newBoundariesCmd(),
	)
	return root
}

func (g *app) setupLogging(w io.Writer) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(g.logFormat) {
	case "text":
		g.log = slog.New(slog.NewTextHandler(w, opts))
	case "json":
		g.log = slog.New(slog.NewJSONHandler(w, opts))
	default:
		return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
	return nil
}

// version reports the module version and VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// progress returns a progress bar on stderr for a task of total units, or a
// silent one with --quiet.
func (g *app) progress(label string, total int64) *progress.Bar {
	if g.quiet {
		return progress.New(io.Discard, label, total)
	}
	return progress.New(os.Stderr, label, total)
}
