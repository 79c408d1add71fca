package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/coverage"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/mbtiles"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/server"
	"github.com/atalaya-project/atalaya/internal/sites"
	"github.com/atalaya-project/atalaya/internal/store"
)

// apiFlags configure serve's HTTP API.
type apiFlags struct {
	addr, tlsCert, tlsKey, uploadDir, country, events, tiles string
	maxUpload                                                int64
	eventRing, eventBuffer                                   int
	gases                                                    []string // the workers' (serve sets it)
	survey                                                   coverage.SurveyOptions
}

func (a *apiFlags) add(f *pflag.FlagSet) {
	f.StringVar(&a.addr, "http", "127.0.0.1:8080", "HTTP API and web map address, host:port")
	f.StringVar(&a.tlsCert, "tls-cert", "", "TLS certificate (PEM); with --tls-key the API speaks HTTPS only")
	f.StringVar(&a.tlsKey, "tls-key", "", "TLS private key (PEM)")
	f.StringVar(&a.uploadDir, "upload-dir", "", "where uploads are spooled until complete (default DATA/uploads)")
	f.Int64Var(&a.maxUpload, "max-upload", 64<<30, "largest granule upload, bytes")
	f.StringVar(&a.country, "country", "COL", "first run: the host country (ISO 3166-1 alpha-3) whose agency is created")
	f.StringVar(&a.events, "events", "", "live events between API processes: local (this process only) or nats (default: nats with --nats, else local)")
	f.StringVar(&a.tiles, "tiles", "", "offline imagery for the web map: an MBTiles file, served below /tiles/")
	f.IntVar(&a.eventRing, "event-ring", 4096, "live events kept for clients resuming with Last-Event-ID")
	f.IntVar(&a.eventBuffer, "event-buffer", 256, "live events queued per client before a slow client is dropped")
	def := coverage.DefaultSurveyOptions() // atalaya plan's defaults
	f.Float64Var(&a.survey.AltitudeM, "plan-altitude", def.AltitudeM, "revisit plans: flight altitude above home, m")
	f.Float64Var(&a.survey.FOVDeg, "plan-fov", def.FOVDeg, "revisit plans: sensor cross-track field of view, degrees")
	f.Float64Var(&a.survey.Overlap, "plan-overlap", def.Overlap, "revisit plans: side overlap of neighbouring swaths, 0-0.9")
	f.Float64Var(&a.survey.SpeedMS, "plan-speed", def.SpeedMS, "revisit plans: ground speed, m/s")
}

func (a *apiFlags) check() error {
	if (a.tlsCert == "") != (a.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both for HTTPS, or neither")
	}
	switch a.events {
	case "", "local", "nats":
	default:
		return fmt.Errorf("--events %q: want local or nats", a.events)
	}
	return nil
}

// run serves the API until ctx ends, then shuts it down gracefully.
func (a *apiFlags) run(ctx context.Context, cmd *cobra.Command, g *app, db *store.DB, p *pipeline.Server,
	hostAgency string, ptr *atomic.Pointer[server.Server], grace time.Duration) error {
	acc := access.New(db, access.Options{})
	audit := server.NewBatchAuditor(db, access.HashEntry, 0)
	defer audit.Close()
	upDir := a.uploadDir
	if upDir == "" {
		upDir = filepath.Join(cmd.Flag("data").Value.String(), "uploads")
	}
	events := a.events
	if events == "" {
		events = "local"
		if cmd.Flag("nats").Value.String() != "" {
			events = "nats"
		}
	}
	judged := make(chan struct{}, 1)
	cfg := server.Config{
		Store: db, Auth: acc, Sites: acc, Directory: acc, Audit: audit,
		Ingest:     server.PipelineIngester{In: p.Ingester()},
		Assets:     webAssets,
		Boundaries: boundaries.GeoJSON(),
		Ready: func(context.Context) error {
			if nc := p.Conn(); nc == nil || !nc.IsConnected() {
				return errors.New("NATS is not connected")
			}
			return nil
		},
		AlertCommitted: func() { _ = feed.Wake(p.Conn()) },
		Judged: func() {
			select {
			case judged <- struct{}{}:
			default: // a recalibration is already due
			}
		},
		Gases: a.gases, HostAgency: hostAgency, UploadDir: upDir, MaxUpload: a.maxUpload,
		EventRing: a.eventRing, EventBuffer: a.eventBuffer, Log: g.log, Survey: a.survey,
	}
	if events == "nats" {
		cfg.Publisher = server.NATSPublisher{Conn: p.Conn()}
	}
	if a.tiles != "" {
		ts, err := mbtiles.Open(ctx, a.tiles)
		if err != nil {
			return fmt.Errorf("--tiles: %w", err)
		}
		defer ts.Close()
		cfg.Tiles = ts
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	if events == "nats" {
		sub, err := server.SubscribeNATS(p.Conn(), srv.Hub())
		if err != nil {
			return fmt.Errorf("events over NATS: %w", err)
		}
		defer sub.Unsubscribe()
	}
	ptr.Store(srv)
	go recalibrate(ctx, g, db, srv, p, judged)
	// The queue's depth, for /metrics.
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			if n, err := p.Queue().Waiting(ctx); err == nil {
				srv.Metrics().SetQueueDepth(int(n))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", a.addr, err)
	}
	return srv.Serve(ctx, server.ServeConfig{Listener: ln, TLSCert: a.tlsCert, TLSKey: a.tlsKey, Grace: grace,
		Started: func(url string) {
			g.log.Info("serving", "url", url, "nats", p.NATSURL(), "db", redactURL(db), "events", events)
			fmt.Fprintf(cmd.OutOrStdout(), "atalaya serve: %s (NATS at %s); upload granules there or with: atalaya ingest CUBE.hdr --data %s\n",
				url, p.NATSURL(), cmd.Flag("data").Value.String())
		}})
}

func redactURL(db *store.DB) string { return db.Dialect() }

// recalibrate refits the sites' probabilities to the verdicts in the store
// after analysts or partners judge sites (fusion.Recalibrate), at most once
// a second, and publishes the sites it changed.
func recalibrate(ctx context.Context, g *app, db *store.DB, srv *server.Server, p *pipeline.Server, judged <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-judged:
		}
		select { // gather a burst of decisions into one refit
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		rep, err := fusion.Recalibrate(ctx, db, sites.CalibratorConfig{}, ownersOf(db))
		if err != nil {
			if ctx.Err() == nil {
				g.log.Error("recalibrate site probabilities", "err", err)
			}
			continue
		}
		g.log.Info("site probabilities recalibrated", "verdicts", rep.Verdicts, "sites_changed", len(rep.Updated))
		srv.SitesChanged(ctx, rep.Updated...)
		if rep.Alerts > 0 {
			_ = feed.Wake(p.Conn())
		}
	}
}
