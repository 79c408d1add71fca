package boundaries

import (
	"errors"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

const twoAreas = `{"type":"FeatureCollection",
"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},
"features":[
{"type":"Feature","properties":{"NM_MUN":"Olinda","CD_MUN":2609600,"SIGLA_UF":"PE"},
 "geometry":{"type":"Polygon","coordinates":[[[-34.9,-8.05],[-34.82,-8.05],[-34.82,-7.95],[-34.9,-7.95],[-34.9,-8.05]],
   [[-34.88,-8.0],[-34.86,-8.0],[-34.86,-7.98],[-34.88,-7.98],[-34.88,-8.0]]]}},
{"type":"Feature","properties":{"NM_MUN":"Ilha","CD_MUN":"2600001","SIGLA_UF":null},
 "geometry":{"type":"MultiPolygon","coordinates":[[[[-34.88,-8.0],[-34.86,-8.0],[-34.86,-7.98],[-34.88,-7.98],[-34.88,-8.0]]],
   [[[-30,-4],[-29,-4],[-29,-3],[-30,-3],[-30,-4]]]]}}
]}`

// Names, codes (strings or numbers) and parents come from the named
// properties; holes and multipolygons survive the round trip through the
// stored GeoJSON.
func TestReadAreas(t *testing.T) {
	as, err := ReadAreas(strings.NewReader(twoAreas), Fields{Name: "NM_MUN", Code: "CD_MUN", Parent: "SIGLA_UF"})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Name != "Olinda" || as[0].Code != "2609600" || as[0].Parent != "PE" ||
		as[1].Code != "2600001" || as[1].Parent != "" || len(as[0].Shape) != 1 || len(as[0].Shape[0]) != 2 || len(as[1].Shape) != 2 {
		t.Fatalf("areas %+v", as)
	}
	for _, a := range as {
		b, err := a.GeoJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseShape(b)
		if err != nil {
			t.Fatal(err)
		}
		if !orb.Equal(back, a.Shape) {
			t.Errorf("%s: round trip %v, want %v", a.Name, back, a.Shape)
		}
	}
	l, err := NewLayer([]Feature{{Name: as[0].Name, Shape: as[0].Shape}, {Name: as[1].Name, Shape: as[1].Shape}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		lat, lon float64
		want     string
	}{
		{-8.02, -34.89, "Olinda"},
		{-7.99, -34.87, "Ilha"}, // in Olinda's hole, which is Ilha's first polygon
		{-3.5, -29.5, "Ilha"},   // Ilha's second polygon
		{-3.5, -31, ""},
		{-8.06, -34.89, ""},
	} {
		got := ""
		if f, ok := l.At(c.lat, c.lon); ok {
			got = f.Name
		}
		if got != c.want {
			t.Errorf("At(%v, %v) = %q, want %q", c.lat, c.lon, got, c.want)
		}
	}
}

// Bad files are refused with an error naming the feature and the fault.
func TestReadAreasErrors(t *testing.T) {
	feature := func(props, geom string) string {
		return `{"type":"FeatureCollection","features":[` +
			`{"type":"Feature","properties":{"NAME":"Good"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},` +
			`{"type":"Feature","properties":` + props + `,"geometry":` + geom + `}]}`
	}
	sq := `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`
	for _, c := range []struct{ in, want string }{
		{`{"type":"Feature"}`, `type "Feature": want a FeatureCollection`},
		{`{"type":"FeatureCollection","features":[]}`, "no features"},
		{`{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::31983"}},"features":[]}`, "crs urn:ogc:def:crs:EPSG::31983: want WGS 84"},
		{`{"type":"FeatureCollection","crs":{"type":"link","properties":{"href":"x"}},"features":[]}`, `crs of type "link"`},
		{feature(`{"NOME":"x"}`, sq), `feature 1: no property "NAME" (it has: NOME)`},
		{feature(`{"NAME":"  "}`, sq), `feature 1: property "NAME" is empty`},
		{feature(`{"NAME":null}`, sq), `feature 1: property "NAME" is empty`},
		{feature(`{"NAME":[1]}`, sq), `feature 1: property "NAME" is [1]: want a string or a number`},
		{feature(`{"NAME":"B"}`, `null`), `feature 1 (NAME "B"): no geometry`},
		{feature(`{"NAME":"B"}`, `{"type":"Point","coordinates":[0,0]}`), `feature 1 (NAME "B"): geometry type "Point": want Polygon or MultiPolygon`},
		{feature(`{"NAME":"B"}`, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`), "polygon 0 ring 0 has 3 positions: want at least 4"},
		{feature(`{"NAME":"B"}`, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}`), "polygon 0 ring 0 is not closed"},
		{feature(`{"NAME":"B"}`, `{"type":"Polygon","coordinates":[[[500000,8000000],[500001,8000000],[500001,8000001],[500000,8000000]]]}`),
			"position 0 (500000, 8e+06) is not a longitude/latitude: is the file in a projected CRS?"},
		{feature(`{"NAME":"B"}`, `{"type":"MultiPolygon","coordinates":[]}`), "empty MultiPolygon"},
		{feature(`{"NAME":"B"}`, `{"type":"MultiPolygon","coordinates":[[]]}`), "polygon 0 has no ring"},
		{feature(`{"NAME":"B"}`, `{"type":"Polygon","coordinates":[[[0],[1,0],[1,1],[0]]]}`), "Polygon coordinates: position [0]"},
		{feature(`{"NAME":"B"}`, `{"type":"Polygon","coordinates":[[[null,0],[1,0],[1,1],[0,0]]]}`), "Polygon coordinates: position [null,0]"},
	} {
		_, err := ReadAreas(strings.NewReader(c.in), Fields{Name: "NAME"})
		if !errors.Is(err, ErrGeoJSON) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadAreas(%.80s…) = %v, want ErrGeoJSON with %q", c.in, err, c.want)
		}
	}
	if _, err := ReadAreas(strings.NewReader(twoAreas), Fields{Name: "NM_MUN", Code: "CD_UF"}); err == nil ||
		!strings.Contains(err.Error(), `feature 0 (NM_MUN "Olinda"): no property "CD_UF" (it has: CD_MUN, NM_MUN, SIGLA_UF)`) {
		t.Errorf("missing code field: %v", err)
	}
}

func FuzzReadAreas(f *testing.F) {
	f.Add([]byte(twoAreas))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"NM_MUN":"a"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","crs":null,"features":[{"type":"Feature","properties":{"NM_MUN":1e400},"geometry":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		as, err := ReadAreas(strings.NewReader(string(b)), Fields{Name: "NM_MUN", Code: "CD_MUN"})
		if err != nil {
			if !errors.Is(err, ErrGeoJSON) {
				t.Fatalf("error %v is not ErrGeoJSON", err)
			}
			return
		}
		fs := make([]Feature, len(as))
		for i, a := range as {
			if a.Name == "" || len(a.Shape) == 0 {
				t.Fatalf("accepted area %+v", a)
			}
			gj, err := a.GeoJSON()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseShape(gj)
			if err != nil || !orb.Equal(back, a.Shape) {
				t.Fatalf("round trip of %v: %v, %v", a.Shape, back, err)
			}
			fs[i] = Feature{Name: a.Name, Shape: a.Shape}
		}
		l, err := NewLayer(fs)
		if err != nil {
			t.Fatalf("NewLayer refused what ReadAreas accepted: %v", err)
		}
		// Lookups anywhere (every vertex, each area's centroid) answer
		// without panicking.
		for _, a := range as {
			for _, p := range a.Shape {
				for _, r := range p {
					for _, pt := range r {
						l.At(pt[1], pt[0])
					}
				}
			}
			c, _ := planar.CentroidArea(a.Shape)
			l.At(c[1], c[0])
		}
	})
}
