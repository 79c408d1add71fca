package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

func testTAKCerts(t *testing.T, s store.Store, clock *Clock) {
	tc, ok := s.(store.TAKCerts)
	if !ok {
		t.Fatalf("%T does not record TAK certificates", s)
	}
	nb := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	mk := func(serial, user string) store.TAKCert {
		return store.TAKCert{Serial: serial, UserID: user, AgencyID: "COL-PONAL", ClientUID: "ANDROID-" + serial,
			Subject: "CN=" + user + ",O=TAK", NotBefore: nb, NotAfter: nb.AddDate(1, 0, 0)}
	}
	a := must(tc.PutTAKCert(ctx, mk("0a", "ana")))(t)
	clock.Advance(time.Second)
	must(tc.PutTAKCert(ctx, mk("0b", "ana")))(t)
	must(tc.PutTAKCert(ctx, mk("0c", "beto")))(t)
	if _, err := tc.PutTAKCert(ctx, mk("0a", "ana")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate serial: %v, want ErrConflict", err)
	}
	if _, err := tc.PutTAKCert(ctx, store.TAKCert{Serial: "0d"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("no user: %v, want ErrInvalid", err)
	}
	got := must(tc.TAKCert(ctx, "0a"))(t)
	if got != a || !got.Revoked.IsZero() || got.AgencyID != "COL-PONAL" || !got.NotAfter.Equal(nb.AddDate(1, 0, 0)) {
		t.Errorf("TAKCert = %+v, want %+v", got, a)
	}
	if _, err := tc.TAKCert(ctx, "ff"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown serial: %v", err)
	}
	ana := must(tc.TAKCertsOf(ctx, "ana"))(t)
	if len(ana) != 2 || ana[0].Serial != "0b" {
		t.Errorf("ana's certificates %+v, want 0b then 0a", ana)
	}
	if all := must(tc.TAKCertsOf(ctx, ""))(t); len(all) != 3 {
		t.Errorf("all certificates: %d", len(all))
	}
	if n := must(tc.RevokeTAKCert(ctx, "0a", "", "lost phone"))(t); n != 1 {
		t.Errorf("revoked %d", n)
	}
	if n := must(tc.RevokeTAKCert(ctx, "0a", "", "again"))(t); n != 0 {
		t.Errorf("revoked again %d", n)
	}
	if _, err := tc.RevokeTAKCert(ctx, "ff", "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	if n := must(tc.RevokeTAKCert(ctx, "", "ana", "left the unit"))(t); n != 1 {
		t.Errorf("revoke ana's remaining: %d", n)
	}
	r := must(tc.TAKCert(ctx, "0a"))(t)
	if r.Revoked.IsZero() || r.Reason != "lost phone" {
		t.Errorf("revoked record %+v", r)
	}
	if b := must(tc.TAKCert(ctx, "0c"))(t); !b.Revoked.IsZero() {
		t.Errorf("beto's certificate revoked too")
	}
}

func testSitesWithStatus(t *testing.T, s store.Store, _ *Clock) {
	bs, ok := s.(store.SitesByStatus)
	if !ok {
		t.Fatalf("%T does not list sites by status", s)
	}
	var released []string
	for i, st := range []store.SiteStatus{store.SiteCandidate, store.SiteReleased, store.SiteDismissed, store.SiteReleased} {
		site := must(s.CreateSite(ctx, store.Site{Lat: 4.6, Lon: -74.1 + float64(i)*1e-3, Status: st}))(t)
		if st == store.SiteReleased {
			released = append(released, site.ID)
		}
	}
	got := must(bs.SitesWithStatus(ctx, store.SiteReleased, 0))(t)
	if len(got) != 2 || got[0].ID != min(released[0], released[1]) || got[1].ID != max(released[0], released[1]) {
		t.Errorf("released sites %+v, want %v", got, released)
	}
	if got := must(bs.SitesWithStatus(ctx, store.SiteReleased, 1))(t); len(got) != 1 {
		t.Errorf("limit 1: %d sites", len(got))
	}
}
