package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// TestOpenAPIMatchesRoutes: every route in the mux is in docs/openapi.yaml
// with the same rule, and every operation there is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f, err := os.Open("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The file's layout: paths at two spaces, methods at four, the rule at
	// six.
	var (
		inPaths     bool
		path, meth  string
		pathRe      = regexp.MustCompile(`^  (/\S*):\s*$`)
		methRe      = regexp.MustCompile(`^    (get|post|put|patch|delete|head|options):\s*$`)
		ruleRe      = regexp.MustCompile(`^      x-atalaya-rule:\s*(.+?)\s*$`)
		doc         = map[string]string{} // "METHOD /path" → rule
		withoutRule []string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "paths:":
			inPaths = true
		case inPaths && len(l) > 0 && l[0] != ' ':
			inPaths = false
		case !inPaths:
		case pathRe.MatchString(l):
			path = pathRe.FindStringSubmatch(l)[1]
		case methRe.MatchString(l):
			meth = strings.ToUpper(methRe.FindStringSubmatch(l)[1])
			doc[meth+" "+path] = ""
			withoutRule = append(withoutRule, meth+" "+path)
		case ruleRe.MatchString(l):
			doc[meth+" "+path] = ruleRe.FindStringSubmatch(l)[1]
			withoutRule = slices.DeleteFunc(withoutRule, func(s string) bool { return s == meth+" "+path })
		}
	}
	if len(doc) < 10 {
		t.Fatalf("found only %d operations in docs/openapi.yaml: is its layout still two-space paths, four-space methods?", len(doc))
	}
	if len(withoutRule) > 0 {
		t.Errorf("operations without x-atalaya-rule: %v", withoutRule)
	}
	e := newEnv(t, sqliteURL(t))
	seen := map[string]bool{}
	for _, rt := range e.srv.Routes() {
		k := rt.Method + " " + rt.Pattern
		seen[k] = true
		rule, ok := doc[k]
		if !ok {
			t.Errorf("route %s is not in docs/openapi.yaml", k)
			continue
		}
		if rule != rt.Rule() {
			t.Errorf("%s: docs/openapi.yaml says rule %q, the server enforces %q", k, rule, rt.Rule())
		}
	}
	for k := range doc {
		if !seen[k] {
			t.Errorf("docs/openapi.yaml has %s, the server has no such route", k)
		}
	}
}

// TestEveryRouteHasARule walks the table: a rule each, and the mux serves
// every route through the guard (an anonymous call to any non-public route
// is refused with 401 before its handler runs).
func TestEveryRouteHasARule(t *testing.T) {
	e := newEnv(t, sqliteURL(t))
	for _, rt := range e.srv.Routes() {
		if rt.Rule() == "" {
			t.Errorf("%s %s: no rule", rt.Method, rt.Pattern)
		}
		if rt.Public {
			continue
		}
		path := strings.ReplaceAll(rt.Pattern, "{id}", e.siteCOL.ID)
		before := e.snapshot()
		resp := e.do(rt.Method, path, "", strings.NewReader(`{"action":"confirm"}`), "If-Match", `"1"`)
		b := read(t, resp)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous %s %s: status %d, want 401", rt.Method, path, resp.StatusCode)
		} else if rt.Method != "HEAD" && apiErrOf(t, b).Code != CodeUnauthorized {
			t.Errorf("anonymous %s %s: body %s", rt.Method, path, b)
		}
		e.unchanged(before, "anonymous "+rt.Method+" "+path)
	}
	// A route declared without a rule is refused at start-up.
	defer func() {
		if recover() == nil {
			t.Error("a route without a rule was accepted")
		}
	}()
	s := &Server{}
	_ = s.checkRoutes([]Route{{Method: "GET", Pattern: "/x"}})
}

// TestAuthorizationMatrix: every route × every role × own/other agency,
// generated from the route table. Allowed means the role may (Can) and,
// for site-scoped routes, the caller's agency sees the site (the site is
// COL's, unreleased).
func TestAuthorizationMatrix(t *testing.T) {
	eachStore(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		for _, rt := range e.srv.Routes() {
			if rt.Public {
				continue
			}
			for _, agency := range []string{agCOL, agPER} {
				for _, role := range access.Roles {
					p := e.principal(role, agency)
					name := fmt.Sprintf("%s %s as %s of %s", rt.Method, rt.Pattern, role, agency)
					allowed := rt.Authenticated || slices.ContainsFunc(rt.Actions, p.Can)
					if rt.Pattern == "/api/v1/sites/{id}/decisions" {
						allowed = p.Can(access.Decide) // the request confirms
					}
					visible := !rt.Site || agency == agCOL
					resp := e.matrixRequest(rt, role, agency)
					b := read(t, resp)
					switch {
					case allowed && visible:
						if resp.StatusCode >= 400 {
							t.Errorf("%s: status %d, want success: %s", name, resp.StatusCode, b)
						}
					case !allowed && rt.Method != "HEAD" && resp.StatusCode == http.StatusForbidden:
						if c := apiErrOf(t, b).Code; c != CodeForbidden {
							t.Errorf("%s: code %s", name, c)
						}
					case !allowed && rt.Method == "HEAD" && resp.StatusCode == http.StatusForbidden:
					case !visible && resp.StatusCode == http.StatusNotFound:
						// An invisible site is answered as a missing one.
					default:
						t.Errorf("%s: status %d (allowed %v, visible %v): %s", name, resp.StatusCode, allowed, visible, b)
					}
				}
			}
		}
	})
}

