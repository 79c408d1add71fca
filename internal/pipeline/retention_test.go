package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// Retention in a running server: granules over populated areas that no
// site needs lose their records and bytes after the period; a granule with
// a site, and one outside the populated areas, keep theirs. The same with
// the bytes in the JetStream object store.
func TestRetentionPurgesUnneededPopulatedGranules(t *testing.T) {
	for _, blobs := range []string{"dir", "nats"} {
		t.Run(blobs, func(t *testing.T) {
			ctx := t.Context()
			data := t.TempDir()
			db := openStore(t, "sqlite:"+filepath.Join(data, "atalaya.db"))
			src := t.TempDir()
			hdrs := writeCubes(t, src, 3, 48, 40, 16)
			// The cubes cover the same ground: the populated test answers
			// by call, so that the third granule is outside.
			calls := 0
			populated := func(store.BBox) bool { calls++; return calls != 3 } // the third is unpopulated
			clock := time.Now()
			s, err := NewServer(Config{Store: db, DataDir: data, Listen: "127.0.0.1:-1", Blobs: blobs, Populated: populated,
				Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Stop() })
			var gs []store.Granule
			for _, h := range hdrs {
				r, err := s.Ingester().Ingest(ctx, h)
				if err != nil {
					t.Fatal(err)
				}
				gs = append(gs, r.Granule)
			}
			if !gs[0].Populated || !gs[1].Populated || gs[2].Populated {
				t.Fatalf("populated flags %v %v %v, want true true false", gs[0].Populated, gs[1].Populated, gs[2].Populated)
			}
			// All done; the first has a site.
			for i, g := range gs {
				if _, err := db.StartGranule(ctx, g.ID); err != nil {
					t.Fatal(err)
				}
				ds := []store.Detection{{Gas: "ammonia", Method: "mf", Score: 9, PValue: 1e-9, Lat: 4.6, Lon: -74, UncertaintyM: 5}}
				stored, err := db.CompleteGranule(ctx, g.ID, ds)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					site, err := db.CreateSite(ctx, store.Site{Lat: 4.6, Lon: -74})
					if err != nil {
						t.Fatal(err)
					}
					if err := db.LinkDetections(ctx, site.ID, stored[0].ID); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Not old enough yet: nothing goes.
			rep, err := PurgeOnce(ctx, db, store.DefaultRetention, s.Queue().JetStream(), nil)
			if err != nil || rep.Purged != 0 {
				t.Fatalf("fresh granules purged: %+v, %v", rep, err)
			}
			old, err := store.Open(ctx, "sqlite:"+filepath.Join(data, "atalaya.db"), store.Options{Now: func() time.Time { return clock.Add(store.DefaultRetention + time.Hour) }})
			if err != nil {
				t.Fatal(err)
			}
			defer old.Close()
			// An audit that fails undoes the purge: nothing purged unrecorded.
			if _, err := PurgeOnce(ctx, old, store.DefaultRetention, s.Queue().JetStream(), func(store.Tx, []store.Purged) error {
				return errors.New("audit log unavailable")
			}); err == nil {
				t.Fatal("purge with a failing audit succeeded")
			}
			if _, err := db.Granule(ctx, gs[1].ID); err != nil {
				t.Fatalf("granule purged although its audit failed: %v", err)
			}
			var audited []store.Purged
			rep, err = PurgeOnce(ctx, old, store.DefaultRetention, s.Queue().JetStream(), func(tx store.Tx, ps []store.Purged) error {
				audited = ps
				_, err := tx.Granule(ctx, ps[0].ID) // inside the purge's transaction: already gone
				if !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("purged granule still readable in the transaction: %v", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Purged != 1 || rep.BlobsDeleted != 1 || len(rep.Errors) != 0 {
				t.Fatalf("retention: %+v, want the second granule only", rep)
			}
			if len(audited) != 1 || audited[0].ID != gs[1].ID {
				t.Errorf("audit hook saw %+v, want the second granule", audited)
			}
			for i, g := range gs {
				_, err := db.Granule(ctx, g.ID)
				gone := errors.Is(err, store.ErrNotFound)
				if gone != (i == 1) {
					t.Errorf("granule %d: record gone %v (%v)", i, gone, err)
				}
				exists, err := blobExists(ctx, s, g.URI)
				if err != nil {
					t.Fatal(err)
				}
				if exists == (i == 1) {
					t.Errorf("granule %d: bytes exist %v", i, exists)
				}
			}
		})
	}
}

func blobExists(ctx context.Context, s *Server, uri string) (bool, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return false, err
	}
	if u.Scheme == "file" {
		_, err := os.Stat(filepath.FromSlash(u.Path))
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	o, err := NewObjectStore(ctx, s.Queue().JetStream(), ObjectStoreConfig{Bucket: u.Host})
	if err != nil {
		return false, err
	}
	return o.Exists(ctx, u.Path[1:])
}

func TestPopulatedAreas(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "areas.geojson")
	town := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"town"},"geometry":
		{"type":"Polygon","coordinates":[[[-74.10,4.60],[-74.08,4.60],[-74.08,4.62],[-74.10,4.62],[-74.10,4.60]]]}}]}`
	if err := os.WriteFile(path, []byte(town), 0o644); err != nil {
		t.Fatal(err)
	}
	pop, err := PopulatedAreas(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		b    store.BBox
		want bool
	}{
		"inside":      {store.BBox{MinLat: 4.605, MinLon: -74.095, MaxLat: 4.606, MaxLon: -74.094}, true},
		"overlapping": {store.BBox{MinLat: 4.615, MinLon: -74.085, MaxLat: 4.63, MaxLon: -74.07}, true},
		"around":      {store.BBox{MinLat: 4.5, MinLon: -74.2, MaxLat: 4.7, MaxLon: -74.0}, true},
		"outside":     {store.BBox{MinLat: 4.70, MinLon: -74.10, MaxLat: 4.71, MaxLon: -74.09}, false},
	} {
		if got := pop(c.b); got != c.want {
			t.Errorf("%s: populated %v, want %v", name, got, c.want)
		}
	}
	for name, body := range map[string]string{
		"not json": "{",
		"a point":  `{"type":"Point","coordinates":[-74,4.6]}`,
		"empty":    `{"type":"FeatureCollection","features":[]}`,
	} {
		p := filepath.Join(dir, "bad.geojson")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := PopulatedAreas(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
