package coverage

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// benchGranules returns n footprints of 4 km × 2.5 km (10 km²) at random
// headings, centred on a jittered grid over a side×side km square in UTM
// zone 13N (north-west Mexico): overlapping, and together covering most of the
// square.
func benchGranules(n int, sideKm float64) []orb.Polygon {
	rng := rand.New(rand.NewPCG(7, 11))
	const e0, n0 = 200000.0, 2700000.0
	rows := int(math.Round(math.Sqrt(float64(n))))
	cols := (n + rows - 1) / rows
	out := make([]orb.Polygon, 0, n)
	for k := range n {
		r, c := k/cols, k%cols
		ce := e0 + (float64(c)+0.5+0.3*(rng.Float64()-0.5))*sideKm*1000/float64(cols)
		cn := n0 + (float64(r)+0.5+0.3*(rng.Float64()-0.5))*sideKm*1000/float64(rows)
		h := rng.Float64() * math.Pi
		ue, un := math.Sin(h), math.Cos(h)
		var ring orb.Ring
		for _, q := range [][2]float64{{-2000, -1250}, {2000, -1250}, {2000, 1250}, {-2000, 1250}, {-2000, -1250}} {
			e, nn := ce+q[0]*ue+q[1]*un, cn+q[0]*un-q[1]*ue
			lat, lon := cube.UTMToLatLon(13, true, e, nn)
			ring = append(ring, orb.Point{lon, lat})
		}
		out = append(out, orb.Polygon{ring})
	}
	return out
}

// BenchmarkCoverage10000km2 updates an index of level-20 cells from 1,000
// granules of 10 km² over a 100 km × 100 km square (10⁴ km², ~1.3·10⁸ cells),
// then summarises and ranks the whole square.
func BenchmarkCoverage10000km2(b *testing.B) {
	if testing.Short() {
		b.Skip("10⁴ km²: not in -short")
	}
	gr := benchGranules(1000, 100)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		ix, _ := New(Options{})
		start := time.Now()
		cells := 0
		for k, p := range gr {
			n, err := ix.AddPolygon(Pass{Granule: "g", Sensor: "lwir", Threshold: 5, Time: t0.Add(time.Duration(k) * time.Hour)}, p, 0.5)
			if err != nil {
				b.Fatal(err)
			}
			cells += n
		}
		upd := time.Since(start)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var bd orb.Bound
		for k, p := range gr {
			if k == 0 {
				bd = p.Bound()
			}
			bd = bd.Union(p.Bound())
		}
		start = time.Now()
		st, err := ix.Summary(Rect(bd))
		if err != nil {
			b.Fatal(err)
		}
		sum := time.Since(start)
		start = time.Now()
		bl, err := ix.Priorities(Rect(bd), PriorityOptions{SourceKgH: 2, Now: t0.Add(1000 * time.Hour), BlockLevel: 13})
		if err != nil {
			b.Fatal(err)
		}
		pri := time.Since(start)
		start = time.Now()
		fc, err := ix.GeoJSON(bd, 13)
		if err != nil {
			b.Fatal(err)
		}
		exp := time.Since(start)
		b.ReportMetric(upd.Seconds(), "update-s")
		b.ReportMetric(float64(cells)/upd.Seconds()/1e6, "Mcell-updates/s")
		b.ReportMetric(float64(ix.MemoryBytes())/(1<<20), "cells-MiB")
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(sum.Seconds(), "summary-s")
		b.ReportMetric(pri.Seconds(), "priority-s")
		b.ReportMetric(exp.Seconds(), "geojson-s")
		b.Logf("%d cell updates; %d tiles; area %.0f km², surveyed %.0f km² (%d cells), mean %.2f passes, median acc MDL %.3g kg/h; %d blocks ranked; %d export features",
			cells, ix.Tiles(), st.AreaKm2, st.SurveyedKm2, st.SurveyedCells, st.MeanPasses, st.MedianAccMDL, len(bl), len(fc.Features))
	}
}

// BenchmarkAddRaster adds one 10 km² raster footprint (2500 × 2000 pixels of
// 2 m, 5·10⁶ pixels) with per-pixel noise.
func BenchmarkAddRaster(b *testing.B) {
	const w, h = 2500, 2000
	hdr := &cube.Header{Samples: w, Lines: h, MapInfo: &cube.MapInfo{Projection: "UTM", RefX: 1, RefY: 1,
		Easting: 250000, Northing: 2750000, PixelX: 2, PixelY: 2, Zone: 13, North: true, Datum: "WGS-84", Units: "Meters"}}
	g, err := hdr.Georef()
	if err != nil {
		b.Fatal(err)
	}
	sig := make([]float32, w*h)
	for i := range sig {
		sig[i] = 10 + float32(i%w)/w
	}
	r, err := NewRaster(g, w, h, sig, Plume{WindMS: 3, MolarMass: 17.031})
	if err != nil {
		b.Fatal(err)
	}
	ix, _ := New(Options{})
	b.ReportAllocs()
	cells := 0
	for b.Loop() {
		n, err := ix.AddRaster(Pass{Granule: "r", Threshold: 5}, r)
		if err != nil {
			b.Fatal(err)
		}
		cells = n
	}
	b.ReportMetric(float64(cells), "cells")
}
