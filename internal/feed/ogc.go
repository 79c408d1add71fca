package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// OGC API – Features Part 1: Core (OGC 17-069r4) conformance classes this
// API implements.
var ogcConformance = []string{
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
}

// crs84 is WGS 84 longitude/latitude, the only CRS of Part 1 Core.
const crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

// Limits of /collections/sites/items.
const (
	DefaultItemsLimit = 100
	MaxItemsLimit     = 10000
)

// PrincipalFunc returns the caller of a request (authenticated by the
// server's middleware), or false if there is none.
type PrincipalFunc func(r *http.Request) (access.Principal, bool)

// HandlerConfig configures the HTTP handlers of this package.
type HandlerConfig struct {
	Catalog   *Catalog
	Principal PrincipalFunc
	// Prefix is the path the handler is mounted at (e.g. "/api/v1/ogc"),
	// stripped by the server (http.StripPrefix) and put back in links.
	Prefix string
	// Images gives a site's evidence images for the KMZ export (nil: none).
	Images ImagesFunc
	Now    func() time.Time
}

// OGCHandler serves OGC API – Features over the sites the caller may see:
// the landing page (/), /conformance, /api (OpenAPI 3.0), /collections,
// /collections/sites, /collections/sites/items (bbox, limit, cursor,
// datetime on last_seen; next links) and /collections/sites/items/{id},
// as JSON and GeoJSON, so QGIS (and GDAL's OAPIF driver) can load released
// sites directly.
func OGCHandler(cfg HandlerConfig) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &ogc{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.landing)
	mux.HandleFunc("GET /conformance", h.conformance)
	mux.HandleFunc("GET /api", h.openapi)
	mux.HandleFunc("GET /collections", h.collections)
	mux.HandleFunc("GET /collections/sites", h.collection)
	mux.HandleFunc("GET /collections/sites/items", h.items)
	mux.HandleFunc("GET /collections/sites/items/{id}", h.item)
	return h.auth(mux)
}

type ogc struct{ cfg HandlerConfig }

type principalKey struct{}

// auth refuses callers without a principal or without the Export right.
func (h *ogc) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.cfg.Principal(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "unauthorized", "", "sign in or send an API token (Authorization: Bearer atl_…)")
			return
		}
		if !p.Can(access.Export) {
			writeError(w, http.StatusForbidden, "forbidden", "", "role "+string(p.Role)+" may not export sites")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func principalOf(r *http.Request) access.Principal {
	p, _ := r.Context().Value(principalKey{}).(access.Principal)
	return p
}

// base is the absolute URL of the handler's root, without a trailing /.
func (h *ogc) base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + strings.TrimSuffix(h.cfg.Prefix, "/")
}

func (h *ogc) landing(w http.ResponseWriter, r *http.Request) {
	b := h.base(r)
	writeJSON(w, "application/json", map[string]any{
		"title":       "Atalaya sites",
		"description": "Candidate clandestine-laboratory sites your agency may see (owned or released to it).",
		"links": []Link{
			{Href: b + "/", Rel: "self", Type: "application/json", Title: "this document"},
			{Href: b + "/api", Rel: "service-desc", Type: "application/vnd.oai.openapi+json;version=3.0", Title: "the API definition"},
			{Href: b + "/conformance", Rel: "conformance", Type: "application/json", Title: "conformance classes"},
			{Href: b + "/collections", Rel: "data", Type: "application/json", Title: "collections"},
		},
	})
}

func (h *ogc) conformance(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, "application/json", map[string]any{"conformsTo": ogcConformance})
}

func (h *ogc) collectionJSON(ctx context.Context, r *http.Request) (map[string]any, error) {
	b := h.base(r)
	sites, _, err := h.cfg.Catalog.Visible(ctx, principalOf(r), Query{})
	if err != nil {
		return nil, err
	}
	c := map[string]any{
		"id":          "sites",
		"title":       "Sites",
		"description": "Candidate laboratory sites: position, gases, evidence, probability, status, owner and releases.",
		"itemType":    "feature",
		"crs":         []string{crs84},
		"links": []Link{
			{Href: b + "/collections/sites", Rel: "self", Type: "application/json"},
			{Href: b + "/collections/sites/items", Rel: "items", Type: "application/geo+json", Title: "the sites"},
		},
	}
	if len(sites) > 0 {
		minLon, minLat, maxLon, maxLat := 180.0, 90.0, -180.0, -90.0
		first, last := sites[0].FirstSeen, sites[0].LastSeen
		for _, s := range sites {
			minLon, maxLon = min(minLon, s.Lon), max(maxLon, s.Lon)
			minLat, maxLat = min(minLat, s.Lat), max(maxLat, s.Lat)
			if s.FirstSeen.Before(first) {
				first = s.FirstSeen
			}
			if s.LastSeen.After(last) {
				last = s.LastSeen
			}
		}
		c["extent"] = map[string]any{
			"spatial":  map[string]any{"bbox": [][4]float64{{minLon, minLat, maxLon, maxLat}}, "crs": crs84},
			"temporal": map[string]any{"interval": [][2]string{{first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339)}}},
		}
	}
	return c, nil
}

