package coverage

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// Survey test areas in UTM zone 14N metres (near Culiacán… any zone will do),
// origin at (500000, 2700000).
const testZone, testE0, testN0 = 13, 250000.0, 2740000.0

func utmPolygon(rings ...[][2]float64) (orb.Polygon, orb.Polygon) {
	var ll, m orb.Polygon
	for _, r := range rings {
		var rl, rm orb.Ring
		for _, q := range append(r, r[0]) {
			lat, lon := cube.UTMToLatLon(testZone, true, testE0+q[0], testN0+q[1])
			rl = append(rl, orb.Point{lon, lat})
			rm = append(rm, orb.Point{q[0], q[1]})
		}
		ll, m = append(ll, rl), append(m, rm)
	}
	return ll, m
}

// replayCoverage flies the mission's lines as the simulator images them (each
// line covers ±swath/2 across track, from its first to its last waypoint) and
// returns the share of the area (metres, test frame) within some swath, on a
// grid of step metres.
func replayCoverage(t *testing.T, s *Survey, area orb.Polygon, step float64) float64 {
	t.Helper()
	type seg struct{ a, b orb.Point }
	var lines []seg
	var prev *orb.Point
	for _, it := range s.Items {
		if it.Command != CmdWaypoint {
			continue
		}
		e, n := cube.LatLonToUTM(it.Params[4], it.Params[5], testZone, true)
		p := orb.Point{e - testE0, n - testN0}
		if prev == nil {
			prev = &p
			continue
		}
		lines = append(lines, seg{*prev, p})
		prev = nil
	}
	if prev != nil {
		t.Fatalf("odd number of waypoints")
	}
	b := area.Bound()
	var in, covered int
	for y := b.Min[1] + step/2; y < b.Max[1]; y += step {
		for x := b.Min[0] + step/2; x < b.Max[0]; x += step {
			p := orb.Point{x, y}
			if !planar.PolygonContains(area, p) {
				continue
			}
			in++
			for _, l := range lines {
				dx, dy := l.b[0]-l.a[0], l.b[1]-l.a[1]
				L := math.Hypot(dx, dy)
				along := ((x-l.a[0])*dx + (y-l.a[1])*dy) / L
				across := ((x-l.a[0])*dy - (y-l.a[1])*dx) / L
				if along >= 0 && along <= L && math.Abs(across) <= s.SwathM/2 {
					covered++
					break
				}
			}
		}
	}
	return float64(covered) / float64(in)
}

func TestPlanCoversPolygons(t *testing.T) {
	rect := [][2]float64{{0, 0}, {2000, 0}, {2000, 1000}, {0, 1000}}
	// A rotated rectangle, so the best heading is not a multiple of 90°.
	var rot [][2]float64
	for _, q := range rect {
		c, s := math.Cos(0.5), math.Sin(0.5)
		rot = append(rot, [2]float64{q[0]*c - q[1]*s, q[0]*s + q[1]*c})
	}
	ell := [][2]float64{{0, 0}, {1500, 0}, {1500, 500}, {500, 500}, {500, 1500}, {0, 1500}}
	hole := [][2]float64{{700, 300}, {700, 700}, {1300, 700}, {1300, 300}} // clockwise
	opts := SurveyOptions{AltitudeM: 300, FOVDeg: 30, Overlap: 0.2, SpeedMS: 10, HeadingDeg: math.NaN()}
	for _, c := range []struct {
		name    string
		rings   [][][2]float64
		heading float64
	}{
		{"rectangle", [][][2]float64{rect}, math.NaN()},
		{"rotated rectangle", [][][2]float64{rot}, math.NaN()},
		{"L-shape", [][][2]float64{ell}, math.NaN()},
		{"L-shape at 37°", [][][2]float64{ell}, 37},
		{"hole", [][][2]float64{rect, hole}, math.NaN()},
		{"hole at 90°", [][][2]float64{rect, hole}, 90},
	} {
		t.Run(c.name, func(t *testing.T) {
			ll, m := utmPolygon(c.rings...)
			o := opts
			o.HeadingDeg = c.heading
			s, err := PlanSurvey(orb.MultiPolygon{ll}, o)
			if err != nil {
				t.Fatal(err)
			}
			frac := replayCoverage(t, s, m, 5)
			t.Logf("heading %g°, %d lines, swath %.1f m, spacing %.1f m, path %.0f m (%v): %.4f %% covered",
				s.HeadingDeg, len(s.Lines), s.SwathM, s.SpacingM, s.LengthM, s.Duration, 100*frac)
			if frac < 0.99 {
				t.Errorf("%.2f %% of the area covered, want ≥ 99 %%", 100*frac)
			}
			if wantSwath := 2 * 300 * math.Tan(15*math.Pi/180); math.Abs(s.SwathM-wantSwath) > 1e-9 {
				t.Errorf("swath %g m, want %g", s.SwathM, wantSwath)
			}
			if c.name == "rectangle" && (s.HeadingDeg != 90 || len(s.Lines) != 8) {
				// 1000 m across at 128.6 m spacing: ⌈7.78⌉ = 8 east-west lines.
				t.Errorf("rectangle: heading %g°, %d lines; want 90°, 8", s.HeadingDeg, len(s.Lines))
			}
			if c.name == "rotated rectangle" && math.Abs(s.HeadingDeg-(90-0.5*180/math.Pi)) > 1.01 {
				t.Errorf("rotated rectangle: heading %g°, want about %.1f°", s.HeadingDeg, 90-0.5*180/math.Pi)
			}
		})
	}
}

