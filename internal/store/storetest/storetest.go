// Package storetest is the one test suite every store.Store implementation
// passes: Run(t, newStore) for SQLite and PostgreSQL alike.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// Clock is a fake clock the tests move by hand.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Factory returns a new, empty store using clock now; the factory closes it
// when the test ends.
type Factory func(t *testing.T, now func() time.Time) store.Store

// Run runs the whole suite against the stores newStore makes.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store, *Clock)
	}{
		{"Granules", testGranules},
		{"GranuleIdempotentConcurrent", testGranuleIdempotentConcurrent},
		{"GranuleLifecycle", testGranuleLifecycle},
		{"CompleteGranule", testCompleteGranule},
		{"CompleteGranuleAtomic", testCompleteGranuleAtomic},
		{"Sites", testSites},
		{"SiteOptimisticConcurrency", testSiteOptimisticConcurrency},
		{"SitesInBBox", testSitesInBBox},
		{"SitesNear", testSitesNear},
		{"SiteHistory", testSiteHistory},
		{"Evidence", testEvidence},
		{"Decisions", testDecisions},
		{"Verdicts", testVerdicts},
		{"GranulesCovering", testGranulesCovering},
		{"Outbox", testOutbox},
		{"OutboxConcurrentClaims", testOutboxConcurrentClaims},
		{"FanOut", testFanOut},
		{"FanOutDue", testFanOutDue},
		{"DeliveryOrder", testDeliveryOrder},
		{"DeadLetters", testDeadLetters},
		{"DeliveryConcurrentClaims", testDeliveryConcurrentClaims},
		{"Webhooks", testWebhooks},
		{"TxCommitRollback", testTxCommitRollback},
		{"TxErrorLeavesNothing", testTxErrorLeavesNothing},
		{"TxPanicLeavesNothing", testTxPanicLeavesNothing},
		{"Purge", testPurge},
		{"Agencies", testAgencies},
		{"Users", testUsers},
		{"Tokens", testTokens},
		{"Sessions", testSessions},
		{"Releases", testReleases},
		{"ReleaseAtomicWithDecision", testReleaseAtomicWithDecision},
		{"AuditAppend", testAuditAppend},
		{"AuditConcurrentAppends", testAuditConcurrentAppends},
		{"TAKCerts", testTAKCerts},
		{"SitesWithStatus", testSitesWithStatus},
		{"SitesPage", testSitesPage},
		{"AdminAreas", testAdminAreas},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock()
			s := newStore(t, clock.Now)
			tc.fn(t, s, clock)
		})
	}
}

var ctx = context.Background()

func sha(i int) string { return fmt.Sprintf("%064x", i+1) }

func granule(i int) store.Granule {
	return store.Granule{
		Kind:             store.KindCube,
		SHA256:           sha(i),
		Name:             fmt.Sprintf("pass-%03d.hdr", i),
		Size:             1 << 20,
		URI:              fmt.Sprintf("file:///granules/%03d", i),
		Footprint:        store.BBox{MinLat: 4.60, MinLon: -74.10, MaxLat: 4.62, MaxLon: -74.08},
		FootprintGeoJSON: `{"type":"Polygon","coordinates":[[[-74.1,4.6],[-74.08,4.6],[-74.08,4.62],[-74.1,4.62],[-74.1,4.6]]]}`,
		Acquired:         time.Date(2026, 2, 28, 15, 4, 5, 123456000, time.UTC),
	}
}

func detection(i int) store.Detection {
	return store.Detection{
		Gas: "ammonia", Method: "mf", Score: 9.5 + float64(i), PValue: 1e-7,
		Lat: 4.61 + 1e-4*float64(i), Lon: -74.09, UncertaintyM: 12.5,
		PeakPPMM: 830, MeanPPMM: 210.25, SigmaPPMM: 41, IMEKg: 0.37, RateKgH: 1.9, RateSigmaKgH: 0.6,
		OutlineJSON: `{"type":"Polygon","coordinates":[]}`, Properties: `{"pixels":42}`,
	}
}