func (h *ogc) collections(w http.ResponseWriter, r *http.Request) {
	c, err := h.collectionJSON(r.Context(), r)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
		return
	}
	b := h.base(r)
	writeJSON(w, "application/json", map[string]any{
		"links":       []Link{{Href: b + "/collections", Rel: "self", Type: "application/json"}},
		"collections": []any{c},
	})
}

func (h *ogc) collection(w http.ResponseWriter, r *http.Request) {
	c, err := h.collectionJSON(r.Context(), r)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
		return
	}
	writeJSON(w, "application/json", c)
}

// ParseBBox reads "minLon,minLat,maxLon,maxLat" (degrees, WGS 84).
func ParseBBox(s string) (store.BBox, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return store.BBox{}, fmt.Errorf("bbox %q: want minLon,minLat,maxLon,maxLat", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return store.BBox{}, fmt.Errorf("bbox %q: %q is not a number", s, p)
		}
		v[i] = f
	}
	b := store.BBox{MinLon: v[0], MinLat: v[1], MaxLon: v[2], MaxLat: v[3]}
	switch {
	case !(b.MinLon >= -180 && b.MaxLon <= 180 && b.MinLat >= -90 && b.MaxLat <= 90):
		return store.BBox{}, fmt.Errorf("bbox %q: longitudes must be in [-180, 180] and latitudes in [-90, 90]", s)
	case b.MinLat > b.MaxLat:
		return store.BBox{}, fmt.Errorf("bbox %q: minLat %g is north of maxLat %g", s, b.MinLat, b.MaxLat)
	case b.MinLon > b.MaxLon:
		return store.BBox{}, fmt.Errorf("bbox %q: minLon %g > maxLon %g (boxes across the antimeridian are not supported)", s, b.MinLon, b.MaxLon)
	}
	return b, nil
}

// parseInterval reads an OGC datetime: an instant, or "start/end" with
// ".." or "" for an open end.
func parseInterval(s string) (from, to time.Time, err error) {
	if s == "" {
		return
	}
	a, b, isInterval := strings.Cut(s, "/")
	if !isInterval {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return from, to, fmt.Errorf("datetime %q: want RFC 3339 or start/end", s)
		}
		return t, t, nil
	}
	if a != "" && a != ".." {
		if from, err = time.Parse(time.RFC3339, a); err != nil {
			return from, to, fmt.Errorf("datetime %q: start %q is not RFC 3339", s, a)
		}
	}
	if b != "" && b != ".." {
		if to, err = time.Parse(time.RFC3339, b); err != nil {
			return from, to, fmt.Errorf("datetime %q: end %q is not RFC 3339", s, b)
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return from, to, fmt.Errorf("datetime %q: the end is before the start", s)
	}
	return from, to, nil
}

func (h *ogc) items(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	for k := range qv {
		switch k {
		case "bbox", "limit", "cursor", "datetime", "status", "f":
		default:
			writeError(w, http.StatusBadRequest, "invalid", k, "unknown parameter "+k+": use bbox, limit, cursor, datetime or status")
			return
		}
	}
	q := Query{Limit: DefaultItemsLimit, After: qv.Get("cursor")}
	if s := qv.Get("bbox"); s != "" {
		b, err := ParseBBox(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", "bbox", err.Error())
			return
		}
		q.BBox = &b
	}
	if s := qv.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "invalid", "limit", fmt.Sprintf("limit %q: want a whole number from 1 to %d", s, MaxItemsLimit))
			return
		}
		q.Limit = min(n, MaxItemsLimit) // larger limits are capped (17-069r4 §7.15.3)
	}
	if s := qv.Get("status"); s != "" {
		q.Status = strings.Split(s, ",")
	}
	from, to, err := parseInterval(qv.Get("datetime"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "datetime", err.Error())
		return
	}
	var sites []Site
	more := false
	if from.IsZero() && to.IsZero() {
		sites, more, err = h.cfg.Catalog.Visible(r.Context(), principalOf(r), q)
	} else {
		// Filter on time before paging.
		limit := q.Limit
		q.Limit = 0
		var all []Site
		all, _, err = h.cfg.Catalog.Visible(r.Context(), principalOf(r), q)
		for _, s := range all {
			// A site's time is its interval first_seen..last_seen: it
			// matches if that meets the requested one.
			if (!to.IsZero() && s.FirstSeen.After(to)) || (!from.IsZero() && s.LastSeen.Before(from)) {
				continue
			}
			if len(sites) == limit {
				more = true
				break
			}
			sites = append(sites, s)
		}
		q.Limit = limit
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
		return
	}
	b := h.base(r)
	self := b + "/collections/sites/items"
	if enc := qv.Encode(); enc != "" {
		self += "?" + enc
	}
	n := len(sites)
	fc := FeatureCollection{Type: "FeatureCollection", Features: make([]Feature, n), NumberReturned: &n,
		TimeStamp: h.cfg.Now().UTC().Format(time.RFC3339),
		Links: []Link{
			{Href: self, Rel: "self", Type: "application/geo+json"},
			{Href: b + "/collections/sites", Rel: "collection", Type: "application/json"},
		}}
	for i, s := range sites {
		fc.Features[i] = NewFeature(s)
	}
	if more && n > 0 {
		next := url.Values{}
		for k, v := range qv {
			next[k] = v
		}
		next.Set("cursor", sites[n-1].ID)
		next.Set("limit", strconv.Itoa(q.Limit))
		fc.Links = append(fc.Links, Link{Href: b + "/collections/sites/items?" + next.Encode(), Rel: "next", Type: "application/geo+json"})
	}
	writeJSON(w, "application/geo+json", fc)
}

