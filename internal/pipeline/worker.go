package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/spectra"
	"github.com/atalaya-project/atalaya/internal/store"
)

// GranuleStore is what the pipeline needs of the store.
type GranuleStore interface {
	store.GranuleReader
	store.GranuleWriter
}

// DeadPrefix starts the error of a granule that will not be retried: the
// reconciler leaves failed granules with it
// alone.
const DeadPrefix = "dead: "

// DetectConfig is what a worker runs on each cube (see granule.Config).
type DetectConfig struct {
	Methods   []string // default mf
	Gases     []string // library names
	FARPerKm2 float64  // default 0.1
	Library   *spectra.Library
}

// Hooks let tests stop a worker at the worst moments. Each runs with the
// job's context; an error makes the worker abandon the job as if its
// process had died there: no further store write, no ack and no nak (the
// server redelivers the job after AckWait).
type Hooks struct {
	// BeforeCommit runs after detection, before the results are committed.
	BeforeCommit func(ctx context.Context, worker string, g store.Granule) error
	// BeforeAck runs after the commit, before the job is acknowledged.
	BeforeAck func(ctx context.Context, worker string, g store.Granule) error
}

// CommitFunc commits a processed granule: its detections and the done
// mark, and whatever follows from them (the evidence grid, sites and
// alerts: internal/fusion), in one transaction. It is called once per
// attempt; a granule already done must change nothing.
type CommitFunc func(ctx context.Context, g store.Granule, res *granule.Result, ds []store.Detection) error

// WorkerConfig configures a worker.
type WorkerConfig struct {
	Name    string // in logs
	Queue   *Queue
	Store   GranuleStore
	Detect  DetectConfig
	WorkDir string // where granules are materialised (default os.TempDir())
	// Grace is how long an in-flight job may run on after shutdown begins
	// before it is cancelled and nak'd for redelivery (default 0: at once).
	Grace time.Duration
	Log   *slog.Logger
	Hooks Hooks
	// Commit commits a processed granule (default: the store's
	// CompleteGranule, detections only).
	Commit CommitFunc
}

// Worker takes jobs from the queue one at a time and processes them.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger
	// Done counts jobs this worker committed (including ones found done).
	done atomic.Int64
}

// NewWorker returns a worker; Run starts it.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	if len(cfg.Detect.Methods) == 0 {
		cfg.Detect.Methods = []string{granule.MethodMF}
	}
	if cfg.Detect.FARPerKm2 == 0 {
		cfg.Detect.FARPerKm2 = 0.1
	}
	return &Worker{cfg: cfg, log: cfg.Log.With("worker", cfg.Name)}
}

// Completed is how many jobs this worker has seen through to the ack.
func (w *Worker) Completed() int64 { return w.done.Load() }

