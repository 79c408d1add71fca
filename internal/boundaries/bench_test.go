package boundaries

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/atalaya-project/atalaya/internal/store"
)

// tiledCounties is 3,000 real-shaped areas: North Carolina's 100 counties
// copied 30 times on a 5 × 6 grid of offsets (9.5° × 3°): the order of a
// national municipal layer (Mexico has some 2,500 municipalities, Brazil
// 5,570).
func tiledCounties(b *testing.B) ([]Area, orb.Bound) {
	nc := readAreasFile(b, toGeoJSON(b, ncShapefile), Fields{Name: "NAME", Code: "FIPS"})
	var out []Area
	var bound orb.Bound
	for i := range 5 {
		for j := range 6 {
			dx, dy := 9.5*float64(i), 3*float64(j)
			for _, a := range nc {
				c := Area{Name: a.Name, Code: a.Code, Shape: orb.Clone(a.Shape).(orb.MultiPolygon)}
				for _, p := range c.Shape {
					for _, r := range p {
						for k := range r {
							r[k][0] += dx
							r[k][1] += dy
						}
					}
				}
				if len(out) == 0 {
					bound = c.Shape.Bound()
				}
				bound = bound.Union(c.Shape.Bound())
				out = append(out, c)
			}
		}
	}
	return out, bound
}

// BenchmarkAreaAt3000 is one lookup (municipality and state, and Natural
// Earth's country) among 3,000 imported areas, the index loaded.
func BenchmarkAreaAt3000(b *testing.B) {
	as, bound := tiledCounties(b)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "a.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	importAreas(b, st, store.LevelMunicipality, "tiled", as)
	loc := NewLocator(st)
	loc.MaxAge = time.Hour
	pts := randomPoints(4096, bound, as, 3)
	if _, err := loc.AreaAt(ctx, 35, -79); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := pts[i%len(pts)]
		if _, err := loc.AreaAt(ctx, p[1], p[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMunicipalityAt3000 is the municipal lookup alone (the layer).
func BenchmarkMunicipalityAt3000(b *testing.B) {
	as, bound := tiledCounties(b)
	fs := make([]Feature, len(as))
	for i, a := range as {
		fs[i] = Feature{Name: a.Name, Code: a.Code, Shape: a.Shape}
	}
	l, err := NewLayer(fs)
	if err != nil {
		b.Fatal(err)
	}
	pts := randomPoints(4096, bound, as, 3)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := pts[i%len(pts)]
		l.At(p[1], p[0])
	}
}

// BenchmarkLoad3000 is loading the index of 3,000 areas from the store
// (what a process does on first use and after each import).
func BenchmarkLoad3000(b *testing.B) {
	as, _ := tiledCounties(b)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "a.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	importAreas(b, st, store.LevelMunicipality, "tiled", as)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := loadIndex(ctx, st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlaceAt3000 is one one-off lookup (bbox candidates read from
// SQLite, parsed and tested) among 3,000 areas.
func BenchmarkPlaceAt3000(b *testing.B) {
	as, bound := tiledCounties(b)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "a.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	importAreas(b, st, store.LevelMunicipality, "tiled", as)
	pts := randomPoints(4096, bound, as, 3)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := pts[i%len(pts)]
		if _, err := PlaceAt(ctx, st, p[1], p[0]); err != nil {
			b.Fatal(err)
		}
	}
}
