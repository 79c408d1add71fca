package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/server"
	"github.com/atalaya-project/atalaya/internal/store"
)

// pipelineFlags are the flags serve, worker and ingest share.
type pipelineFlags struct {
	dataDir, dbURL, natsURL, blobs string
	ackWait                        time.Duration
	maxAttempts                    int
}

func (p *pipelineFlags) add(f *pflag.FlagSet) {
	f.StringVar(&p.dataDir, "data", "atalaya-data", "data directory: SQLite store, embedded NATS streams, granule bytes")
	f.StringVar(&p.dbURL, "db", "", "the store: sqlite:PATH or postgres://… (default sqlite:DATA/atalaya.db)")
	f.StringVar(&p.natsURL, "nats", "", "an external NATS server or cluster, nats://host:4222")
	f.DurationVar(&p.ackWait, "ack-wait", time.Minute, "a job not acknowledged (nor heartbeated) for this long is delivered again")
	f.IntVar(&p.maxAttempts, "max-attempts", 5, "processing attempts per granule before it is marked failed for good")
}

func (p *pipelineFlags) db() string {
	if p.dbURL != "" {
		return p.dbURL
	}
	return "sqlite:" + filepath.Join(p.dataDir, "atalaya.db")
}

// open opens the store, creating the data directory for the default
// SQLite file.
func (p *pipelineFlags) open(ctx context.Context) (*store.DB, error) {
	if p.dbURL == "" {
		if err := os.MkdirAll(p.dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
	}
	return store.Open(ctx, p.db(), store.Options{})
}

func (p *pipelineFlags) queue() pipeline.QueueConfig {
	return pipeline.QueueConfig{AckWait: p.ackWait, MaxAttempts: p.maxAttempts}
}

// detectFlags say what workers run on each granule.
type detectFlags struct {
	methods, gases, far, libPath string
}

func (d *detectFlags) add(f *pflag.FlagSet) {
	f.StringVar(&d.methods, "method", "mf", "detectors, comma-separated: mf, ace, rx, cem")
	f.StringVar(&d.gases, "gas", "acetone,ammonia", "gases, comma-separated (atalaya library list)")
	f.StringVar(&d.far, "far", "0.1/km2", "false alarms per km² surveyed, per granule")
	f.StringVar(&d.libPath, "library", "", "signature library file (default: built-in)")
}

func (d *detectFlags) config() (pipeline.DetectConfig, error) {
	var c pipeline.DetectConfig
	var err error
	if c.FARPerKm2, err = parseFAR(d.far); err != nil {
		return c, err
	}
	c.Methods, c.Gases = splitList(d.methods), splitList(d.gases)
	for _, m := range c.Methods {
		switch m {
		case granule.MethodMF, granule.MethodACE, granule.MethodCEM, granule.MethodRX:
		default:
			return c, fmt.Errorf("--method %q: want mf, ace, rx or cem", m)
		}
		if m != granule.MethodRX && len(c.Gases) == 0 {
			return c, fmt.Errorf("--method %s needs --gas (see `atalaya library list`)", m)
		}
	}
	if len(c.Gases) > 0 {
		if c.Library, err = loadLibrary(d.libPath); err != nil {
			return c, err
		}
	}
	return c, nil
}

func newServeCmd(g *app) *cobra.Command {
	var (
		pf        pipelineFlags
		df        detectFlags
		listen    string
		cfg       pipeline.Config
		populated string
		api       apiFlags
		tf        takFlags
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run Atalaya: the HTTP API and web map, embedded NATS, reconciler and workers",
		Long: `Runs Atalaya's long-running parts together until interrupted: the HTTP API,
its live feed (Server-Sent Events) and the web map on --http, an embedded NATS
server with JetStream (unless --nats names one), the job queue, the reconciler
(which republishes the jobs of granules the store says are unfinished and the
queue has lost) and --workers worker goroutines. Granules come in through the
API (POST /api/v1/granules) or with ` + "`atalaya ingest`" + `; more workers can join from other machines with
` + "`atalaya worker --nats URL`" + ` (then ingest with --blobs nats, so the bytes are in
the JetStream object store rather than this machine's folder).

Everything lives under --data by default: the SQLite store (atalaya.db), the
NATS streams (nats/), the granule bytes (blobs/) and the server's URL (nats.url,
for ingest to find). The embedded server syncs every write to disk before
acknowledging it, and listens on 127.0.0.1 only unless --listen says otherwise
(it has no authentication: keep it behind a firewall or VPN).

The first run with an empty store creates the host agency of --country and
an administrator, and prints the administrator's password once (add agencies,
users and tokens with ` + "`atalaya agency`, `atalaya user`, `atalaya token`" + `).
With --tls-cert and --tls-key the API speaks HTTPS only and session cookies
are Secure. /metrics (Prometheus), /healthz and /readyz need no login: keep
--http on a private address or behind a proxy that restricts them.

On interrupt, the API stops accepting connections, ends live feeds (clients
resume with Last-Event-ID) and lets requests in flight finish within --grace;
workers stop taking jobs, in-flight jobs get --grace to finish, the rest go
back to the queue.

Data minimisation: every hour, the raw bytes and records of granules over
populated areas that no site needs are deleted once older than --retention
(90 days by default; 0 keeps everything). Granules count as populated unless
--populated-areas gives the populated areas of the region (GeoJSON polygons).
Sites, their detections, evidence and decisions are kept. See docs/pipeline.md.

With --tak, TAK field devices (ATAK, WinTAK, iTAK) enroll for a client
certificate on port 8446 with their Atalaya username and password, then stream
their agency's released sites on port 8089; --tak-push sends an agency's
released sites to its own TAK server. See docs/tak.md.`,
		Example: `  atalaya serve                                   # everything under ./atalaya-data
  atalaya serve --data /var/lib/atalaya --workers 4 --gas acetone,ammonia --far 0.1/km2
  atalaya serve --http 0.0.0.0:9443 --tls-cert cert.pem --tls-key key.pem
  atalaya serve --listen 0.0.0.0:4222 --blobs nats  # remote workers may join
  atalaya serve --db postgres://atalaya@db/atalaya --nats nats://nats1:4222
  atalaya serve --tak --tak-host tak.example.org   # TAK devices on 8089, 8443, 8446 (atalaya tak ca init first)
  atalaya serve --tak-push tls://USA-DEA@tak.partner.example:8089 --tak-push-cert atalaya.p12`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			if err := api.check(); err != nil {
				return err
			}
			boot, err := access.Bootstrap(ctx, db, access.BootstrapOptions{Country: api.country})
			if err != nil {
				return fmt.Errorf("first-run set-up: %w", err)
			}
			if boot.Created {
				fmt.Fprintf(cmd.OutOrStdout(), "atalaya serve: first run: created agency %s and administrator %q with password %s (shown once: keep it)\n",
					boot.Agency.ID, boot.User.Username, boot.Password)
			}
			// Workers commit before the API exists: events of those
			// first commits are not published (no client can be
			// listening yet).
			var apiSrv atomic.Pointer[server.Server]
			committed := func(ctx context.Context, gr store.Granule, rep fusion.Report) {
				if a := apiSrv.Load(); a != nil {
					if cur, err := db.Granule(ctx, gr.ID); err == nil {
						a.GranuleChanged(ctx, cur)
					}
					a.SitesChanged(ctx, append(rep.Created, rep.Updated...)...)
				}
			}
			cfg.Store, cfg.DataDir, cfg.NATSURL, cfg.Listen = db, pf.dataDir, pf.natsURL, listen
			cfg.Queue, cfg.Detect, cfg.Reconcile, cfg.Log = pf.queue(), det, true, g.log
			cfg.Blobs = pf.blobs
			if cfg.Commit, err = fuseCommit(db, det, g.log, committed); err != nil {
				return err
			}
			if populated != "" {
				if cfg.Populated, err = pipeline.PopulatedAreas(populated); err != nil {
					return fmt.Errorf("--populated-areas: %w", err)
				}
			}
			cfg.RetentionAudit = auditPurge(ctx, cfg.Retention)
			s, err := pipeline.NewServer(cfg)
			if err != nil {
				return err
			}
			if err := s.Start(ctx); err != nil {
				return err
			}
			// A ground-truth reply from a TAK device: the partners' alert
			// goes out now, the probabilities are refitted and the web
			// map hears of it, as for one posted over HTTP.
			gtRecorded := func(ctx context.Context, siteID string) {
				if a := apiSrv.Load(); a != nil {
					a.GroundTruthRecorded(ctx, siteID)
				} else {
					_ = feed.Wake(s.Conn())
				}
			}
			tp, err := tf.start(ctx, g, db, pf.dataDir, gtRecorded)
			if err != nil {
				_ = s.Stop()
				return err
			}
			if tp != nil && tp.servers != nil {
				g.log.Info("serving TAK", "stream", tp.servers.Addr("stream"), "api", tp.servers.Addr("api"), "enroll", tp.servers.Addr("enroll"))
			}
			// The outbox dispatcher (package feed) delivers site alerts to
			// the webhooks, the NATS subjects and the TAK sinks.
			var extra []feed.Sink
			for _, k := range tp.sinks() {
				g.log.Info("TAK outbox sink", "name", k.Name())
				extra = append(extra, k)
			}
			stopFeed, err := startFeed(ctx, db, s.Conn(), g.log, extra...)
			if err != nil {
				_ = errors.Join(tp.stop(), s.Stop())
				return err
			}
			defer stopFeed()
			api.gases = det.Gases
			runErr := api.run(ctx, cmd, g, db, s, boot.Agency.ID, &apiSrv, cfg.Grace)
			g.log.Info("stopping")
			return errors.Join(runErr, tp.stop(), s.Stop())
		},
	}
	f := cmd.Flags()
	pf.add(f)
	df.add(f)
	f.StringVar(&listen, "listen", "127.0.0.1:4222", "embedded NATS client address, host:port")
	f.StringVar(&pf.blobs, "blobs", "dir", "where ingested bytes go: dir (DATA/blobs) or nats (JetStream object store)")
	f.IntVar(&cfg.Workers, "workers", runtime.NumCPU(), "worker goroutines")
	f.DurationVar(&cfg.Grace, "grace", 10*time.Second, "at shutdown, how long in-flight jobs may run on before going back to the queue")
	f.DurationVar(&cfg.ReconcileEvery, "reconcile-every", 30*time.Second, "time between reconciler passes")
	f.DurationVar(&cfg.ReconcileAfter, "reconcile-after", time.Minute, "an unfinished granule unchanged this long, with no job queued, is queued again")
	f.StringVar(&cfg.WorkDir, "work-dir", "", "where workers unpack granules (default: the system temp dir)")
	f.DurationVar(&cfg.Retention, "retention", store.DefaultRetention, "raw granules of populated areas that no site needs are purged after this long (0: never)")
	f.StringVar(&populated, "populated-areas", "", "GeoJSON polygons of the populated areas (default: every granule counts as populated)")
	api.add(f)
	tf.add(f)
	addConfigFlag(cmd)
	return cmd
}

// auditPurge records a retention purge in the audit log, in the purge's
// transaction: which granules' raw data were deleted, and under what rule.
func auditPurge(ctx context.Context, olderThan time.Duration) func(store.Tx, []store.Purged) error {
	return func(tx store.Tx, ps []store.Purged) error {
		ids := make([]string, len(ps))
		for i, p := range ps {
			ids[i] = p.ID
		}
		_, err := access.Record(ctx, tx, access.Event{Actor: access.System("retention"), Action: "granules.purge",
			ObjectType: "granule", Details: map[string]any{"granules": ids, "older_than": olderThan.String(), "rule": "populated, no site needs it"}})
		return err
	}
}
