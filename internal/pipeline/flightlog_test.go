package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/flightlog"
	"github.com/atalaya-project/atalaya/internal/store"
)

// A real PX4 flight log (shared/data, not written here) goes through the
// pipeline: its flown path is the granule's footprint, in the box of its
// positions, and the granule is done; a file that is not a flight log is
// refused at ingest and nothing is recorded.
func TestIngestRealFlightLog(t *testing.T) {
	const real = "../../../shared/data/flightlogs/sample_log_small.ulg"
	b, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	l, err := flightlog.Decode(b)
	if l == nil {
		t.Fatal(err)
	}
	tr, err := l.Track()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	data := t.TempDir()
	db := openStore(t, "sqlite:"+filepath.Join(data, "atalaya.db"))
	s, err := NewServer(Config{Store: db, DataDir: data, Listen: "127.0.0.1:-1", Blobs: "dir", Workers: 1, WorkDir: t.TempDir(),
		Queue: QueueConfig{AckWait: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	r, err := s.Ingester().IngestFlightLog(ctx, real)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, db, []string{r.Granule.ID}, 60*time.Second)
	g, err := db.Granule(ctx, r.Granule.ID)
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		Type        string       `json:"type"`
		Coordinates [][2]float64 `json:"coordinates"`
	}
	if err := json.Unmarshal([]byte(g.FootprintGeoJSON), &line); err != nil || line.Type != "LineString" || len(line.Coordinates) < 2 {
		t.Fatalf("footprint %q (%v): want a LineString of the track", g.FootprintGeoJSON, err)
	}
	first := tr.Samples[0]
	if g.Kind != store.KindFlightLog || !g.Footprint.Contains(first.Lat, first.Lon) || line.Coordinates[0] != [2]float64{first.Lon, first.Lat} {
		t.Errorf("granule %+v: its box or path does not start at the log's first position %.7f, %.7f", g, first.Lat, first.Lon)
	}
	t.Logf("%s: %d positions → %d path points in %+v", filepath.Base(real), len(tr.Samples), len(line.Coordinates), g.Footprint)
	for name, body := range map[string][]byte{"junk.ulg": []byte("not a flight log"), "notes.txt": b} {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Ingester().IngestFlightLog(ctx, p); err == nil {
			t.Errorf("%s: ingested", name)
		}
	}
	all, err := db.GranulesByStatus(ctx, store.GranuleDone, 0)
	if err != nil || len(all) != 1 {
		t.Errorf("%d granules done (%v), want the one real log", len(all), err)
	}
}