func TestQGCPlanFile(t *testing.T) {
	ll, _ := utmPolygon([][2]float64{{0, 0}, {1000, 0}, {1000, 600}, {0, 600}})
	s, err := PlanSurvey(orb.MultiPolygon{ll}, SurveyOptions{AltitudeM: 120, FOVDeg: 40, Overlap: 0.3, SpeedMS: 8, HeadingDeg: 0})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.WriteQGC(&buf); err != nil {
		t.Fatal(err)
	}
	var p struct {
		FileType string `json:"fileType"`
		Version  int    `json:"version"`
		Mission  struct {
			Version int       `json:"version"`
			Home    []float64 `json:"plannedHomePosition"`
			Items   []struct {
				Type    string     `json:"type"`
				Command int        `json:"command"`
				Frame   int        `json:"frame"`
				Params  []*float64 `json:"params"`
				JumpID  int        `json:"doJumpId"`
			} `json:"items"`
		} `json:"mission"`
		GeoFence    map[string]any `json:"geoFence"`
		RallyPoints map[string]any `json:"rallyPoints"`
	}
	if err := json.Unmarshal(buf.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.FileType != "Plan" || p.Version != 1 || p.Mission.Version != 2 || len(p.Mission.Home) != 3 || p.GeoFence == nil || p.RallyPoints == nil {
		t.Fatalf("plan header: %+v", p)
	}
	items := p.Mission.Items
	if len(items) != 2+4*len(s.Lines) {
		t.Fatalf("%d items for %d lines", len(items), len(s.Lines))
	}
	if items[0].Command != 22 || items[len(items)-1].Command != 20 {
		t.Errorf("first command %d, last %d: want take-off 22, RTL 20", items[0].Command, items[len(items)-1].Command)
	}
	for k, it := range items {
		if it.Type != "SimpleItem" || len(it.Params) != 7 || it.JumpID != k+1 {
			t.Fatalf("item %d: %+v", k, it)
		}
		switch it.Command {
		case 16, 22:
			if it.Frame != 3 || *it.Params[6] != 120 || math.Abs(*it.Params[4]-24.7) > 0.2 || it.Params[3] != nil {
				t.Errorf("item %d: frame %d, params %v", k, it.Frame, it.Params)
			}
		case 206:
			want := 0.0
			if k%4 == 2 {
				want = s.SpacingM
			}
			if it.Frame != 2 || *it.Params[0] != want {
				t.Errorf("item %d: trigger %g m, want %g", k, *it.Params[0], want)
			}
		}
	}
	fc := s.GeoJSON()
	if got := len(fc.Features); got != 2+2*len(s.Lines) {
		t.Errorf("%d features for %d lines", got, len(s.Lines))
	}
}
