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
	"github.com/atalaya-project/atalaya/internal/sites"
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
	h, _ := st.SiteHistory(ctx, s.ID)
	if c, ok := SiteLabel(h.Decisions); !ok || !c {
		t.Fatalf("label after confirmed-lab: %v %v", c, ok)
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

// Ground truth overrides the analysts' verdict; not-visited labels
// nothing; the calibrator fitted to the labels moves towards them: sites
// the field confirmed at high evidence raise the probability there above
// the prior, sites found empty at low evidence lower it there.
func TestSiteLabelAndCalibration(t *testing.T) {
	gt := func(o Outcome) store.Decision {
		b, _ := json.Marshal(groundTruthPayload{Outcome: o, Agency: "A"})
		return store.Decision{Action: store.ActionGroundTruth, Payload: string(b)}
	}
	d := func(a store.DecisionAction) store.Decision { return store.Decision{Action: a} }
	for i, tc := range []struct {
		ds            []store.Decision
		confirmed, ok bool
	}{
		{nil, false, false},
		{[]store.Decision{d(store.ActionRevisit)}, false, false},
		{[]store.Decision{d(store.ActionConfirm)}, true, true},
		{[]store.Decision{d(store.ActionConfirm), d(store.ActionRelease), gt(OutcomeNothingFound)}, false, true},
		{[]store.Decision{d(store.ActionDismiss), gt(OutcomeConfirmedLab)}, true, true},
		{[]store.Decision{d(store.ActionDismiss), gt(OutcomeNotVisited)}, false, true},
		{[]store.Decision{gt(OutcomeNotVisited)}, false, false},
		{[]store.Decision{gt(OutcomeConfirmedLab), gt(OutcomeNothingFound)}, false, true},
	} {
		if c, ok := SiteLabel(tc.ds); c != tc.confirmed || ok != tc.ok {
			t.Errorf("case %d: SiteLabel = %v, %v; want %v, %v", i, c, ok, tc.confirmed, tc.ok)
		}
	}
	// Analysts confirmed 40 sites; the field found labs at the 20 with
	// strong evidence and nothing at the 20 with weak evidence.
	var analysts, field []store.History
	for i := range 40 {
		ev, out := 1.0, OutcomeNothingFound
		if i%2 == 0 {
			ev, out = 8, OutcomeConfirmedLab
		}
		analysts = append(analysts, store.History{Site: store.Site{Evidence: ev}, Decisions: []store.Decision{d(store.ActionConfirm)}})
		field = append(field, store.History{Site: store.Site{Evidence: ev}, Decisions: []store.Decision{d(store.ActionConfirm), gt(out)}})
	}
	field = append(field, store.History{Decisions: []store.Decision{gt(OutcomeNotVisited)}})
	ds := CalibrationDecisions(field)
	if len(ds) != 40 {
		t.Fatalf("%d calibration decisions, want 40 (not-visited labels nothing)", len(ds))
	}
	ca, cf := sites.NewCalibrator(sites.CalibratorConfig{}), sites.NewCalibrator(sites.CalibratorConfig{})
	if err := ca.Fit(CalibrationDecisions(analysts)); err != nil {
		t.Fatal(err)
	}
	if err := cf.Fit(ds); err != nil {
		t.Fatal(err)
	}
	if pa, pf := ca.Probability(1), cf.Probability(1); !(pf < pa) {
		t.Fatalf("p(weak evidence): %.3f from the analysts' labels, %.3f with the field's; want lower with the field's", pa, pf)
	}
}