func (h *ogc) item(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s, err := h.cfg.Catalog.Site(r.Context(), principalOf(r), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "", "no site "+id)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
		return
	}
	b := h.base(r)
	f := NewFeature(s)
	f.Links = []Link{
		{Href: b + "/collections/sites/items/" + url.PathEscape(id), Rel: "self", Type: "application/geo+json"},
		{Href: b + "/collections/sites", Rel: "collection", Type: "application/json"},
	}
	writeJSON(w, "application/geo+json", f)
}

// openapi is a minimal OpenAPI 3.0 description of the endpoints (the oas30
// conformance class).
func (h *ogc) openapi(w http.ResponseWriter, r *http.Request) {
	b := h.base(r)
	op := func(summary string, params ...map[string]any) map[string]any {
		return map[string]any{"get": map[string]any{"summary": summary, "parameters": params,
			"responses": map[string]any{"200": map[string]any{"description": "OK"}}}}
	}
	param := func(name, in, typ string) map[string]any {
		return map[string]any{"name": name, "in": in, "required": in == "path", "schema": map[string]any{"type": typ}}
	}
	writeJSON(w, "application/vnd.oai.openapi+json;version=3.0", map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Atalaya sites (OGC API – Features)", "version": "1.0"},
		"servers": []map[string]any{{"url": b}},
		"paths": map[string]any{
			"/":                             op("landing page"),
			"/conformance":                  op("conformance classes"),
			"/collections":                  op("collections"),
			"/collections/sites":            op("the sites collection"),
			"/collections/sites/items":      op("sites", param("bbox", "query", "string"), param("limit", "query", "integer"), param("cursor", "query", "string"), param("datetime", "query", "string"), param("status", "query", "string")),
			"/collections/sites/items/{id}": op("one site", param("id", "path", "string")),
		},
	})
}

// ExportHandler serves GET /sites.geojson, /sites.kml and /sites.kmz: the
// sites the caller may see (bbox and status as for the OGC items).
func ExportHandler(cfg HandlerConfig) http.Handler {
	h := &ogc{cfg: cfg}
	mux := http.NewServeMux()
	for _, f := range []string{"geojson", "kml", "kmz"} {
		mux.HandleFunc("GET /sites."+f, h.export)
	}
	return h.auth(mux)
}

func (h *ogc) export(w http.ResponseWriter, r *http.Request) {
	q := Query{}
	if s := r.URL.Query().Get("bbox"); s != "" {
		b, err := ParseBBox(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", "bbox", err.Error())
			return
		}
		q.BBox = &b
	}
	if s := r.URL.Query().Get("status"); s != "" {
		q.Status = strings.Split(s, ",")
	}
	format := strings.TrimPrefix(r.URL.Path[strings.LastIndex(r.URL.Path, "."):], ".")
	sites, _, err := h.cfg.Catalog.Visible(r.Context(), principalOf(r), q)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
		return
	}
	var buf bytes.Buffer
	switch format {
	case "geojson":
		err = WriteGeoJSON(&buf, sites)
		w.Header().Set("Content-Type", "application/geo+json")
	case "kml":
		err = WriteKML(&buf, "Atalaya sites", sites, nil)
		w.Header().Set("Content-Type", "application/vnd.google-earth.kml+xml")
	case "kmz":
		err = WriteKMZ(r.Context(), &buf, "Atalaya sites", sites, h.cfg.Images)
		w.Header().Set("Content-Type", "application/vnd.google-earth.kmz")
	}
	if err != nil {
		w.Header().Del("Content-Type")
		writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="atalaya-sites.`+format+`"`)
	_, _ = w.Write(buf.Bytes())
}

func writeJSON(w http.ResponseWriter, ctype string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
		return
	}
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(append(b, '\n'))
}

// writeError writes the API's error body.
func writeError(w http.ResponseWriter, status int, code, field, msg string) {
	e := map[string]string{"code": code, "message": msg}
	if field != "" {
		e["field"] = field
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
