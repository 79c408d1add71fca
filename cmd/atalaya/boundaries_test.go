package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Importing Luxembourg's cantons (GADM, from Debian's r-cran-terra,
// converted by GDAL): `boundaries at` names the canton of Luxembourg City
// and its district; a bad file is refused naming the feature, and what was
// imported before stays; list and delete.
func TestBoundariesCommands(t *testing.T) {
	dir := t.TempDir()
	gj := filepath.Join(dir, "lux.geojson")
	if out, err := exec.Command("ogr2ogr", "-f", "GeoJSON", "-t_srs", "EPSG:4326", gj, "/usr/lib/R/site-library/terra/ex/lux.shp").CombinedOutput(); err != nil {
		t.Fatalf("ogr2ogr (install gdal-bin and r-cran-terra: scripts/test.sh does): %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	out, err := run(t, "boundaries", "import", gj, "--data", data, "--level", "municipality", "--name-field", "NAME_2",
		"--code-field", "ID_2", "--parent-field", "NAME_1", "--source", "GADM Luxembourg cantons")
	if err != nil || !strings.Contains(out, "imported 12 municipality areas") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	at := func() string {
		t.Helper()
		out, err := run(t, "boundaries", "at", "--data", data, "--lat", "49.6117", "--lon", "6.13")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := at(); !strings.Contains(out, "municipality: Luxembourg (") || !strings.Contains(out, "source: GADM Luxembourg cantons") ||
		!strings.Contains(out, "country:      Luxembourg (LUX)") {
		t.Errorf("at Luxembourg City:\n%s", out)
	}
	// The same source again, from a file whose feature 5 (Echternach) has no name.
	b, err := os.ReadFile(gj)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.geojson")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(b), `"NAME_2": "Echternach"`, `"NAME_2": ""`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "boundaries", "import", bad, "--data", data, "--level", "municipality", "--name-field", "NAME_2", "--source", "GADM Luxembourg cantons")
	if err == nil || !strings.Contains(err.Error(), `feature 5: property "NAME_2" is empty`) || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("bad import: %v", err)
	}
	if out := at(); !strings.Contains(out, "municipality: Luxembourg (") {
		t.Errorf("after the refused import:\n%s", out)
	}
	if out, err := run(t, "boundaries", "list", "--data", data); err != nil || !strings.Contains(out, "municipality  12") {
		t.Errorf("list: %v\n%s", err, out)
	}
	if out, err := run(t, "boundaries", "delete", "--data", data, "--level", "municipality", "--source", "GADM Luxembourg cantons"); err != nil || !strings.Contains(out, "deleted 12") {
		t.Errorf("delete: %v\n%s", err, out)
	}
	if out := at(); !strings.Contains(out, "no municipal boundaries loaded") {
		t.Errorf("after delete:\n%s", out)
	}
}