// Run processes jobs until ctx ends, then lets an in-flight job finish
// within Grace or naks it. It returns nil on a clean stop.
func (w *Worker) Run(ctx context.Context) error {
	cons := w.cfg.Queue.cons
	if cons == nil {
		return errors.New("worker: the queue was opened publish-only")
	}
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		msg, err := cons.Next(jetstream.FetchContext(fctx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, nats.ErrConnectionClosed) {
				return fmt.Errorf("worker %s: %w", w.cfg.Name, err)
			}
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
				w.log.Warn("fetch job", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		w.handle(ctx, msg)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// errAbandon: a hook stopped the job as if the process died.
var errAbandon = errors.New("abandoned")

func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	q := w.cfg.Queue
	var j Job
	if err := json.Unmarshal(msg.Data(), &j); err != nil || j.GranuleID == "" {
		w.log.Error("malformed job: dropped", "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason("malformed job")
		return
	}
	log := w.log.With("granule", j.GranuleID)
	var delivered uint64 = 1
	if md, err := msg.Metadata(); err == nil {
		delivered = md.NumDelivered
	}
	// The store decides, not the message.
	g, err := w.cfg.Store.Granule(ctx, j.GranuleID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.Error("job for a granule the store does not have: dropped")
		_ = msg.TermWithReason("granule not in the store")
		return
	case err != nil:
		log.Warn("read granule: retry later", "err", err)
		_ = msg.NakWithDelay(backoff(delivered, q.cfg.AckWait))
		return
	case g.Status == store.GranuleDone:
		log.Debug("granule already done: ack")
		w.ack(ctx, msg, log)
		return
	case g.Status == store.GranuleFailed && strings.HasPrefix(g.Error, DeadPrefix):
		log.Info("granule is dead-lettered: dropped", "error", g.Error)
		_ = msg.TermWithReason("dead-lettered")
		return
	case g.Attempts >= q.cfg.MaxAttempts:
		// Every attempt started and none finished (workers died, or it
		// kept failing): the dead-letter path.
		w.deadLetter(ctx, msg, log, g, fmt.Errorf("%d attempts started, none finished; last error: %q", g.Attempts, g.Error))
		return
	}
	g, err = w.cfg.Store.StartGranule(ctx, j.GranuleID)
	if errors.Is(err, store.ErrConflict) { // done meanwhile
		w.ack(ctx, msg, log)
		return
	}
	if err != nil {
		log.Warn("start granule: retry later", "err", err)
		_ = msg.NakWithDelay(backoff(delivered, q.cfg.AckWait))
		return
	}
	log = log.With("attempt", g.Attempts, "delivery", delivered)
	log.Debug("processing")

	// The job's context outlives ctx by Grace, so a job near its end can
	// finish during shutdown.
	jobCtx, cancelJob := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJob()
	stopGrace := context.AfterFunc(ctx, func() {
		if w.cfg.Grace <= 0 {
			cancelJob()
			return
		}
		t := time.AfterFunc(w.cfg.Grace, cancelJob)
		context.AfterFunc(jobCtx, func() { t.Stop() })
	})
	defer stopGrace()

	// Heartbeats keep the job ours while it runs longer than AckWait.
	hbDone := make(chan struct{})
	go func() {
		t := time.NewTicker(q.cfg.AckWait / 4)
		defer t.Stop()
		for {
			select {
			case <-hbDone:
				return
			case <-jobCtx.Done():
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					log.Debug("heartbeat", "err", err)
				}
			}
		}
	}()
	err = w.run(jobCtx, g)
	close(hbDone)
	switch {
	case errors.Is(err, errAbandon):
		log.Info("job abandoned (test hook)")
		return
	case err == nil:
		w.done.Add(1)
		w.ack(ctx, msg, log)
		log.Info("granule done")
		return
	case jobCtx.Err() != nil:
		// Shutdown: nothing failed; let another worker have it now.
		log.Info("shutting down: job returned to the queue")
		_ = msg.Nak()
		return
	}
	// A failure: record it, then retry later or give up.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	permanent := errors.Is(err, ErrArchive) || errors.Is(err, cube.ErrFormat) || errors.Is(err, cube.ErrUnsupported) || errors.Is(err, errKind) || errors.Is(err, errTrace)
	if permanent || g.Attempts >= q.cfg.MaxAttempts {
		w.deadLetter(ctx, msg, log, g, fmt.Errorf("attempt %d of %d: %w", g.Attempts, q.cfg.MaxAttempts, err))
		return
	}
	log.Warn("granule failed: will retry", "err", err)
	if ferr := w.cfg.Store.FailGranule(wctx, g.ID, err.Error()); ferr != nil && !errors.Is(ferr, store.ErrConflict) {
		log.Error("record failure", "err", ferr)
	}
	_ = msg.NakWithDelay(backoff(delivered, q.cfg.AckWait))
}

// deadLetter marks the granule failed for good and drops its job.
func (w *Worker) deadLetter(ctx context.Context, msg jetstream.Msg, log *slog.Logger, g store.Granule, err error) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	log.Error("granule failed: dead-lettered", "err", err)
	if ferr := w.cfg.Store.FailGranule(wctx, g.ID, DeadPrefix+err.Error()); ferr != nil && !errors.Is(ferr, store.ErrConflict) {
		log.Error("record failure", "err", ferr)
		_ = msg.NakWithDelay(w.cfg.Queue.cfg.AckWait)
		return
	}
	_ = msg.TermWithReason("dead-lettered")
}

// ack acknowledges and waits for the server to confirm; if the ack is
// lost the job comes back, finds the granule done, and is acked then.
func (w *Worker) ack(ctx context.Context, msg jetstream.Msg, log *slog.Logger) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		log.Warn("ack lost: the job will come back and be acked then", "err", err)
	}
}

