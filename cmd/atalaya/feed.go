package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/store"
)

// storeFlags are --data and --db alone, for commands that only use the store.
func (p *pipelineFlags) addStore(f *pflag.FlagSet) {
	f.StringVar(&p.dataDir, "data", "atalaya-data", "data directory (the default SQLite store is DATA/atalaya.db)")
	f.StringVar(&p.dbURL, "db", "", "the store: sqlite:PATH or postgres://… (default sqlite:DATA/atalaya.db)")
}

func newFeedCmd(g *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "feed",
		Short: "Deliver released sites to partners: dispatcher, webhooks, dead letters",
		Long: `Alerts about sites are written to the store's outbox in the transaction that
changed the site. The dispatcher (part of ` + "`atalaya serve`" + `, or run on its own with
` + "`atalaya feed run`" + `) delivers each to every sink the receiving agency may see it
through: signed webhooks, NATS subjects atalaya.sites.<agency>, TAK servers.
Failed deliveries are retried with backoff; after --max-attempts they become dead
letters, listed and replayed here. See docs/feeds.md.`,
		Example: `  atalaya feed webhook add --agency PNC --url https://pnc.example/atalaya/hook
  atalaya feed dead-letters list
  atalaya feed dead-letters replay --all`,
	}
	cmd.AddCommand(newFeedRunCmd(g), newWebhookCmd(g), newDeadLettersCmd(g))
	return cmd
}

func newFeedRunCmd(g *app) *cobra.Command {
	var (
		pf  pipelineFlags
		opt feed.Options
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the alert dispatcher on its own",
		Long: `Runs the dispatcher until interrupted: it moves outbox alerts into per-sink
queues and delivers them (webhooks from the store; NATS subjects if --nats is
given). Several dispatchers may run on one PostgreSQL store: leases keep them
from sending one alert twice at once. ` + "`atalaya serve`" + ` runs one already.`,
		Example: `  atalaya feed run --db postgres://atalaya@db/atalaya --nats nats://nats1:4222`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			db, err := pf.open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			opt.MoreSinks, opt.Site, opt.Log = feed.WebhookSinks(db, nil, nil), catalogOf(db).Lookup, g.log
			var nc *nats.Conn
			if pf.natsURL != "" {
				nc, err = pipeline.Connect(pf.natsURL, "atalaya-feed")
				if err != nil {
					return err
				}
				defer nc.Close()
				ns, err := feed.NewNATSSink(ctx, nc, feed.NATSConfig{})
				if err != nil {
					return err
				}
				opt.Sinks = append(opt.Sinks, ns)
			}
			d := feed.NewDispatcher(db, opt)
			if nc != nil {
				if _, err := d.ListenWake(nc); err != nil {
					return err
				}
			}
			g.log.Info("dispatching", "db", pf.db(), "nats", pf.natsURL)
			return d.Run(ctx)
		},
	}
	f := cmd.Flags()
	pf.addStore(f)
	f.StringVar(&pf.natsURL, "nats", "", "publish on NATS subjects atalaya.sites.<agency> of this server, nats://host:4222")
	f.IntVar(&opt.MaxAttempts, "max-attempts", 15, "failed attempts before an alert becomes a dead letter")
	f.DurationVar(&opt.Poll, "poll", 250*time.Millisecond, "how often the outbox and queues are read when nothing wakes the dispatcher")
	f.DurationVar(&opt.Lease, "lease", 30*time.Second, "how long a claimed alert is reserved; a dead dispatcher's alerts are taken up after it")
	return cmd
}

func newWebhookCmd(g *app) *cobra.Command {
	var pf pipelineFlags
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Manage agencies' webhook subscriptions",
		Example: `  atalaya feed webhook add --agency PNC --url https://pnc.example/atalaya/hook
  atalaya feed webhook list
  atalaya feed webhook remove 019c…`,
	}
	pf.addStore(cmd.PersistentFlags())
	var agency, url, secret string
	add := &cobra.Command{
		Use:   "add --agency ID --url URL",
		Short: "Subscribe an agency's URL to its alerts",
		Long: `Adds a webhook: every alert about a site the agency may see is POSTed to the URL,
signed with HMAC-SHA256 (header X-Atalaya-Signature: t=<unix>,v1=<hex>). The
secret is printed once; give it to the receiver, which verifies each delivery
(docs/feeds.md shows how, in Go and in a shell one-liner).`,
		Example: `  atalaya feed webhook add --agency PNC --url https://pnc.example/atalaya/hook`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if agency == "" || url == "" {
				return errors.New("--agency and --url are required: the agency that receives, and its HTTPS endpoint")
			}
			if secret == "" {
				var b [32]byte
				_, _ = rand.Read(b[:])
				secret = "whsec_" + hex.EncodeToString(b[:])
			}
			db, err := pf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			h, err := db.PutWebhook(cmd.Context(), store.Webhook{AgencyID: agency, URL: url, Secret: secret})
			if err != nil {
				return fmt.Errorf("add webhook: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "webhook %s: agency %s, %s\nsecret (shown once; the receiver verifies with it): %s\n", h.ID, h.AgencyID, h.URL, h.Secret)
			return nil
		},
	}
	add.Flags().StringVar(&agency, "agency", "", "the receiving agency's id")
	add.Flags().StringVar(&url, "url", "", "where to POST alerts (https:// in production)")
	add.Flags().StringVar(&secret, "secret", "", "the signing secret, ≥ 16 bytes (default: 32 random bytes)")
	list := &cobra.Command{
		Use:     "list",
		Short:   "List webhook subscriptions and their queues",
		Example: `  atalaya feed webhook list --db postgres://atalaya@db/atalaya`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := pf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			hs, err := db.Webhooks(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tAGENCY\tURL\tPENDING\tCREATED")
			for _, h := range hs {
				n, err := db.PendingDeliveries(cmd.Context(), feed.WebhookSinkName(h.ID))
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", h.ID, h.AgencyID, h.URL, n, h.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	remove := &cobra.Command{
		Use:     "remove ID",
		Short:   "Remove a webhook subscription and its queue",
		Example: `  atalaya feed webhook remove 019ca9450a016f597adf8a419551d31f`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := pf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.DeleteWebhook(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("remove webhook %s: %w (see `atalaya feed webhook list`)", args[0], err)
			}
			n, err := db.DropDeliveries(cmd.Context(), feed.WebhookSinkName(args[0]))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "webhook %s removed, %d queued alerts dropped\n", args[0], n)
			return nil
		},
	}
	cmd.AddCommand(add, list, remove)
	return cmd
}

