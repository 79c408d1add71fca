package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/feed"
)

// Prefixes of internal/feed's handlers in the API.
const (
	v1Prefix  = "/api/v1"
	ogcPrefix = v1Prefix + "/ogc"
)

// feedHandlers are internal/feed's HTTP handlers, mounted through the
// route table (routeTable): the guard authenticates, authorizes, checks
// the site's visibility and audits before they run, and hands them the
// principal through feed.HandlerConfig.Principal.
type feedHandlers struct {
	ogc      http.Handler // below /api/v1/ogc
	export   http.Handler // /api/v1/export/sites.{geojson,kml,kmz}
	report   http.Handler // /api/v1/sites/{id}/report.pdf
	feedback http.Handler // /api/v1/sites/{id}/ground-truth
}

type principalCtxKey struct{}

// principalOfRequest is the feed handlers' feed.PrincipalFunc: the
// principal guard authenticated.
func principalOfRequest(r *http.Request) (access.Principal, bool) {
	p, ok := r.Context().Value(principalCtxKey{}).(access.Principal)
	return p, ok
}

func (s *Server) newFeedHandlers() *feedHandlers {
	cat := &feed.Catalog{Sites: s.cfg.Store, Audience: feed.StoreAudience(s.cfg.Store,
		func(ctx context.Context, lat, lon float64) (string, error) {
			o, err := s.cfg.Sites.Owners(ctx)
			if err != nil {
				return "", err
			}
			return o.Of(lat, lon), nil
		})}
	hc := func(prefix string) feed.HandlerConfig {
		return feed.HandlerConfig{Catalog: cat, Principal: principalOfRequest, Prefix: prefix,
			Images: feed.DetectionImages(s.cfg.Store), Now: s.cfg.Now}
	}
	rs := &feed.ReportSource{Store: s.cfg.Store, Catalog: cat, Now: s.cfg.Now}
	if s.places != nil {
		rs.Places = s.places
	}
	return &feedHandlers{
		ogc:      feed.OGCHandler(hc(ogcPrefix)),
		export:   feed.ExportHandler(hc(v1Prefix + "/export")),
		report:   feed.ReportHandler(hc(v1Prefix), rs, s.cfg.Store),
		feedback: feed.FeedbackHandler(hc(v1Prefix), s.cfg.Store),
	}
}

// mountFeed adapts a feed handler mounted at prefix to a route handler:
// the prefix is stripped (the handler puts it back in its links via
// HandlerConfig.Prefix), the principal travels in the context, and the
// status the handler answered goes into the audit entry (an error it
// wrote is a refusal).
func (s *Server) mountFeed(prefix string, h http.Handler) func(w http.ResponseWriter, r *http.Request, c *call) error {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		r2 := r.Clone(context.WithValue(r.Context(), principalCtxKey{}, c.p))
		p := strings.TrimPrefix(r.URL.Path, prefix)
		if p == "" {
			p = "/" // /api/v1/ogc is the landing page, as /api/v1/ogc/ is
		}
		r2.URL.Path, r2.URL.RawPath = p, ""
		sw := &codeWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r2)
		if c.detail == nil {
			c.detail = map[string]any{}
		}
		c.detail["status"] = sw.code()
		if sha := sw.Header().Get("X-Atalaya-Report-Sha256"); sha != "" {
			c.detail["report_sha256"] = sha
		}
		return nil
	}
}

// groundTruth is POST /sites/{id}/ground-truth (feed.FeedbackHandler);
// after a recorded report it wakes the dispatchers (the site.updated
// alert), tells the recalibration (a verdict) and publishes the site.
func (s *Server) groundTruth() func(w http.ResponseWriter, r *http.Request, c *call) error {
	h := s.mountFeed(v1Prefix, s.feed.feedback)
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		c.action = access.ReportGroundTruth
		if err := h(w, r, c); err != nil {
			return err
		}
		if c.detail["status"] == http.StatusCreated {
			s.GroundTruthRecorded(r.Context(), c.site.ID)
		}
		return nil
	}
}

// GroundTruthRecorded is called after a ground-truth report on the site
// committed (over HTTP, or from a TAK device through the CoT reply path):
// the partners' alert goes out now, the probabilities are refitted, and
// the site's viewers hear of the change.
func (s *Server) GroundTruthRecorded(ctx context.Context, siteID string) {
	if s.cfg.AlertCommitted != nil {
		s.cfg.AlertCommitted()
	}
	if s.cfg.Judged != nil {
		s.cfg.Judged()
	}
	s.SitesChanged(ctx, siteID)
}

// codeWriter records the status a handler wrote.
type codeWriter struct {
	http.ResponseWriter
	status int
}

func (w *codeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *codeWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