// backoff before delivery n+1: 1 s, 2 s, 4 s, … at most max.
func backoff(n uint64, max time.Duration) time.Duration {
	d := time.Second << min(n-1, 16)
	return min(d, max)
}

var errKind = errors.New("granule kind not processed by the pipeline yet")

// run materialises the granule, detects, and commits the detections.
func (w *Worker) run(ctx context.Context, g store.Granule) error {
	switch g.Kind {
	case store.KindCube:
	case store.KindTrace:
		return w.runTrace(ctx, g)
	case store.KindFlightLog:
		// Its track is its footprint (recorded at ingest): nothing to
		// detect yet (its point-sensor readings are read by
		// sniff.FromFlightLog; fusing them here is to come).
		return w.commit(ctx, g, nil, nil)
	default:
		return fmt.Errorf("%w: %s", errKind, g.Kind)
	}
	dir, err := os.MkdirTemp(w.cfg.WorkDir, "atalaya-granule-")
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	defer os.RemoveAll(dir)
	rc, err := OpenURI(ctx, g.URI, w.cfg.Queue.js)
	if err != nil {
		return fmt.Errorf("granule %s bytes: %w", g.ID, err)
	}
	hdr, err := extractCubeArchive(ctxReader{ctx, rc}, dir, g.SHA256)
	_ = rc.Close()
	if err != nil {
		return fmt.Errorf("granule %s bytes at %s: %w", g.ID, g.URI, err)
	}
	d := w.cfg.Detect
	res, err := granule.Process(ctx, granule.Config{
		Cube: hdr, OutDir: filepath.Join(dir, "out"),
		Methods: append([]string(nil), d.Methods...), Gases: append([]string(nil), d.Gases...),
		FARPerKm2: d.FARPerKm2, Library: d.Library, Log: w.log,
	})
	if err != nil {
		return fmt.Errorf("detect in granule %s: %w", g.ID, err)
	}
	ds, err := Detections(res)
	if err != nil {
		return fmt.Errorf("granule %s: %w", g.ID, err)
	}
	return w.commit(ctx, g, res, ds)
}

// commit commits the results (the hooks around it stop the job as a dying
// process would).
func (w *Worker) commit(ctx context.Context, g store.Granule, res *granule.Result, ds []store.Detection) error {
	if h := w.cfg.Hooks.BeforeCommit; h != nil {
		if err := h(ctx, w.cfg.Name, g); err != nil {
			return errAbandon
		}
	}
	// The commit uses a context of its own: work done is not thrown away
	// because shutdown began during the last few milliseconds.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var err error
	if w.cfg.Commit != nil {
		err = w.cfg.Commit(cctx, g, res, ds)
	} else {
		_, err = w.cfg.Store.CompleteGranule(cctx, g.ID, ds)
	}
	if err != nil {
		return fmt.Errorf("commit granule %s: %w", g.ID, err)
	}
	if h := w.cfg.Hooks.BeforeAck; h != nil {
		if err := h(ctx, w.cfg.Name, g); err != nil {
			return errAbandon
		}
	}
	return nil
}

// runTrace estimates the sources of a point-sensor trace granule and
// commits them (with no granule run: res is nil).
func (w *Worker) runTrace(ctx context.Context, g store.Granule) error {
	rc, err := OpenURI(ctx, g.URI, w.cfg.Queue.js)
	if err != nil {
		return fmt.Errorf("granule %s bytes: %w", g.ID, err)
	}
	defer rc.Close()
	lib := w.cfg.Detect.Library
	if lib == nil {
		if lib, err = spectra.Default(); err != nil {
			return err
		}
	}
	ds, err := sniffGranule(ctx, ctxReader{ctx, rc}, w.cfg.Detect.Gases, lib)
	if err != nil {
		return fmt.Errorf("granule %s: %w", g.ID, err)
	}
	return w.commit(ctx, g, nil, ds)
}
