package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/mavlink/nodemavlink"
)

// run executes the root command with args and returns its stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestEveryCommandHasHelpWithExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c.Short == "" {
			t.Errorf("%q has no short help", c.CommandPath())
		}
		if c.Runnable() && c.Example == "" {
			t.Errorf("%q has no example", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCmd())
}

func TestSimulateThenDetect(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "-q", "simulate", "--out", filepath.Join(dir, "survey"), "--seed", "3")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "radiance.hdr") {
		t.Errorf("simulate said %q", out)
	}
	res := filepath.Join(dir, "res")
	out, err = run(t, "-q", "detect", filepath.Join(dir, "survey", "pass-1", "radiance.hdr"),
		"--method", "mf,ace,rx", "--gas", "ammonia,acetone", "--far", "1/km2", "--out", res)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mf-ammonia", "mf-acetone", "DETECTION", "detections.geojson"} {
		if !strings.Contains(out, want) {
			t.Errorf("detect summary lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"mf-ammonia.hdr", "ppmm-acetone.hdr", "ppmm-sigma-ammonia.hdr", "ace-acetone.hdr", "rx.hdr", "detections.geojson", "summary.json"} {
		if _, err := os.Stat(filepath.Join(res, f)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
}

func TestDetectErrorsSayWhatToDo(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"detect", "/nonexistent/cube.hdr", "--gas", "ammonia"}, "no such file"},
		{[]string{"detect", "x.hdr", "--far", "lots"}, "--far"},
		{[]string{"detect", "x.hdr", "--far", "-1/km2"}, "--far"},
		{[]string{"detect"}, "accepts 1 arg"},
		{[]string{"library", "show", "unobtainium"}, "unobtainium"},
		{[]string{"--log-level", "loud", "library", "list"}, "--log-level"},
	}
	for _, c := range cases {
		_, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
}

func TestLibraryCommands(t *testing.T) {
	out, err := run(t, "library", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"ammonia", "acetone", "toluene", "isopropyl_alcohol"} {
		if !strings.Contains(out, g) {
			t.Errorf("library list lacks %s", g)
		}
	}
	out, err = run(t, "library", "show", "acetone", "--bands", "7.6:13.4:8")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "67-64-1") || strings.Count(out, "\n7,") != 1 {
		t.Errorf("library show acetone:\n%s", out)
	}
	// Import a CSV spectrum into a new library file and find it there.
	dir := t.TempDir()
	csv := filepath.Join(dir, "testgas.csv")
	if err := os.WriteFile(csv, []byte("# name: my gas\n# source: test\nwavenumber_cm-1,k_per_ppmm\n700,0\n1000,0.001\n1300,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, "lib.json")
	if _, err := run(t, "library", "import", csv, "--name", "test gas", "--out", lib); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "library", "list", "--library", lib)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "test_gas") || !strings.Contains(out, "ammonia") {
		t.Errorf("imported library lacks test_gas or the built-in gases:\n%s", out)
	}
}

