package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

var (
	libOnce sync.Once
	lib     *spectra.Library
	libErr  error
)

func library(t testing.TB) *spectra.Library {
	t.Helper()
	libOnce.Do(func() { lib, libErr = spectra.Default() })
	if libErr != nil {
		t.Fatal(libErr)
	}
	return lib
}

// detectCfg is what the test workers run: the matched filter for ammonia,
// at a false-alarm rate high enough that every small cube yields
// detections to count.
func detectCfg(t testing.TB) DetectConfig {
	return DetectConfig{Methods: []string{"mf"}, Gases: []string{"ammonia"}, FARPerKm2: 10, Library: library(t)}
}

// writeCubes simulates n small cubes (w×h pixels, bands bands, 1 m), each
// with an ammonia source, different seeds, and returns their headers.
func writeCubes(t testing.TB, dir string, n, w, h, bands int) []string {
	t.Helper()
	var hdrs []string
	for i := range n {
		sc := sim.DemoScene(uint64(100 + i))
		sc.Samples, sc.Lines, sc.Sensor.Bands = w, h, bands
		sc.Sensor.BadBands = nil
		sc.TempContrastK = 15 // midday: strong thermal contrast
		sc.Sources = []sim.Source{{Name: "lab", East: float64(w) / 3, North: -float64(h) / 2, Rates: map[string]float64{"ammonia": 20}}}
		o, err := sim.WriteScene(filepath.Join(dir, fmt.Sprintf("cube%02d", i)), sc, library(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, o.Radiance)
	}
	return hdrs
}

// eachStore runs f against a fresh SQLite store and a fresh PostgreSQL
// one. The PostgreSQL variant never skips: without a cluster it fails and
// says how to start one.
func eachStore(t *testing.T, f func(t *testing.T, st *store.DB)) {
	storetest.EachURL(t, func(t *testing.T, url string) { f(t, openStore(t, url)) })
}

func openStore(t testing.TB, url string) *store.DB {
	t.Helper()
	st, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// countingStore counts StartGranule and CompleteGranule calls per granule.
type countingStore struct {
	GranuleStore
	mu       sync.Mutex
	starts   map[string]int
	complete map[string]int
}

func newCountingStore(st GranuleStore) *countingStore {
	return &countingStore{GranuleStore: st, starts: map[string]int{}, complete: map[string]int{}}
}

func (c *countingStore) StartGranule(ctx context.Context, id string) (store.Granule, error) {
	g, err := c.GranuleStore.StartGranule(ctx, id)
	if err == nil {
		c.mu.Lock()
		c.starts[id]++
		c.mu.Unlock()
	}
	return g, err
}

func (c *countingStore) CompleteGranule(ctx context.Context, id string, ds []store.Detection) ([]store.Detection, error) {
	out, err := c.GranuleStore.CompleteGranule(ctx, id, ds)
	if err == nil {
		c.mu.Lock()
		c.complete[id]++
		c.mu.Unlock()
	}
	return out, err
}

func (c *countingStore) counts(id string) (starts, completes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts[id], c.complete[id]
}

// waitDone waits until every granule is done in the store.
func waitDone(t *testing.T, st store.GranuleReader, ids []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := 0
		for _, id := range ids {
			g, err := st.Granule(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if g.Status != store.GranuleDone {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, id := range ids {
				g, _ := st.Granule(context.Background(), id)
				t.Logf("granule %s: %s, %d attempts, error %q", id, g.Status, g.Attempts, g.Error)
			}
			t.Fatalf("%d of %d granules not done after %v", left, len(ids), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkDetections checks that each granule has detections and that none
// was written twice (each run's detection ids are unique within a run, so
// a second write of a granule's results would repeat them).
func checkDetections(t *testing.T, st store.DetectionReader, ids []string) int {
	t.Helper()
	total := 0
	for _, id := range ids {
		ds, err := st.DetectionsOfGranule(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			t.Errorf("granule %s: no detections", id)
		}
		seen := map[string]bool{}
		for _, d := range ds {
			var p struct {
				RunID string `json:"run_id"`
			}
			if err := json.Unmarshal([]byte(d.Properties), &p); err != nil || p.RunID == "" {
				t.Fatalf("granule %s: detection properties %q", id, d.Properties)
			}
			if seen[p.RunID] {
				t.Errorf("granule %s: detection %s written twice", id, p.RunID)
			}
			seen[p.RunID] = true
		}
		total += len(ds)
	}
	return total
}
