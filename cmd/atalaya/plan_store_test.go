package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/atalaya-project/atalaya/internal/coverage"
	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/store"
)

// `plan --revisit store` ranks the blocks of an area from the coverage the
// pipeline keeps in the store: of an area whose west half was surveyed
// well and east half not at all, the revisit goes east first.
func TestPlanRevisitFromStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := "sqlite:" + filepath.Join(dir, "atalaya.db")
	db, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Coverage of the west half, as fusion stores it.
	ix, err := coverage.New(coverage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	west := coverage.Rect(orb.Bound{Min: orb.Point{-74.100, 4.600}, Max: orb.Point{-74.090, 4.610}})
	for k := range 4 {
		p := coverage.Pass{Granule: "g", Sensor: "lwir", Time: time.Now().Add(-time.Duration(k) * time.Hour), Threshold: 5}
		p.Granule += string(rune('a' + k))
		if _, err := ix.AddPolygon(p, west, 0.05); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range ix.Dirty() {
		b, err := ix.EncodeTile(key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.PutTile(ctx, store.Tile{Gas: fusion.CoverageTiles("acetone"), Key: key, Data: b}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	area := filepath.Join(dir, "area.geojson")
	if err := os.WriteFile(area, []byte(`{"type":"Polygon","coordinates":[[[-74.100,4.600],[-74.080,4.600],[-74.080,4.610],[-74.100,4.610],[-74.100,4.600]]]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "plan", area, "--revisit", "store", "--db", url, "--gas", "acetone", "--top", "50",
		"--altitude", "120", "--out", filepath.Join(dir, "next.plan"))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out)
	// Every block with part of it unsurveyed ranks before every block
	// surveyed all over: the store's coverage was read.
	var surveyed []float64
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "surveyed "); i >= 0 && strings.Contains(l, ". block ") {
			var pct float64
			if _, err := fmt.Sscanf(l[i:], "surveyed %f %%", &pct); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			surveyed = append(surveyed, pct)
		}
	}
	full := 0
	for k, pct := range surveyed {
		if pct >= 99.5 {
			full++
			continue
		}
		if full > 0 {
			t.Errorf("block %d (%.0f %% surveyed) ranks after a fully surveyed one", k+1, pct)
		}
	}
	if full == 0 || full == len(surveyed) {
		t.Errorf("%d of %d blocks fully surveyed: want some, not all (the west half)", full, len(surveyed))
	}
	if _, err := os.Stat(filepath.Join(dir, "next.plan")); err != nil {
		t.Error(err)
	}
}
