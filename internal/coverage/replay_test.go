package coverage

import (
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/flightlog"
	"github.com/atalaya-project/atalaya/internal/sim"
)

// A planned survey flown by the simulator — the mission's waypoints as the
// simulated drone's flight (sim.Flight.Poses at 5 Hz, level, heading along
// its track), each line's imaging footprint projected on the ground from
// those poses and the sensor's field of view (flightlog.PassFootprint) —
// covers at least 99% of an L-shaped area with a hole.
func TestPlannedSurveyReplayedThroughTheSimulator(t *testing.T) {
	ell := [][2]float64{{0, 0}, {1500, 0}, {1500, 500}, {500, 500}, {500, 1500}, {0, 1500}}
	hole := [][2]float64{{150, 150}, {150, 350}, {350, 350}, {350, 150}}
	ll, m := utmPolygon(ell, hole)
	const alt, fov = 300.0, 30.0
	s, err := PlanSurvey(orb.MultiPolygon{ll}, SurveyOptions{AltitudeM: alt, FOVDeg: fov, Overlap: 0.2, SpeedMS: 10, HeadingDeg: math.NaN()})
	if err != nil {
		t.Fatal(err)
	}
	// The mission's waypoints in pairs are the imaging lines.
	var lines []sim.Line
	var from *sim.Point
	for _, it := range s.Items {
		if it.Command != CmdWaypoint {
			continue
		}
		e, n := cube.LatLonToUTM(it.Params[4], it.Params[5], testZone, true)
		p := sim.Point{East: e, North: n}
		if from == nil {
			from = &p
			continue
		}
		lines = append(lines, sim.Line{From: *from, To: p})
		from = nil
	}
	fl := sim.Flight{Name: "plan", Start: sim.DefaultStart, SpeedMS: s.SpeedMS, AltitudeAGL: alt, Lines: lines}
	poses, err := fl.Poses(5)
	if err != nil {
		t.Fatal(err)
	}
	perLine := make([][]flightlog.Sample, len(lines))
	for _, q := range poses {
		if q.Line < 0 {
			continue
		}
		lat, lon := cube.UTMToLatLon(testZone, true, q.East, q.North)
		perLine[q.Line] = append(perLine[q.Line], flightlog.Sample{
			Time: q.Time, Lat: lat, Lon: lon, Alt: alt,
			HasAttitude: true, Yaw: q.HeadingDeg * math.Pi / 180, Q: flightlog.Quaternion(0, 0, q.HeadingDeg*math.Pi/180),
		})
	}
	var prints []orb.Polygon
	for i, smp := range perLine {
		fp, err := flightlog.PassFootprint(smp, fov, 0)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		prints = append(prints, fp)
	}
	bounds := make([]orb.Bound, len(prints))
	for i, fp := range prints {
		bounds[i] = fp.Bound()
	}
	// Share of the area (10 m grid, test frame) inside some footprint.
	b := m.Bound()
	in, covered := 0, 0
	for y := b.Min[1] + 5; y < b.Max[1]; y += 10 {
		for x := b.Min[0] + 5; x < b.Max[0]; x += 10 {
			if !planar.PolygonContains(m, orb.Point{x, y}) {
				continue
			}
			in++
			lat, lon := cube.UTMToLatLon(testZone, true, testE0+x, testN0+y)
			for i, fp := range prints {
				if bounds[i].Contains(orb.Point{lon, lat}) && planar.PolygonContains(fp, orb.Point{lon, lat}) {
					covered++
					break
				}
			}
		}
	}
	frac := float64(covered) / float64(in)
	t.Logf("%d lines flown by the simulator, %d poses: %.3f %% of the area imaged", len(lines), len(poses), 100*frac)
	if frac < 0.99 {
		t.Errorf("%.2f %% of the area imaged, want ≥ 99 %%", 100*frac)
	}
}
