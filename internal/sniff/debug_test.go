package sniff

import (
	"math"
	"testing"
)

func TestDebugModel(t *testing.T) {
	tr, _ := simulate(t, evalCase{WindMS: 3, Class: "D", Seed: 2, RateKgH: 5, Calm: true})
	s, _ := FromTrace(tr, "pid")
	p, _ := Process(s, ProcessOptions{})
	g := acetone(t)
	u, from, _, _ := meanWind(s, Options{DirSigmaDeg: 2})
	hd := (from + 180) * math.Pi / 180
	dE, dN := math.Sin(hd), math.Cos(hd)
	k := 1e6 * gasConstant * s.Met.AirTempK / (g.MolarMass * 1e-3 * s.Met.PressurePa) * s.Instrument.Response["acetone"]
	t.Logf("u %.3f from %.2f k %.4g resp %.3f", u, from, k, s.Instrument.Response["acetone"])
	for _, c := range p.Crossings {
		// model at the peak sample and truth
		var best, truthPeak, modelPeak float64
		for i, q := range s.Samples {
			if q.T < c.Start || q.T > c.End {
				continue
			}
			x := q.East*dE + q.North*dN
			y := -q.East*dN + q.North*dE
			for _, cl := range []string{"D", "E"} {
				sy, sz, _ := briggs(cl, x)
				a := 5.0 / 3600 * k / u * math.Exp(-y*y/(2*sy*sy)) / math.Sqrt(2*math.Pi*sy*sy) * reflected(q.AltAGL, 2, sz)
				if cl == "D" {
					modelPeak = math.Max(modelPeak, a)
				} else {
					best = math.Max(best, a)
				}
			}
			truthPeak = math.Max(truthPeak, tr.Samples[i].Truth[0]*s.Instrument.Response["acetone"])
		}
		x := c.PeakEast*dE + c.PeakNorth*dN
		t.Logf("x %.0f: peak %.3f int %.2f ppm·m truth %.3f modelD %.3f modelE %.3f", x, c.PeakPPM, c.IntegralPPMm, truthPeak, modelPeak, best)
	}
}

func TestDebugClass(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		for _, cl := range []string{"D", "E"} {
			for _, h := range [][]float64{{2}, {1, 3}} {
				_, post, _ := run(t, evalCase{WindMS: 3, Class: "D", Seed: seed, RateKgH: 5, Calm: true}, Options{Stability: map[string]float64{cl: 1}, HeightsM: h})
				t.Logf("seed %d class %s h %v: lnBF %.1f Q %.2f err %.1f", seed, cl, h, post.LogBayesFactor, post.RateKgH, math.Hypot(post.Mean.East, post.Mean.North))
			}
		}
	}
}

func TestDebugBaseline(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		tr, _ := simulate(t, evalCase{WindMS: 3, Class: "D", Seed: seed, RateKgH: 5, Calm: true})
		s, _ := FromTrace(tr, "pid")
		p, _ := Process(s, ProcessOptions{})
		var sum, n float64
		for i, v := range p.Conc {
			if tr.Samples[i].Truth[0] < 1e-4 && i > 50 && tr.Samples[i-50].Truth[0] < 1e-4 {
				sum += v
				n++
			}
		}
		t.Logf("seed %d: mean off-plume %.4f ppm (n %.0f), sigma %.4f, base %.3f..%.3f", seed, sum/n, n, p.SigmaPPM, p.Baseline[0], p.Baseline[len(p.Baseline)-1])
	}
}
