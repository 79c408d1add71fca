package server

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func isUnauthorized(err error) bool { return errors.Is(err, ErrUnauthorized) }

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, c *call) error {
	var req loginRequest
	if err := decodeJSON(w, r, 64<<10, &req); err != nil {
		return err
	}
	if req.Username == "" {
		return invalid("username", "empty")
	}
	if req.Password == "" {
		return invalid("password", "empty")
	}
	sess, user, err := s.cfg.Auth.Login(r.Context(), req.Username, req.Password)
	if isUnauthorized(err) {
		return unauthorized("wrong username or password")
	}
	if err != nil {
		return err
	}
	c.p, c.authed, c.object = sess.Principal, true, "session"
	http.SetCookie(w, &http.Cookie{
		Name: s.cfg.SessionCookie, Value: sess.Token, Path: "/", Expires: sess.Expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.cfg.Secure,
	})
	writeJSON(w, http.StatusOK, map[string]any{"user": user, "csrf_token": sess.CSRF})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if ck, err := r.Cookie(s.cfg.SessionCookie); err == nil && c.cookie {
		if err := s.cfg.Auth.Logout(r.Context(), ck.Value); err != nil && !isUnauthorized(err) {
			return err
		}
	}
	c.object = "session"
	http.SetCookie(w, &http.Cookie{Name: s.cfg.SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.cfg.Secure})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, c *call) error {
	users, err := s.cfg.Directory.Users(r.Context(), c.p.AgencyID)
	if err != nil {
		return err
	}
	u := User{ID: c.p.UserID, AgencyID: c.p.AgencyID, Role: c.p.Role, Lang: c.p.Lang}
	for _, x := range users {
		if x.ID == c.p.UserID {
			u = x
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": u, "principal": c.p})
	return nil
}

func (s *Server) agencies(w http.ResponseWriter, r *http.Request, c *call) error {
	as, err := s.cfg.Directory.Agencies(r.Context())
	if err != nil {
		return err
	}
	if as == nil {
		as = []Agency{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": as})
	return nil
}

// users lists the users of every agency for an administrator of a host
// agency... of the principal's own agency otherwise.
func (s *Server) users(w http.ResponseWriter, r *http.Request, c *call) error {
	us, err := s.cfg.Directory.Users(r.Context(), c.p.AgencyID)
	if err != nil {
		return err
	}
	if us == nil {
		us = []User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": us})
	return nil
}

var emptyCollection = []byte(`{"type":"FeatureCollection","features":[]}`)

func (s *Server) boundaries(w http.ResponseWriter, r *http.Request, c *call) error {
	b := s.cfg.Boundaries
	if b == nil {
		b = emptyCollection
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Cache-Control", "private, max-age=86400")
	_, err := w.Write(b)
	return err
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, c *call) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write([]byte("ok\n"))
	return err
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	// A read that needs the database: an unknown granule is ErrNotFound
	// from a reachable store, anything else means it is not.
	_, err := s.cfg.Store.Granule(ctx, "readyz-probe")
	if err != nil && !isNotFound(err) {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "store", "store unreachable: %v", err)
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(ctx); err != nil {
			return errorf(http.StatusServiceUnavailable, CodeUnavailable, "nats", "%v", err)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write([]byte("ready\n"))
	return err
}

func (s *Server) promMetrics(w http.ResponseWriter, r *http.Request, c *call) error {
	promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

// csp allows nothing from other origins: scripts, styles, images, fonts
// and connections (fetch, SSE) from this origin only; no framing.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// hashed matches file names carrying a content hash (name-HASH.ext or
// name.HASH.ext, 8+ hex or base64url characters), cached forever.
var hashed = regexp.MustCompile(`[.-][0-9A-Za-z_]{8,}\.[a-z0-9]+$`)

// static serves the web UI: a file if there is one, else index.html (the
// UI routes in the browser); under /api/ a JSON 404.
func (s *Server) static(w http.ResponseWriter, r *http.Request, c *call) error {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return notFound("no API route %s %s", r.Method, r.URL.Path)
	}
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if s.cfg.Assets == nil {
		return notFound("no web UI in this build")
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	st, err := fs.Stat(s.cfg.Assets, name)
	if err != nil || st.IsDir() {
		if path.Ext(name) != "" && name != "index.html" {
			return notFound("no file %s", name)
		}
		name = "index.html"
	}
	if name == "index.html" {
		h.Set("Cache-Control", "no-cache")
	} else if hashed.MatchString(path.Base(name)) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeFileFS(w, r, s.cfg.Assets, name)
	return nil
}
