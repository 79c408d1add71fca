package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/atalaya-project/atalaya/internal/store"
)

// ReconcilerConfig configures the reconciler.
type ReconcilerConfig struct {
	Queue *Queue
	Store GranuleStore
	// Every is the time between passes (default 30 s).
	Every time.Duration
	// After is how long a granule may stay unfinished and unchanged before
	// the reconciler looks at it (default 1 min): long enough for ingest to
	// publish what it has just recorded.
	After time.Duration
	// Limit is the most granules looked at per pass (default 1000).
	Limit int
	Now   func() time.Time // default time.Now
	Log   *slog.Logger
}

// Reconciler republishes the jobs of granules that the store says are
// unfinished and the queue no longer holds: a lost message delays work but
// never loses it.
type Reconciler struct {
	cfg ReconcilerConfig
}

// NewReconciler returns a reconciler; Run starts it.
func NewReconciler(cfg ReconcilerConfig) *Reconciler {
	if cfg.Every <= 0 {
		cfg.Every = 30 * time.Second
	}
	if cfg.After <= 0 {
		cfg.After = time.Minute
	}
	if cfg.Limit <= 0 {
		cfg.Limit = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Log = cfg.Log.With("component", "reconciler")
	return &Reconciler{cfg: cfg}
}

// Run makes a pass every Every until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Every)
	defer t.Stop()
	for {
		if n, err := r.Once(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.cfg.Log.Warn("pass", "err", err)
		} else if n > 0 {
			r.cfg.Log.Info("republished lost jobs", "jobs", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once makes one pass and returns how many jobs it republished. A granule
// is republished when it is not done, unchanged for After, not
// dead-lettered (failed with DeadPrefix), and no job for it is in the stream (waiting or in flight).
func (r *Reconciler) Once(ctx context.Context) (int, error) {
	q := r.cfg.Queue
	now := r.cfg.Now()
	gs, err := r.cfg.Store.OverdueGranules(ctx, now.Add(-r.cfg.After), r.cfg.Limit)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	n := 0
	for _, g := range gs {
		if g.Status == store.GranuleFailed && strings.HasPrefix(g.Error, DeadPrefix) {
			continue
		}
		pending, err := q.Pending(ctx, g.ID)
		if err != nil {
			return n, fmt.Errorf("reconcile: %w", err)
		}
		if pending {
			continue
		}
		// A fresh message id: the de-duplication window must not swallow
		// a job we know is missing. If the granule finishes meanwhile, the
		// extra job is acked without work.
		if _, err := q.Publish(ctx, jobOf(g), republishID(g.ID, now)); err != nil {
			return n, fmt.Errorf("reconcile: %w", err)
		}
		r.cfg.Log.Info("republished", "granule", g.ID, "status", g.Status, "attempts", g.Attempts, "since", now.Sub(g.Updated).Round(time.Millisecond))
		n++
	}
	return n, nil
}

func jobOf(g store.Granule) Job {
	return Job{GranuleID: g.ID, Kind: string(g.Kind), SHA256: g.SHA256, URI: g.URI}
}

// DeadLetters handles jobs the server gave up on: when a job has been
// delivered MaxDeliver times without an ack (its workers died or hung),
// the server publishes an advisory; this marks the granule failed (dead)
// in the store and deletes the job from the stream.
type DeadLetters struct {
	Queue *Queue
	Store GranuleStore
	Conn  *nats.Conn
	Log   *slog.Logger
}

// Run subscribes to the advisories until ctx ends.
func (d *DeadLetters) Run(ctx context.Context) error {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ch := make(chan *nats.Msg, 64)
	sub, err := d.Conn.ChanSubscribe(d.Queue.maxDeliveriesSubject(), ch)
	if err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			var adv struct {
				StreamSeq  uint64 `json:"stream_seq"`
				Deliveries int    `json:"deliveries"`
			}
			if err := json.Unmarshal(m.Data, &adv); err != nil {
				log.Warn("max-deliveries advisory", "err", err)
				continue
			}
			j, err := d.Queue.deleteSeq(ctx, adv.StreamSeq)
			if err != nil {
				log.Warn("dead letter", "seq", adv.StreamSeq, "err", err)
				continue
			}
			reason := fmt.Sprintf("%sjob delivered %d times without an ack (workers died or hung)", DeadPrefix, adv.Deliveries)
			if err := d.Store.FailGranule(ctx, j.GranuleID, reason); err != nil {
				log.Info("dead letter", "granule", j.GranuleID, "err", err) // ErrConflict: it is done after all
				continue
			}
			log.Error("granule dead-lettered", "granule", j.GranuleID, "deliveries", adv.Deliveries)
		}
	}
}
