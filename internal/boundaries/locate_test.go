package boundaries

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

// Real admin-2 boundaries nobody here wrote, from Debian packages that
// scripts/test.sh installs:
//   - North Carolina's 100 counties (US Census boundaries, public domain, as
//     shipped with the R package sf: r-cran-sf), NAD27: converted to WGS 84;
//   - Luxembourg's 12 cantons in 3 districts (GADM, as shipped with the R
//     package terra: r-cran-terra; GADM data are free for non-commercial
//     use: only read here at test time, never copied into the repository).
//   - Olinda's 470 census tracts (also in r-cran-sf: olinda1.shp, whose
//     CD_GEOCODI codes and field names are those of IBGE's 2010 census tract
//     mesh; the package does not document its source), small and dense.
const (
	ncShapefile     = "/usr/lib/R/site-library/sf/shape/nc.shp"
	luxShapefile    = "/usr/lib/R/site-library/terra/ex/lux.shp"
	olindaShapefile = "/usr/lib/R/site-library/sf/shape/olinda1.shp"
)

// toGeoJSON converts a shapefile to a GeoJSON file in WGS 84 with GDAL.
func toGeoJSON(t testing.TB, shp string) string {
	t.Helper()
	if _, err := os.Stat(shp); err != nil {
		t.Fatalf("%v: install r-cran-sf and r-cran-terra (scripts/test.sh does)", err)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(shp), ".shp")+".geojson")
	if b, err := exec.Command("ogr2ogr", "-f", "GeoJSON", "-t_srs", "EPSG:4326", out, shp).CombinedOutput(); err != nil {
		t.Fatalf("ogr2ogr: %v\n%s", err, b)
	}
	return out
}

