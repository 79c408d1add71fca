package sniff

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// evalCase is one simulated survey of the evaluation: a source of acetone
// at the origin, 2 m up, and a drone with a PID flying crosswind lines
// downwind of it (a lawnmower turned across the wind).
type evalCase struct {
	WindMS  float64
	Class   string
	Seed    uint64
	RateKgH float64 // 0: no source
	Lines   int     // crosswind lines [8]
	Calm    bool    // no meander, no puffs: the ensemble-mean plume
	// NH3 flies the electrochemical ammonia cell (τ = 19.5 s) over an
	// ammonia source instead of the PID over acetone.
	NH3 bool
}

// evalTruth is where the case put the source.
type evalTruth struct {
	East, North, RateKgH float64
}

var (
	libOnce sync.Once
	lib     *spectra.Library
	libErr  error
)

func library(t testing.TB) *spectra.Library {
	libOnce.Do(func() { lib, libErr = spectra.Default() })
	if libErr != nil {
		t.Fatal(libErr)
	}
	return lib
}

func acetone(t testing.TB) Gas { return libGas(t, "acetone") }

// libGas is a gas of the library, as Options.Gas takes it.
func libGas(t testing.TB, name string) Gas {
	e, err := library(t).Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return Gas{Name: name, MolarMass: e.MolarMass}
}

var evalStart = time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)

// simulate flies the case: the wind comes from a direction drawn from the
// seed; lines are 25 m apart starting 20-40 m downwind, 160 m long with
// their middles offset up to ±20 m from the plume's axis, flown at 5 m/s,
// 3 m above ground, sampled at 5 Hz.
func simulate(t testing.TB, c evalCase) (*sim.Trace, evalTruth) {
	rng := rand.New(rand.NewPCG(c.Seed, 0x65766131))
	from := rng.Float64() * 360
	x0 := 20 + 20*rng.Float64()
	y0 := -20 + 40*rng.Float64()
	if c.Lines == 0 {
		c.Lines = 8
	}
	hd := (from + 180) * math.Pi / 180
	dE, dN := math.Sin(hd), math.Cos(hd) // downwind
	cE, cN := -dN, dE                    // crosswind, left of the wind
	at := func(x, y float64) sim.Point { return sim.Point{East: x*dE + y*cE, North: x*dN + y*cN} }
	var lines []sim.Line
	for i := range c.Lines {
		x := x0 + 25*float64(i)
		a, b := at(x, y0-80), at(x, y0+80)
		if i%2 == 1 {
			a, b = b, a
		}
		lines = append(lines, sim.Line{From: a, To: b})
	}
	fl := sim.Flight{Name: "eval", Start: evalStart, SpeedMS: 5, AltitudeAGL: 3, Lines: lines}
	turb, err := sim.DefaultTurbulence(c.Class)
	if err != nil {
		t.Fatal(err)
	}
	if c.Calm {
		turb = sim.Turbulence{}
	}
	var srcs []sim.Source
	gas, sensor := "acetone", sim.PID("pid")
	if c.NH3 {
		// Named "pid" too: the channel run reads.
		gas, sensor = "ammonia", sim.ElectrochemicalNH3("pid")
	}
	if c.RateKgH > 0 {
		srcs = append(srcs, sim.Source{Name: "lab", HeightM: 2, Rates: map[string]float64{gas: c.RateKgH}})
	} else {
		// A field must have a gas: a source of nothing far away.
		srcs = append(srcs, sim.Source{Name: "none", East: 1e5, Rates: map[string]float64{gas: 0}})
	}
	w := sim.Weather{WindSpeed: c.WindMS, WindFromDeg: from, Stability: c.Class, AirTempK: 300, PressurePa: 95000}
	f, err := sim.NewField(w, turb, srcs, library(t), evalStart.Add(-time.Minute), c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := sim.SimulateTrace(sim.TraceConfig{
		Flight: fl, Field: f, Sensors: []sim.PointSensor{sensor}, RateHz: 5,
		Anemometer: sim.Anemometer{SpeedNoiseMS: 0.3, DirNoiseDeg: 5},
		Geo: func(e, n float64) (float64, float64) {
			// Equirectangular about 4° N, 74° W: exact enough for a check.
			const lat0, lon0 = 4.0, -74.0
			return lat0 + n/111_000, lon0 + e/(111_000*math.Cos(lat0*math.Pi/180))
		},
		Seed: c.Seed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr, evalTruth{RateKgH: c.RateKgH}
}

// run simulates, processes and estimates a case.
func run(t testing.TB, c evalCase, o Options) (*Processed, *Posterior, evalTruth) {
	tr, truth := simulate(t, c)
	s, err := FromTrace(tr, "pid")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Process(s, ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o.Gas = acetone(t)
	if c.NH3 {
		o.Gas = libGas(t, "ammonia")
	}
	post, err := Estimate(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return p, post, truth
}
