package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/store"
)

type sitesPage struct {
	Items      []SiteJSON `json:"items"`
	NextCursor string     `json:"next_cursor"`
}

func TestSitesFiltersAndPages(t *testing.T) {
	eachStore(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		ctx := context.Background()
		// 25 more COL sites along a line, alternating gas and status.
		for i := range 25 {
			gp := `{"ammonia":1}`
			if i%2 == 1 {
				gp = `{"acetone":{"log_bf":4.5,"ppmm":80,"emission_kg_h":1.5}}`
			}
			if _, err := e.st.CreateSite(ctx, store.Site{Lat: 5 + float64(i)*0.01, Lon: -73, GasProfile: gp,
				FirstSeen: time.Date(2026, 5, 1+i, 0, 0, 0, 0, time.UTC), LastSeen: time.Date(2026, 5, 1+i, 0, 0, 0, 0, time.UTC),
				Probability: float64(i) / 25, Status: []store.SiteStatus{store.SiteCandidate, store.SiteConfirmed}[i%2]}); err != nil {
				t.Fatal(err)
			}
		}
		tok := e.tok(access.RoleAnalyst, agCOL)
		get := func(q string) sitesPage {
			t.Helper()
			resp := e.do("GET", "/api/v1/sites?"+q, tok, nil)
			b := read(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("sites?%s: %d %s", q, resp.StatusCode, b)
			}
			var p sitesPage
			decode(t, b, &p)
			return p
		}
		// Every COL site, a page of 7 at a time, each once, none of PER's.
		seen := map[string]bool{}
		cur := ""
		pages := 0
		for {
			p := get("limit=7&cursor=" + cur)
			pages++
			for _, s := range p.Items {
				if seen[s.ID] {
					t.Fatalf("site %s twice", s.ID)
				}
				seen[s.ID] = true
				if s.Owner != agCOL {
					t.Errorf("site %s of %s listed to COL", s.ID, s.Owner)
				}
			}
			if cur = p.NextCursor; cur == "" {
				break
			}
		}
		if len(seen) != 26 || pages != 4 {
			t.Errorf("%d sites in %d pages, want 26 in 4", len(seen), pages)
		}
		// Filters.
		if p := get("gas=acetone&status=confirmed&limit=100"); len(p.Items) != 12 {
			t.Errorf("acetone confirmed: %d sites, want 12", len(p.Items))
		} else if g := p.Items[0].Gases[0]; g.Gas != "acetone" || g.Evidence != 4.5 || g.PeakPPMM != 80 || g.RateKgH != 1.5 {
			t.Errorf("gas evidence %+v", g)
		}
		if p := get("min_probability=0.5"); len(p.Items) != 13 { // i ≥ 13 (12/25 < 0.5) plus the fixture's 0.8
			t.Errorf("min_probability 0.5: %d sites, want 13", len(p.Items))
		}
		if p := get("bbox=-73.5,5.095,-72.5,6"); len(p.Items) != 15 { // i ≥ 10 (lat 5.10 .. 5.24); 5.09 < 5.095
			t.Errorf("bbox: %d sites, want 15", len(p.Items))
		}
		if p := get("since=2026-05-20T00:00:00Z&until=2026-05-22T00:00:00Z"); len(p.Items) != 3 {
			t.Errorf("since/until: %d sites, want 3", len(p.Items))
		}
		// A cursor is bound to its filters.
		p := get("limit=2&gas=ammonia")
		resp := e.do("GET", "/api/v1/sites?limit=2&gas=acetone&cursor="+p.NextCursor, tok, nil)
		if b := read(t, resp); resp.StatusCode != 400 || apiErrOf(t, b).Field != "cursor" {
			t.Errorf("cursor with other filters: %d %s", resp.StatusCode, b)
		}
	})
}