func readAreasFile(t testing.TB, path string, f Fields) []Area {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	as, err := ReadAreas(fh, f)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// importAreas stores areas as the import command does.
func importAreas(t testing.TB, st store.AdminAreas, level store.AdminLevel, source string, as []Area) {
	t.Helper()
	sa, err := StoreAreas(as)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ImportAdminAreas(context.Background(), level, source, sa); err != nil {
		t.Fatal(err)
	}
}

// gdalAt asks GDAL (SpatiaLite's ST_Within through OGR's SQLite dialect)
// which areas of the GeoJSON file contain each point: answer[i] lists the
// names for point i.
func gdalAt(t *testing.T, areasFile, nameField string, pts []orb.Point) [][]string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"Feature","properties":{"pid":%d},"geometry":{"type":"Point","coordinates":[%.17g,%.17g]}}`, i, p[0], p[1])
	}
	b.WriteString(`]}`)
	ptsFile := filepath.Join(dir, "pts.geojson")
	if err := os.WriteFile(ptsFile, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "j.gpkg")
	for _, args := range [][]string{
		{"-f", "GPKG", db, areasFile, "-nln", "areas"},
		{"-update", "-f", "GPKG", db, ptsFile, "-nln", "pts"},
	} {
		if out, err := exec.Command("ogr2ogr", args...).CombinedOutput(); err != nil {
			t.Fatalf("ogr2ogr %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("ogr2ogr", "-f", "CSV", "/vsistdout/", db, "-dialect", "SQLite", "-sql",
		fmt.Sprintf(`SELECT p.pid AS pid, a."%s" AS name FROM pts p JOIN areas a ON ST_Within(p.geom, a.geom)`, nameField)).Output()
	if err != nil {
		t.Fatalf("ogr2ogr join: %v", err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(rows) == 0 || rows[0][0] != "pid" {
		t.Fatalf("GDAL's answer %q: %v", out, err)
	}
	ans := make([][]string, len(pts))
	for _, r := range rows[1:] {
		var i int
		if _, err := fmt.Sscan(r[0], &i); err != nil || i < 0 || i >= len(pts) {
			t.Fatalf("GDAL row %v", r)
		}
		ans[i] = append(ans[i], r[1])
	}
	return ans
}

// edgeDistance is the distance in degrees from p to the nearest edge of
// the named areas.
func edgeDistance(as []Area, names []string, p orb.Point) float64 {
	d := math.Inf(1)
	for _, a := range as {
		for _, n := range names {
			if a.Name == n {
				for _, poly := range a.Shape {
					for _, r := range poly {
						d = math.Min(d, planar.DistanceFrom(orb.LineString(r), p))
					}
				}
			}
		}
	}
	return d
}

// randomPoints draws n points (fixed seed): half uniformly in the bound,
// half within a few hundred metres of a random vertex of the areas, where
// the borders are and mistakes would be.
func randomPoints(n int, b orb.Bound, as []Area, seed uint64) []orb.Point {
	rng := rand.New(rand.NewPCG(seed, seed))
	var verts []orb.Point
	for _, a := range as {
		for _, p := range a.Shape {
			for _, r := range p {
				verts = append(verts, r...)
			}
		}
	}
	pts := make([]orb.Point, n)
	for i := range pts {
		if i%2 == 0 || len(verts) == 0 {
			pts[i] = orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])}
			continue
		}
		v := verts[rng.IntN(len(verts))]
		const sigma = 0.003 // degrees: about 300 m
		pts[i] = orb.Point{v[0] + sigma*rng.NormFloat64(), v[1] + sigma*rng.NormFloat64()}
	}
	return pts
}

// borderTolerance: where the locator and GDAL may disagree, in degrees
// (about 1 cm): a point on a shared border lies in both areas or neither,
// depending on each test's edge rule.
const borderTolerance = 1e-7

// The locator, reading real county boundaries imported into the store
// (SQLite and PostgreSQL), answers as GDAL does for 3,000 random points in
// and around North Carolina, and on PostgreSQL as PostGIS's ST_Contains on
// the stored geometry does.
func TestLocatorAgreesWithGDAL(t *testing.T) {
	file := toGeoJSON(t, ncShapefile)
	as := readAreasFile(t, file, Fields{Name: "NAME", Code: "FIPS"})
	if len(as) != 100 {
		t.Fatalf("%d counties, want North Carolina's 100", len(as))
	}
	var bound orb.Bound
	for i, a := range as {
		if i == 0 {
			bound = a.Shape.Bound()
		}
		bound = bound.Union(a.Shape.Bound())
	}
	bound = bound.Pad(0.05) // some points outside every county
	pts := randomPoints(3000, bound, as, 7)
	truth := gdalAt(t, file, "NAME", pts)
	storetest.EachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		st, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		importAreas(t, st, store.LevelMunicipality, "US Census (R sf nc.shp)", as)
		loc := NewLocator(st)
		inside, agree, border := 0, 0, 0
		for i, p := range pts {
			pl, err := loc.AreaAt(ctx, p[1], p[0])
			if err != nil {
				t.Fatal(err)
			}
			// The one-off lookup (bbox candidates from SQL) says the same.
			if i%10 == 0 {
				once, err := PlaceAt(ctx, st, p[1], p[0])
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(once) != fmt.Sprint(pl) {
					t.Errorf("point %d: PlaceAt %+v, Locator %+v", i, once, pl)
				}
			}
			want := truth[i]
			if len(want) > 0 {
				inside++
			}
			ok := (len(want) == 0 && pl.Municipality == "") || (len(want) > 0 && strings.Contains("\x00"+strings.Join(want, "\x00")+"\x00", "\x00"+pl.Municipality+"\x00"))
			if ok {
				agree++
				continue
			}
			names := append([]string{pl.Municipality}, want...)
			if d := edgeDistance(as, names, p); d < borderTolerance {
				border++
				continue
			}
			t.Errorf("point %d (%.7f, %.7f): locator %q, GDAL %q", i, p[1], p[0], pl.Municipality, want)
		}
		t.Logf("%d of %d points agree with GDAL (%d inside a county), %d disagree within %g° of a border", agree, len(pts), inside, border, borderTolerance)
		if inside < 2000 {
			t.Errorf("only %d points inside a county: the test proves little", inside)
		}
		if st.Dialect() != "postgres" {
			return
		}
		// PostGIS on the geometry column the store keeps.
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		q, err := db.PrepareContext(ctx, `SELECT name FROM admin_areas WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		for i, p := range pts[:1000] {
			rows, err := q.QueryContext(ctx, p[0], p[1])
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					t.Fatal(err)
				}
				got = append(got, n)
			}
			rows.Close()
			if fmt.Sprint(got) != fmt.Sprint(truth[i]) && edgeDistance(as, append(got, truth[i]...), p) >= borderTolerance {
				t.Errorf("point %d: PostGIS %q, GDAL %q", i, got, truth[i])
			}
		}
	})
}

