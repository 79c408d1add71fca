package access

import (
	"errors"
	"slices"
	"testing"

	"github.com/atalaya-project/atalaya/internal/store"
)

func TestOwnerOf(t *testing.T) {
	both(t, func(t *testing.T, d *db) {
		f := setup(t, d) // host agencies of COL and PER; none for BOL
		cases := []struct {
			place    string
			lat, lon float64
			owner    string
		}{
			{"Bogotá", 4.5981, -74.0760, "COL-DIRAN"},
			{"Lima", -12.0464, -77.0301, "PER-DIRANDRO"},
			{"La Paz (no host agency for BOL)", -16.4955, -68.1336, ""},
			{"the Pacific", 0, -120, ""},
		}
		owners, err := f.s.Owners(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases[:2] {
			got, err := f.s.OwnerOf(ctx, c.lat, c.lon)
			if err != nil || got != c.owner {
				t.Errorf("%s: OwnerOf = %q %v, want %s", c.place, got, err, c.owner)
			}
			if got := owners.Of(c.lat, c.lon); got != c.owner {
				t.Errorf("%s: Owners.Of = %q, want %s", c.place, got, c.owner)
			}
		}
		for _, c := range cases[2:] {
			if got, err := f.s.OwnerOf(ctx, c.lat, c.lon); !errors.Is(err, ErrNoJurisdiction) {
				t.Errorf("%s: OwnerOf = %q %v, want ErrNoJurisdiction", c.place, got, err)
			}
			if got := owners.Of(c.lat, c.lon); got != "" {
				t.Errorf("%s: Owners.Of = %q, want none", c.place, got)
			}
		}
	})
}

// release runs a release decision the way the server does: site status,
// decision, releases, outbox alert, all in one transaction; fail makes the
// transaction fail after every write.
func release(t *testing.T, d *db, s *Service, p Principal, siteID string, to []string, fail bool) error {
	t.Helper()
	return d.InTx(ctx, func(tx store.Tx) error {
		site, err := tx.Site(ctx, siteID)
		if err != nil {
			return err
		}
		if _, err := s.Release(ctx, tx, p, site, to); err != nil {
			return err
		}
		site.Status = store.SiteReleased
		if _, err := tx.UpdateSite(ctx, site); err != nil {
			return err
		}
		if _, err := tx.AppendDecision(ctx, store.Decision{SiteID: siteID, Actor: p.UserID, Action: store.ActionRelease}); err != nil {
			return err
		}
		if _, err := tx.EnqueueAlert(ctx, store.Alert{SiteID: siteID, Kind: "site.released", Payload: "{}"}); err != nil {
			return err
		}
		if fail {
			return errors.New("injected failure after every write")
		}
		return nil
	})
}

func TestRelease(t *testing.T) {
	both(t, func(t *testing.T, d *db) {
		f := setup(t, d)
		s := f.s
		bogota, err := d.CreateSite(ctx, store.Site{Lat: 4.5981, Lon: -74.0760})
		if err != nil {
			t.Fatal(err)
		}
		lima, err := d.CreateSite(ctx, store.Site{Lat: -12.0464, Lon: -77.0301})
		if err != nil {
			t.Fatal(err)
		}
		pr := func(r Role) Principal {
			u := f.users[r]
			return Principal{UserID: u.ID, AgencyID: u.AgencyID, Role: r, Lang: u.Lang}
		}
		analyst, partner := pr(RoleAnalyst), pr(RolePartner) // COL analyst; PER partner
		perAnalyst := Principal{UserID: "per-analyst", AgencyID: "PER-DIRANDRO", Role: RoleAnalyst}

		// Before release the partner does not see the Bogotá site.
		owner, _ := s.OwnerOf(ctx, bogota.Lat, bogota.Lon)
		rel, _ := s.ReleasedTo(ctx, bogota.ID)
		if Visible(partner, owner, rel) || !Visible(analyst, owner, rel) {
			t.Fatal("visibility before release")
		}
		refused := []struct {
			name string
			p    Principal
			site string
			to   []string
			want error
		}{
			{"a viewer of the owner", pr(RoleViewer), bogota.ID, []string{"PER-DIRANDRO"}, ErrForbidden},
			{"an operator of the owner", pr(RoleOperator), bogota.ID, []string{"PER-DIRANDRO"}, ErrForbidden},
			{"the partner", partner, bogota.ID, []string{"USA-DEA"}, ErrForbidden},
			{"an analyst of another agency", perAnalyst, bogota.ID, []string{"USA-DEA"}, ErrForbidden},
			{"the owner's analyst, a site it does not own", analyst, lima.ID, []string{"USA-DEA"}, ErrForbidden},
			{"to nobody", analyst, bogota.ID, nil, ErrInvalid},
			{"to an unknown agency", analyst, bogota.ID, []string{"PER-DIRANDRO", "NOPE"}, ErrInvalid},
			{"to the owner itself", analyst, bogota.ID, []string{"COL-DIRAN"}, ErrInvalid},
		}
		for _, c := range refused {
			if err := release(t, d, s, c.p, c.site, c.to, false); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		}
		headBefore, _ := d.AuditHead(ctx)
		// A failure later in the transaction leaves no release, decision,
		// alert or audit entry.
		if err := release(t, d, s, analyst, bogota.ID, []string{"PER-DIRANDRO"}, true); err == nil {
			t.Fatal("injected failure not returned")
		}
		if rs, _ := d.Releases(ctx, bogota.ID); len(rs) != 0 {
			t.Fatalf("rolled back, yet releases %+v", rs)
		}
		if h, _ := d.AuditHead(ctx); h != headBefore {
			t.Fatalf("rolled back, yet the audit head moved: %+v → %+v", headBefore, h)
		}
		// The owner's analyst releases to PER and the USA.
		if err := release(t, d, s, analyst, bogota.ID, []string{"PER-DIRANDRO", "USA-DEA"}, false); err != nil {
			t.Fatal(err)
		}
		rel, _ = s.ReleasedTo(ctx, bogota.ID)
		if !slices.Equal(rel, []string{"PER-DIRANDRO", "USA-DEA"}) {
			t.Fatalf("ReleasedTo = %v", rel)
		}
		if !Visible(partner, owner, rel) {
			t.Fatal("the partner does not see the released site")
		}
		limaOwner, _ := s.OwnerOf(ctx, lima.Lat, lima.Lon)
		limaRel, _ := s.ReleasedTo(ctx, lima.ID)
		if Visible(analyst, limaOwner, limaRel) {
			t.Fatal("the COL analyst sees PER's unreleased site")
		}
		st, _ := d.Site(ctx, bogota.ID)
		dec, _ := d.Decisions(ctx, bogota.ID)
		if st.Status != store.SiteReleased || len(dec) != 1 {
			t.Fatalf("site %+v decisions %+v", st, dec)
		}
		es, _ := d.AuditEntries(ctx, headBefore.Seq, 0)
		if len(es) != 1 || es[0].Action != AuditSiteRelease || es[0].ObjectID != bogota.ID || es[0].ActorUser != analyst.UserID {
			t.Fatalf("audit entries of the release: %+v", es)
		}
		if _, err := VerifyChain(ctx, d, nil); err != nil {
			t.Fatal(err)
		}
	})
}
