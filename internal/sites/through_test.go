package sites

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// TestThroughPlumeGate: single passes over one 2 kg/h source whose plume
// puffs and meanders (the simulator's instantaneous column with its
// default turbulence for class B), the wind given 10° off as a weather
// source would. The gate leaves out more than half of the cells well down
// the plume (0.61 when written: all of them where the plume is strong and
// the given wind near the true one, half when it is 20° off) and never
// the source's own cell; on noise alone it leaves out a few cells in a
// thousand (6·10⁻⁴).
func TestThroughPlumeGate(t *testing.T) {
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const w, h = 400, 200
	const e0, n0 = 512000.0, 250000.0
	const se, sn = 60.5, -100.5 // the source, m from the pass's corner
	geo := georef(t, e0, n0, 1, w, h)
	rng := rand.New(rand.NewPCG(21, 22))
	src := []sim.Source{{Name: "lab", East: se, North: sn, Rates: map[string]float64{"dichloromethane": 2}}}
	var inPlume, gatedInPlume int
	for pi := range 6 {
		from := 260 + 20*rng.Float64()
		wx := sim.Weather{WindSpeed: 1.5 + 2*rng.Float64(), WindFromDeg: from, Stability: "B", AirTempK: 300, PressurePa: 95000}
		turb, err := sim.DefaultTurbulence(wx.Stability)
		if err != nil {
			t.Fatal(err)
		}
		f, err := sim.NewField(wx, turb, src, lib, time.Time{}, uint64(100+pi))
		if err != nil {
			t.Fatal(err)
		}
		at := time.Time{}.Add(time.Duration(200+rng.IntN(100)) * time.Second)
		col := make([]float64, 1)
		p := noisePass(rng, fmt.Sprint("p", pi), pi, w, h, geo, func(x, y int) float64 {
			if err := f.ColumnPPMm(at, float64(x)+0.5, -(float64(y) + 0.5), 1, col); err != nil {
				t.Fatal(err)
			}
			return col[0]
		})
		p.Wind = &Wind{FromDeg: from + 10*rng.NormFloat64(), SpeedMS: wx.WindSpeed, Stability: wx.Stability, AirTempK: 300, PressurePa: 95000}
		on := newGrid(t, GridConfig{Source: &SourceConfig{Library: lib}})
		off := newGrid(t, GridConfig{Source: &SourceConfig{Library: lib, ThroughZ: math.Inf(1)}})
		rep, err := on.AddPass(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := off.AddPass(ctx, p); err != nil {
			t.Fatal(err)
		}
		i0, j0 := on.CellAt(e0+se, n0+sn)
		if _, ok, _ := on.Evidence(ctx, "dichloromethane", i0, j0); !ok {
			t.Errorf("pass %d: the source's own cell is gated", pi)
		}
		// Cells 70-250 m down the plume (where the upwind band lies
		// wholly on the plume) and its mean column at least 2 ppm·m
		// (0.25-0.5σ of a pixel): gated, and the highest z of those
		// measured, with the gate and without.
		sd, cd := math.Sincos(from * math.Pi / 180)
		var n, gated int
		maxOff, maxOn := math.Inf(-1), math.Inf(-1)
		for j := j0 - 100; j <= j0+100; j++ {
			for i := i0 - 50; i <= i0+250; i++ {
				ce, cn := on.CellCentre(i, j)
				de, dn := ce-(e0+se), cn-(n0+sn)
				if x := -(de*sd + dn*cd); x < 70 || x > 250 {
					continue
				}
				f.MeanColumnPPMm(ce-e0, cn-n0, 1, col)
				if col[0] < 2 {
					continue
				}
				n++
				if ev, ok, _ := off.Evidence(ctx, "dichloromethane", i, j); ok {
					maxOff = math.Max(maxOff, ev.Z)
				}
				if ev, ok, _ := on.Evidence(ctx, "dichloromethane", i, j); ok {
					maxOn = math.Max(maxOn, ev.Z)
				} else {
					gated++
				}
			}
		}
		inPlume += n
		gatedInPlume += gated
		t.Logf("pass %d: wind from %.0f° at %.1f m/s (given %.0f°): %d of %d cells gated; down the plume %d of %d, highest z there %.1f → %.1f",
			pi, from, wx.WindSpeed, p.Wind.FromDeg, rep.Gated, rep.Cells+rep.Gated, gated, n, maxOff, maxOn)
	}
	frac := float64(gatedInPlume) / float64(inPlume)
	t.Logf("down the plume: %d of %d cells gated (%.2f)", gatedInPlume, inPlume, frac)
	if frac < 0.5 {
		t.Errorf("the gate left out %.2f of the cells down the plume, want ≥ 0.5", frac)
	}

	// Noise alone: the gate leaves out few cells.
	g := newGrid(t, GridConfig{Source: &SourceConfig{Library: lib}})
	p := noisePass(rng, "noise", 0, w, h, geo, nil)
	p.Wind = &Wind{FromDeg: 250, SpeedMS: 3}
	rep, err := g.AddPass(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	nf := float64(rep.Gated) / float64(rep.Gated+rep.Cells)
	t.Logf("noise alone: %d of %d cells gated (%.4f)", rep.Gated, rep.Gated+rep.Cells, nf)
	if nf > 0.005 {
		t.Errorf("noise alone: %.4f of the cells gated, want a few in a thousand", nf)
	}
}

// BenchmarkSourceGridAddPass adds one 600 × 400 m pass at 1 m pixels to a
// 1 m source grid, with the through-plume gate and without: the gate's
// cost is its share of the pass's. GFLOP/s counts the filter's four
// multiply-adds per template pixel per cell (8 flops; float64).
func BenchmarkSourceGridAddPass(b *testing.B) {
	lib, err := spectra.Default()
	if err != nil {
		b.Fatal(err)
	}
	const w, h = 600, 400
	geo := georef(b, 512000, 250000, 1, w, h)
	rng := rand.New(rand.NewPCG(3, 4))
	p := noisePass(rng, "p", 0, w, h, geo, nil)
	p.Wind = &Wind{FromDeg: 250, SpeedMS: 3, Stability: "C"}
	e, err := lib.Get(p.Gas)
	if err != nil {
		b.Fatal(err)
	}
	g0 := newGrid(b, GridConfig{Source: &SourceConfig{Library: lib}})
	tp, err := g0.newSourceTemplate(p, g0.toGrid(p.Geo), e.MolarMass, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		z    float64
	}{{"gate", 0}, {"no-gate", math.Inf(1)}} {
		b.Run(bc.name, func(b *testing.B) {
			cells := 0
			for i := 0; b.Loop(); i++ {
				g := newGrid(b, GridConfig{Source: &SourceConfig{Library: lib, ThroughZ: bc.z}})
				p.ID = fmt.Sprint("p", i)
				rep, err := g.AddPass(context.Background(), p)
				if err != nil {
					b.Fatal(err)
				}
				cells += rep.Cells + rep.Gated
			}
			b.ReportMetric(float64(cells)/b.Elapsed().Seconds(), "cells/s")
			b.ReportMetric(float64(cells)*float64(len(tp.offs))*8/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
