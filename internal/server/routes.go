package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Route is one entry of the route table. Every handler is reached only
// through guard, which enforces the route's rule; routeTable refuses a
// route without exactly one of Public, Authenticated or Actions, so no route
// exists without a rule.
type Route struct {
	Method  string
	Pattern string // http.ServeMux pattern path
	// Actions: the principal must be allowed one of them (Principal.Can);
	// a handler serving several (decisions) checks the one the request
	// needs.
	Actions []Action
	// Authenticated: any signed-in principal (me, logout).
	Authenticated bool
	// Public routes need no authentication (login, health, metrics, the
	// web UI's files).
	Public bool
	// Site: the path's {id} names a site; the principal must see it
	// (Visible), else 404, as if it did not exist.
	Site bool
	// Audit: calls are appended to the audit log, refused ones too (site
	// reads; every unsafe method is audited regardless).
	Audit bool
	// SelfAudited: the handler's dependency audits the call itself
	// (access records login and logout).
	SelfAudited bool
	h           func(w http.ResponseWriter, r *http.Request, c *call) error
}

// Rule describes the route's rule, for tables and docs.
func (rt Route) Rule() string {
	switch {
	case rt.Public:
		return "public"
	case rt.Authenticated:
		return "authenticated"
	}
	as := make([]string, len(rt.Actions))
	for i, a := range rt.Actions {
		as[i] = string(a)
	}
	r := strings.Join(as, "|")
	if rt.Site {
		r += " +visible"
	}
	return r
}

// call is what guard hands a handler.
type call struct {
	p      Principal
	authed bool
	cookie bool // authenticated by session cookie (CSRF applies)
	site   siteView
	object string // audit object
	detail map[string]any
	action Action // the action to audit, when it differs from the route's
}

func acts(a ...Action) []Action { return a }

