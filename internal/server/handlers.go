package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/atalaya-project/atalaya/internal/access"
)

func isUnauthorized(err error) bool {
	return errors.Is(err, access.ErrUnauthorized) || errors.Is(err, access.ErrExpired) || errors.Is(err, access.ErrForged)
}

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
	sess, err := s.cfg.Auth.Login(r.Context(), req.Username, req.Password)
	if isUnauthorized(err) {
		return unauthorized("wrong username or password")
	}
	if err != nil {
		return err
	}
	c.p, c.authed, c.object = sess.Principal, true, "session"
	http.SetCookie(w, sess.Cookie(s.cfg.Secure))
	writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(sess.User), "csrf_token": sess.CSRF})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.cfg.Auth.Logout(r.Context(), r); err != nil && !isUnauthorized(err) {
		return err
	}
	http.SetCookie(w, access.ClearCookie(s.cfg.Secure))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, c *call) error {
	users, err := s.cfg.Directory.Users(r.Context())
	if err != nil {
		return err
	}
	u := User{ID: c.p.UserID, AgencyID: c.p.AgencyID, Role: c.p.Role, Lang: c.p.Lang}
	for _, x := range users {
		if x.ID == c.p.UserID {
			u = userJSON(x)
		}
	}
	resp := map[string]any{"user": u, "principal": principalJSON(c.p)}
	if c.cookie {
		// The page may have lost the token /login gave (a reload); only
		// this origin can read the answer.
		if tok, err := s.cfg.Auth.SessionCSRF(r.Context(), r); err == nil {
			resp["csrf_token"] = tok
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) agencies(w http.ResponseWriter, r *http.Request, c *call) error {
	as, err := s.cfg.Directory.Agencies(r.Context())
	if err != nil {
		return err
	}
	out := make([]Agency, len(as))
	for i, a := range as {
		out[i] = Agency{ID: a.ID, Name: a.Name, Country: a.Country, Lang: a.Lang, Host: a.Host}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

// users lists the users of the caller's agency.
func (s *Server) users(w http.ResponseWriter, r *http.Request, c *call) error {
	us, err := s.cfg.Directory.Users(r.Context())
	if err != nil {
		return err
	}
	out := []User{}
	for _, u := range us {
		if u.AgencyID == c.p.AgencyID {
			out = append(out, userJSON(u))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

var emptyCollection = []byte(`{"type":"FeatureCollection","features":[]}`)

// boundaries serves the base map's GeoJSON, gzipped for clients that
// accept it (about a tenth of the size).
func (s *Server) boundaries(w http.ResponseWriter, r *http.Request, c *call) error {
	s.gzOnce.Do(func() {
		if s.cfg.Boundaries == nil {
			s.cfg.Boundaries = emptyCollection
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(s.cfg.Boundaries)
		_ = zw.Close()
		s.gzBoundaries = buf.Bytes()
	})
	h := w.Header()
	h.Set("Content-Type", "application/geo+json")
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("Vary", "Accept-Encoding")
	b := s.cfg.Boundaries
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		b = s.gzBoundaries
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
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
	if tag, err := s.assetTag(name); err == nil {
		h.Set("ETag", tag)
	}
	http.ServeFileFS(w, r, s.cfg.Assets, name)
	return nil
}

// assetTag is a strong ETag from the file's SHA-256 (embedded files have
// no modification time to revalidate with), computed once per file.
func (s *Server) assetTag(name string) (string, error) {
	if v, ok := s.assetTags.Load(name); ok {
		return v.(string), nil
	}
	f, err := s.cfg.Assets.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	tag := `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
	s.assetTags.Store(name, tag)
	return tag, nil
}

// tiles serves the optional offline imagery (an MBTiles tileset) below
// /tiles/.
func (s *Server) tiles(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.cfg.Tiles == nil {
		return notFound("no imagery tileset configured")
	}
	http.StripPrefix("/tiles/", s.cfg.Tiles).ServeHTTP(w, r)
	return nil
}