// must(v, err)(t) is v, or fails the test with err.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func testGranules(t *testing.T, s store.Store, clock *Clock) {
	in := granule(0)
	in.Populated = true
	g, created, err := s.PutGranule(ctx, in)
	if err != nil || !created {
		t.Fatalf("PutGranule: created %v, %v", created, err)
	}
	if g.ID == "" || g.Status != store.GranuleRecorded || g.Attempts != 0 || !g.Populated {
		t.Fatalf("PutGranule: %+v", g)
	}
	if !g.Acquired.Equal(in.Acquired) || g.Footprint != in.Footprint || g.FootprintGeoJSON != in.FootprintGeoJSON ||
		g.Name != in.Name || g.Size != in.Size || g.URI != in.URI || g.SHA256 != in.SHA256 || g.Kind != in.Kind {
		t.Fatalf("PutGranule stored %+v from %+v", g, in)
	}
	if !g.Created.Equal(clock.Now()) {
		t.Fatalf("created %v, want %v", g.Created, clock.Now())
	}
	got := must(s.Granule(ctx, g.ID))(t)
	if got != g {
		t.Fatalf("Granule: %+v, want %+v", got, g)
	}

	// The same bytes again, even under another name and in upper case:
	// the first record, unchanged.
	clock.Advance(time.Minute)
	again := in
	again.Name, again.URI, again.SHA256 = "copy.hdr", "file:///elsewhere", strings.ToUpper(in.SHA256)
	g2, created, err := s.PutGranule(ctx, again)
	if err != nil || created || g2 != g {
		t.Fatalf("PutGranule again: created %v, %v, %+v, want %+v", created, err, g2, g)
	}

	_, err = s.Granule(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "Granule(nope)")
	for name, bad := range map[string]func(*store.Granule){
		"kind":      func(g *store.Granule) { g.Kind = "video" },
		"sha256":    func(g *store.Granule) { g.SHA256 = "abc" },
		"uri":       func(g *store.Granule) { g.URI = "" },
		"footprint": func(g *store.Granule) { g.Footprint.MinLat = 5 },
		"nan":       func(g *store.Granule) { g.Footprint.MaxLon = math.NaN() },
	} {
		b := granule(1)
		bad(&b)
		_, _, err := s.PutGranule(ctx, b)
		wantErr(t, err, store.ErrInvalid, "PutGranule with bad "+name)
	}
}

func testGranuleIdempotentConcurrent(t *testing.T, s store.Store, _ *Clock) {
	const n = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]bool{}
		created int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, c, err := s.PutGranule(ctx, granule(7))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[g.ID] = true
			if c {
				created++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != 1 || created != 1 {
		t.Fatalf("%d concurrent PutGranule of the same bytes: ids %v, %d created; want one", n, ids, created)
	}
}

func testGranuleLifecycle(t *testing.T, s store.Store, clock *Clock) {
	g, _ := must2(s.PutGranule(ctx, granule(0)))(t)
	clock.Advance(time.Second)
	g = must(s.StartGranule(ctx, g.ID))(t)
	if g.Status != store.GranuleProcessing || g.Attempts != 1 || !g.Updated.Equal(clock.Now()) {
		t.Fatalf("StartGranule: %+v", g)
	}
	if err := s.FailGranule(ctx, g.ID, "out of memory"); err != nil {
		t.Fatal(err)
	}
	g = must(s.Granule(ctx, g.ID))(t)
	if g.Status != store.GranuleFailed || g.Error != "out of memory" {
		t.Fatalf("FailGranule: %+v", g)
	}
	failed := must(s.GranulesByStatus(ctx, store.GranuleFailed, 10))(t)
	if len(failed) != 1 || failed[0].ID != g.ID {
		t.Fatalf("GranulesByStatus(failed): %+v", failed)
	}
	g = must(s.StartGranule(ctx, g.ID))(t)
	if g.Attempts != 2 || g.Status != store.GranuleProcessing {
		t.Fatalf("StartGranule again: %+v", g)
	}

	// Overdue: a second granule recorded later; only the first is stuck
	// past the deadline.
	clock.Advance(10 * time.Minute)
	g2, _ := must2(s.PutGranule(ctx, granule(1)))(t)
	overdue := must(s.OverdueGranules(ctx, clock.Now().Add(-5*time.Minute), 0))(t)
	if len(overdue) != 1 || overdue[0].ID != g.ID {
		t.Fatalf("OverdueGranules: %+v", overdue)
	}
	overdue = must(s.OverdueGranules(ctx, clock.Now().Add(time.Second), 0))(t)
	if len(overdue) != 2 || overdue[0].ID != g.ID || overdue[1].ID != g2.ID {
		t.Fatalf("OverdueGranules, later deadline: %+v", overdue)
	}

	must(s.CompleteGranule(ctx, g.ID, nil))(t)
	g = must(s.Granule(ctx, g.ID))(t)
	if g.Status != store.GranuleDone || g.Error != "" {
		t.Fatalf("CompleteGranule: %+v", g)
	}
	_, err := s.StartGranule(ctx, g.ID)
	wantErr(t, err, store.ErrConflict, "StartGranule(done)")
	wantErr(t, s.FailGranule(ctx, g.ID, "late"), store.ErrConflict, "FailGranule(done)")
	_, err = s.StartGranule(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "StartGranule(nope)")
	wantErr(t, s.FailGranule(ctx, "nope", "x"), store.ErrNotFound, "FailGranule(nope)")
	overdue = must(s.OverdueGranules(ctx, clock.Now().Add(time.Hour), 0))(t)
	if len(overdue) != 1 || overdue[0].ID != g2.ID {
		t.Fatalf("OverdueGranules after done: %+v", overdue)
	}
}

