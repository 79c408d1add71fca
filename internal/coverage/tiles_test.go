package coverage

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// memTiles is a tile store in memory that copies, as a database would.
type memTiles map[string][]byte

func (m memTiles) load(key string) ([]byte, bool, error) {
	b, ok := m[key]
	return append([]byte(nil), b...), ok, nil
}

func (m memTiles) save(t *testing.T, ix *Index) int {
	t.Helper()
	keys := ix.Dirty()
	for _, k := range keys {
		b, err := ix.EncodeTile(k)
		if err != nil {
			t.Fatal(err)
		}
		m[k] = b
	}
	return len(keys)
}

// Passes added by different indexes through a tile store accumulate as if
// one index had taken them all: same counts, MDLs and latest pass, cell
// for cell.
func TestTilesThroughAStoreMatchOneIndex(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	rect := func(lon, lat, w, h float64) orb.Polygon {
		return Rect(orb.Bound{Min: orb.Point{lon, lat}, Max: orb.Point{lon + w, lat + h}})
	}
	areas := []orb.Polygon{
		rect(-74.100, 4.600, 0.020, 0.015), // straddles tiles
		rect(-74.090, 4.605, 0.020, 0.015), // overlaps the first
		rect(-74.095, 4.598, 0.010, 0.010),
	}
	passes := []Pass{
		{Granule: "g1", Sensor: "lwir", Time: t0, Threshold: 5},
		{Granule: "g2", Sensor: "lwir", Time: t0.Add(24 * time.Hour), Threshold: 5},
		{Granule: "g3", Sensor: "pid", Time: t0.Add(-time.Hour), Threshold: 4}, // older than g1
	}
	sigmas := []float64{0.8, 1.1, 0.5}
	one, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := memTiles{}
	for i := range passes {
		if _, err := one.AddPolygon(passes[i], areas[i], sigmas[i]); err != nil {
			t.Fatal(err)
		}
		// A fresh index per pass, as a worker per granule.
		ix, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		ix.SetTileLoader(st.load)
		if _, err := ix.AddPolygon(passes[i], areas[i], sigmas[i]); err != nil {
			t.Fatal(err)
		}
		if err := ix.Err(); err != nil {
			t.Fatal(err)
		}
		if n := st.save(t, ix); n == 0 {
			t.Fatalf("pass %d: no dirty tiles", i)
		}
	}
	back, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	back.SetTileLoader(st.load)
	rng := rand.New(rand.NewPCG(3, 4))
	surveyed := 0
	for range 5000 {
		lat, lon := 4.595+0.03*rng.Float64(), -74.105+0.04*rng.Float64()
		a, b := one.At(lat, lon), back.At(lat, lon)
		if a.Cell != b.Cell || a.Passes != b.Passes || a.Last.Granule != b.Last.Granule ||
			!close32(a.BestMDL, b.BestMDL) || !close32(a.AccMDL, b.AccMDL) {
			t.Fatalf("(%g, %g): one index %+v, through the store %+v", lat, lon, a, b)
		}
		if a.Passes > 0 {
			surveyed++
		}
	}
	if err := back.Err(); err != nil {
		t.Fatal(err)
	}
	if surveyed < 1000 {
		t.Fatalf("only %d of 5000 points surveyed: the areas missed the sample box", surveyed)
	}
	// A tile's own pass table: the overlap's latest pass is g2, not g3.
	if r := back.At(4.6105, -74.085); r.Passes != 2 || r.Last.Granule != "g2" {
		t.Fatalf("overlap cell: %+v, want 2 passes, latest g2", r)
	}
}

func close32(a, b float64) bool {
	if math.IsInf(a, 1) || math.IsInf(b, 1) {
		return a == b
	}
	return math.Abs(a-b) <= 1e-6*math.Abs(a)
}

// A damaged stored tile is an error naming the tile, never a panic or a
// silently empty cell.
func TestTileLoaderErrors(t *testing.T) {
	ix, _ := New(Options{})
	area := Rect(orb.Bound{Min: orb.Point{-74.1, 4.6}, Max: orb.Point{-74.099, 4.601}})
	if _, err := ix.AddPolygon(Pass{Granule: "g", Time: time.Unix(1e9, 0), Threshold: 5}, area, 1); err != nil {
		t.Fatal(err)
	}
	st := memTiles{}
	st.save(t, ix)
	for k, b := range st {
		for name, bad := range map[string][]byte{
			"empty":     nil,
			"magic":     append([]byte("XXXXXXXX"), b[8:]...),
			"truncated": b[:len(b)/2],
			"header":    append(append([]byte(nil), b[:12]...), []byte("{not json")...),
		} {
			other, _ := New(Options{})
			other.SetTileLoader(func(string) ([]byte, bool, error) { return bad, true, nil })
			other.At(4.6005, -74.0995)
			if err := other.Err(); !errors.Is(err, ErrFormat) {
				t.Errorf("%s tile %s: error %v, want ErrFormat", name, k, err)
			}
		}
	}
}

func FuzzDecodeTile(f *testing.F) {
	ix, _ := New(Options{})
	area := Rect(orb.Bound{Min: orb.Point{-74.1, 4.6}, Max: orb.Point{-74.0995, 4.6005}})
	_, _ = ix.AddPolygon(Pass{Granule: "g", Time: time.Unix(1e9, 0), Threshold: 5}, area, 1)
	for _, k := range ix.Dirty() {
		b, _ := ix.EncodeTile(k)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		other, _ := New(Options{})
		_, _ = other.decodeTile(data) // must not panic
	})
}
