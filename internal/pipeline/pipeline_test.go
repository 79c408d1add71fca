package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/atalaya-project/atalaya/internal/store"
)

// startNATS starts an embedded server on a free port.
func startNATS(t testing.TB) *EmbeddedNATS {
	t.Helper()
	ns, err := StartNATS(NATSConfig{StoreDir: filepath.Join(t.TempDir(), "nats"), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// connQueue is a connection of its own (a worker "process") and the queue
// on it.
func connQueue(t testing.TB, url string, cfg QueueConfig) (*nats.Conn, *Queue) {
	t.Helper()
	nc, err := Connect(url, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	q, err := OpenQueue(context.Background(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return nc, q
}

// runWorker runs a worker until the returned cancel; done is closed when
// its Run returns.
func runWorker(t testing.TB, cfg WorkerConfig) (cancel func(), done chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan struct{})
	w := NewWorker(cfg)
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			t.Logf("worker %s: %v", cfg.Name, err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("worker did not stop")
		}
	})
	return cancel, done
}

// stopHere is a hook that, on its first call, reports the granule and then
// holds the job until the worker is killed.
func stopHere(at chan<- store.Granule) func(ctx context.Context, _ string, g store.Granule) error {
	var once sync.Once
	return func(ctx context.Context, _ string, g store.Granule) error {
		first := false
		once.Do(func() { first = true })
		if !first {
			return nil
		}
		at <- g
		<-ctx.Done()
		return ctx.Err()
	}
}

func recv(t *testing.T, ch <-chan store.Granule, what string) store.Granule {
	t.Helper()
	select {
	case g := <-ch:
		return g
	case <-time.After(60 * time.Second):
		t.Fatalf("%s never reached its hook", what)
	}
	return store.Granule{}
}

// Three workers take jobs; one is killed after detection and before its
// commit, another after its commit and before its ack. Every granule ends
// done, each granule's results are committed exactly once, and none of its
// detections is written twice.
func TestKilledWorkersExactlyOnce(t *testing.T) {
	const n = 8
	hdrs := writeCubes(t, t.TempDir(), n, 64, 64, 32)
	eachStore(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		ns := startNATS(t)
		qcfg := QueueConfig{AckWait: time.Second} // a killed worker's job comes back after 1 s
		_, q := connQueue(t, ns.ClientURL(), qcfg)
		blobs, err := NewDir(filepath.Join(t.TempDir(), "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		ing := &Ingester{Store: db, Blobs: blobs, Queue: q}
		var ids []string
		for _, h := range hdrs {
			r, err := ing.Ingest(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Created || !r.Queued || r.Granule.Status != store.GranuleRecorded {
				t.Fatalf("ingest %s: %+v", h, r)
			}
			ids = append(ids, r.Granule.ID)
		}
		// Ingesting the same bytes again changes nothing and queues nothing
		// new (same Nats-Msg-Id within the duplicate window).
		again, err := ing.Ingest(ctx, hdrs[0])
		if err != nil {
			t.Fatal(err)
		}
		if again.Created || again.Granule.ID != ids[0] {
			t.Fatalf("second ingest: created %v, id %s, want the first record %s", again.Created, again.Granule.ID, ids[0])
		}
		if w, _ := q.Waiting(ctx); w != n {
			t.Fatalf("%d jobs queued, want %d", w, n)
		}

		cs := newCountingStore(db)
		work := func(name string, hooks Hooks) (*nats.Conn, func(), chan struct{}) {
			nc, wq := connQueue(t, ns.ClientURL(), qcfg)
			cancel, done := runWorker(t, WorkerConfig{Name: name, Queue: wq, Store: cs, Detect: detectCfg(t), WorkDir: t.TempDir(), Hooks: hooks})
			return nc, cancel, done
		}
		atA, atB := make(chan store.Granule, 1), make(chan store.Granule, 1)
		ncA, cancelA, doneA := work("A", Hooks{BeforeCommit: stopHere(atA)})
		ncB, cancelB, doneB := work("B", Hooks{BeforeAck: stopHere(atB)})
		gA := recv(t, atA, "worker A")
		gB := recv(t, atB, "worker B")
		// Kill both: the connection goes first (no ack, no nak can leave),
		// then the process.
		for _, k := range []struct {
			nc     *nats.Conn
			cancel func()
			done   chan struct{}
		}{{ncA, cancelA, doneA}, {ncB, cancelB, doneB}} {
			k.nc.Close()
			k.cancel()
			<-k.done
		}
		if g, _ := db.Granule(ctx, gA.ID); g.Status != store.GranuleProcessing {
			t.Fatalf("A's granule is %s after A died before committing, want processing", g.Status)
		}
		if g, _ := db.Granule(ctx, gB.ID); g.Status != store.GranuleDone {
			t.Fatalf("B's granule is %s after B committed, want done", g.Status)
		}
		start := time.Now()
		work("C", Hooks{})
		waitDone(t, db, ids, 60*time.Second)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if w, err := q.Waiting(ctx); err == nil && w == 0 {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("%d jobs still in the stream", w)
			}
		}
		total := checkDetections(t, db, ids)
		commits := 0
		for _, id := range ids {
			starts, completes := cs.counts(id)
			commits += completes
			if completes != 1 {
				t.Errorf("granule %s committed %d times, want 1", id, completes)
			}
			g, err := db.Granule(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want := 1
			if id == gA.ID {
				want = 2 // A's attempt died; C's finished
			}
			if g.Attempts != want {
				t.Errorf("granule %s: %d attempts, want %d", id, g.Attempts, want)
			}
			if id != gA.ID && starts > 1 {
				t.Errorf("granule %s started %d times", id, starts)
			}
		}
		t.Logf("%d granules done, %d commits, %d detections, none twice; A's job (killed before commit) took %d attempts; B's (killed after commit, before ack) was acked by C without work; all finished %.1f s after C started",
			len(ids), commits, total, 2, time.Since(start).Seconds())
	})
}

// Jobs deleted behind the system's back (the stream purged) and a granule
// recorded while no queue was reachable are all finished: the reconciler
// republishes them from the store. The second server also restarts the
// embedded NATS server on the same data directory.
func TestReconcilerFinishesLostJobs(t *testing.T) {
	const n = 6
	hdrs := writeCubes(t, t.TempDir(), n+1, 64, 64, 32)
	eachStore(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		data := t.TempDir()
		cfg := Config{Store: db, DataDir: data, Listen: "127.0.0.1:-1", Blobs: "dir", Queue: QueueConfig{AckWait: 2 * time.Second}, Detect: detectCfg(t)}
		s1, err := NewServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s1.Start(ctx); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hdrs[:n] {
			r, err := s1.Ingester().Ingest(ctx, h)
			if err != nil || !r.Queued {
				t.Fatalf("ingest: %+v, %v", r, err)
			}
			ids = append(ids, r.Granule.ID)
		}
		// Recorded with the queue unreachable: never published.
		offline := &Ingester{Store: db, Blobs: s1.Blobs()}
		r, err := offline.Ingest(ctx, hdrs[n])
		if err != nil || r.Queued || r.QueueErr == nil {
			t.Fatalf("offline ingest: %+v, %v", r, err)
		}
		ids = append(ids, r.Granule.ID)

		q := s1.Queue()
		if err := q.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		if w, _ := q.Waiting(ctx); w != 0 {
			t.Fatalf("%d jobs after purge", w)
		}
		// One reconciler pass republishes all of them; a second finds every
		// job in the stream and publishes nothing.
		rec := NewReconciler(ReconcilerConfig{Queue: q, Store: db, After: time.Nanosecond})
		time.Sleep(2 * time.Millisecond) // past After, on the store's microsecond clock
		if got, err := rec.Once(ctx); err != nil || got != n+1 {
			t.Fatalf("reconciler republished %d jobs (%v), want %d", got, err, n+1)
		}
		if got, err := rec.Once(ctx); err != nil || got != 0 {
			t.Fatalf("second pass republished %d jobs (%v), want 0", got, err)
		}
		// Lose them all again, then stop.
		if err := q.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s1.Stop(); err != nil {
			t.Fatal(err)
		}

		// Restart with workers and the reconciler running on its own.
		cfg.Workers, cfg.Reconcile = 2, true
		cfg.ReconcileEvery, cfg.ReconcileAfter = 100*time.Millisecond, 200*time.Millisecond
		s2, err := NewServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := s2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		waitDone(t, db, ids, 60*time.Second)
		took := time.Since(start)
		total := checkDetections(t, db, ids)
		if err := s2.Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(data, urlFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("nats.url left behind after stop: %v", err)
		}
		t.Logf("%d granules whose jobs were purged (twice) or never published: all done %.1f s after restart, %d detections", len(ids), took.Seconds(), total)
	})
}

// A worker with its own working directory and no access to the server's
// disk finishes granules whose bytes are only in the JetStream object
// store (in parts: 64 KiB here, to exercise them).
func TestObjectStoreWorkerElsewhere(t *testing.T) {
	ctx := t.Context()
	serverDir, workerDir, srcDir := t.TempDir(), t.TempDir(), t.TempDir()
	db := openStore(t, "sqlite:"+filepath.Join(serverDir, "atalaya.db"))
	qcfg := QueueConfig{AckWait: 2 * time.Second}
	s, err := NewServer(Config{Store: db, DataDir: serverDir, Listen: "127.0.0.1:-1", Blobs: "nats",
		Bucket: ObjectStoreConfig{PartSize: 64 << 10}, Queue: qcfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	hdrs := writeCubes(t, srcDir, 2, 64, 64, 32)
	var ids []string
	for _, h := range hdrs {
		r, err := s.Ingester().Ingest(ctx, h)
		if err != nil || !r.Queued {
			t.Fatalf("ingest: %+v, %v", r, err)
		}
		if !strings.HasPrefix(r.Granule.URI, "nats-object://"+DefaultBucket+"/cube/") {
			t.Fatalf("granule uri %s: want the object store", r.Granule.URI)
		}
		ids = append(ids, r.Granule.ID)
	}
	// The originals are gone, and nothing went to the server's folder.
	if err := os.RemoveAll(srcDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(serverDir, "blobs")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("server blob folder exists: %v", err)
	}

	var mu sync.Mutex
	var seen []string
	_, wq := connQueue(t, s.NATSURL(), qcfg)
	runWorker(t, WorkerConfig{Name: "remote", Queue: wq, Store: db, Detect: detectCfg(t), WorkDir: workerDir,
		Hooks: Hooks{BeforeCommit: func(_ context.Context, _ string, g store.Granule) error {
			m, _ := filepath.Glob(filepath.Join(workerDir, "atalaya-granule-*", "granule.*"))
			mu.Lock()
			seen = append(seen, m...)
			mu.Unlock()
			return nil
		}}})
	waitDone(t, db, ids, 60*time.Second)
	checkDetections(t, db, ids)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2*len(ids) {
		t.Errorf("worker materialised %v, want a header and a data file per granule in its own directory", seen)
	}
	// The temp dir goes after the commit and the ack.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left, _ := filepath.Glob(filepath.Join(workerDir, "atalaya-granule-*"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker left %v behind", left)
		}
	}
}

// A granule whose bytes are gone fails on every attempt: it is retried
// with a delay, then dead-lettered in the store (failed, "dead: …", after
// MaxAttempts attempts), its job leaves the stream, and the reconciler
// leaves it alone.
func TestDeadLetter(t *testing.T) {
	ctx := t.Context()
	hdrs := writeCubes(t, t.TempDir(), 1, 32, 32, 16)
	db := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "atalaya.db"))
	ns := startNATS(t)
	qcfg := QueueConfig{AckWait: 2 * time.Second, MaxAttempts: 2}
	_, q := connQueue(t, ns.ClientURL(), qcfg)
	blobs, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := (&Ingester{Store: db, Blobs: blobs, Queue: q}).Ingest(ctx, hdrs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(strings.TrimPrefix(r.Granule.URI, "file://")); err != nil {
		t.Fatal(err)
	}
	runWorker(t, WorkerConfig{Name: "w", Queue: q, Store: db, Detect: detectCfg(t), WorkDir: t.TempDir()})
	var g store.Granule
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if g, err = db.Granule(ctx, r.Granule.ID); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(g.Error, DeadPrefix) || time.Now().After(deadline) {
			break
		}
	}
	if g.Status != store.GranuleFailed || !strings.HasPrefix(g.Error, DeadPrefix) || g.Attempts != 2 {
		t.Fatalf("granule %s, %d attempts, error %q: want failed, dead, after 2 attempts", g.Status, g.Attempts, g.Error)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if w, _ := q.Waiting(ctx); w == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d jobs still in the stream", w)
		}
	}
	rec := NewReconciler(ReconcilerConfig{Queue: q, Store: db, After: time.Nanosecond})
	if n, err := rec.Once(ctx); n != 0 || err != nil {
		t.Fatalf("reconciler republished %d (%v) dead granules", n, err)
	}
	t.Logf("dead-lettered after %d attempts: %s", g.Attempts, g.Error)
}