func (s *Server) routeTable() []Route {
	const v1 = "/api/v1"
	rs := []Route{
		{Method: "POST", Pattern: v1 + "/login", Public: true, SelfAudited: true, h: s.login},
		{Method: "POST", Pattern: v1 + "/logout", Authenticated: true, SelfAudited: true, h: s.logout},
		{Method: "GET", Pattern: v1 + "/me", Authenticated: true, h: s.me},

		{Method: "GET", Pattern: v1 + "/sites", Actions: acts(access.ReadSites), Audit: true, h: s.listSites},
		{Method: "GET", Pattern: v1 + "/sites/{id}", Actions: acts(access.ReadSites), Site: true, Audit: true, h: s.getSite},
		{Method: "GET", Pattern: v1 + "/sites/{id}/evidence", Actions: acts(access.ReadEvidence), Site: true, Audit: true, h: s.getEvidence},
		{Method: "GET", Pattern: v1 + "/sites/{id}/plume.png", Actions: acts(access.ReadEvidence), Site: true, Audit: true, h: s.getPlumePNG},
		{Method: "POST", Pattern: v1 + "/sites/{id}/decisions", Actions: acts(access.Decide, access.Release, access.ReportGroundTruth),
			Site: true, Audit: true, h: s.postDecision},
		{Method: "GET", Pattern: v1 + "/queue", Actions: acts(access.ReadQueue), Audit: true, h: s.queue},
		{Method: "GET", Pattern: v1 + "/revisit", Actions: acts(access.ReadCoverage), Audit: true, h: s.revisit},

		// internal/feed's handlers (feeds.go): exports, OGC API – Features,
		// the evidence report and partners' ground truth.
		{Method: "GET", Pattern: v1 + "/export/sites.geojson", Actions: acts(access.Export), Audit: true, h: s.mountFeed(v1+"/export", s.feed.export)},
		{Method: "GET", Pattern: v1 + "/export/sites.kml", Actions: acts(access.Export), Audit: true, h: s.mountFeed(v1+"/export", s.feed.export)},
		{Method: "GET", Pattern: v1 + "/export/sites.kmz", Actions: acts(access.Export), Audit: true, h: s.mountFeed(v1+"/export", s.feed.export)},
		{Method: "GET", Pattern: ogcPrefix, Actions: acts(access.Export), Audit: true, h: s.mountFeed(ogcPrefix, s.feed.ogc)},
		{Method: "GET", Pattern: ogcPrefix + "/", Actions: acts(access.Export), Audit: true, h: s.mountFeed(ogcPrefix, s.feed.ogc)},
		{Method: "GET", Pattern: v1 + "/sites/{id}/report.pdf", Actions: acts(access.Export), Site: true, Audit: true, h: s.mountFeed(v1, s.feed.report)},
		{Method: "POST", Pattern: v1 + "/sites/{id}/ground-truth", Actions: acts(access.ReportGroundTruth), Site: true, Audit: true, h: s.groundTruth()},

		{Method: "GET", Pattern: v1 + "/granules", Actions: acts(access.ReadGranules), h: s.listGranules},
		{Method: "POST", Pattern: v1 + "/granules", Actions: acts(access.UploadGranules), h: s.createUpload},
		{Method: "GET", Pattern: v1 + "/granules/{id}", Actions: acts(access.ReadGranules), h: s.getGranule},
		{Method: "PATCH", Pattern: v1 + "/uploads/{id}", Actions: acts(access.UploadGranules), h: s.patchUpload},
		{Method: "HEAD", Pattern: v1 + "/uploads/{id}", Actions: acts(access.UploadGranules), h: s.headUpload},
		{Method: "GET", Pattern: v1 + "/detections", Actions: acts(access.ReadGranules), h: s.listDetections},

		{Method: "GET", Pattern: v1 + "/coverage", Actions: acts(access.ReadCoverage), h: s.coverage},
		{Method: "GET", Pattern: v1 + "/tracks", Actions: acts(access.ReadCoverage), h: s.tracks},
		{Method: "GET", Pattern: v1 + "/agencies", Actions: acts(access.ReadAgencies), h: s.agencies},
		{Method: "GET", Pattern: v1 + "/users", Actions: acts(access.ReadUsers), h: s.users},
		{Method: "GET", Pattern: v1 + "/boundaries", Actions: acts(access.ReadSites), h: s.boundaries},
		{Method: "GET", Pattern: v1 + "/events", Actions: acts(access.ReadSites), Audit: true, h: s.events},
		{Method: "GET", Pattern: "/tiles/", Actions: acts(access.ReadSites), h: s.tiles},

		{Method: "GET", Pattern: "/healthz", Public: true, h: s.healthz},
		{Method: "GET", Pattern: "/readyz", Public: true, h: s.readyz},
		{Method: "GET", Pattern: "/metrics", Public: true, h: s.promMetrics},
		{Method: "GET", Pattern: "/", Public: true, h: s.static},
	}
	rs = append(rs, s.planRoutes(v1, access.ReadSites, access.ReadCoverage)...)
	return s.checkRoutes(rs)
}

// checkRoutes panics on a route without exactly one rule: a programmer
// error caught at start-up (and by the tests).
func (s *Server) checkRoutes(rs []Route) []Route {
	for _, rt := range rs {
		n := 0
		for _, b := range []bool{rt.Public, rt.Authenticated, len(rt.Actions) > 0} {
			if b {
				n++
			}
		}
		if n != 1 {
			panic("server: route " + rt.Method + " " + rt.Pattern + " must declare exactly one of Public, Authenticated or Actions")
		}
		if rt.Site && (len(rt.Actions) == 0 || !strings.Contains(rt.Pattern, "{id}")) {
			panic("server: site-scoped route " + rt.Pattern + " needs an action and an {id}")
		}
	}
	return rs
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// guard enforces a route's rule, then runs its handler, then audits.
func (s *Server) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lbl, ok := r.Context().Value(routeKey{}).(*string); ok {
			*lbl = rt.Method + " " + rt.Pattern
		}
		c := &call{}
		err := s.authorize(w, r, rt, c)
		if err == nil {
			err = rt.h(w, r, c)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
		if c.authed && (rt.Audit || unsafeMethod(r.Method)) && !rt.SelfAudited {
			s.audit(r, rt, c, err)
		}
	})
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rt Route, c *call) error {
	if rt.Public {
		return nil
	}
	if err := s.authenticate(r, c); err != nil {
		return err
	}
	if len(rt.Actions) > 0 && !slices.ContainsFunc(rt.Actions, c.p.Can) {
		return forbidden("role %s may not %s", c.p.Role, rt.Actions[0])
	}
	if rt.Site {
		id := r.PathValue("id")
		c.object = "site/" + id
		v, err := s.loadSite(r.Context(), id)
		if err != nil {
			return err
		}
		if !Visible(c.p, v.owner, v.releasedTo) {
			return notFound("no site %q", id)
		}
		c.site = v
	}
	return nil
}