func TestSiteETagAndDecisions(t *testing.T) {
	eachStore(t, func(t *testing.T, url string) {
		var woken atomic.Int32
		e := newEnv(t, url, func(c *Config) { c.AlertCommitted = func() { woken.Add(1) } })
		analyst := e.tok(access.RoleAnalyst, agCOL)
		path := "/api/v1/sites/" + e.siteCOL.ID
		resp := e.do("GET", path, analyst, nil)
		read(t, resp)
		tag := resp.Header.Get("ETag")
		if tag != `"1"` {
			t.Fatalf("ETag %q, want \"1\"", tag)
		}
		if resp := e.do("GET", path, analyst, nil, "If-None-Match", tag); resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: %d", resp.StatusCode)
		}
		// No If-Match: 428; stale: 412; both change nothing.
		before := e.snapshot()
		resp = e.do("POST", path+"/decisions", analyst, strings.NewReader(`{"action":"confirm"}`))
		if b := read(t, resp); resp.StatusCode != http.StatusPreconditionRequired || apiErrOf(t, b).Field != "If-Match" {
			t.Errorf("no If-Match: %d %s", resp.StatusCode, b)
		}
		resp = e.do("POST", path+"/decisions", analyst, strings.NewReader(`{"action":"confirm"}`), "If-Match", `"7"`)
		if b := read(t, resp); resp.StatusCode != http.StatusPreconditionFailed || apiErrOf(t, b).Code != CodePreconditionFailed {
			t.Errorf("stale If-Match: %d %s", resp.StatusCode, b)
		}
		e.unchanged(before, "refused decisions")
		// Confirm on version 1.
		resp = e.do("POST", path+"/decisions", analyst, strings.NewReader(`{"action":"confirm","reason":"plume seen twice"}`), "If-Match", tag)
		b := read(t, resp)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("confirm: %d %s", resp.StatusCode, b)
		}
		var d struct {
			Site     SiteJSON     `json:"site"`
			Decision DecisionJSON `json:"decision"`
		}
		decode(t, b, &d)
		if d.Site.Status != "confirmed" || d.Site.Version != 2 || d.Decision.Action != "confirm" || d.Decision.Reason != "plume seen twice" {
			t.Errorf("confirm answered %+v", d)
		}
		if got := resp.Header.Get("ETag"); got != `"2"` {
			t.Errorf("ETag after confirm %q", got)
		}
		// The same If-Match again is stale now.
		resp = e.do("POST", path+"/decisions", analyst, strings.NewReader(`{"action":"dismiss"}`), "If-Match", tag)
		if read(t, resp); resp.StatusCode != http.StatusPreconditionFailed {
			t.Errorf("second decision on version 1: %d", resp.StatusCode)
		}
		// The partner sees nothing until the release.
		partner := e.tok(access.RolePartner, agUSA)
		if resp := e.do("GET", path, partner, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("partner before release: %d", resp.StatusCode)
		}
		// PER's analyst may not release COL's site.
		resp = e.do("POST", path+"/decisions", e.tok(access.RoleAnalyst, agPER), strings.NewReader(`{"action":"release","release_to":["`+agUSA+`"]}`), "If-Match", `"2"`)
		if read(t, resp); resp.StatusCode != http.StatusNotFound {
			t.Errorf("release by another agency: %d", resp.StatusCode)
		}
		resp = e.do("POST", path+"/decisions", analyst, strings.NewReader(`{"action":"release","release_to":["NOPE"]}`), "If-Match", `"2"`)
		if b := read(t, resp); resp.StatusCode != 400 || apiErrOf(t, b).Field != "release_to" {
			t.Errorf("release to an unknown agency: %d %s", resp.StatusCode, b)
		}
		resp = e.do("POST", path+"/decisions", analyst, strings.NewReader(`{"action":"release","release_to":["`+agUSA+`"]}`), "If-Match", `"2"`)
		if b := read(t, resp); resp.StatusCode != http.StatusCreated {
			t.Fatalf("release: %d %s", resp.StatusCode, b)
		}
		resp = e.do("GET", path, partner, nil)
		var s SiteJSON
		decode(t, read(t, resp), &s)
		if resp.StatusCode != 200 || s.Status != "released" || len(s.ReleasedTo) != 1 || s.ReleasedTo[0] != agUSA || s.Owner != agCOL {
			t.Errorf("partner after release: %d %+v", resp.StatusCode, s)
		}
		// The partner reports ground truth; may not confirm.
		resp = e.do("POST", path+"/decisions", partner, strings.NewReader(`{"action":"confirm"}`), "If-Match", `"3"`)
		if read(t, resp); resp.StatusCode != http.StatusForbidden {
			t.Errorf("partner confirm: %d", resp.StatusCode)
		}
		resp = e.do("POST", path+"/decisions", partner, strings.NewReader(`{"action":"ground-truth","reason":"lab found"}`), "If-Match", `"3"`)
		if b := read(t, resp); resp.StatusCode != http.StatusCreated {
			t.Errorf("partner ground truth: %d %s", resp.StatusCode, b)
		}
		// The decision log and the evidence agree; the audit log has them.
		ds, err := e.st.Decisions(t0, e.siteCOL.ID)
		if err != nil {
			t.Fatal(err)
		}
		var acts []string
		for _, d := range ds {
			acts = append(acts, string(d.Action))
		}
		if strings.Join(acts, ",") != "confirm,release,ground-truth" {
			t.Errorf("decisions %v", acts)
		}
		resp = e.do("GET", path+"/evidence", analyst, nil)
		var ev Evidence
		decode(t, read(t, resp), &ev)
		if len(ev.Decisions) != 3 || len(ev.Detections) != 1 || len(ev.Passes) != 1 || ev.Passes[0].GranuleID != e.granule.ID || ev.Spectrum.Gas != "ammonia" {
			t.Errorf("evidence %+v", ev)
		}
		// Where the site is: Natural Earth alone until municipal
		// boundaries are imported, then the municipality with its source.
		if p := ev.Place; p.Country != "Colombia" || p.CountryCode != "COL" || p.CountrySource != boundaries.NaturalEarthAdmin0 ||
			p.Municipality != "" || p.MunicipalSources == nil || len(p.MunicipalSources) != 0 || !p.StateFallback || p.StateSource != boundaries.NaturalEarthAdmin1 {
			t.Errorf("place before any import %+v", p)
		}
		bogota := `{"type":"Polygon","coordinates":[[[-74.3,4.4],[-73.9,4.4],[-73.9,4.8],[-74.3,4.8],[-74.3,4.4]]]}`
		if _, err := e.st.ImportAdminAreas(t0, store.LevelMunicipality, "DANE MGN (test box)", []store.AdminArea{{Name: "Bogotá, D.C.", Code: "11001",
			Parent: "Bogotá, D.C.", GeoJSON: bogota, BBox: store.BBox{MinLat: 4.4, MinLon: -74.3, MaxLat: 4.8, MaxLon: -73.9}}}); err != nil {
			t.Fatal(err)
		}
		decode(t, read(t, e.do("GET", path+"/evidence", analyst, nil)), &ev)
		if p := ev.Place; p.Municipality != "Bogotá, D.C." || p.MunicipalityCode != "11001" || p.MunicipalitySource != "DANE MGN (test box)" ||
			p.State != "Bogotá, D.C." || p.StateSource != "DANE MGN (test box)" || p.StateFallback || p.Country != "Colombia" {
			t.Errorf("place after the import %+v", p)
		}
		// Partners' alerts: the release, then the ground truth on the
		// released site; the confirm before the release alerted no one.
		alerts, err := e.st.ClaimOutbox(t0, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, a := range alerts {
			kinds = append(kinds, a.Kind)
			var p feed.Event // decoded as the dispatcher will
			decode(t, []byte(a.Payload), &p)
			if p.ID != a.ID || p.Kind != a.Kind || p.Site.ID != e.siteCOL.ID || p.Site.Owner != agCOL ||
				len(p.Site.ReleasedTo) != 1 || p.Site.ReleasedTo[0] != agUSA || p.Decision == nil || p.Decision.ID == "" ||
				!p.Site.FirstSeen.Equal(e.siteCOL.FirstSeen) {
				t.Errorf("alert payload %s", a.Payload)
			}
		}
		if strings.Join(kinds, ",") != "site.released,site.updated" || woken.Load() != 2 {
			t.Errorf("alerts %v, dispatchers woken %d times", kinds, woken.Load())
		}
		ents, err := e.st.AuditEntries(t0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, a := range ents {
			if a.ObjectID == e.siteCOL.ID {
				count[a.Action]++
			}
		}
		// Reads: the analyst's 200 and 304, the partner's 404 and 200.
		// Decide: no If-Match, stale, confirm, stale dismiss, the
		// partner's confirm, PER's release (refused before its body is
		// read, so under the route's first action). Release: unknown
		// agency, done. Evidence: read before and after the boundary import.
		want := map[string]int{string(access.ReadSites): 4, string(access.ReadEvidence): 2, string(access.Decide): 6,
			string(access.Release): 2, string(access.ReportGroundTruth): 1,
			"site.release": 1} // access's own entry, in the release's transaction
		if fmt.Sprint(count) != fmt.Sprint(want) {
			t.Errorf("audit entries by action for the site: %v", count)
		}
	})
}