// must2(a, b, err)(t) is a, b, or fails the test with err.
func must2[A, B any](a A, b B, err error) func(*testing.T) (A, B) {
	return func(t *testing.T) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

func testCompleteGranule(t *testing.T, s store.Store, _ *Clock) {
	g, _ := must2(s.PutGranule(ctx, granule(0)))(t)
	must(s.StartGranule(ctx, g.ID))(t)
	in := []store.Detection{detection(0), detection(1), detection(2)}
	// Bytes that are not valid UTF-8 and hold a NUL: stored as a blob.
	png := "\x89PNG\r\n\x1a\n\x00\xff\xfe"
	in[1].PlumePNG = png
	out := must(s.CompleteGranule(ctx, g.ID, in))(t)
	if b := must(s.DetectionPlumePNG(ctx, out[1].ID))(t); string(b) != png {
		t.Fatalf("DetectionPlumePNG: %q, want %q", b, png)
	}
	if b := must(s.DetectionPlumePNG(ctx, out[0].ID))(t); len(b) != 0 {
		t.Fatalf("DetectionPlumePNG of a detection without one: %q", b)
	}
	_, err := s.DetectionPlumePNG(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "DetectionPlumePNG(nope)")
	in[1].PlumePNG = "" // reads leave it out
	if len(out) != 3 {
		t.Fatalf("CompleteGranule returned %d detections", len(out))
	}
	got := must(s.DetectionsOfGranule(ctx, g.ID))(t)
	if len(got) != 3 {
		t.Fatalf("DetectionsOfGranule: %d", len(got))
	}
	for i, d := range got {
		want := in[i]
		want.ID, want.GranuleID, want.Created = out[i].ID, g.ID, out[i].Created
		if d != want || d != out[i] {
			t.Fatalf("detection %d: read %+v\nwant %+v\nreturned %+v", i, d, want, out[i])
		}
		if one := must(s.Detection(ctx, d.ID))(t); one != d {
			t.Fatalf("Detection(%s): %+v", d.ID, one)
		}
	}
	// Again (a retried job): nothing changes.
	again := must(s.CompleteGranule(ctx, g.ID, []store.Detection{detection(9)}))(t)
	if len(again) != 3 || again[0] != got[0] {
		t.Fatalf("CompleteGranule again: %+v", again)
	}
	if n := len(must(s.DetectionsOfGranule(ctx, g.ID))(t)); n != 3 {
		t.Fatalf("after a second CompleteGranule: %d detections, want 3", n)
	}
	_, err = s.CompleteGranule(ctx, "nope", nil)
	wantErr(t, err, store.ErrNotFound, "CompleteGranule(nope)")
	_, err = s.Detection(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "Detection(nope)")
}

func testCompleteGranuleAtomic(t *testing.T, s store.Store, _ *Clock) {
	g, _ := must2(s.PutGranule(ctx, granule(0)))(t)
	must(s.StartGranule(ctx, g.ID))(t)
	bad := detection(1)
	bad.RateKgH = math.Inf(1)
	_, err := s.CompleteGranule(ctx, g.ID, []store.Detection{detection(0), bad})
	wantErr(t, err, store.ErrInvalid, "CompleteGranule with an infinite rate")
	// A duplicate id fails in the database, after the first rows and the
	// status change were written: all of it must go.
	d := detection(0)
	d.ID = "dup"
	_, err = s.CompleteGranule(ctx, g.ID, []store.Detection{d, detection(1), d})
	wantErr(t, err, store.ErrConflict, "CompleteGranule with a duplicate id")
	if g := must(s.Granule(ctx, g.ID))(t); g.Status != store.GranuleProcessing {
		t.Fatalf("after failed CompleteGranule: status %s, want processing", g.Status)
	}
	if n := len(must(s.DetectionsOfGranule(ctx, g.ID))(t)); n != 0 {
		t.Fatalf("after failed CompleteGranule: %d detections, want 0", n)
	}
}

func site(lat, lon float64) store.Site {
	return store.Site{
		Lat: lat, Lon: lon, UncertaintyM: 15, GasProfile: `{"ammonia":3.2}`,
		FirstSeen: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), LastSeen: time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC),
		PassesSeen: 3, PassesSurvey: 5, Evidence: 4.2, Probability: 0.83, TypeGuess: "meth-p2p",
	}
}

func testSites(t *testing.T, s store.Store, clock *Clock) {
	in := site(4.61, -74.09)
	c := must(s.CreateSite(ctx, in))(t)
	if c.ID == "" || c.Version != 1 || c.Status != store.SiteCandidate || !c.Created.Equal(clock.Now()) {
		t.Fatalf("CreateSite: %+v", c)
	}
	want := in
	want.ID, want.Version, want.Status, want.Created, want.Updated = c.ID, 1, store.SiteCandidate, c.Created, c.Updated
	if c != want {
		t.Fatalf("CreateSite: %+v\nwant %+v", c, want)
	}
	if got := must(s.Site(ctx, c.ID))(t); got != c {
		t.Fatalf("Site: %+v, want %+v", got, c)
	}
	clock.Advance(time.Hour)
	c.Status, c.PassesSeen, c.Probability = store.SiteConfirmed, 4, 0.97
	u := must(s.UpdateSite(ctx, c))(t)
	if u.Version != 2 || u.Status != store.SiteConfirmed || u.PassesSeen != 4 || !u.Updated.Equal(clock.Now()) || !u.Created.Equal(c.Created) {
		t.Fatalf("UpdateSite: %+v", u)
	}
	// c still carries version 1: stale.
	_, err := s.UpdateSite(ctx, c)
	wantErr(t, err, store.ErrConflict, "UpdateSite from a stale version")
	missing := c
	missing.ID = "nope"
	_, err = s.UpdateSite(ctx, missing)
	wantErr(t, err, store.ErrNotFound, "UpdateSite(nope)")
	_, err = s.Site(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "Site(nope)")
	bad := site(91, 0)
	_, err = s.CreateSite(ctx, bad)
	wantErr(t, err, store.ErrInvalid, "CreateSite at latitude 91")
	bad = site(0, 0)
	bad.Status = "arrested"
	_, err = s.CreateSite(ctx, bad)
	wantErr(t, err, store.ErrInvalid, "CreateSite with status arrested")
}