// Luxembourg's cantons imported with their district as parent: the
// locator names the canton GDAL names, and the district as the state
// (from the operator's data, not Natural Earth); a later state import of
// the districts themselves is picked up by a running locator.
func TestLocatorParentsAndRefresh(t *testing.T) {
	file := toGeoJSON(t, luxShapefile)
	cantons := readAreasFile(t, file, Fields{Name: "NAME_2", Code: "ID_2", Parent: "NAME_1"})
	if len(cantons) != 12 {
		t.Fatalf("%d cantons, want 12", len(cantons))
	}
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "a.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loc := NewLocator(st)
	// Before any import: Natural Earth only, and it says so.
	pl, err := loc.AreaAt(ctx, 49.6117, 6.1300) // Luxembourg City
	if err != nil {
		t.Fatal(err)
	}
	if pl.CountryCode != "LUX" || pl.Municipality != "" || len(pl.MunicipalSources) != 0 || !pl.StateFallback || pl.CountrySource != NaturalEarthAdmin0 {
		t.Fatalf("before import: %+v", pl)
	}
	importAreas(t, st, store.LevelMunicipality, "GADM (R terra lux.shp)", cantons)
	pts := randomPoints(500, orb.Bound{Min: orb.Point{5.70, 49.40}, Max: orb.Point{6.56, 50.22}}, cantons, 11)
	truth := gdalAt(t, file, "NAME_2", pts)
	parent := map[string]string{}
	for _, c := range cantons {
		parent[c.Name] = c.Parent
	}
	n := 0
	for i, p := range pts {
		pl, err := loc.AreaAt(ctx, p[1], p[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(truth[i]) != 1 {
			if pl.Municipality != "" && edgeDistance(cantons, []string{pl.Municipality}, p) >= borderTolerance {
				t.Errorf("point %d: locator %q, GDAL %q", i, pl.Municipality, truth[i])
			}
			if pl.Municipality == "" && (len(pl.MunicipalSources) != 1 || pl.MunicipalitySource != "") {
				t.Errorf("point %d outside the cantons: %+v", i, pl)
			}
			continue
		}
		if pl.Municipality != truth[i][0] && edgeDistance(cantons, []string{pl.Municipality, truth[i][0]}, p) >= borderTolerance {
			t.Errorf("point %d: locator %q, GDAL %q", i, pl.Municipality, truth[i])
			continue
		}
		n++
		if pl.State != parent[pl.Municipality] || pl.StateSource != "GADM (R terra lux.shp)" || pl.StateFallback || pl.MunicipalitySource != "GADM (R terra lux.shp)" {
			t.Errorf("point %d in %s: state %q from %q (fallback %v), want %q from the cantons' data", i, pl.Municipality, pl.State, pl.StateSource, pl.StateFallback, parent[pl.Municipality])
		}
	}
	if n < 300 {
		t.Errorf("only %d points in a canton", n)
	}
	// Luxembourg City is in the canton of Luxembourg, district of Luxembourg.
	pl, _ = loc.AreaAt(ctx, 49.6117, 6.1300)
	if pl.Municipality != "Luxembourg" || pl.State != "Luxembourg" {
		t.Errorf("Luxembourg City: %+v", pl)
	}
	// A state layer imported by another process: the locator reloads.
	districts := readAreasFile(t, file, Fields{Name: "NAME_1", Code: "ID_1"})
	for i := range districts {
		districts[i].Name = "District " + districts[i].Name
	}
	importAreas(t, st, store.LevelState, "GADM districts", districts)
	pl, _ = loc.AreaAt(ctx, 49.6117, 6.1300)
	if pl.State != "District Luxembourg" || pl.StateSource != "GADM districts" || pl.Municipality != "Luxembourg" {
		t.Errorf("after the state import: %+v", pl)
	}
	// With MaxAge the locator trusts its index for that long.
	loc.MaxAge = time.Hour
	if _, err := st.DeleteAdminAreas(ctx, store.LevelState, "GADM districts"); err != nil {
		t.Fatal(err)
	}
	if pl, _ = loc.AreaAt(ctx, 49.6117, 6.1300); pl.State != "District Luxembourg" {
		t.Errorf("within MaxAge: %+v", pl)
	}
	loc.Refresh()
	if pl, _ = loc.AreaAt(ctx, 49.6117, 6.1300); pl.State != "Luxembourg" || pl.StateSource != "GADM (R terra lux.shp)" {
		t.Errorf("after Refresh: %+v", pl)
	}
}

// Olinda's census tracts (a Brazilian IBGE mesh: 470 polygons of a few
// hundred metres, converted from SIRGAS 2000's GRS 80 by GDAL) as
// municipal areas: the locator agrees with GDAL on 1,000 points.
func TestLocatorAgreesWithGDALOnDenseTracts(t *testing.T) {
	file := toGeoJSON(t, olindaShapefile)
	as := readAreasFile(t, file, Fields{Name: "CD_GEOCODI"})
	if len(as) != 470 {
		t.Fatalf("%d tracts, want 470", len(as))
	}
	var bound orb.Bound
	for i, a := range as {
		if i == 0 {
			bound = a.Shape.Bound()
		}
		bound = bound.Union(a.Shape.Bound())
	}
	pts := randomPoints(1000, bound.Pad(0.005), as, 5)
	truth := gdalAt(t, file, "CD_GEOCODI", pts)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "a.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	importAreas(t, st, store.LevelMunicipality, "IBGE setores 2010 (R sf olinda1.shp)", as)
	loc := NewLocator(st)
	inside := 0
	for i, p := range pts {
		pl, err := loc.AreaAt(ctx, p[1], p[0])
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if len(truth[i]) > 0 {
			want = truth[i][0]
			inside++
		}
		if len(truth[i]) > 1 || pl.Municipality != want {
			if edgeDistance(as, append([]string{pl.Municipality}, truth[i]...), p) >= borderTolerance {
				t.Errorf("point %d (%.7f, %.7f): locator %q, GDAL %q", i, p[1], p[0], pl.Municipality, truth[i])
			}
		}
	}
	t.Logf("%d points, %d inside a tract", len(pts), inside)
	if inside < 600 {
		t.Errorf("only %d points inside a tract", inside)
	}
}