func TestSessionLoginCSRF(t *testing.T) {
	eachStore(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		post := func(path, body string, hdr ...string) (*http.Response, []byte) {
			req, _ := http.NewRequest("POST", e.http.URL+path, strings.NewReader(body))
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp, read(t, resp)
		}
		resp, b := post("/api/v1/login", `{"username":"analyst@`+agCOL+`","password":"wrong"}`)
		if resp.StatusCode != 401 || apiErrOf(t, b).Code != CodeUnauthorized {
			t.Errorf("wrong password: %d %s", resp.StatusCode, b)
		}
		resp, b = post("/api/v1/login", `{"username":"analyst@`+agCOL+`","password":"pw-analyst@`+agCOL+`"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("login: %d %s", resp.StatusCode, b)
		}
		var lr struct {
			User User   `json:"user"`
			CSRF string `json:"csrf_token"`
		}
		decode(t, b, &lr)
		ck := resp.Cookies()
		if len(ck) != 1 || ck[0].Name != "atalaya_session" || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Secure {
			t.Errorf("session cookie %+v", ck)
		}
		if lr.CSRF == "" || lr.User.Role != access.RoleAnalyst {
			t.Errorf("login answered %s", b)
		}
		// A read needs no CSRF token.
		req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/me", nil)
		r2, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var me struct {
			User User   `json:"user"`
			CSRF string `json:"csrf_token"`
		}
		if decode(t, read(t, r2), &me); r2.StatusCode != 200 || me.CSRF != lr.CSRF || me.User.Username != "analyst@"+agCOL {
			t.Errorf("me: %d %+v", r2.StatusCode, me)
		}
		// A decision without, and with a wrong, CSRF token: 403, nothing stored.
		before := e.snapshot()
		dpath := "/api/v1/sites/" + e.siteCOL.ID + "/decisions"
		resp, b = post(dpath, `{"action":"confirm"}`, "If-Match", `"1"`)
		if resp.StatusCode != 403 || apiErrOf(t, b).Field != "X-CSRF-Token" {
			t.Errorf("no CSRF: %d %s", resp.StatusCode, b)
		}
		resp, b = post(dpath, `{"action":"confirm"}`, "If-Match", `"1"`, "X-CSRF-Token", lr.CSRF+"x")
		if resp.StatusCode != 403 || apiErrOf(t, b).Field != "X-CSRF-Token" {
			t.Errorf("wrong CSRF: %d %s", resp.StatusCode, b)
		}
		e.unchanged(before, "decisions without CSRF")
		resp, b = post(dpath, `{"action":"confirm"}`, "If-Match", `"1"`, "X-CSRF-Token", lr.CSRF)
		if resp.StatusCode != 201 {
			t.Errorf("with CSRF: %d %s", resp.StatusCode, b)
		}
		// Logout needs CSRF too, then the session is gone.
		if resp, _ = post("/api/v1/logout", ""); resp.StatusCode != 403 {
			t.Errorf("logout without CSRF: %d", resp.StatusCode)
		}
		if resp, _ = post("/api/v1/logout", "", "X-CSRF-Token", lr.CSRF); resp.StatusCode != 204 {
			t.Errorf("logout: %d", resp.StatusCode)
		}
		r3, err := c.Get(e.http.URL + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		if read(t, r3); r3.StatusCode != 401 {
			t.Errorf("me after logout: %d", r3.StatusCode)
		}
	})
}

func TestHostileInput(t *testing.T) {
	e := newEnv(t, sqliteURL(t))
	analyst := e.tok(access.RoleAnalyst, agCOL)
	operator := e.tok(access.RoleOperator, agCOL)
	dpath := "/api/v1/sites/" + e.siteCOL.ID + "/decisions"
	cases := []struct {
		name, method, path, tok, body string
		hdr                           []string
		status                        int
		code, field                   string
	}{
		{"oversized body", "POST", dpath, analyst, `{"action":"confirm","reason":"` + strings.Repeat("x", 5000) + `"}`, []string{"If-Match", `"1"`}, 413, CodeTooLarge, "body"},
		{"oversized login", "POST", "/api/v1/login", "", `{"username":"` + strings.Repeat("a", 70000) + `"}`, nil, 413, CodeTooLarge, "body"},
		{"malformed JSON", "POST", dpath, analyst, `{"action":"confirm"`, []string{"If-Match", `"1"`}, 400, CodeInvalid, "body"},
		{"not JSON", "POST", dpath, analyst, `action=confirm`, []string{"If-Match", `"1"`}, 400, CodeInvalid, "body"},
		{"unknown field", "POST", dpath, analyst, `{"action":"confirm","status":"released"}`, []string{"If-Match", `"1"`}, 400, CodeInvalid, "status"},
		{"two values", "POST", dpath, analyst, `{"action":"confirm"}{"action":"release"}`, []string{"If-Match", `"1"`}, 400, CodeInvalid, "body"},
		{"wrong type", "POST", dpath, analyst, `{"action":7}`, []string{"If-Match", `"1"`}, 400, CodeInvalid, "action"},
		{"unknown action", "POST", dpath, analyst, `{"action":"delete"}`, []string{"If-Match", `"1"`}, 400, CodeInvalid, "action"},
		{"wrong content type", "POST", dpath, analyst, `{"action":"confirm"}`, []string{"If-Match", `"1"`, "Content-Type", "text/xml"}, 415, CodeInvalid, "Content-Type"},
		{"bad If-Match", "POST", dpath, analyst, `{"action":"confirm"}`, []string{"If-Match", `"1 OR 1=1"`}, 400, CodeInvalid, "If-Match"},
		{"SQL in site id", "GET", "/api/v1/sites/" + url.PathEscape("x' OR '1'='1"), analyst, "", nil, 404, CodeNotFound, ""},
		{"SQL in decision site id", "POST", "/api/v1/sites/" + url.PathEscape("1; DROP TABLE sites;--") + "/decisions", analyst, `{"action":"confirm"}`, []string{"If-Match", `"1"`}, 404, CodeNotFound, ""},
		{"SQL in gas", "GET", "/api/v1/sites?gas=" + url.QueryEscape("' OR 1=1--"), analyst, "", nil, 200, "", ""},
		{"SQL in granule", "GET", "/api/v1/detections?granule=" + url.QueryEscape("' UNION SELECT * FROM users--"), analyst, "", nil, 404, CodeNotFound, ""},
		{"bad bbox", "GET", "/api/v1/sites?bbox=1,2,3", analyst, "", nil, 400, CodeInvalid, "bbox"},
		{"NaN bbox", "GET", "/api/v1/sites?bbox=NaN,0,1,1", analyst, "", nil, 400, CodeInvalid, "bbox"},
		{"inverted bbox", "GET", "/api/v1/coverage?bbox=10,0,-10,1", analyst, "", nil, 400, CodeInvalid, "bbox"},
		{"coverage level out of range", "GET", "/api/v1/coverage?gas=ammonia&level=99", analyst, "", nil, 400, CodeInvalid, "level"},
		{"coverage level without gas", "GET", "/api/v1/coverage?level=5", analyst, "", nil, 400, CodeInvalid, "level"},
		{"coverage gas with a slash", "GET", "/api/v1/coverage?gas=" + url.QueryEscape("../x"), analyst, "", nil, 400, CodeInvalid, "gas"},
		{"forged cursor", "GET", "/api/v1/sites?cursor=AAAA", analyst, "", nil, 400, CodeInvalid, "cursor"},
		{"unknown parameter", "GET", "/api/v1/sites?owner=PER-DIRANDRO", analyst, "", nil, 400, CodeInvalid, "owner"},
		{"bad limit", "GET", "/api/v1/sites?limit=100000", analyst, "", nil, 400, CodeInvalid, "limit"},
		{"forged token", "GET", "/api/v1/sites", "atl_forged", "", nil, 401, CodeUnauthorized, ""},
		{"not bearer", "GET", "/api/v1/sites", "", "", []string{"Authorization", "Basic YWRtaW46YWRtaW4="}, 401, CodeUnauthorized, ""},
		{"forged cookie", "GET", "/api/v1/sites", "", "", []string{"Cookie", "atalaya_session=sess-admin-0"}, 401, CodeUnauthorized, ""},
		{"path traversal in upload name", "POST", "/api/v1/granules?name=" + url.QueryEscape("../../etc/passwd"), operator, "abc", []string{"Upload-Length", "3"}, 400, CodeInvalid, "name"},
		{"backslash upload name", "POST", "/api/v1/granules?name=" + url.QueryEscape(`..\..\boot.ini`), operator, "abc", []string{"Upload-Length", "3"}, 400, CodeInvalid, "name"},
		{"NUL in upload name", "POST", "/api/v1/granules?name=a%00b.tar", operator, "abc", []string{"Upload-Length", "3"}, 400, CodeInvalid, "name"},
		{"upload over the limit", "POST", "/api/v1/granules?name=big.tar", operator, "abc", []string{"Upload-Length", strconv.Itoa(2 << 20)}, 413, CodeTooLarge, "Upload-Length"},
		{"upload longer than declared", "POST", "/api/v1/granules?name=a.tar", operator, "abcdef", []string{"Upload-Length", "3"}, 413, CodeTooLarge, "body"},
		{"upload not an archive", "POST", "/api/v1/granules?name=a.tar", operator, "abc", []string{"Upload-Length", "3"}, 400, CodeInvalid, "body"},
		{"upload id traversal", "PATCH", "/api/v1/uploads/..%2F..%2Fetc%2Fpasswd", operator, "abc", []string{"Upload-Offset", "0"}, 404, CodeNotFound, ""},
		{"bad Last-Event-ID", "GET", "/api/v1/events", analyst, "", []string{"Last-Event-ID", "-1"}, 400, CodeInvalid, "Last-Event-ID"},
		{"unknown API path", "GET", "/api/v1/nothing", analyst, "", nil, 404, CodeNotFound, ""},
	}
	for _, c := range cases {
		before := e.snapshot()
		body := bytes.NewReader([]byte(c.body))
		resp := e.do(c.method, c.path, c.tok, body, c.hdr...)
		b := read(t, resp)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.status, b)
			continue
		}
		if c.code != "" {
			ae := apiErrOf(t, b)
			if ae.Code != c.code || ae.Field != c.field {
				t.Errorf("%s: error %+v, want code %s field %q", c.name, ae, c.code, c.field)
			}
		}
		e.unchanged(before, c.name)
	}
	// Tokens issued for 24 h are refused after it, and nothing changes.
	e.clock.advance(25 * time.Hour)
	before := e.snapshot()
	resp := e.do("POST", dpath, analyst, strings.NewReader(`{"action":"confirm"}`), "If-Match", `"1"`)
	if b := read(t, resp); resp.StatusCode != 401 || apiErrOf(t, b).Code != CodeUnauthorized || !strings.Contains(string(b), "expired") {
		t.Errorf("expired token: %d %s", resp.StatusCode, b)
	}
	e.unchanged(before, "expired token")
}

func TestResumableUpload(t *testing.T) {
	eachStore(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		op := e.tok(access.RoleOperator, agCOL)
		arc := cubeArchive(t, 7)
		half := len(arc) / 2
		ev, stop := e.stream(t, e.tok(access.RoleAnalyst, agCOL), "")
		defer stop()
		resp := e.do("POST", "/api/v1/granules?name=flight-7.tar", op, bytes.NewReader(arc[:half]), "Upload-Length", strconv.Itoa(len(arc)))
		var up uploadResponse
		decode(t, read(t, resp), &up)
		if resp.StatusCode != 201 || up.Upload.Offset != int64(half) || up.Upload.Complete || up.Granule != nil {
			t.Fatalf("create: %d %+v", resp.StatusCode, up)
		}
		loc := resp.Header.Get("Location")
		if loc != "/api/v1/uploads/"+up.Upload.ID {
			t.Errorf("Location %q", loc)
		}
		// Another user cannot see it.
		if resp := e.do("HEAD", loc, e.tok(access.RoleOperator, agPER), nil); resp.StatusCode != 404 {
			t.Errorf("HEAD by another user: %d", resp.StatusCode)
		}
		resp = e.do("HEAD", loc, op, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Upload-Offset") != strconv.Itoa(half) || resp.Header.Get("Upload-Length") != strconv.Itoa(len(arc)) {
			t.Errorf("HEAD: %d %v", resp.StatusCode, resp.Header)
		}
		// A wrong offset is refused and appends nothing.
		resp = e.do("PATCH", loc, op, bytes.NewReader(arc[half-10:]), "Upload-Offset", strconv.Itoa(half-10))
		if b := read(t, resp); resp.StatusCode != 409 || apiErrOf(t, b).Field != "Upload-Offset" || resp.Header.Get("Upload-Offset") != strconv.Itoa(half) {
			t.Errorf("wrong offset: %d %s", resp.StatusCode, b)
		}
		if gs := e.snapshot().Granules; len(gs) != 1 {
			t.Fatalf("granules before completion: %v", gs)
		}
		resp = e.do("PATCH", loc, op, bytes.NewReader(arc[half:]), "Upload-Offset", strconv.Itoa(half))
		b := read(t, resp)
		decode(t, b, &up)
		if resp.StatusCode != 201 || !up.Upload.Complete || up.Granule == nil || !up.Created {
			t.Fatalf("complete: %d %s", resp.StatusCode, b)
		}
		g, err := e.st.Granule(t0, up.Granule.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g.Name != "flight-7.tar" || g.Status != store.GranuleRecorded || g.Kind != store.KindCube {
			t.Errorf("granule %+v", g)
		}
		// The spool is empty; the upload is gone.
		if s := e.snapshot(); len(s.Spool) != 0 || s.Blobs != 1 {
			t.Errorf("after completion: spool %v, blobs %d", s.Spool, s.Blobs)
		}
		if resp := e.do("HEAD", loc, op, nil); resp.StatusCode != 404 {
			t.Errorf("HEAD after completion: %d", resp.StatusCode)
		}
		// Its event reached the analyst.
		x := ev.next(t)
		if x.event != "granule" || !strings.Contains(x.data, g.ID) {
			t.Errorf("event %+v", x)
		}
		// The same bytes again: the same granule, 200.
		resp = e.do("POST", "/api/v1/granules?name=again.tar", op, bytes.NewReader(arc), "Upload-Length", strconv.Itoa(len(arc)))
		up = uploadResponse{}
		decode(t, read(t, resp), &up)
		if resp.StatusCode != 200 || up.Created || up.Granule.ID != g.ID {
			t.Errorf("same bytes: %d %+v", resp.StatusCode, up)
		}
		resp = e.do("GET", "/api/v1/granules?limit=1", op, nil)
		var page struct {
			Items      []GranuleJSON `json:"items"`
			NextCursor string        `json:"next_cursor"`
		}
		decode(t, read(t, resp), &page)
		if len(page.Items) != 1 || page.NextCursor == "" {
			t.Fatalf("granules page 1: %+v", page)
		}
		resp = e.do("GET", "/api/v1/granules?limit=1&cursor="+page.NextCursor, op, nil)
		first := page.Items[0].ID
		decode(t, read(t, resp), &page)
		if len(page.Items) != 1 || page.Items[0].ID == first || page.NextCursor != "" {
			t.Errorf("granules page 2: %+v", page)
		}
	})
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t, sqliteURL(t), func(c *Config) {
		c.Assets = testAssets
	})
	for _, c := range []struct{ path, cache, body string }{
		{"/", "no-cache", "<html>ui</html>"},
		{"/sites/abc", "no-cache", "<html>ui</html>"},
		{"/assets/app-3f2a9c1b.js", "public, max-age=31536000, immutable", "console.log(1)"},
		{"/favicon.svg", "no-cache", "<svg/>"},
	} {
		resp := e.do("GET", c.path, "", nil)
		b := read(t, resp)
		if resp.StatusCode != 200 || string(b) != c.body || resp.Header.Get("Cache-Control") != c.cache {
			t.Errorf("%s: %d %q cache %q", c.path, resp.StatusCode, b, resp.Header.Get("Cache-Control"))
		}
		// Revalidation: the ETag is the content's.
		sum := sha256.Sum256(b)
		tag := `"` + hex.EncodeToString(sum[:16]) + `"`
		if got := resp.Header.Get("ETag"); got != tag {
			t.Errorf("%s: ETag %s, want %s", c.path, got, tag)
		}
		if r := e.do("GET", c.path, "", nil, "If-None-Match", tag); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: %d", c.path, r.StatusCode)
		}
		pol := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(pol, "default-src 'self'") || strings.Contains(pol, "http") || strings.Contains(pol, "*") {
			t.Errorf("%s: CSP %q", c.path, pol)
		}
	}
	if resp := e.do("GET", "/assets/missing-12345678.js", "", nil); resp.StatusCode != 404 {
		t.Errorf("missing asset: %d", resp.StatusCode)
	}
	if resp := e.do("GET", "/../../etc/passwd", "", nil); resp.StatusCode == 200 {
		if b := read(t, resp); !strings.Contains(string(b), "<html>ui</html>") {
			t.Errorf("traversal served %q", b)
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	ready := fmt.Errorf("nats: not connected")
	e := newEnv(t, sqliteURL(t), func(c *Config) {
		c.Ready = func(context.Context) error { return ready }
	})
	if resp := e.do("GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Errorf("healthz %d", resp.StatusCode)
	}
	resp := e.do("GET", "/readyz", "", nil)
	if b := read(t, resp); resp.StatusCode != 503 || apiErrOf(t, b).Field != "nats" {
		t.Errorf("readyz without NATS: %d %s", resp.StatusCode, b)
	}
	ready = nil
	if resp := e.do("GET", "/readyz", "", nil); resp.StatusCode != 200 {
		t.Errorf("readyz %d", resp.StatusCode)
	}
	e.srv.Metrics().SetQueueDepth(3)
	_, stop := e.stream(t, e.tok(access.RoleViewer, agCOL), "")
	defer stop()
	resp = e.do("GET", "/metrics", "", nil)
	b := string(read(t, resp))
	for _, want := range []string{
		`atalaya_http_requests_total{code="200",route="GET /healthz"} 1`,
		`atalaya_http_requests_total{code="503",route="GET /readyz"} 1`,
		`atalaya_http_request_duration_seconds_count{route="GET /readyz"} 2`,
		`atalaya_sse_clients 1`,
		`atalaya_queue_depth 3`,
		`atalaya_granule_processing_seconds_count 0`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	_ = e.st.Close()
	if resp := e.do("GET", "/readyz", "", nil); resp.StatusCode != 503 {
		t.Errorf("readyz with the store closed: %d", resp.StatusCode)
	}
}

// TestAbandonedUploadsPurged: an upload unfinished for longer than
// UploadTTL is deleted when the server starts; a recent one stays.
func TestAbandonedUploadsPurged(t *testing.T) {
	e := newEnv(t, sqliteURL(t))
	op := e.tok(access.RoleOperator, agCOL)
	var ids []string
	for range 2 {
		resp := e.do("POST", "/api/v1/granules?name=part.tar", op, strings.NewReader("12345"), "Upload-Length", "10")
		var up uploadResponse
		decode(t, read(t, resp), &up)
		ids = append(ids, up.Upload.ID)
	}
	// Age the first by eight days.
	m, err := os.ReadFile(filepath.Join(e.spool, ids[0]+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta uploadMeta
	decode(t, m, &meta)
	meta.Created = meta.Created.Add(-8 * 24 * time.Hour)
	b, _ := json.Marshal(meta)
	if err := os.WriteFile(filepath.Join(e.spool, ids[0]+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.srv.cfg
	cfg.Registry = nil
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	names, _ := readDirNames(e.spool)
	if strings.Join(names, ",") != ids[1]+".json,"+ids[1]+".part" {
		t.Errorf("spool after the purge: %v (uploads %v)", names, ids)
	}
}

// A verdict (confirm, dismiss, ground truth) records the evidence it was
// given on, for calibration, and tells serve to recalibrate; a release does
// not.
func TestVerdictsForCalibration(t *testing.T) {
	eachStore(t, func(t *testing.T, url string) {
		var judged atomic.Int32
		e := newEnv(t, url, func(c *Config) { c.Judged = func() { judged.Add(1) } })
		analyst := e.tok(access.RoleAnalyst, agCOL)
		path := "/api/v1/sites/" + e.siteCOL.ID
		resp := e.do("POST", path+"/decisions", analyst, strings.NewReader(`{"action":"confirm"}`), "If-Match", `"1"`)
		if b := read(t, resp); resp.StatusCode != http.StatusCreated {
			t.Fatalf("confirm: %d %s", resp.StatusCode, b)
		}
		if n := judged.Load(); n != 1 {
			t.Errorf("Judged called %d times after a confirm, want 1", n)
		}
		resp = e.do("POST", path+"/decisions", analyst, strings.NewReader(`{"action":"release","release_to":["`+agUSA+`"]}`), "If-Match", `"2"`)
		if b := read(t, resp); resp.StatusCode != http.StatusCreated {
			t.Fatalf("release: %d %s", resp.StatusCode, b)
		}
		if n := judged.Load(); n != 1 {
			t.Errorf("Judged called %d times after a release, want still 1", n)
		}
		vs, err := e.st.Verdicts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 || vs[0].SiteID != e.siteCOL.ID || !vs[0].Real || vs[0].Evidence != e.siteCOL.Evidence {
			t.Errorf("verdicts %+v, want the confirm with the site's evidence %g", vs, e.siteCOL.Evidence)
		}
	})
}
