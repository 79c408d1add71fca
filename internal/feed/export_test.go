package feed

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// testImages makes one small PNG per site (a plume-like blob).
func testImages(_ context.Context, siteID string) ([]Image, error) {
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			d := (x-8)*(x-8) + (y-8)*(y-8)
			img.SetGray(x, y, color.Gray{Y: uint8(max(0, 255-4*d))})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return []Image{{Name: "plume pass 1.png", PNG: b.Bytes()}}, nil
}

// kmzFiles returns the entry names of a KMZ and the text of its doc.kml.
func kmzFiles(t testing.TB, b []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, f := range zr.File {
		if i == 0 && f.Name != "doc.kml" {
			t.Fatalf("KMZ's first entry is %s, want doc.kml", f.Name)
		}
		out = append(out, f.Name)
		if f.Name == "doc.kml" {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			k, _ := io.ReadAll(r)
			r.Close()
			out = append(out, string(k))
		}
	}
	return out
}

// testSites are three sites with known fields.
func testSites() []Site {
	var out []Site
	for i, p := range [][2]float64{{4.6097, -74.0817}, {-12.0464, -77.0428}, {-3.119, -60.0217}} {
		out = append(out, Site{
			ID: fmt.Sprintf("site%02d", i+1), Lat: p[0], Lon: p[1], UncertaintyM: 10 + float64(i),
			Gases:     []SiteGas{{Gas: "ammonia", Evidence: 9.5, PeakPPMM: 830, RateKgH: 1.9}},
			FirstSeen: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), LastSeen: time.Date(2026, 3, 4+i, 10, 0, 0, 0, time.UTC),
			PassesSeen: 3, PassesSurveyed: 4 + i, Evidence: 12.5, Probability: 0.5 + 0.1*float64(i),
			TypeGuess: "meth-p2p", Status: "released", Version: int64(i + 2), Owner: "COLPNC", ReleasedTo: []string{"A"},
		})
	}
	return out
}

