package sniff

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/atalaya-project/atalaya/internal/sim"
)

// lagSeries is a hand-made channel: a Gaussian puff of amp ppm and width
// sd s at t0 seen through a first-order lag τ, on a baseline that starts at
// 0.3 ppm and drifts 0.5 ppm over the record of 300 s, with white noise, at 10 Hz.
func lagSeries(amp, t0, sd, tau, noise float64, seed uint64) *Series {
	rng := rand.New(rand.NewPCG(seed, 1))
	const dt, n = 0.1, 3000
	s := &Series{Channel: "c", Instrument: Instrument{TimeConstantS: tau, NoisePPM: noise}}
	a := math.Exp(-dt / tau)
	var lag float64
	for k := range n {
		t := float64(k) * dt
		x := amp * math.Exp(-(t-t0)*(t-t0)/(2*sd*sd))
		if k == 0 {
			lag = x
		} else {
			lag += (1 - a) * (x - lag)
		}
		base := 0.3 + 0.5*t/(n*dt)
		s.Samples = append(s.Samples, Sample{T: t, East: 5 * t, AltAGL: 3, Lat: math.NaN(), Lon: math.NaN(),
			WindSpeedMS: 3, WindFromDeg: 0, PPM: lag + base + noise*rng.NormFloat64()})
	}
	return s
}

func TestProcessLagAndBaseline(t *testing.T) {
	const amp, t0, sd, tau = 10.0, 150.0, 1.5, 2.0
	s := lagSeries(amp, t0, sd, tau, 0.05, 1)
	p, err := Process(s, ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Crossings) != 1 {
		t.Fatalf("%d crossings, want 1: %+v", len(p.Crossings), p.Crossings)
	}
	c := p.Crossings[0]
	// The lag delays the raw peak by about τ·ln(...) ≈ 1.6 s; corrected, the
	// peak is back at t0 to within a sample or two.
	if math.Abs(c.PeakT-t0) > 0.25 {
		t.Errorf("peak at %.2f s, want %.2f", c.PeakT, t0)
	}
	// The smoother (σ_s = τ/2 = 1 s) widens the puff to √(1.5²+1²) s and
	// lowers its peak by 1.5/1.80; the integral is kept.
	want := amp * sd / math.Hypot(sd, p.SmoothS)
	if math.Abs(c.PeakPPM-want) > 0.03*want {
		t.Errorf("peak %.3f ppm, want %.3f", c.PeakPPM, want)
	}
	wantInt := amp * sd * math.Sqrt(2*math.Pi)
	if math.Abs(c.IntegralPPMs-wantInt) > 0.04*wantInt {
		t.Errorf("integral %.2f ppm·s, want %.2f", c.IntegralPPMs, wantInt)
	}
	if math.Abs(c.IntegralPPMm-5*wantInt) > 0.04*5*wantInt {
		t.Errorf("integral along track %.1f ppm·m, want %.1f", c.IntegralPPMm, 5*wantInt)
	}
	// Baseline: off the puff the corrected signal averages zero.
	var sum float64
	var n int
	for k, v := range p.Conc {
		if math.Abs(s.Samples[k].T-t0) > 20 {
			sum += v
			n++
		}
	}
	if m := sum / float64(n); math.Abs(m) > 0.01 {
		t.Errorf("mean off the puff %.4f ppm, want 0", m)
	}
	// Noise gain against the continuous-record formula of Process's doc.
	dt, ss := p.DT, p.SmoothS
	approx := math.Sqrt(dt / (2 * math.Sqrt(math.Pi) * ss) * (1 + tau*tau/(2*ss*ss)))
	if math.Abs(p.Gain-approx) > 0.1*approx {
		t.Errorf("noise gain %.3f, formula %.3f", p.Gain, approx)
	}
	// The reported noise matches the corrected signal's scatter off the
	// puff.
	var ss2 float64
	for k, v := range p.Conc {
		if math.Abs(s.Samples[k].T-t0) > 20 {
			ss2 += v * v
		}
	}
	if sd := math.Sqrt(ss2 / float64(n)); math.Abs(sd-p.SigmaPPM) > 0.2*p.SigmaPPM {
		t.Errorf("scatter %.4f ppm, reported %.4f", sd, p.SigmaPPM)
	}
}

func TestProcessNoiseEstimate(t *testing.T) {
	s := lagSeries(0, 60, 1, 0, 0.2, 2)
	s.Instrument = Instrument{}
	p, err := Process(s, ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.NoisePPM-0.2) > 0.02 {
		t.Errorf("estimated noise %.3f ppm, want 0.2", p.NoisePPM)
	}
	if len(p.Crossings) != 0 {
		t.Errorf("%d crossings in noise", len(p.Crossings))
	}
}

