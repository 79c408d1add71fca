package feed

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// A partner's ground truth, posted to the endpoint, becomes a decision of
// the site (audited, and announced to the site's audience through the
// outbox) and labels the site for calibration; agencies that may not see
// the site, and roles that may not report, are refused; bad input is
// refused naming the field, with nothing stored.
func TestGroundTruthFeedback(t *testing.T) {
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "a.db"))
	ctx := context.Background()
	putAgencies(t, st, "COLPNC", "A", "B")
	s := newSite(t, st, 4.6097, -74.0817)
	release(t, st, s.ID, "COLPNC", "A")
	// Drain the release alert.
	for _, a := range mustClaim(t, st) {
		if err := st.FanOut(ctx, a.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	cat := &Catalog{Sites: st, Audience: StoreAudience(st, fixedOwner("COLPNC"))}
	role := access.RolePartner
	principal := func(r *http.Request) (access.Principal, bool) {
		a := r.Header.Get(agencyHeader)
		return access.Principal{UserID: "officer-" + a, AgencyID: a, Role: role}, a != ""
	}
	srv := httptest.NewServer(http.StripPrefix("/api/v1", FeedbackHandler(HandlerConfig{Catalog: cat, Principal: principal}, st)))
	defer srv.Close()
	post := func(agency, site, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/sites/"+site+"/ground-truth", strings.NewReader(body))
		req.Header.Set(agencyHeader, agency)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		agency, body string
		code         int
		want         string
	}{
		{"A", `{"outcome":"found-it"}`, 400, `"field":"outcome"`},
		{"A", `{"outcome":"confirmed-lab","colour":"red"}`, 400, `unknown field`},
		{"A", `{"outcome":"confirmed-lab","note":"` + strings.Repeat("x", 4001) + `"}`, 400, `"field":"note"`},
		{"B", `{"outcome":"confirmed-lab"}`, 404, `not_found`},
	} {
		if code, body := post(tc.agency, s.ID, tc.body); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("POST %.40s as %s: %d %s, want %d %s", tc.body, tc.agency, code, body, tc.code, tc.want)
		}
	}
	role = access.RoleViewer
	if code, body := post("A", s.ID, `{"outcome":"confirmed-lab"}`); code != 403 {
		t.Fatalf("as a viewer: %d %s, want 403", code, body)
	}
	role = access.RolePartner
	if ds, _ := st.Decisions(ctx, s.ID); len(ds) != 0 {
		t.Fatalf("refused reports left decisions: %+v", ds)
	}
	code, body := post("A", s.ID, `{"outcome":"confirmed-lab","note":"reactor vessels, lab confirmed P2P residue","visited_at":"2026-03-12T08:00:00Z"}`)
	if code != 201 {
		t.Fatalf("POST ground truth: %d %s", code, body)
	}
	ds, err := st.Decisions(ctx, s.ID)
	if err != nil || len(ds) != 1 || ds[0].Action != store.ActionGroundTruth || ds[0].Actor != "officer-A" ||
		!strings.Contains(ds[0].Payload, `"outcome":"confirmed-lab"`) || !strings.Contains(ds[0].Payload, `"agency":"A"`) {
		t.Fatalf("decisions %+v, %v", ds, err)
	}
	alerts := mustClaim(t, st)
	if len(alerts) != 1 || alerts[0].Kind != KindSiteUpdated {
		t.Fatalf("outbox after ground truth: %+v", alerts)
	}
	ev, err := ParseEvent(alerts[0])
	if err != nil || ev.Decision == nil || ev.Decision.ID != ds[0].ID || ev.Site.Owner != "COLPNC" {
		t.Fatalf("alert event %+v, %v", ev, err)
	}
	es, err := st.AuditEntries(ctx, 0, 100)
	if err != nil || len(es) != 1 || es[0].Action != "site.ground-truth" || es[0].ObjectID != s.ID {
		t.Fatalf("audit %+v, %v", es, err)
	}
	if _, err := access.VerifyChain(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	// The calibration's input: the site is a real one at its evidence.
	vs, err := st.Verdicts(ctx)
	if err != nil || len(vs) != 1 || vs[0].SiteID != s.ID || !vs[0].Real || vs[0].Evidence != s.Evidence {
		t.Fatalf("verdicts %+v, %v; want site %s real at evidence %g", vs, err, s.ID, s.Evidence)
	}
	// nothing-found, reported later, turns it into a false one.
	if code, body := post("A", s.ID, `{"outcome":"nothing-found","note":"second visit: empty"}`); code != 201 {
		t.Fatalf("second report: %d %s", code, body)
	}
	if vs, err := st.Verdicts(ctx); err != nil || len(vs) != 1 || vs[0].Real {
		t.Fatalf("verdicts after nothing-found %+v, %v", vs, err)
	}
	var d Decision
	_ = json.Unmarshal([]byte(body), &d)
	if d.ID != ds[0].ID {
		t.Fatalf("response %s", body)
	}
}

func mustClaim(t *testing.T, st *store.DB) []store.Alert {
	t.Helper()
	as, err := st.ClaimOutbox(context.Background(), 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return as
}
