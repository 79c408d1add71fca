package main

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/pipeline"
)

func newWorkerCmd(g *app) *cobra.Command {
	var (
		pf  pipelineFlags
		df  detectFlags
		cfg pipeline.Config
	)
	cmd := &cobra.Command{
		Use:   "worker --nats URL --db URL",
		Short: "Process granule jobs from the queue, on any machine",
		Long: `Takes granule jobs from the NATS JetStream queue, runs detection on each and
commits the detections to the store, with --workers jobs at a time. A job is
acknowledged only after its results are committed; a worker that dies leaves
its job to be delivered to another after --ack-wait.

The worker needs the queue (--nats, or the URL a local ` + "`atalaya serve`" + ` wrote in
DATA/nats.url) and the store (--db). It reads each granule's bytes from where
the store says they are: the JetStream object store (ingest --blobs nats) from
anywhere, or a folder (file://…) only where that folder is mounted. Granules
are unpacked into --work-dir and removed after.`,
		Example: `  atalaya worker --nats nats://atalaya-1:4222 --db postgres://atalaya@db/atalaya --workers 8
  atalaya worker --data ./atalaya-data --workers 2   # beside a local atalaya serve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			url := pf.natsURL
			if url == "" {
				url = pipeline.ReadURLFile(pf.dataDir)
			}
			if url == "" {
				return errors.New("--nats: no NATS URL given and no running `atalaya serve` recorded one in --data; pass --nats nats://HOST:4222")
			}
			if cfg.Workers < 1 {
				return fmt.Errorf("--workers %d: want at least 1", cfg.Workers)
			}
			det, err := df.config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := pf.open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			cfg.Store, cfg.DataDir, cfg.NATSURL = db, pf.dataDir, url
			cfg.Queue, cfg.Detect, cfg.Log = pf.queue(), det, g.log
			if cfg.Commit, err = fuseCommit(db, det, g.log, nil); err != nil {
				return err
			}
			s, err := pipeline.NewServer(cfg)
			if err != nil {
				return err
			}
			g.log.Info("worker starting", "nats", url, "db", pf.db(), "workers", cfg.Workers)
			return s.Run(ctx)
		},
	}
	f := cmd.Flags()
	pf.add(f)
	df.add(f)
	f.IntVar(&cfg.Workers, "workers", runtime.NumCPU(), "jobs processed at a time")
	f.DurationVar(&cfg.Grace, "grace", 10*time.Second, "at shutdown, how long in-flight jobs may run on before going back to the queue")
	f.StringVar(&cfg.WorkDir, "work-dir", "", "where granules are unpacked (default: the system temp dir)")
	addConfigFlag(cmd)
	return cmd
}