// gdalCSV converts a vector source with GDAL's ogr2ogr to CSV (geometry as
// X, Y columns) and returns its rows by column name.
func gdalCSV(t testing.TB, src string, args ...string) []map[string]string {
	t.Helper()
	cmd := exec.Command("ogr2ogr", append([]string{"-f", "CSV", "/vsistdout/", src, "-lco", "GEOMETRY=AS_XY"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ogr2ogr %s: %v\n%s", src, err, stderr.String())
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("ogr2ogr %s: CSV %q: %v", src, out, err)
	}
	var recs []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, k := range rows[0] {
			m[k] = r[i]
		}
		recs = append(recs, m)
	}
	return recs
}

func checkGDALSites(t testing.TB, what string, recs []map[string]string, want []Site, idCol string) {
	t.Helper()
	if len(recs) != len(want) {
		t.Fatalf("%s: GDAL read %d features, want %d: %v", what, len(recs), len(want), recs)
	}
	for i, s := range want {
		r := recs[i]
		x, _ := strconv.ParseFloat(r["X"], 64)
		y, _ := strconv.ParseFloat(r["Y"], 64)
		// GDAL prints 15 significant digits.
		if d := max(abs(x-s.Lon), abs(y-s.Lat)); d > 1e-9 || r[idCol] != s.ID || r["status"] != s.Status || r["owner"] != s.Owner {
			t.Fatalf("%s: feature %d = %v, want site %s at %g,%g", what, i, r, s.ID, s.Lat, s.Lon)
		}
		if p, _ := strconv.ParseFloat(r["probability"], 64); abs(p-s.Probability) > 1e-12 {
			t.Fatalf("%s: feature %d probability %q, want %g", what, i, r["probability"], s.Probability)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// GDAL (its GeoJSON driver) reads the GeoJSON export: positions, ids and
// properties.
func TestGeoJSONReadByGDAL(t *testing.T) {
	sites := testSites()
	f := filepath.Join(t.TempDir(), "sites.geojson")
	var b bytes.Buffer
	if err := WriteGeoJSON(&b, sites); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	checkGDALSites(t, "geojson", gdalCSV(t, f, "-preserve_fid"), sites, "id")
}

// GDAL's LIBKML driver reads the KML and the KMZ (ExtendedData fields,
// coordinates); the KMZ carries each site's images, which its placemark
// shows.
func TestKMLReadByGDAL(t *testing.T) {
	sites := testSites()
	dir := t.TempDir()
	var k, z bytes.Buffer
	if err := WriteKML(&k, "test", sites, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteKMZ(context.Background(), &z, "test", sites, testImages); err != nil {
		t.Fatal(err)
	}
	kml, kmz := filepath.Join(dir, "sites.kml"), filepath.Join(dir, "sites.kmz")
	if err := os.WriteFile(kml, k.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kmz, z.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	checkGDALSites(t, "kml", gdalCSV(t, kml), sites, "id")
	checkGDALSites(t, "kmz", gdalCSV(t, kmz), sites, "id")
	files := kmzFiles(t, z.Bytes())
	for _, s := range sites {
		p := "images/" + s.ID + "/plume_pass_1.png"
		if !slices.Contains(files, p) || !strings.Contains(files[1], `src="`+p+`"`) {
			t.Fatalf("KMZ lacks %s or its reference: %v", p, files[:1])
		}
	}
}

// GDAL's OGC API – Features client (the OAPIF driver; QGIS reads the same
// API) loads the sites a partner may see, following next links page by
// page, and a bbox restricts them.
func TestOGCAPIReadByGDAL(t *testing.T) {
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "a.db"))
	ctx := context.Background()
	putAgencies(t, st, "COLPNC", "A", "B")
	var mine []Site
	for i := range 7 {
		s := newSite(t, st, 4.6+0.01*float64(i), -74.1+0.01*float64(i))
		to := "A"
		if i%3 == 2 {
			to = "B"
		}
		release(t, st, s.ID, "COLPNC", to)
		if to == "A" {
			s, _ = st.Site(ctx, s.ID)
			mine = append(mine, NewSite(s, "COLPNC", []string{"A"}))
		}
	}
	slices.SortFunc(mine, func(a, b Site) int { return strings.Compare(a.ID, b.ID) })
	cat := &Catalog{Sites: st, Audience: StoreAudience(st, fixedOwner("COLPNC"))}
	asA := func(*http.Request) (access.Principal, bool) {
		return access.Principal{UserID: "u", AgencyID: "A", Role: access.RolePartner}, true
	}
	srv := httptest.NewServer(http.StripPrefix("/api/v1/ogc", OGCHandler(HandlerConfig{Catalog: cat, Principal: asA, Prefix: "/api/v1/ogc"})))
	defer srv.Close()
	src := "OAPIF:" + srv.URL + "/api/v1/ogc"
	// PAGE_SIZE 2: GDAL must follow 3 next links for A's 5 sites.
	recs := gdalCSV(t, src, "sites", "-oo", "PAGE_SIZE=2", "-preserve_fid")
	checkGDALSites(t, "oapif", recs, mine, "id")
	box := fmt.Sprintf("%g %g %g %g", -74.1-1e-6, 4.6-1e-6, -74.08+1e-6, 4.62+1e-6) // the first 3 sites, one of them B's
	recs = gdalCSV(t, src, "sites", "-spat", strings.Fields(box)[0], strings.Fields(box)[1], strings.Fields(box)[2], strings.Fields(box)[3])
	var want []Site
	for _, s := range mine {
		if s.Lat <= 4.62+1e-6 {
			want = append(want, s)
		}
	}
	checkGDALSites(t, "oapif bbox", recs, want, "id")
}

// The OGC API answers bad parameters with the API's error body naming the
// field, and pages with cursor links.
func TestOGCAPIParams(t *testing.T) {
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "a.db"))
	putAgencies(t, st, "COLPNC", "A")
	for i := range 3 {
		s := newSite(t, st, 4.6+0.01*float64(i), -74.1)
		release(t, st, s.ID, "COLPNC", "A")
	}
	cat := &Catalog{Sites: st, Audience: StoreAudience(st, fixedOwner("COLPNC"))}
	srv := httptest.NewServer(OGCHandler(HandlerConfig{Catalog: cat, Principal: testPrincipal}))
	defer srv.Close()
	for _, tc := range []struct{ query, field string }{
		{"bbox=1,2,3", "bbox"},
		{"bbox=1,2,x,4", "bbox"},
		{"bbox=10,5,0,6", "bbox"},
		{"bbox=0,95,1,96", "bbox"},
		{"limit=0", "limit"},
		{"limit=many", "limit"},
		{"datetime=yesterday", "datetime"},
		{"datetime=2026-03-05T00:00:00Z/2026-03-01T00:00:00Z", "datetime"},
		{"colour=red", "colour"},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/collections/sites/items?"+tc.query, nil)
		req.Header.Set(agencyHeader, "A")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"field":"`+tc.field+`"`) || !strings.Contains(string(b), `"code":"invalid"`) {
			t.Errorf("?%s: %d %s, want 400 naming %s", tc.query, resp.StatusCode, b, tc.field)
		}
	}
	// datetime on the sites' first..last seen interval (2026-03-01..04).
	for q, want := range map[string]int{
		"datetime=2026-03-02T00:00:00Z":                      3,
		"datetime=../2026-02-28T00:00:00Z":                   0,
		"datetime=2026-03-05T00:00:00Z/..":                   0,
		"datetime=2026-02-01T00:00:00Z/2026-03-01T10:00:00Z": 3,
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/collections/sites/items?"+q, nil)
		req.Header.Set(agencyHeader, "A")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), fmt.Sprintf(`"numberReturned":%d`, want)) {
			t.Errorf("?%s: %s, want %d sites", q, b, want)
		}
	}
	var _ = store.ErrNotFound
}

func FuzzParseBBox(f *testing.F) {
	for _, s := range []string{"-74.2,4.5,-74.0,4.7", "1,2,3", "0,0,0,0", "-180,-90,180,90", "1e400,0,0,0", "nan,0,1,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBBox(s)
		if err != nil {
			return
		}
		if !(b.MinLon >= -180 && b.MinLon <= b.MaxLon && b.MaxLon <= 180 && b.MinLat >= -90 && b.MinLat <= b.MaxLat && b.MaxLat <= 90) {
			t.Fatalf("ParseBBox(%q) = %+v: not a valid box", s, b)
		}
	})
}
