package server

import (
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atalaya-project/atalaya/internal/mavlink/nodemavlink"
)

// qgcFile is the part of a QGroundControl plan file the tests read.
type qgcFile struct {
	FileType string `json:"fileType"`
	Mission  struct {
		Items []struct {
			Command int        `json:"command"`
			Params  []*float64 `json:"params"`
		} `json:"items"`
	} `json:"mission"`
}

// discCovered replays a QGC plan: the share of the disc of radius r around
// (lat, lon) within half a swath of a line (pairs of NAV_WAYPOINTs), on a
// 2 m grid in a local flat frame.
func discCovered(t *testing.T, p qgcFile, lat, lon, r, swath float64) float64 {
	t.Helper()
	const R = 6371008.8
	k := math.Pi / 180
	xy := func(la, lo float64) (float64, float64) {
		return (lo - lon) * k * R * math.Cos(lat*k), (la - lat) * k * R
	}
	var segs [][4]float64
	var open []float64
	for _, it := range p.Mission.Items {
		if it.Command != 16 {
			continue
		}
		x, y := xy(*it.Params[4], *it.Params[5])
		if open == nil {
			open = []float64{x, y}
			continue
		}
		segs = append(segs, [4]float64{open[0], open[1], x, y})
		open = nil
	}
	if len(segs) == 0 || open != nil {
		t.Fatalf("%d lines, odd waypoint left: %v", len(segs), open != nil)
	}
	var in, cov int
	for y := -r + 1; y < r; y += 2 {
		for x := -r + 1; x < r; x += 2 {
			if math.Hypot(x, y) > r {
				continue
			}
			in++
			for _, s := range segs {
				dx, dy := s[2]-s[0], s[3]-s[1]
				L := math.Hypot(dx, dy)
				along := ((x-s[0])*dx + (y-s[1])*dy) / L
				across := ((x-s[0])*dy - (y-s[1])*dx) / L
				if along >= 0 && along <= L && math.Abs(across) <= swath/2 {
					cov++
					break
				}
			}
		}
	}
	return float64(cov) / float64(in)
}

// TestRevisitDecisionPlans: a revisit decision answers with a survey plan
// whose swaths cover the circle around the site, fetchable afterwards in
// four formats, to the site's viewers only.
func TestRevisitDecisionPlans(t *testing.T) {
	for _, alt := range []float64{0, 80} { // the default aircraft, and a low one (more lines)
		e := newEnv(t, sqliteURL(t), func(c *Config) { c.Survey.AltitudeM = alt })
		analyst := e.tok("analyst", agCOL)
		path := "/api/v1/sites/" + e.siteCOL.ID
		// No revisit yet: 404 naming what to do.
		resp := e.do("GET", path+"/plan.plan", analyst, nil)
		if b := read(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "decide revisit") {
			t.Fatalf("plan before a revisit: %d %s", resp.StatusCode, b)
		}
		resp = e.do("POST", path+"/decisions", analyst, strings.NewReader(`{"action":"revisit","reason":"look again"}`),
			"If-Match", etag(e.siteCOL.Version), "Content-Type", "application/json")
		b := read(t, resp)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("revisit: %d %s", resp.StatusCode, b)
		}
		var dec struct {
			Plan        PlanJSON        `json:"plan"`
			PlanGeoJSON json.RawMessage `json:"plan_geojson"`
		}
		decode(t, b, &dec)
		wantSwath := 2 * e.srv.cfg.Survey.AltitudeM * math.Tan(15*math.Pi/180)
		if dec.Plan.RadiusM != MinRevisitRadiusM || dec.Plan.Lines < 1 || math.Abs(dec.Plan.SwathM-wantSwath) > 1e-6 {
			t.Fatalf("plan %+v: want radius %d m (3×20 m is less), swath %.1f m", dec.Plan, MinRevisitRadiusM, wantSwath)
		}
		if dec.Plan.Links["plan"] != path+"/plan.plan" || !strings.Contains(string(dec.PlanGeoJSON), `"LineString"`) {
			t.Fatalf("links %v, geojson %.200s", dec.Plan.Links, dec.PlanGeoJSON)
		}
		// Move the site: the plan stays the one decided.
		moved := e.siteCOL
		moved.Version++
		moved.Lat += 0.01
		if _, err := e.st.UpdateSite(t0, moved); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"plan": "application/json", "geojson": "application/geo+json",
			"waypoints": "text/plain; charset=utf-8", "mavlink": "application/octet-stream"}
		files := map[string][]byte{}
		for f, ct := range want {
			resp := e.do("GET", dec.Plan.Links[f], analyst, nil)
			files[f] = read(t, resp)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct ||
				resp.Header.Get("Content-Disposition") != `attachment; filename="site-`+e.siteCOL.ID+"."+f+`"` {
				t.Errorf("%s: %d %q %q", f, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
			}
		}
		var p qgcFile
		decode(t, files["plan"], &p)
		if p.FileType != "Plan" {
			t.Fatalf("fileType %q", p.FileType)
		}
		if got := discCovered(t, p, e.siteCOL.Lat, e.siteCOL.Lon, MinRevisitRadiusM, dec.Plan.SwathM); got < 0.99 {
			t.Errorf("altitude %g: %.2f %% of the %d m circle covered, want ≥ 99 %%", alt, 100*got, MinRevisitRadiusM)
		}
		if !strings.HasPrefix(string(files["waypoints"]), "QGC WPL 110") {
			t.Errorf("waypoints: %.40q", files["waypoints"])
		}
		// node-mavlink (nobody here wrote it) reads the mission: a count,
		// then one MISSION_ITEM_INT per plan item.
		mp := filepath.Join(t.TempDir(), "site.mavlink")
		if err := os.WriteFile(mp, files["mavlink"], 0o644); err != nil {
			t.Fatal(err)
		}
		parsed, err := nodemavlink.Parse(mp)
		if err != nil {
			t.Fatal(err)
		}
		if parsed.Invalid != 0 || len(parsed.Packets) != len(p.Mission.Items)+1 || parsed.Packets[0].Name != "MISSION_COUNT" {
			t.Errorf("node-mavlink: %d valid, %d invalid, %d packets for %d items", parsed.Valid, parsed.Invalid, len(parsed.Packets), len(p.Mission.Items))
		}
		// Another host agency does not see the site, nor its plan; a
		// caller without credentials is refused.
		if resp := e.do("GET", path+"/plan.plan", e.tok("analyst", agPER), nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("PER analyst: %d, want 404", resp.StatusCode)
		}
		if resp := e.do("GET", path+"/plan.plan", "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous: %d, want 401", resp.StatusCode)
		}
	}
}

