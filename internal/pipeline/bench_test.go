package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/store"
)

// benchGranules is how many 200×150×64 cubes one throughput run processes.
const benchGranules = 24

// BenchmarkThroughput measures granules per minute through the whole
// pipeline on one machine: SQLite store, embedded NATS (SyncAlways), blob
// folder, W worker goroutines running the serve defaults (matched filter,
// acetone and ammonia, 0.1 false alarms per km²). The clock runs from the
// workers' start, with every job already queued, to the last granule done
// in the store: fetch, unpack from the blob folder, detect, commit, ack.
// With fused=true each commit also fuses the granule (internal/fusion:
// evidence grid, coverage, sites, alerts), as serve does; all the cubes
// cover the same ground, so their fusions contend for the same tiles and
// sites (the worst case).
func BenchmarkThroughput(b *testing.B) {
	hdrs := writeCubes(b, b.TempDir(), benchGranules, 200, 150, 64)
	det := DetectConfig{Methods: []string{"mf"}, Gases: []string{"acetone", "ammonia"}, FARPerKm2: 0.1, Library: library(b)}
	for _, fused := range []bool{false, true} {
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("fused=%v/workers=%d", fused, workers), func(b *testing.B) {
				var total time.Duration
				for range b.N {
					b.StopTimer()
					ctx := context.Background()
					data := b.TempDir()
					db := openStore(b, "sqlite:"+filepath.Join(data, "atalaya.db"))
					cfg := Config{Store: db, DataDir: data, Listen: "127.0.0.1:-1", Blobs: "dir", Detect: det}
					if fused {
						f, err := fusion.New(db, fusion.Config{Gases: det.Gases, FARPerKm2: det.FARPerKm2, Library: det.Library})
						if err != nil {
							b.Fatal(err)
						}
						cfg.Commit = func(ctx context.Context, g store.Granule, res *granule.Result, ds []store.Detection) error {
							_, err := f.Commit(ctx, g, res, ds)
							return err
						}
					}
					s, err := NewServer(cfg)
					if err != nil {
						b.Fatal(err)
					}
					if err := s.Start(ctx); err != nil {
						b.Fatal(err)
					}
					var ids []string
					for _, h := range hdrs {
						r, err := s.Ingester().Ingest(ctx, h)
						if err != nil {
							b.Fatal(err)
						}
						ids = append(ids, r.Granule.ID)
					}
					if err := s.Stop(); err != nil {
						b.Fatal(err)
					}
					cfg.Workers = workers
					s, err = NewServer(cfg)
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					if err := s.Start(ctx); err != nil {
						b.Fatal(err)
					}
					for done := 0; done < len(ids); {
						time.Sleep(5 * time.Millisecond)
						gs, err := db.GranulesByStatus(ctx, store.GranuleDone, 0)
						if err != nil {
							b.Fatal(err)
						}
						done = len(gs)
					}
					total += time.Since(start)
					b.StopTimer()
					if err := s.Stop(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(benchGranules*b.N)/total.Minutes(), "granules/min")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkDetectOnly is the detection of one 200×150×64 cube alone (the
// work inside each job), for comparison.
func BenchmarkDetectOnly(b *testing.B) {
	hdrs := writeCubes(b, b.TempDir(), 1, 200, 150, 64)
	for b.Loop() {
		if _, err := granule.Process(context.Background(), granule.Config{Cube: hdrs[0], OutDir: b.TempDir(),
			Methods: []string{"mf"}, Gases: []string{"acetone", "ammonia"}, FARPerKm2: 0.1, Library: library(b)}); err != nil {
			b.Fatal(err)
		}
	}
}