func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	area := filepath.Join(dir, "area.geojson")
	// An L-shaped field of about 600 m × 400 m near Puerto Asís, Colombia.
	geo := `{"type":"Polygon","coordinates":[[[-76.500,0.500],[-76.4946,0.500],[-76.4946,0.4982],[-76.4973,0.4982],[-76.4973,0.4964],[-76.500,0.4964],[-76.500,0.500]]]}`
	if err := os.WriteFile(area, []byte(geo), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := filepath.Join(dir, "survey.plan")
	if _, err := run(t, "plan", area, "--altitude", "120", "--fov", "30", "--overlap", "0.2", "--out", plan); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		FileType string `json:"fileType"`
		Version  int    `json:"version"`
		Mission  struct {
			Items []struct {
				Command int       `json:"command"`
				Params  []float64 `json:"params"`
			} `json:"items"`
		} `json:"mission"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.FileType != "Plan" || p.Version != 1 || len(p.Mission.Items) < 4 {
		t.Fatalf("plan %s v%d with %d items", p.FileType, p.Version, len(p.Mission.Items))
	}
	first, last := p.Mission.Items[0], p.Mission.Items[len(p.Mission.Items)-1]
	if first.Command != 22 || last.Command != 20 {
		t.Errorf("mission starts with command %d and ends with %d, want takeoff (22) and return to launch (20)", first.Command, last.Command)
	}
	waypoints := 0
	for _, it := range p.Mission.Items {
		if it.Command == 16 {
			waypoints++
			if lat, lon := it.Params[4], it.Params[5]; lat < 0.495 || lat > 0.501 || lon < -76.501 || lon > -76.494 {
				t.Errorf("waypoint (%g, %g) outside the area", lat, lon)
			}
		}
	}
	if waypoints < 4 {
		t.Errorf("%d waypoints", waypoints)
	}
	if _, err := os.Stat(filepath.Join(dir, "survey.geojson")); err != nil {
		t.Errorf("no GeoJSON of the lines: %v", err)
	}
	// The MAVLink mission, read by node-mavlink (software nobody here
	// wrote): a MISSION_COUNT and one MISSION_ITEM_INT per .plan item, with
	// the same commands and positions.
	parsed, err := nodemavlink.Parse(filepath.Join(dir, "survey.mavlink"))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Invalid != 0 || len(parsed.Packets) != len(p.Mission.Items)+1 || parsed.Packets[0].Name != "MISSION_COUNT" {
		t.Fatalf("node-mavlink: %d valid, %d invalid, %d packets for %d items", parsed.Valid, parsed.Invalid, len(parsed.Packets), len(p.Mission.Items))
	}
	for i, it := range p.Mission.Items {
		pk := parsed.Packets[i+1]
		var cmd int
		var x int64
		if err := json.Unmarshal(pk.Fields["command"], &cmd); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(pk.Fields["x"], &x); err != nil {
			t.Fatal(err)
		}
		if pk.Name != "MISSION_ITEM_INT" || cmd != it.Command {
			t.Errorf("item %d: node-mavlink reads %s command %d, plan has %d", i, pk.Name, cmd, it.Command)
		}
		if it.Command == 16 && x != int64(math.Round(it.Params[4]*1e7)) {
			t.Errorf("item %d: latitude %d·1e-7 in the mission, %g in the plan", i, x, it.Params[4])
		}
	}
	bad := filepath.Join(dir, "bad.geojson")
	if err := os.WriteFile(bad, []byte(`{"type":"Point","coordinates":[1,2]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "plan", bad, "--out", filepath.Join(dir, "x.plan")); err == nil {
		t.Error("a Point area was accepted")
	}
}

// A wind half given, or out of range, is refused before any work, naming
// both flags.
func TestDetectWindFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--wind-from", "270"},
		{"--wind-speed", "-2", "--wind-from", "90"},
		{"--wind-speed", "3", "--wind-from", "400"},
	} {
		_, err := run(t, append([]string{"detect", "nonexistent.hdr", "--gas", "acetone"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "--wind-speed") || !strings.Contains(err.Error(), "--wind-from") {
			t.Errorf("%v: error %v, want one naming --wind-speed and --wind-from", args, err)
		}
	}
}

// --config sets the flags the command line does not give; the command line
// wins; unknown keys and bad values are refused, named.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "atalaya.json")
	if err := os.WriteFile(good, []byte(`{"workers": 3, "grace": "2s", "db": "sqlite:/x.db"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := newRootCmd()
	serve, _, err := cmd.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.ParseFlags([]string{"--config", good, "--workers", "5"}); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(serve, good); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"workers": "5", "grace": "2s", "db": "sqlite:/x.db"} {
		if got := serve.Flags().Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
	for name, body := range map[string]string{
		"unknown":  `{"wrokers": 3}`,
		"bad":      `{"workers": "many"}`,
		"not json": `workers: 3`,
		"nested":   `{"workers": {"n": 3}}`,
	} {
		p := filepath.Join(dir, "bad.json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		c := newRootCmd()
		s, _, _ := c.Find([]string{"serve"})
		if err := applyConfig(s, p); err == nil || !strings.Contains(err.Error(), "--config") {
			t.Errorf("%s: %v, want an error naming --config", name, err)
		}
	}
}
