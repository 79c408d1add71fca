package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

// BenchmarkListSites: GET /sites and /queue over 100,000 sites in Colombia
// (owned by COL-DIRAN through the Natural Earth boundaries; one in fifty
// released to PER-DIRANDRO), on SQLite and PostgreSQL. Each iteration is
// one request of a page of 100 over real HTTP.
//
//	go test ./internal/server -run '^$' -bench ListSites -benchtime 20x
func BenchmarkListSites(b *testing.B) {
	const n = 100_000
	for _, db := range []struct{ name, url string }{{"sqlite", sqliteURL(b)}, {"postgres", storetest.PostgresSchemaURL(b)}} {
		b.Run(db.name, func(b *testing.B) {
			e := newEnv(b, db.url)
			seedSites(b, e, n)
			col, per := e.tok("analyst", agCOL), e.tok("analyst", agPER)
			for _, c := range []struct{ name, path, tok string }{
				{"sites-world", "/api/v1/sites?limit=100", col},
				{"sites-bbox-status", "/api/v1/sites?limit=100&bbox=-75,4,-74,5&status=candidate&min_probability=0.5", col},
				{"sites-released-to-partner", "/api/v1/sites?limit=100", per},
				{"queue", "/api/v1/queue?limit=100", col},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						resp := e.do("GET", c.path, c.tok, nil)
						body := read(b, resp)
						if resp.StatusCode != http.StatusOK {
							b.Fatalf("%s: %d %s", c.path, resp.StatusCode, body)
						}
					}
				})
			}
		})
	}
}

// seedSites adds n sites over 3°×3° of Colombia in one transaction.
func seedSites(b *testing.B, e *env, n int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	statuses := []store.SiteStatus{store.SiteCandidate, store.SiteCandidate, store.SiteConfirmed, store.SiteDismissed, store.SiteRevisit}
	ctx, t0 := context.Background(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err := e.st.InTx(ctx, func(tx store.Tx) error {
		for i := range n {
			first := t0.Add(time.Duration(rng.IntN(300*24)) * time.Hour)
			st, err := tx.CreateSite(ctx, store.Site{Lat: 3 + 3*rng.Float64(), Lon: -76 + 3*rng.Float64(), UncertaintyM: 20 + 50*rng.Float64(),
				GasProfile: `{"acetone":2}`, FirstSeen: first, LastSeen: first.Add(48 * time.Hour), PassesSeen: 1,
				PassesSurvey: rng.IntN(5), Evidence: 3, Probability: rng.Float64(), TypeGuess: "unknown"})
			if err != nil {
				return err
			}
			if s := statuses[rng.IntN(len(statuses))]; s != store.SiteCandidate {
				st.Status = s
				if _, err := tx.UpdateSite(ctx, st); err != nil {
					return err
				}
			}
			if i%50 == 0 {
				if _, err := tx.ReleaseSite(ctx, store.Release{SiteID: st.ID, AgencyID: agPER, ReleasedBy: "bench", At: t0}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(fmt.Errorf("seeding %d sites: %w", n, err))
	}
}
