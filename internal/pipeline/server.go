package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/nats-io/nats.go"
)

// Config configures a pipeline Server.
type Config struct {
	// Store is the source of truth (required).
	Store GranuleStore
	// DataDir holds the embedded NATS server's streams (DATA/nats), the
	// blob folder (DATA/blobs) and nats.url.
	DataDir string
	// NATSURL is an external NATS server or cluster; empty starts one
	// embedded, listening on Listen.
	NATSURL string
	Listen  string // embedded server's client address (default 127.0.0.1:4222; port -1: any)
	// Blobs is where ingested bytes go: "dir" (DATA/blobs), "nats" (the
	// JetStream object store, for workers on other machines), or "" for a
	// process that ingests nothing (workers read the URI each granule
	// records, whatever this says).
	Blobs  string
	Bucket ObjectStoreConfig
	Queue  QueueConfig
	// Workers is the number of worker goroutines (0: none, e.g. an
	// ingest-only process).
	Workers int
	Detect  DetectConfig
	WorkDir string        // where workers materialise granules (default os.TempDir())
	Grace   time.Duration // in-flight jobs may finish for this long at shutdown
	// Reconcile runs the reconciler and the dead-letter handler (serve
	// does; `atalaya worker` does not).
	Reconcile      bool
	ReconcileEvery time.Duration
	ReconcileAfter time.Duration
	Log            *slog.Logger
	Now            func() time.Time
	Hooks          Hooks
	// Retention, when positive, purges the raw granules of populated areas
	// that no site needs once they are this old, every RetentionEvery
	// (default an hour); serve runs it with store.DefaultRetention.
	Retention      time.Duration
	RetentionEvery time.Duration
	// RetentionAudit records each purge in the audit log, in the purge's
	// transaction (serve: access.Record).
	RetentionAudit func(store.Tx, []store.Purged) error
	// Populated says which footprints meet populated areas, for ingest
	// (nil: all do; PopulatedAreas).
	Populated func(store.BBox) bool
	// Commit commits each processed granule (default: detections only;
	// `atalaya serve` and `atalaya worker` fuse them, internal/fusion).
	Commit CommitFunc
}

// Server runs the pipeline's long-running parts together: the embedded
// NATS server (unless an external one is given), the reconciler, the
// dead-letter handler and the workers. Start them, then Stop them; or Run.
// The HTTP API will be one more part started and stopped with them.
type Server struct {
	cfg     Config
	log     *slog.Logger
	nats    *EmbeddedNATS
	nc      *nats.Conn
	queue   *Queue
	blobs   Blobs
	workers []*Worker

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error         // the first part to fail
	failed chan struct{} // closed when a part fails
}

// NewServer checks the configuration.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("pipeline: no store")
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "atalaya-data"
	}
	switch cfg.Blobs {
	case "", "dir", "nats":
	default:
		return nil, fmt.Errorf("pipeline: blobs %q: want dir or nats", cfg.Blobs)
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("pipeline: workers %d: want ≥ 0", cfg.Workers)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Queue.defaults()
	return &Server{cfg: cfg, log: cfg.Log, failed: make(chan struct{})}, nil
}

// Start starts every part; on error, what was started is stopped.
func (s *Server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.shutdown()
		}
	}()
	url := s.cfg.NATSURL
	if url == "" {
		if err := os.MkdirAll(s.cfg.DataDir, 0o750); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		s.nats, err = StartNATS(NATSConfig{StoreDir: filepath.Join(s.cfg.DataDir, "nats"), Listen: s.cfg.Listen, Log: s.log})
		if err != nil {
			return err
		}
		url = s.nats.ClientURL()
		if err := WriteURLFile(s.cfg.DataDir, url); err != nil {
			return err
		}
		s.log.Info("embedded NATS started", "url", url, "store", filepath.Join(s.cfg.DataDir, "nats"))
	}
	if s.nc, err = Connect(url, "atalaya"); err != nil {
		return err
	}
	if s.queue, err = OpenQueue(ctx, s.nc, s.cfg.Queue); err != nil {
		return err
	}
	switch s.cfg.Blobs {
	case "nats":
		s.blobs, err = NewObjectStore(ctx, s.queue.js, s.cfg.Bucket)
	case "dir":
		s.blobs, err = NewDir(filepath.Join(s.cfg.DataDir, "blobs"))
	}
	if err != nil {
		return err
	}

	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if s.cfg.Reconcile {
		r := NewReconciler(ReconcilerConfig{Queue: s.queue, Store: s.cfg.Store, Every: s.cfg.ReconcileEvery,
			After: s.cfg.ReconcileAfter, Now: s.cfg.Now, Log: s.log})
		s.goRun("reconciler", rctx, r.Run)
		dl := &DeadLetters{Queue: s.queue, Store: s.cfg.Store, Conn: s.nc, Log: s.log.With("component", "dead-letters")}
		s.goRun("dead letters", rctx, dl.Run)
	}
	if s.cfg.Retention > 0 {
		if s.cfg.RetentionEvery <= 0 {
			s.cfg.RetentionEvery = time.Hour
		}
		s.goRun("retention", rctx, s.retention)
	}
	for i := range s.cfg.Workers {
		w := NewWorker(WorkerConfig{
			Name: fmt.Sprintf("w%d", i+1), Queue: s.queue, Store: s.cfg.Store, Detect: s.cfg.Detect,
			WorkDir: s.cfg.WorkDir, Grace: s.cfg.Grace, Log: s.log, Hooks: s.cfg.Hooks, Commit: s.cfg.Commit,
		})
		s.workers = append(s.workers, w)
		s.goRun("worker "+w.cfg.Name, rctx, w.Run)
	}
	return nil
}

// goRun runs a part; if it fails, every part is stopped (run.Group style).
func (s *Server) goRun(name string, ctx context.Context, run func(context.Context) error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := run(ctx); err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = fmt.Errorf("%s: %w", name, err)
				close(s.failed)
			}
			s.mu.Unlock()
			s.cancel()
		}
	}()
}

// Stop stops the parts: workers stop taking jobs, in-flight jobs finish
// within Grace or go back to the queue, then the connection and the
// embedded server close. It returns the first part's failure, if any.
func (s *Server) Stop() error {
	s.shutdown()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Server) shutdown() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	if s.nc != nil {
		_ = s.nc.FlushTimeout(2 * time.Second) // the last naks and acks
		s.nc.Close()
	}
	if s.nats != nil {
		_ = os.Remove(filepath.Join(s.cfg.DataDir, urlFile))
		s.nats.Shutdown()
		s.nats = nil
	}
}

// Run starts the parts, waits until ctx ends or a part fails, and stops
// them.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.failed:
	}
	return s.Stop()
}

// NATSURL is the URL of the NATS server in use (embedded or external).
func (s *Server) NATSURL() string {
	if s.nats != nil {
		return s.nats.ClientURL()
	}
	return s.cfg.NATSURL
}

// Conn is the server's NATS connection (for the event bus and the API).
func (s *Server) Conn() *nats.Conn { return s.nc }

// Queue is the job queue.
func (s *Server) Queue() *Queue { return s.queue }

// Blobs is where ingested bytes go (nil when Config.Blobs is "").
func (s *Server) Blobs() Blobs { return s.blobs }

// Workers are the worker goroutines' workers.
func (s *Server) Workers() []*Worker { return s.workers }

// Ingester ingests into this server's store, blobs and queue (the HTTP
// upload endpoint will use it).
func (s *Server) Ingester() *Ingester {
	return &Ingester{Store: s.cfg.Store, Blobs: s.blobs, Queue: s.queue, Populated: s.cfg.Populated}
}