func testSiteOptimisticConcurrency(t *testing.T, s store.Store, _ *Clock) {
	c := must(s.CreateSite(ctx, site(4.61, -74.09)))(t)
	const workers, each = 2, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for {
					cur, err := s.Site(ctx, c.ID)
					if err != nil {
						t.Error(err)
						return
					}
					cur.PassesSurvey++
					_, err = s.UpdateSite(ctx, cur)
					if errors.Is(err, store.ErrConflict) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	got := must(s.Site(ctx, c.ID))(t)
	if got.PassesSurvey != c.PassesSurvey+workers*each || got.Version != 1+workers*each {
		t.Fatalf("after %d increments: passes %d (from %d), version %d", workers*each, got.PassesSurvey, c.PassesSurvey, got.Version)
	}
}

// grid creates n×n sites 0.001° apart from (lat0, lon0) and returns them.
func grid(t *testing.T, s store.Store, n int, lat0, lon0 float64) []store.Site {
	var out []store.Site
	err := s.InTx(ctx, func(tx store.Tx) error {
		for i := range n {
			for j := range n {
				st, err := tx.CreateSite(ctx, site(lat0+0.001*float64(i), lon0+0.001*float64(j)))
				if err != nil {
					return err
				}
				out = append(out, st)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ids(ss []store.Site) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func testSitesInBBox(t *testing.T, s store.Store, _ *Clock) {
	all := grid(t, s, 10, 4.6, -74.1)
	for _, b := range []store.BBox{
		{MinLat: 4.6025, MinLon: -74.0975, MaxLat: 4.6055, MaxLon: -74.0935},
		{MinLat: 4.6, MinLon: -74.1, MaxLat: 4.603, MaxLon: -74.098}, // edges on sites: included
		{MinLat: 4.7, MinLon: -74.1, MaxLat: 4.8, MaxLon: -74.0},     // empty
		{MinLat: -90, MinLon: -180, MaxLat: 90, MaxLon: 180},         // everything
	} {
		var want []string
		for _, st := range all {
			if b.Contains(st.Lat, st.Lon) {
				want = append(want, st.ID)
			}
		}
		sort.Strings(want)
		got := ids(must(s.SitesInBBox(ctx, b, 0))(t))
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("SitesInBBox(%+v): %d sites %v, want %d %v", b, len(got), got, len(want), want)
		}
	}
	b := store.BBox{MinLat: 4.6, MinLon: -74.1, MaxLat: 4.7, MaxLon: -74.0}
	if got := must(s.SitesInBBox(ctx, b, 7))(t); len(got) != 7 {
		t.Fatalf("SitesInBBox limit 7: %d", len(got))
	}
	// Moving a site moves it in the index.
	moved := all[0]
	moved.Lat, moved.Lon = 10, 10
	must(s.UpdateSite(ctx, moved))(t)
	got := ids(must(s.SitesInBBox(ctx, store.BBox{MinLat: 9.9, MinLon: 9.9, MaxLat: 10.1, MaxLon: 10.1}, 0))(t))
	if len(got) != 1 || got[0] != moved.ID {
		t.Fatalf("after moving: %v", got)
	}
	if n := len(must(s.SitesInBBox(ctx, b, 0))(t)); n != len(all)-1 {
		t.Fatalf("after moving one away: %d sites in the grid's box, want %d", n, len(all)-1)
	}
}

func testSitesNear(t *testing.T, s store.Store, _ *Clock) {
	all := grid(t, s, 10, 4.6, -74.1)
	far := must(s.CreateSite(ctx, site(-33.45, -70.66)))(t)
	lat, lon := 4.60431, -74.09537 // not on a grid line: no ties
	for _, r := range []float64{0, 50, 250, 600, 5000} {
		type hit struct {
			id string
			d  float64
		}
		var want []hit
		for _, st := range all {
			if d := store.DistanceM(lat, lon, st.Lat, st.Lon); d <= r {
				want = append(want, hit{st.ID, d})
			}
		}
		sort.Slice(want, func(i, j int) bool { return want[i].d < want[j].d })
		got, ds, err := s.SitesNear(ctx, lat, lon, r, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(ds) != len(got) {
			t.Fatalf("SitesNear r=%g: %d sites, want %d", r, len(got), len(want))
		}
		for i := range got {
			// 1 mm: PostGIS's sphere and DistanceM agree far better.
			if got[i].ID != want[i].id || math.Abs(ds[i]-want[i].d) > 1e-3 {
				t.Fatalf("SitesNear r=%g #%d: %s at %.4f m, want %s at %.4f m", r, i, got[i].ID, ds[i], want[i].id, want[i].d)
			}
		}
	}
	got, _, err := s.SitesNear(ctx, lat, lon, 5000, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("SitesNear limit 3: %d, %v", len(got), err)
	}
	got, ds, err := s.SitesNear(ctx, -33.4501, -70.66, 100, 0)
	if err != nil || len(got) != 1 || got[0].ID != far.ID || math.Abs(ds[0]-11.12) > 0.01 {
		t.Fatalf("SitesNear Santiago: %v %v %v", ids(got), ds, err)
	}
	_, _, err = s.SitesNear(ctx, 95, 0, 10, 0)
	wantErr(t, err, store.ErrInvalid, "SitesNear at latitude 95")
}

func testSiteHistory(t *testing.T, s store.Store, clock *Clock) {
	st := must(s.CreateSite(ctx, site(4.61, -74.09)))(t)
	var linked []string
	for i := range 3 {
		clock.Advance(24 * time.Hour)
		g, _ := must2(s.PutGranule(ctx, granule(i)))(t)
		ds := must(s.CompleteGranule(ctx, g.ID, []store.Detection{detection(i), detection(i + 10)}))(t)
		linked = append(linked, ds[0].ID)
		if err := s.LinkDetections(ctx, st.ID, ds[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	// Linking again changes nothing.
	if err := s.LinkDetections(ctx, st.ID, linked...); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.LinkDetections(ctx, st.ID, "nope"), store.ErrNotFound, "LinkDetections(unknown detection)")
	wantErr(t, s.LinkDetections(ctx, "nope", linked[0]), store.ErrNotFound, "LinkDetections(unknown site)")
	must(s.AppendDecision(ctx, store.Decision{SiteID: st.ID, Actor: "analyst-7", Action: store.ActionRevisit, Reason: "faint"}))(t)
	clock.Advance(time.Hour)
	must(s.AppendDecision(ctx, store.Decision{SiteID: st.ID, Actor: "analyst-7", Action: store.ActionConfirm}))(t)

	h := must(s.SiteHistory(ctx, st.ID))(t)
	if h.Site != st || len(h.Detections) != 3 || len(h.Decisions) != 2 {
		t.Fatalf("SiteHistory: site %v, %d detections, %d decisions", h.Site.ID, len(h.Detections), len(h.Decisions))
	}
	for i, d := range h.Detections {
		if d.ID != linked[i] {
			t.Fatalf("SiteHistory detection %d: %s, want %s (oldest first)", i, d.ID, linked[i])
		}
	}
	if h.Decisions[0].Action != store.ActionRevisit || h.Decisions[1].Action != store.ActionConfirm {
		t.Fatalf("SiteHistory decisions: %+v", h.Decisions)
	}
	_, err := s.SiteHistory(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "SiteHistory(nope)")
}

func testEvidence(t *testing.T, s store.Store, clock *Clock) {
	data := []byte{0, 1, 2, 0xff, 0, 0x80, 'x'}
	t1 := must(s.PutTile(ctx, store.Tile{Gas: "ammonia", Key: "z15/1/2", Data: data}))(t)
	if t1.Version != 1 || !t1.Updated.Equal(clock.Now()) {
		t.Fatalf("PutTile: %+v", t1)
	}
	_, err := s.PutTile(ctx, store.Tile{Gas: "ammonia", Key: "z15/1/2", Data: data})
	wantErr(t, err, store.ErrConflict, "PutTile version 0 on a stored tile")
	got := must(s.Tile(ctx, "ammonia", "z15/1/2"))(t)
	if string(got.Data) != string(data) || got.Version != 1 {
		t.Fatalf("Tile: %+v", got)
	}
	got.Data = append(got.Data, 7)
	t2 := must(s.PutTile(ctx, got))(t)
	if t2.Version != 2 {
		t.Fatalf("PutTile update: %+v", t2)
	}
	_, err = s.PutTile(ctx, got) // version 1 again: stale
	wantErr(t, err, store.ErrConflict, "PutTile from a stale version")
	_, err = s.PutTile(ctx, store.Tile{Gas: "ammonia", Key: "z15/9/9", Version: 3, Data: data})
	wantErr(t, err, store.ErrNotFound, "PutTile update of a missing tile")
	must(s.PutTile(ctx, store.Tile{Gas: "ammonia", Key: "z15/0/0", Data: []byte{}}))(t)
	must(s.PutTile(ctx, store.Tile{Gas: "acetone", Key: "z15/1/2", Data: data}))(t)
	if e := must(s.Tile(ctx, "ammonia", "z15/0/0"))(t); len(e.Data) != 0 || e.Version != 1 {
		t.Fatalf("empty tile: %+v", e)
	}
	keys := must(s.TileKeys(ctx, "ammonia"))(t)
	if strings.Join(keys, " ") != "z15/0/0 z15/1/2" {
		t.Fatalf("TileKeys: %v", keys)
	}
	_, err = s.Tile(ctx, "ammonia", "z15/9/9")
	wantErr(t, err, store.ErrNotFound, "Tile(missing)")
}

func testDecisions(t *testing.T, s store.Store, clock *Clock) {
	st := must(s.CreateSite(ctx, site(4.61, -74.09)))(t)
	d1 := must(s.AppendDecision(ctx, store.Decision{SiteID: st.ID, Actor: "a1", Action: store.ActionRelease,
		Reason: "confirmed by two passes", Payload: `{"to":["pnc"]}`}))(t)
	if d1.ID == "" || !d1.At.Equal(clock.Now()) {
		t.Fatalf("AppendDecision: %+v", d1)
	}
	at := clock.Now().Add(-time.Hour) // reported late, happened earlier
	d0 := must(s.AppendDecision(ctx, store.Decision{SiteID: st.ID, Actor: "field-2", At: at, Action: store.ActionGroundTruth}))(t)
	got := must(s.Decisions(ctx, st.ID))(t)
	if len(got) != 2 || got[0] != d0 || got[1] != d1 {
		t.Fatalf("Decisions: %+v\nwant %+v %+v", got, d0, d1)
	}
	_, err := s.AppendDecision(ctx, store.Decision{SiteID: st.ID, Actor: "a1", Action: "shrug"})
	wantErr(t, err, store.ErrInvalid, "AppendDecision(action shrug)")
	_, err = s.AppendDecision(ctx, store.Decision{SiteID: "nope", Actor: "a1", Action: store.ActionDismiss})
	wantErr(t, err, store.ErrNotFound, "AppendDecision(unknown site)")
}

// Verdicts: the latest confirm/dismiss or partner ground truth per site,
// with the evidence recorded in the decision or else the site's.
func testVerdicts(t *testing.T, s store.Store, clock *Clock) {
	mk := func(lat, ev float64) store.Site {
		st := site(lat, -74.09)
		st.Evidence = ev
		return must(s.CreateSite(ctx, st))(t)
	}
	a, b, c, d := mk(4.60, 3), mk(4.61, 5), mk(4.62, 7), mk(4.63, 9)
	add := func(id string, act store.DecisionAction, payload string) {
		clock.Advance(time.Second)
		must(s.AppendDecision(ctx, store.Decision{SiteID: id, Actor: "a1", Action: act, Payload: payload}))(t)
	}
	add(a.ID, store.ActionConfirm, "")
	add(a.ID, store.ActionDismiss, `{"evidence": 2.5}`)                // changed mind: dismissed at 2.5
	add(b.ID, store.ActionGroundTruth, `{"outcome": "confirmed-lab"}`) // a partner found a lab
	add(c.ID, store.ActionGroundTruth, `{"outcome": "not-visited"}`)   // no verdict
	add(c.ID, store.ActionRelease, "")                                 // no verdict
	add(d.ID, store.ActionGroundTruth, `{"outcome": "nothing-found"}`) // a partner found nothing
	got := must(s.Verdicts(ctx))(t)
	want := map[string]store.Verdict{
		a.ID: {SiteID: a.ID, Evidence: 2.5, Real: false},
		b.ID: {SiteID: b.ID, Evidence: 5, Real: true},
		d.ID: {SiteID: d.ID, Evidence: 9, Real: false},
	}
	if len(got) != len(want) {
		t.Fatalf("Verdicts: %+v, want %d", got, len(want))
	}
	for _, v := range got {
		if want[v.SiteID] != v {
			t.Errorf("verdict %+v, want %+v", v, want[v.SiteID])
		}
	}
}

// GranulesCovering: the done granules whose box holds a point, oldest
// acquisition first; not the ones elsewhere or not done.
func testGranulesCovering(t *testing.T, s store.Store, _ *Clock) {
	var ids []string
	for i := range 4 {
		g := granule(100 + i)
		g.Acquired = g.Acquired.Add(time.Duration(3-i) * time.Hour) // later made, earlier flown
		if i == 3 {
			g.Footprint = store.BBox{MinLat: 5, MinLon: -74.10, MaxLat: 5.02, MaxLon: -74.08} // elsewhere
		}
		rec, _ := must2(s.PutGranule(ctx, g))(t)
		must(s.StartGranule(ctx, rec.ID))(t)
		if i != 1 { // the second stays processing
			must(s.CompleteGranule(ctx, rec.ID, nil))(t)
		}
		ids = append(ids, rec.ID)
	}
	got := must(s.GranulesCovering(ctx, 4.61, -74.09, 0))(t)
	if len(got) != 2 || got[0].ID != ids[2] || got[1].ID != ids[0] {
		t.Fatalf("GranulesCovering: %d granules %v, want %s then %s", len(got), got, ids[2], ids[0])
	}
	_, err := s.GranulesCovering(ctx, math.NaN(), -74.09, 0)
	wantErr(t, err, store.ErrInvalid, "GranulesCovering(NaN)")
}

func testOutbox(t *testing.T, s store.Store, clock *Clock) {
	st := must(s.CreateSite(ctx, site(4.61, -74.09)))(t)
	// The site change and its alert in one transaction.
	var a1 store.Alert
	err := s.InTx(ctx, func(tx store.Tx) error {
		st.Status = store.SiteReleased
		var err error
		if st, err = tx.UpdateSite(ctx, st); err != nil {
			return err
		}
		a1, err = tx.EnqueueAlert(ctx, store.Alert{SiteID: st.ID, Kind: "site.released", Payload: `{"v":2}`})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	a2 := must(s.EnqueueAlert(ctx, store.Alert{Kind: "system.test", Payload: "{}"}))(t)

	got := must(s.ClaimOutbox(ctx, 10, time.Minute))(t)
	if len(got) != 2 || got[0].ID != a1.ID || got[1].ID != a2.ID || got[0].Attempts != 1 ||
		got[0].SiteID != st.ID || got[1].SiteID != "" || got[0].Payload != `{"v":2}` || got[0].Kind != "site.released" {
		t.Fatalf("ClaimOutbox: %+v", got)
	}
	if !got[0].NextAttempt.Equal(clock.Now().Add(time.Minute)) {
		t.Fatalf("next attempt %v, want now+lease %v", got[0].NextAttempt, clock.Now().Add(time.Minute))
	}
	if again := must(s.ClaimOutbox(ctx, 10, time.Minute))(t); len(again) != 0 {
		t.Fatalf("ClaimOutbox within the lease: %+v", again)
	}
	// a1 was sent; a2's send failed and is retried after its lease, then
	// backs off twice as long.
	if err := s.DeleteOutbox(ctx, a1.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteOutbox(ctx, a1.ID), store.ErrNotFound, "DeleteOutbox twice")
	clock.Advance(time.Minute)
	got = must(s.ClaimOutbox(ctx, 10, time.Minute))(t)
	if len(got) != 1 || got[0].ID != a2.ID || got[0].Attempts != 2 || !got[0].NextAttempt.Equal(clock.Now().Add(2*time.Minute)) {
		t.Fatalf("ClaimOutbox after the lease: %+v", got)
	}
	_, err = s.EnqueueAlert(ctx, store.Alert{SiteID: "nope", Kind: "x"})
	wantErr(t, err, store.ErrNotFound, "EnqueueAlert(unknown site)")
	if got, err := s.ClaimOutbox(ctx, 0, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("ClaimOutbox(0): %v %v", got, err)
	}
}

func testOutboxConcurrentClaims(t *testing.T, s store.Store, _ *Clock) {
	const n = 30
	want := map[string]bool{}
	for i := range n {
		a := must(s.EnqueueAlert(ctx, store.Alert{Kind: "k", Payload: fmt.Sprint(i)}))(t)
		want[a.ID] = true
	}
	var (
		mu  sync.Mutex
		got = map[string]int{}
		wg  sync.WaitGroup
	)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				as, err := s.ClaimOutbox(ctx, 4, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if len(as) == 0 {
					return
				}
				mu.Lock()
				for _, a := range as {
					got[a.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("claimed %d distinct alerts, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 || !want[id] {
			t.Fatalf("alert %s claimed %d times", id, c)
		}
	}
}

func testTxCommitRollback(t *testing.T, s store.Store, _ *Clock) {
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := must(tx.CreateSite(ctx, site(1, 1)))(t)
	if _, err := tx.Site(ctx, st.ID); err != nil {
		t.Fatalf("a transaction reads its own write: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Site(ctx, st.ID)
	wantErr(t, err, store.ErrNotFound, "site after Rollback")

	tx, err = s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st = must(tx.CreateSite(ctx, site(1, 1)))(t)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback after Commit: %v", err)
	}
	must(s.Site(ctx, st.ID))(t)
}

// halfWrite writes a granule, its detections, a site, a link, a decision, a
// tile and an alert in tx, and returns the ids.
func halfWrite(t *testing.T, tx store.Tx) (granuleID, siteID string) {
	g, _ := must2(tx.PutGranule(ctx, granule(3)))(t)
	ds := must(tx.CompleteGranule(ctx, g.ID, []store.Detection{detection(0)}))(t)
	st := must(tx.CreateSite(ctx, site(2, 2)))(t)
	if err := tx.LinkDetections(ctx, st.ID, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	must(tx.AppendDecision(ctx, store.Decision{SiteID: st.ID, Actor: "a", Action: store.ActionConfirm}))(t)
	must(tx.PutTile(ctx, store.Tile{Gas: "ammonia", Key: "k", Data: []byte{1}}))(t)
	must(tx.EnqueueAlert(ctx, store.Alert{SiteID: st.ID, Kind: "k"}))(t)
	return g.ID, st.ID
}

// nothingOf checks that no trace of halfWrite is visible.
func nothingOf(t *testing.T, s store.Store, granuleID, siteID string) {
	t.Helper()
	if _, err := s.Granule(ctx, granuleID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("granule after an aborted transaction: %v", err)
	}
	if _, err := s.Site(ctx, siteID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("site after an aborted transaction: %v", err)
	}
	if ds := must(s.DetectionsOfGranule(ctx, granuleID))(t); len(ds) != 0 {
		t.Fatalf("detections after an aborted transaction: %d", len(ds))
	}
	if ds := must(s.Decisions(ctx, siteID))(t); len(ds) != 0 {
		t.Fatalf("decisions after an aborted transaction: %d", len(ds))
	}
	if _, err := s.Tile(ctx, "ammonia", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tile after an aborted transaction: %v", err)
	}
	if as := must(s.ClaimOutbox(ctx, 10, time.Minute))(t); len(as) != 0 {
		t.Fatalf("alerts after an aborted transaction: %d", len(as))
	}
	// And the store still works.
	must(s.CreateSite(ctx, site(3, 3)))(t)
}

func testTxErrorLeavesNothing(t *testing.T, s store.Store, _ *Clock) {
	var gid, sid string
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Tx) error {
		gid, sid = halfWrite(t, tx)
		return boom
	})
	wantErr(t, err, boom, "InTx")
	nothingOf(t, s, gid, sid)
}

func testTxPanicLeavesNothing(t *testing.T, s store.Store, _ *Clock) {
	var gid, sid string
	func() {
		defer func() {
			if p := recover(); p != "crash" {
				t.Fatalf("InTx: recovered %v, want the panic to continue", p)
			}
		}()
		_ = s.InTx(ctx, func(tx store.Tx) error {
			gid, sid = halfWrite(t, tx)
			panic("crash")
		})
	}()
	nothingOf(t, s, gid, sid)
}

func testPurge(t *testing.T, s store.Store, clock *Clock) {
	put := func(i int, populated bool) store.Granule {
		g := granule(i)
		g.Populated = populated
		rec, _ := must2(s.PutGranule(ctx, g))(t)
		return rec
	}
	unneeded := put(0, true) // done, no detections
	must(s.CompleteGranule(ctx, unneeded.ID, nil))(t)
	needed := put(1, true) // done, a detection linked to a site
	nd := must(s.CompleteGranule(ctx, needed.ID, []store.Detection{detection(0), detection(1)}))(t)
	st := must(s.CreateSite(ctx, site(4.61, -74.09)))(t)
	if err := s.LinkDetections(ctx, st.ID, nd[0].ID); err != nil {
		t.Fatal(err)
	}
	must(s.AppendDecision(ctx, store.Decision{SiteID: st.ID, Actor: "a", Action: store.ActionConfirm}))(t)
	must(s.PutTile(ctx, store.Tile{Gas: "ammonia", Key: "k", Data: []byte{1}}))(t)
	unlinked := put(2, true) // done, detections no site uses
	ud := must(s.CompleteGranule(ctx, unlinked.ID, []store.Detection{detection(2)}))(t)
	failed := put(3, true)
	must(s.StartGranule(ctx, failed.ID))(t)
	if err := s.FailGranule(ctx, failed.ID, "bad"); err != nil {
		t.Fatal(err)
	}
	rural := put(4, false)
	must(s.CompleteGranule(ctx, rural.ID, nil))(t)
	processing := put(5, true) // a worker has it: never purged
	must(s.StartGranule(ctx, processing.ID))(t)

	clock.Advance(89 * 24 * time.Hour)
	recent := put(6, true)
	must(s.CompleteGranule(ctx, recent.ID, nil))(t)
	if p := must(s.PurgeGranules(ctx, 0, true))(t); len(p) != 0 {
		t.Fatalf("purge at 89 days: %+v", p)
	}
	clock.Advance(2 * 24 * time.Hour) // 91 days after the first five
	p := must(s.PurgeGranules(ctx, 0, true))(t)
	wantPurged := []store.Purged{{ID: unneeded.ID, URI: unneeded.URI}, {ID: unlinked.ID, URI: unlinked.URI}, {ID: failed.ID, URI: failed.URI}}
	sortPurged(p)
	sortPurged(wantPurged)
	if fmt.Sprint(p) != fmt.Sprint(wantPurged) {
		t.Fatalf("PurgeGranules: %+v\nwant %+v", p, wantPurged)
	}
	for _, g := range []store.Granule{unneeded, unlinked, failed} {
		_, err := s.Granule(ctx, g.ID)
		wantErr(t, err, store.ErrNotFound, "purged granule")
	}
	_, err := s.Detection(ctx, ud[0].ID)
	wantErr(t, err, store.ErrNotFound, "detection of a purged granule")
	for _, g := range []store.Granule{needed, rural, processing, recent} {
		must(s.Granule(ctx, g.ID))(t)
	}
	// The needed granule keeps all its detections; the site, its
	// decisions and the evidence stay.
	if n := len(must(s.DetectionsOfGranule(ctx, needed.ID))(t)); n != 2 {
		t.Fatalf("detections of the needed granule: %d, want 2", n)
	}
	if h := must(s.SiteHistory(ctx, st.ID))(t); len(h.Detections) != 1 || len(h.Decisions) != 1 {
		t.Fatalf("site history after purge: %+v", h)
	}
	must(s.Tile(ctx, "ammonia", "k"))(t)

	// Not only populated areas: the rural granule goes too.
	p = must(s.PurgeGranules(ctx, 0, false))(t)
	if len(p) != 1 || p[0].ID != rural.ID {
		t.Fatalf("PurgeGranules(populatedOnly=false): %+v", p)
	}
	// A shorter retention reaches the recent one.
	p = must(s.PurgeGranules(ctx, 24*time.Hour, true))(t)
	if len(p) != 1 || p[0].ID != recent.ID {
		t.Fatalf("PurgeGranules(1 day): %+v", p)
	}
}

func sortPurged(p []store.Purged) {
	sort.Slice(p, func(i, j int) bool { return p[i].ID < p[j].ID })
}
