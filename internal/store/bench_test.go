package store_test

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// benchSites is how many sites the query benchmarks search: a large
// national programme's candidate list after years of surveys.
const benchSites = 10000

// benchSite is a site at a random place in a 1°×1° survey region.
func benchSite(r *rand.Rand) store.Site {
	return store.Site{Lat: 4 + r.Float64(), Lon: -75 + r.Float64(), UncertaintyM: 20,
		GasProfile: `{"ammonia":2.5}`, PassesSeen: 2, PassesSurvey: 3, Evidence: 3.1, Probability: 0.7}
}

func benchStores(b *testing.B, f func(b *testing.B, newDB func() *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { f(b, func() *store.DB { return newSQLite(b, time.Now) }) })
	b.Run("postgres", func(b *testing.B) {
		if os.Getenv("ATALAYA_TEST_POSTGRES_URL") == "" {
			b.Skip("ATALAYA_TEST_POSTGRES_URL is not set: export ATALAYA_TEST_POSTGRES_URL=$(scripts/postgres.sh)")
		}
		f(b, func() *store.DB { return newPostgres(b, time.Now) })
	})
}

// BenchmarkSiteInserts writes sites in transactions of 1, 100 and 1000.
func BenchmarkSiteInserts(b *testing.B) {
	benchStores(b, func(b *testing.B, newDB func() *store.DB) {
		for _, batch := range []int{1, 100, 1000} {
			b.Run("batch="+itoa(batch), func(b *testing.B) {
				db := newDB()
				ctx := context.Background()
				r := rand.New(rand.NewPCG(1, 2))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					err := db.InTx(ctx, func(tx store.Tx) error {
						for range batch {
							if _, err := tx.CreateSite(ctx, benchSite(r)); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "sites/s")
			})
		}
	})
}

// seeded is a store holding benchSites random sites.
func seeded(b *testing.B, newDB func() *store.DB) *store.DB {
	db := newDB()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	err := db.InTx(ctx, func(tx store.Tx) error {
		for range benchSites {
			if _, err := tx.CreateSite(ctx, benchSite(r)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if db.Dialect() == "postgres" {
		if _, err := db.SQL().ExecContext(ctx, `ANALYZE sites`); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// BenchmarkSitesInBBox queries 0.02°×0.02° boxes (about 2 km, 4 sites on
// average) among benchSites sites.
func BenchmarkSitesInBBox(b *testing.B) {
	benchStores(b, func(b *testing.B, newDB func() *store.DB) {
		db := seeded(b, newDB)
		ctx := context.Background()
		r := rand.New(rand.NewPCG(5, 6))
		found := 0
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			lat, lon := 4+0.98*r.Float64(), -75+0.98*r.Float64()
			s, err := db.SitesInBBox(ctx, store.BBox{MinLat: lat, MinLon: lon, MaxLat: lat + 0.02, MaxLon: lon + 0.02}, 0)
			if err != nil {
				b.Fatal(err)
			}
			found += len(s)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
		b.ReportMetric(float64(found)/float64(b.N), "sites/query")
	})
}

// BenchmarkSitesNear asks for the 10 nearest sites within 1 km among
// benchSites sites.
func BenchmarkSitesNear(b *testing.B) {
	benchStores(b, func(b *testing.B, newDB func() *store.DB) {
		db := seeded(b, newDB)
		ctx := context.Background()
		r := rand.New(rand.NewPCG(7, 8))
		found := 0
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			s, _, err := db.SitesNear(ctx, 4+r.Float64(), -75+r.Float64(), 1000, 10)
			if err != nil {
				b.Fatal(err)
			}
			found += len(s)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
		b.ReportMetric(float64(found)/float64(b.N), "sites/query")
	})
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}