func newDeadLettersCmd(g *app) *cobra.Command {
	var (
		pf          pipelineFlags
		sink, alert string
		all         bool
	)
	cmd := &cobra.Command{
		Use:   "dead-letters",
		Short: "List and replay alerts that could not be delivered",
		Example: `  atalaya feed dead-letters list
  atalaya feed dead-letters replay --sink webhook:019c… --alert 01a2…`,
	}
	pf.addStore(cmd.PersistentFlags())
	cmd.PersistentFlags().StringVar(&sink, "sink", "", "only this sink (webhook:ID, nats, tak:…)")
	list := &cobra.Command{
		Use:     "list",
		Short:   "List dead letters, oldest first",
		Example: `  atalaya feed dead-letters list --sink webhook:019ca9450a016f597adf8a419551d31f`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := pf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			ds, err := db.DeadLetters(cmd.Context(), sink, 0)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SINK\tALERT\tKIND\tSITE\tATTEMPTS\tDEAD SINCE\tLAST ERROR")
			for _, d := range ds {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.Sink, d.ID, d.Kind, d.SiteID, d.Attempts, d.Dead.Format(time.RFC3339), d.LastError)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(ds) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no dead letters")
			}
			return nil
		},
	}
	replay := &cobra.Command{
		Use:   "replay (--sink S --alert ID | --sink S --all | --all)",
		Short: "Queue dead letters for delivery again",
		Long: `Makes dead letters live again, attempts reset, due now: one (--sink and
--alert), all of a sink (--sink --all), or all (--all). The dispatcher sends
them on its next pass. Receivers drop alerts they already have by their id.`,
		Example: `  atalaya feed dead-letters replay --all
  atalaya feed dead-letters replay --sink webhook:019c… --alert 01a2…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case alert != "" && sink == "":
				return errors.New("--alert needs --sink: an alert is dead for one sink (see `atalaya feed dead-letters list`)")
			case alert == "" && !all:
				return errors.New("say what to replay: --sink S --alert ID, --sink S --all, or --all")
			case alert != "" && all:
				return errors.New("--alert and --all together: pick one")
			}
			db, err := pf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			n, err := db.ReplayDeadLetters(cmd.Context(), sink, alert)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d dead letters queued again\n", n)
			return nil
		},
	}
	replay.Flags().StringVar(&alert, "alert", "", "the alert id to replay")
	replay.Flags().BoolVar(&all, "all", false, "replay every dead letter (of --sink, if given)")
	cmd.AddCommand(list, replay)
	return cmd
}

// startFeed runs the alert dispatcher of `atalaya serve`: webhooks from the
// store, NATS subjects atalaya.sites.<agency> on the pipeline's connection,
// and the extra sinks (TAK outputs). The returned function stops it and
// waits.
func startFeed(ctx context.Context, db *store.DB, nc *nats.Conn, log *slog.Logger, extra ...feed.Sink) (func(), error) {
	ns, err := feed.NewNATSSink(ctx, nc, feed.NATSConfig{})
	if err != nil {
		return nil, err
	}
	d := feed.NewDispatcher(db, feed.Options{Sinks: append([]feed.Sink{ns}, extra...), MoreSinks: feed.WebhookSinks(db, nil, nil),
		Site: catalogOf(db).Lookup, Log: log})
	sub, err := d.ListenWake(nc) // processes that commit alerts call feed.Wake
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			log.Error("feed dispatcher", "err", err)
		}
	}()
	return func() { _ = sub.Unsubscribe(); cancel(); <-done }, nil
}