// authenticate finds the principal (access: a bearer token, else the
// session cookie with its CSRF token on unsafe methods).
func (s *Server) authenticate(r *http.Request, c *call) error {
	p, err := s.cfg.Auth.Authenticate(r.Context(), r)
	switch {
	case errors.Is(err, access.ErrCSRF):
		return errorf(http.StatusForbidden, CodeForbidden, "X-CSRF-Token", "missing or wrong X-CSRF-Token: send the csrf_token /login (or GET /me) returned")
	case errors.Is(err, access.ErrExpired):
		return unauthorized("the session or token expired or was revoked: log in again")
	case errors.Is(err, access.ErrForged):
		return unauthorized("malformed credentials: log in (POST /api/v1/login) or send Authorization: Bearer atl_…")
	case errors.Is(err, access.ErrUnauthorized):
		return unauthorized("log in (POST /api/v1/login) or send Authorization: Bearer atl_…")
	case err != nil:
		return err
	}
	c.p, c.authed, c.cookie = p, true, r.Header.Get("Authorization") == ""
	return nil
}

// audit appends the call to the audit log; a failure to audit is logged
// (the response is already written).
func (s *Server) audit(r *http.Request, rt Route, c *call, err error) {
	d := map[string]any{"method": r.Method, "path": r.URL.Path}
	if r.URL.RawQuery != "" {
		d["query"] = r.URL.RawQuery
	}
	for k, v := range c.detail {
		d[k] = v
	}
	if err != nil {
		d["refused"] = err.Error()
	}
	detail, _ := json.Marshal(d)
	obj := c.object
	if obj == "" {
		obj = "route/" + rt.Method + " " + rt.Pattern // e.g. a list
	}
	act := c.action
	if act == "" && len(rt.Actions) > 0 {
		act = rt.Actions[0]
	}
	if act == "" {
		act = Action(strings.ToLower(r.Method) + ":" + rt.Pattern)
	}
	e := AuditEntry{Principal: c.p, Action: string(act), Object: obj, Detail: string(detail), At: s.cfg.Now()}
	if aerr := s.cfg.Audit.Audit(context.WithoutCancel(r.Context()), e); aerr != nil {
		s.log.Error("audit append failed", "err", aerr, "object", obj)
		s.metrics.auditFailures.Inc()
	}
}

type routeKey struct{}

// statusWriter records the status and passes Flush through (SSE).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// observe logs each request and counts it by route pattern and status.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		label := "unmatched"
		r = r.WithContext(context.WithValue(r.Context(), routeKey{}, &label))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.observe(label, sw.status, d)
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "route", label,
			"status", sw.status, "bytes", sw.bytes, "duration", d, "remote", r.RemoteAddr)
	})
}

// siteView is a site with its owner and releases.
type siteView struct {
	store.Site
	owner      string
	releasedTo []string
}

func (s *Server) loadSite(ctx context.Context, id string) (siteView, error) {
	st, err := s.cfg.Store.Site(ctx, id)
	if err != nil {
		return siteView{}, err
	}
	owners, err := s.cfg.Sites.Owners(ctx)
	if err != nil {
		return siteView{}, err
	}
	return s.view(ctx, owners, st)
}

func (s *Server) view(ctx context.Context, owners *access.Owners, st store.Site) (siteView, error) {
	rs, err := s.cfg.Store.Releases(ctx, st.ID)
	if err != nil {
		return siteView{}, err
	}
	rel := make([]string, len(rs))
	for i, r := range rs {
		rel[i] = r.AgencyID
	}
	return siteView{Site: st, owner: owners.Of(st.Lat, st.Lon), releasedTo: rel}, nil
}
