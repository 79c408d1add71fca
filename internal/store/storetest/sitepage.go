package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// testSitesPage: every page walk (filters, both orders, several page
// sizes) returns exactly the sites a filter over all of them in Go
// selects, in the order sorted in Go, each once; ties in probability and
// surveys are broken by id.
func testSitesPage(t *testing.T, s store.Store, _ *Clock) {
	rng := rand.New(rand.NewPCG(6, 6))
	statuses := []store.SiteStatus{store.SiteCandidate, store.SiteConfirmed, store.SiteDismissed, store.SiteRevisit, store.SiteReleased}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []store.Site
	for i := range 240 {
		first := t0.Add(time.Duration(rng.IntN(90*24)) * time.Hour)
		st := store.Site{Lat: 4 + rng.Float64(), Lon: -75 + rng.Float64(), UncertaintyM: 20,
			FirstSeen: first, LastSeen: first.Add(time.Duration(rng.IntN(30*24)) * time.Hour),
			PassesSeen: 1, PassesSurvey: rng.IntN(4), Probability: float64(rng.IntN(5)) / 4, // many ties
			Evidence: float64(i), TypeGuess: "unknown", GasProfile: "{}"}
		c, err := s.CreateSite(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if k := statuses[rng.IntN(len(statuses))]; k != store.SiteCandidate {
			c.Status = k
			if c, err = s.UpdateSite(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, c)
	}
	box := store.BBox{MinLat: 4.2, MinLon: -74.9, MaxLat: 4.7, MaxLon: -74.3}
	queries := []store.SiteQuery{
		{},
		{BBox: box},
		{Statuses: []store.SiteStatus{store.SiteConfirmed, store.SiteReleased}},
		{BBox: box, MinProbability: 0.5, Since: t0.Add(40 * 24 * time.Hour), Until: t0.Add(70 * 24 * time.Hour)},
		{Order: store.ByQueue},
		{Order: store.ByQueue, BBox: box, MinProbability: 0.25, Statuses: []store.SiteStatus{store.SiteConfirmed}},
	}
	for qi, q := range queries {
		var want []store.Site
		for _, st := range all {
			open := st.Status == store.SiteCandidate || st.Status == store.SiteRevisit
			switch {
			case q.BBox != (store.BBox{}) && !q.BBox.Contains(st.Lat, st.Lon):
			case q.Order == store.ByQueue && !open:
			case q.Order == store.ByID && len(q.Statuses) > 0 && !slices.Contains(q.Statuses, st.Status):
			case st.Probability < q.MinProbability:
			case !q.Since.IsZero() && st.LastSeen.Before(q.Since):
			case !q.Until.IsZero() && st.FirstSeen.After(q.Until):
			default:
				want = append(want, st)
			}
		}
		slices.SortFunc(want, func(a, b store.Site) int {
			if q.Order == store.ByQueue {
				if c := cmp.Compare(b.Probability, a.Probability); c != 0 {
					return c
				}
				if c := cmp.Compare(a.PassesSurvey, b.PassesSurvey); c != 0 {
					return c
				}
			}
			return cmp.Compare(a.ID, b.ID)
		})
		if len(want) < 5 {
			t.Fatalf("query %d selects %d sites: the fixture does not test it", qi, len(want))
		}
		for _, size := range []int{1, 7, 1000} {
			var got []string
			q := q
			q.Limit = size
			for range len(all) + 2 {
				page, err := s.SitesPage(ctx, q)
				if err != nil {
					t.Fatalf("query %d: %v", qi, err)
				}
				for _, st := range page {
					got = append(got, st.ID)
				}
				if len(page) < size {
					break
				}
				q.After = page[len(page)-1].Key()
			}
			ids := make([]string, len(want))
			for i, st := range want {
				ids[i] = st.ID
			}
			if !slices.Equal(got, ids) {
				t.Errorf("query %d, pages of %d: %d sites %v…, want %d %v…", qi, size, len(got), head(got), len(ids), head(ids))
			}
		}
	}
	if _, err := s.SitesPage(ctx, store.SiteQuery{Order: store.SiteOrder(9)}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown order: %v, want ErrInvalid", err)
	}
}

func head(ids []string) string { return fmt.Sprint(ids[:min(3, len(ids))]) }