// matrixRequest makes a request to rt that succeeds for a caller allowed
// to make it.
func (e *env) matrixRequest(rt Route, role Role, agency string) *http.Response {
	tok := e.tok(role, agency)
	path := strings.ReplaceAll(rt.Pattern, "{id}", e.siteCOL.ID)
	var body io.Reader
	var hdr []string
	switch rt.Method + " " + rt.Pattern {
	case "POST /api/v1/sites/{id}/decisions":
		cur, err := e.st.Site(t0, e.siteCOL.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		body = strings.NewReader(`{"action":"confirm","reason":"matrix"}`)
		hdr = []string{"If-Match", etag(cur.Version), "Content-Type", "application/json"}
	case "POST /api/v1/sites/{id}/ground-truth":
		body = strings.NewReader(`{"outcome":"nothing-found","note":"matrix"}`)
		hdr = []string{"Content-Type", "application/json"}
	case "GET /tiles/":
		path = "/tiles/metadata.json"
	case "GET /api/v1/revisit", "GET /api/v1/revisit/plan.plan", "GET /api/v1/revisit/plan.geojson",
		"GET /api/v1/revisit/plan.waypoints", "GET /api/v1/revisit/plan.mavlink":
		path += "?bbox=-74.11,4.59,-74.09,4.61&gas=acetone&top=2"
	case "GET /api/v1/sites/{id}/plan.plan", "GET /api/v1/sites/{id}/plan.geojson",
		"GET /api/v1/sites/{id}/plan.waypoints", "GET /api/v1/sites/{id}/plan.mavlink":
		e.ensureRevisitPlan(e.siteCOL)
	case "GET /api/v1/granules/{id}":
		path = "/api/v1/granules/" + e.granule.ID
	case "GET /api/v1/detections":
		path += "?granule=" + e.granule.ID
	case "POST /api/v1/granules":
		path += "?name=part.tar"
		body = strings.NewReader("12345")
		hdr = []string{"Upload-Length", "10"}
	case "PATCH /api/v1/uploads/{id}", "HEAD /api/v1/uploads/{id}":
		id := "0123456789abcdef0123456789abcdef" // someone else's, or none
		p := e.principal(role, agency)
		if p.Can(access.UploadGranules) {
			resp := e.do("POST", "/api/v1/granules?name=part.tar", tok, strings.NewReader("12345"), "Upload-Length", "10")
			var up uploadResponse
			decode(e.t, read(e.t, resp), &up)
			id = up.Upload.ID
		}
		path = "/api/v1/uploads/" + id
		if rt.Method == "PATCH" {
			body = strings.NewReader("67")
			hdr = []string{"Upload-Offset", "5"}
		}
	case "GET /api/v1/events":
		// The stream's headers are the answer; read closes it.
		resp := e.do("GET", path, tok, nil)
		if resp.StatusCode == http.StatusOK {
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				e.t.Errorf("events: Content-Type %q", ct)
			}
			resp.Body.Close()
			resp.Body = io.NopCloser(strings.NewReader(""))
		}
		return resp
	}
	return e.do(rt.Method, path, tok, body, hdr...)
}

// ensureRevisitPlan gives the site a revisit decision with its plan, as
// POST /decisions records it, unless it has one.
func (e *env) ensureRevisitPlan(st store.Site) {
	h, err := e.st.SiteHistory(t0, st.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range h.Decisions {
		if d.Action == store.ActionRevisit {
			return
		}
	}
	b, _ := json.Marshal(map[string]any{"plan": e.srv.newSitePlan(st)})
	if _, err := e.st.AppendDecision(t0, store.Decision{SiteID: st.ID, Actor: "test", Action: store.ActionRevisit, Payload: string(b)}); err != nil {
		e.t.Fatal(err)
	}
}
