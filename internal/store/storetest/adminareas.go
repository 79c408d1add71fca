package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// box is a GeoJSON Polygon: the box [lon0, lon1]×[lat0, lat1].
func box(lat0, lon0, lat1, lon1 float64) (string, store.BBox) {
	return fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}`,
			lon0, lat0, lon1, lat0, lon1, lat1, lon0, lat1, lon0, lat0),
		store.BBox{MinLat: lat0, MinLon: lon0, MaxLat: lat1, MaxLon: lon1}
}

func testAdminAreas(t *testing.T, s store.Store, clock *Clock) {
	aa, ok := s.(store.AdminAreas)
	if !ok {
		t.Fatalf("%T does not store administrative areas", s)
	}
	gen := func() int64 { return must(aa.AdminAreasGeneration(ctx))(t) }
	g0 := gen()
	area := func(name, code string, lat0, lon0, lat1, lon1 float64) store.AdminArea {
		gj, b := box(lat0, lon0, lat1, lon1)
		return store.AdminArea{Name: name, Code: code, Parent: "Cundinamarca", GeoJSON: gj, BBox: b}
	}
	const dane = "DANE MGN 2024"
	n := must(aa.ImportAdminAreas(ctx, store.LevelMunicipality, dane, []store.AdminArea{
		area("Bogotá, D.C.", "11001", 4.4, -74.3, 4.8, -73.9),
		area("Soacha", "25754", 4.4, -74.4, 4.5, -74.3),
		area("Chía", "25175", 4.85, -74.1, 4.9, -74.0),
	}))(t)
	if n != 3 {
		t.Fatalf("imported %d, want 3", n)
	}
	g1 := gen()
	if g1 == g0 {
		t.Error("the generation did not change on import")
	}
	all := must(aa.AdminAreas(ctx, ""))(t)
	if len(all) != 3 || all[0].Code != "11001" || all[1].Code != "25175" || all[2].Code != "25754" {
		t.Fatalf("areas %+v: want 3 by code", all)
	}
	a := all[0]
	if a.Level != store.LevelMunicipality || a.Source != dane || a.Name != "Bogotá, D.C." || a.Parent != "Cundinamarca" || a.ID == "" ||
		!a.Imported.Equal(clock.Now()) || a.BBox != (store.BBox{MinLat: 4.4, MinLon: -74.3, MaxLat: 4.8, MaxLon: -73.9}) {
		t.Errorf("area %+v", a)
	}
	if wantGJ, _ := box(4.4, -74.3, 4.8, -73.9); a.GeoJSON != wantGJ {
		t.Errorf("geometry %s, want %s", a.GeoJSON, wantGJ)
	}
	// Bounding-box candidates: edges included.
	at := func(lat, lon float64) []string {
		var codes []string
		for _, a := range must(aa.AdminAreasAt(ctx, lat, lon))(t) {
			codes = append(codes, a.Code)
		}
		return codes
	}
	if got := at(4.6, -74.1); fmt.Sprint(got) != "[11001]" {
		t.Errorf("candidates in Bogotá: %v", got)
	}
	if got := at(4.45, -74.3); fmt.Sprint(got) != "[11001 25754]" {
		t.Errorf("candidates on the Bogotá–Soacha edge: %v", got)
	}
	if got := at(4.9, -74.0); fmt.Sprint(got) != "[25175]" {
		t.Errorf("candidates at Chía's corner: %v", got)
	}
	if got := at(10, -74); len(got) != 0 {
		t.Errorf("candidates far away: %v", got)
	}
	if _, err := aa.AdminAreasAt(ctx, 91, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("candidates at latitude 91: %v, want ErrInvalid", err)
	}

	// A later import of another level and source: listed first.
	clock.Advance(time.Minute)
	gj, b := box(4, -75, 5.5, -73.5)
	must(aa.ImportAdminAreas(ctx, store.LevelState, "IGAC 2024", []store.AdminArea{{Name: "Cundinamarca", Code: "25", GeoJSON: gj, BBox: b}}))(t)
	if got := at(4.6, -74.1); fmt.Sprint(got) != "[25 11001]" {
		t.Errorf("candidates after the state import: %v, want the newer import first", got)
	}
	if st := must(aa.AdminAreas(ctx, store.LevelState))(t); len(st) != 1 || st[0].Level != store.LevelState {
		t.Errorf("states %+v", st)
	}

	// Bad input changes nothing.
	g2 := gen()
	bad := []struct {
		level store.AdminLevel
		src   string
		a     store.AdminArea
	}{
		{"county", dane, area("X", "1", 0, 0, 1, 1)},
		{store.LevelMunicipality, "", area("X", "1", 0, 0, 1, 1)},
		{store.LevelMunicipality, dane, area("", "1", 0, 0, 1, 1)},
		{store.LevelMunicipality, dane, store.AdminArea{Name: "X", GeoJSON: `{"type":"Point","coordinates":[0,0]}`, BBox: b}},
		{store.LevelMunicipality, dane, store.AdminArea{Name: "X", GeoJSON: `{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`, BBox: b}},
		{store.LevelMunicipality, dane, store.AdminArea{Name: "X", GeoJSON: `{"type":"MultiPolygon","coordinates":"x"}`, BBox: b}},
		{store.LevelMunicipality, dane, store.AdminArea{Name: "X", GeoJSON: gj, BBox: store.BBox{MinLat: 5, MaxLat: 4}}},
		{store.LevelMunicipality, dane, store.AdminArea{Name: "X", GeoJSON: gj, BBox: store.BBox{MinLat: -95, MaxLat: 4}}},
	}
	for i, c := range bad {
		good := area("Soacha", "25754", 4.4, -74.4, 4.5, -74.3)
		if _, err := aa.ImportAdminAreas(ctx, c.level, c.src, []store.AdminArea{good, c.a}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("bad import %d: %v, want ErrInvalid", i, err)
		}
	}
	if got := must(aa.AdminAreas(ctx, store.LevelMunicipality))(t); len(got) != 3 {
		t.Errorf("after refused imports: %d municipalities, want the 3 stored before", len(got))
	}
	if gen() != g2 {
		t.Error("a refused import changed the generation")
	}

	// Importing the same source again replaces it.
	clock.Advance(time.Minute)
	must(aa.ImportAdminAreas(ctx, store.LevelMunicipality, dane, []store.AdminArea{area("Bogotá, D.C.", "11001", 4.4, -74.3, 4.8, -73.9)}))(t)
	sets := must(aa.AdminAreaSets(ctx))(t)
	if len(sets) != 2 || sets[0] != (store.AdminAreaSet{Level: store.LevelMunicipality, Source: dane, Areas: 1, Imported: clock.Now()}) ||
		sets[1].Level != store.LevelState || sets[1].Areas != 1 {
		t.Errorf("sets %+v", sets)
	}
	g3 := gen()
	if g3 == g2 {
		t.Error("the generation did not change on re-import")
	}
	if n := must(aa.DeleteAdminAreas(ctx, store.LevelState, "IGAC 2024"))(t); n != 1 {
		t.Errorf("deleted %d states, want 1", n)
	}
	if gen() == g3 {
		t.Error("the generation did not change on delete")
	}
	if n := must(aa.DeleteAdminAreas(ctx, store.LevelState, "IGAC 2024"))(t); n != 0 {
		t.Errorf("deleted %d states again", n)
	}
	if got := at(4.6, -74.1); fmt.Sprint(got) != "[11001]" {
		t.Errorf("candidates after the delete: %v", got)
	}
}
