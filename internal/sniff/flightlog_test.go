package sniff

import (
	"math"
	"os"
	"testing"

	"github.com/atalaya-project/atalaya/internal/flightlog"
	"github.com/atalaya-project/atalaya/internal/sim"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// The same simulated flight read from its flight log (PX4 ULog with the
// atalaya_gas_sensor topic) and from its trace CSV gives the same readings
// at the same places, and a source estimate at the same place near the
// truth.
func TestFromFlightLogMatchesTheTrace(t *testing.T) {
	lib, err := spectra.Default()
	if err != nil {
		t.Fatal(err)
	}
	scen, err := sim.Preset("demo")
	if err != nil {
		t.Fatal(err)
	}
	scen.Area.WidthM, scen.Area.HeightM = 170, 160
	scen.Sources = scen.Sources[:1] // the meth lab
	scen.Flights = scen.Flights[1:] // the low point-sensor flight only
	dir := t.TempDir()
	outs, err := sim.RunScenario(dir, scen, lib, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(outs[0].Trace)
	if err != nil {
		t.Fatal(err)
	}
	csvSeries, err := ReadTraceCSV(f, "pid")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	l, err := flightlog.ReadFile(outs[0].FlightLog)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := l.Track()
	if err != nil {
		t.Fatal(err)
	}
	logSeries, err := FromFlightLog(tr, "pid", 0) // the simulator's ground is at altitude 0
	if err != nil {
		t.Fatal(err)
	}
	if len(logSeries.Samples) != len(csvSeries.Samples) || logSeries.Instrument.TimeConstantS != csvSeries.Instrument.TimeConstantS ||
		!logSeries.Start.Equal(csvSeries.Start) {
		t.Fatalf("flight log: %d samples, τ %g s, start %v; trace: %d, %g s, %v", len(logSeries.Samples), logSeries.Instrument.TimeConstantS,
			logSeries.Start, len(csvSeries.Samples), csvSeries.Instrument.TimeConstantS, csvSeries.Start)
	}
	for k, a := range logSeries.Samples {
		b := csvSeries.Samples[k]
		if math.Abs(a.T-b.T) > 1e-6 || math.Abs(a.Lat-b.Lat) > 1e-7 || math.Abs(a.Lon-b.Lon) > 1e-7 ||
			math.Abs(a.AltAGL-b.AltAGL) > 0.01 || !(math.Abs(a.PPM-b.PPM) <= 1e-6*math.Max(1, math.Abs(b.PPM)) || math.IsNaN(a.PPM) && math.IsNaN(b.PPM)) {
			t.Fatalf("sample %d: flight log %+v, trace %+v", k, a, b)
		}
	}
	if raceEnabled {
		// The estimates below take minutes under the race detector; the
		// suite runs this package again without it (scripts/test.sh).
		return
	}
	// Local frames differ by an offset: compare the estimates in latitude
	// and longitude.
	est := func(s *Series) Detection {
		p, err := Process(s, ProcessOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e, err := lib.Get("acetone")
		if err != nil {
			t.Fatal(err)
		}
		post, err := Estimate(p, Options{Gas: Gas{Name: e.Name, MolarMass: e.MolarMass}})
		if err != nil {
			t.Fatal(err)
		}
		return post.Detection()
	}
	a, b := est(logSeries), est(csvSeries)
	const mPerDeg = 6371008.8 * math.Pi / 180
	d := math.Hypot((a.Lat-b.Lat)*mPerDeg, (a.Lon-b.Lon)*mPerDeg*math.Cos(a.Lat*math.Pi/180))
	t.Logf("from the flight log: %.6f, %.6f (%.2g kg/h, claim %v); from the trace: %.6f, %.6f (%.2g kg/h); %.1f m apart", a.Lat, a.Lon, a.RateKgH, a.Claim, b.Lat, b.Lon, b.RateKgH, d)
	if !a.Claim || d > 10 {
		t.Errorf("estimates %.1f m apart (claim %v), want the same source", d, a.Claim)
	}
}