func TestProcessErrors(t *testing.T) {
	s := lagSeries(1, 10, 1, 1, 0.1, 3)
	for _, o := range []ProcessOptions{{SmoothS: -1}, {BaselineQuantile: 0.7}, {DetectK: math.NaN()}} {
		if _, err := Process(s, o); !errors.Is(err, ErrInput) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	short := &Series{Samples: s.Samples[:5]}
	if _, err := Process(short, ProcessOptions{}); !errors.Is(err, ErrInput) {
		t.Errorf("5 samples: %v", err)
	}
	back := &Series{Samples: slices.Clone(s.Samples)}
	back.Samples[20].T = 0
	if _, err := Process(back, ProcessOptions{}); !errors.Is(err, ErrInput) {
		t.Errorf("time going back: %v", err)
	}
}

func TestFromTraceCSV(t *testing.T) {
	tr, _ := simulate(t, evalCase{WindMS: 3, Class: "D", Seed: 1, RateKgH: 5, Lines: 2})
	var buf bytes.Buffer
	if err := sim.WriteTraceCSV(&buf, tr); err != nil {
		t.Fatal(err)
	}
	s, err := ReadTraceCSV(bytes.NewReader(buf.Bytes()), "pid")
	if err != nil {
		t.Fatal(err)
	}
	if s.Instrument.TimeConstantS != 2 || s.Instrument.NoisePPM != 0.05 || s.Instrument.ResolutionPPM != 0.1 {
		t.Errorf("instrument %+v", s.Instrument)
	}
	if r := s.Instrument.Response["acetone"]; math.Abs(r-1/0.7) > 1e-12 {
		t.Errorf("acetone response %g", r)
	}
	if s.Met.Stability != "D" || s.Met.AirTempK != 300 || s.Met.PressurePa != 95000 {
		t.Errorf("met %+v", s.Met)
	}
	if len(s.Samples) != len(tr.Samples) || s.Samples[10].PPM != tr.Samples[10].Readings[0] {
		t.Errorf("samples differ")
	}
	if _, err := FromTrace(tr, "nope"); !errors.Is(err, ErrInput) {
		t.Errorf("unknown channel: %v", err)
	}
}

func TestAroundClass(t *testing.T) {
	if m := AroundClass("d"); m["C"] != 0.25 || m["D"] != 0.5 || m["E"] != 0.25 || len(m) != 3 {
		t.Errorf("D: %v", m)
	}
	if m := AroundClass("F"); m["E"] != 0.25 || m["F"] != 0.5 || len(m) != 2 {
		t.Errorf("F: %v", m)
	}
	if m := AroundClass(""); len(m) != 5 {
		t.Errorf("unknown: %v", m)
	}
}

func TestQuasiTables(t *testing.T) {
	// The tabulated terms, read at the nearest entry, against the closed
	// form at rates between nodes: both terms' derivatives in ln t are at
	// most one (t/(1+t²) and t²/(1+t²) for α = 1), so the error is at most
	// half a table step.
	m := &model{alpha: 1}
	m.tables(math.Log(10) / 10)
	for _, tt := range []float64{2e-4, 0.01, 0.3, 1, 7, 300, 1e5} {
		k := int(math.Floor((math.Log(tt)-tabLo)/m.tabStep + 0.5))
		a, b := m.tab[k][0], m.tab[k][1]
		wa, wb := quasi(1, tt)
		if tol := m.tabStep / 2; math.Abs(a-wa) > tol || math.Abs(b-wb) > tol {
			t.Errorf("t=%g: tables %g %g, closed form %g %g", tt, a, b, wa, wb)
		}
	}
	if m.tabStep > 0.004 {
		t.Errorf("table step %g in ln t", m.tabStep)
	}
	// For α → 0 the quasi-likelihood is the Gaussian log-likelihood ratio
	// δt − t²/2.
	a, b := quasi(1e-6, 0.5)
	if d := 2*a - b - (2*0.5 - 0.125); math.Abs(d) > 1e-9 {
		t.Errorf("small α: %g", d)
	}
}

func TestConvexHullAndEllipse(t *testing.T) {
	h := convexHull([]Point{{0, 0}, {2, 0}, {1, 1}, {2, 2}, {0, 2}, {1, 0.5}})
	if len(h) != 4 {
		t.Errorf("hull %v", h)
	}
	if !inConvex(h, Point{1, 1}) || inConvex(h, Point{3, 1}) {
		t.Errorf("inConvex")
	}
	e := ellipse(Point{}, [2][2]float64{{4, 0}, {0, 1}})
	if math.Abs(e.Major-2*math.Sqrt(chi2x95)) > 1e-9 || math.Abs(e.Minor-math.Sqrt(chi2x95)) > 1e-9 || math.Abs(e.AzimuthDeg-90) > 1e-9 {
		t.Errorf("ellipse %+v", e)
	}
}

// FuzzParseInstrument: the channel metadata parser accepts or rejects any
// line without panicking, and what it accepts is finite and non-negative.
func FuzzParseInstrument(f *testing.F) {
	f.Add(sim.PID("pid").String())
	f.Add(sim.ElectrochemicalNH3("nh3").String())
	f.Add("tau_s=NaN response=a:1,b")
	f.Fuzz(func(t *testing.T, s string) {
		ins, err := parseInstrument(s)
		if err != nil {
			return
		}
		for _, v := range []float64{ins.TimeConstantS, ins.NoisePPM, ins.ResolutionPPM} {
			if !(v >= 0) || math.IsInf(v, 0) {
				t.Fatalf("%q: accepted %+v", s, ins)
			}
		}
		for g, r := range ins.Response {
			if math.IsNaN(r) || math.IsInf(r, 0) {
				t.Fatalf("%q: response %s = %g", s, g, r)
			}
		}
	})
}