// TestRevisitBlocks: GET /revisit ranks the blocks of a box (all unsurveyed
// here: the site's pull decides) and plans over the top N.
func TestRevisitBlocks(t *testing.T) {
	e := newEnv(t, sqliteURL(t))
	tok := e.tok("operator", agCOL)
	q := "bbox=-74.12,4.58,-74.08,4.62&gas=acetone&top=3&source_kgh=2"
	resp := e.do("GET", "/api/v1/revisit?"+q, tok, nil)
	b := read(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revisit: %d %s", resp.StatusCode, b)
	}
	var out struct {
		Blocks []BlockJSON `json:"blocks"`
		Plan   PlanJSON    `json:"plan"`
	}
	decode(t, b, &out)
	if len(out.Blocks) != 3 || out.Plan.Lines < 1 || out.Plan.Links["mavlink"] != "/api/v1/revisit/plan.mavlink?"+q {
		t.Fatalf("%d blocks, plan %+v", len(out.Blocks), out.Plan)
	}
	// The COL site (probability 0.8) pulls the first block: it holds the site.
	first := out.Blocks[0]
	if first.SiteTerm <= 0 || math.Abs(first.Lat-e.siteCOL.Lat) > 0.003 || math.Abs(first.Lon-e.siteCOL.Lon) > 0.003 {
		t.Errorf("first block %+v, want the one at the site %.4f,%.4f", first, e.siteCOL.Lat, e.siteCOL.Lon)
	}
	for i := 1; i < len(out.Blocks); i++ {
		if out.Blocks[i].Priority > out.Blocks[i-1].Priority {
			t.Errorf("blocks not ranked: %v then %v", out.Blocks[i-1].Priority, out.Blocks[i].Priority)
		}
	}
	// PER's operator does not see the site: no pull there.
	resp = e.do("GET", "/api/v1/revisit?"+q, e.tok("operator", agPER), nil)
	var per struct {
		Blocks []BlockJSON `json:"blocks"`
	}
	decode(t, read(t, resp), &per)
	for _, bl := range per.Blocks {
		if bl.SiteTerm != 0 {
			t.Errorf("PER sees the pull of COL's site: %+v", bl)
		}
	}
	resp = e.do("GET", "/api/v1/revisit/plan.plan?"+q, tok, nil)
	if b := read(t, resp); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") ||
		!strings.Contains(string(b), `"fileType": "Plan"`) && !strings.Contains(string(b), `"fileType":"Plan"`) {
		t.Errorf("plan.plan: %d %q %.100s", resp.StatusCode, resp.Header.Get("Content-Disposition"), b)
	}
	for _, bad := range []struct{ q, field string }{
		{"gas=acetone", "bbox"},
		{"bbox=-75,4,-74,5&gas=acetone", "bbox"},
		{"bbox=-74.12,4.58,-74.08,4.62&gas=acetone&top=0", "top"},
		{"bbox=-74.12,4.58,-74.08,4.62&gas=acetone&source_kgh=-1", "source_kgh"},
		{"bbox=-74.12,4.58,-74.08,4.62&gas=acetone&colour=red", "colour"},
	} {
		resp := e.do("GET", "/api/v1/revisit?"+bad.q, tok, nil)
		b := read(t, resp)
		if resp.StatusCode != http.StatusBadRequest || apiErrOf(t, b).Field != bad.field {
			t.Errorf("%s: %d %s, want 400 on %s", bad.q, resp.StatusCode, b, bad.field)
		}
	}
}
