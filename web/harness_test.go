package web_test

// A stand-in for internal/server holding a site whose evidence is complete
// (spectrum, sensor trace, plume image, a pass surveyed without a
// detection), which the real server cannot produce yet: TestEvidenceCharts
// draws it. Every other browser test runs against the real server
// (server_test.go). It keeps the contract's behaviour the page depends on:
// cookie session and CSRF, If-Match with 412, visibility by agency on
// /sites and /events, the server's Content-Security-Policy.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/web"
)

type hUser struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	AgencyID string `json:"agency_id"`
	Role     string `json:"role"`
	Lang     string `json:"lang"`
	password string
}

type hGas struct {
	Gas      string  `json:"gas"`
	Evidence float64 `json:"evidence"`
	PeakPPMm float64 `json:"peak_ppmm"`
	RateKgH  float64 `json:"rate_kgh"`
}

type hSite struct {
	ID             string   `json:"id"`
	Lat            float64  `json:"lat"`
	Lon            float64  `json:"lon"`
	UncertaintyM   float64  `json:"uncertainty_m"`
	Gases          []hGas   `json:"gases"`
	GasProfile     string   `json:"gas_profile"`
	FirstSeen      string   `json:"first_seen"`
	LastSeen       string   `json:"last_seen"`
	PassesSeen     int      `json:"passes_seen"`
	PassesSurveyed int      `json:"passes_surveyed"`
	Evidence       float64  `json:"evidence"`
	Probability    float64  `json:"probability"`
	TypeGuess      string   `json:"type_guess"`
	Status         string   `json:"status"`
	Version        int      `json:"version"`
	Owner          string   `json:"owner"`
	ReleasedTo     []string `json:"released_to"`
}

type hDecision struct {
	SiteID    string   `json:"site_id"`
	Action    string   `json:"action"`
	Reason    string   `json:"reason,omitempty"`
	ReleaseTo []string `json:"release_to,omitempty"`
	Actor     string   `json:"actor"`
	At        string   `json:"at"`
}

type hEvent struct {
	kind string
	data []byte
}

type harness struct {
	*httptest.Server
	mu        sync.Mutex
	users     map[string]*hUser
	sessions  map[string]*hUser // session id → user
	csrf      map[string]string // session id → token
	sites     map[string]*hSite
	decisions map[string][]hDecision
	seq       int
	subs      map[chan hEvent]*hUser
}

const harnessPassword = "correct horse battery staple"

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		users: map[string]*hUser{
			"ana":   {ID: "u1", Username: "ana", AgencyID: "COL-DIRAN", Role: "analyst", Lang: "es"},
			"alex":  {ID: "u2", Username: "alex", AgencyID: "COL-DIRAN", Role: "analyst", Lang: "en"},
			"pat":   {ID: "u3", Username: "pat", AgencyID: "PER-DIRANDRO", Role: "partner", Lang: "en"},
			"paulo": {ID: "u4", Username: "paulo", AgencyID: "BRA-PF", Role: "partner", Lang: "pt"},
		},
		sessions:  map[string]*hUser{},
		csrf:      map[string]string{},
		sites:     map[string]*hSite{},
		decisions: map[string][]hDecision{},
		subs:      map[chan hEvent]*hUser{},
	}
	for _, u := range h.users {
		u.password = harnessPassword
	}
	base := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	add := func(id string, lat, lon, p float64, typ string, gases ...hGas) {
		h.sites[id] = &hSite{ID: id, Lat: lat, Lon: lon, UncertaintyM: 35, Gases: gases, GasProfile: typ,
			FirstSeen: base.Format(time.RFC3339), LastSeen: base.Add(48 * time.Hour).Format(time.RFC3339),
			PassesSeen: 2, PassesSurveyed: 3, Evidence: 6.2 * p, Probability: p, TypeGuess: typ,
			Status: "candidate", Version: 1, Owner: "COL-DIRAN", ReleasedTo: []string{}}
	}
	add("s-meth", 4.61, -74.08, 0.91, "methamphetamine-lab", hGas{"acetone", 5.1, 410, 1.8}, hGas{"toluene", 3.2, 220, 0.9}, hGas{"ammonia", 2.5, 150, 0.4})
	// Found by a source grid: a rate and no column.
	add("s-fent", 4.70, -74.20, 0.55, "fentanyl-lab", hGas{"dichloromethane", 2.2, 0, 0.55})
	add("s-farm", 4.40, -73.90, 0.12, "farm", hGas{"ammonia", 1.1, 60, 0.7})
	mux := http.NewServeMux()
	files := http.FileServerFS(web.Assets)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		// The real server's policy: nothing from other origins, no inline
		// script or style; a violation is a console error the tests catch.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("POST /api/v1/login", h.login)
	mux.HandleFunc("POST /api/v1/logout", h.auth(h.logout))
	mux.HandleFunc("GET /api/v1/me", h.auth(h.me))
	mux.HandleFunc("GET /api/v1/sites", h.auth(h.list))
	mux.HandleFunc("GET /api/v1/queue", h.auth(h.queue))
	mux.HandleFunc("GET /api/v1/sites/{id}", h.auth(h.site))
	mux.HandleFunc("GET /api/v1/sites/{id}/evidence", h.auth(h.evidence))
	mux.HandleFunc("GET /api/v1/sites/{id}/plume.png", h.auth(h.plume))
	mux.HandleFunc("POST /api/v1/sites/{id}/decisions", h.auth(h.decide))
	mux.HandleFunc("GET /api/v1/agencies", h.auth(func(w http.ResponseWriter, r *http.Request, _ *hUser) {
		writeJSON(w, 200, map[string]any{"items": []map[string]any{
			{"id": "COL-DIRAN", "name": "Dirección de Antinarcóticos", "country": "COL", "lang": "es", "host": true},
			{"id": "PER-DIRANDRO", "name": "DIRANDRO", "country": "PER", "lang": "es", "host": true},
			{"id": "BRA-PF", "name": "Polícia Federal", "country": "BRA", "lang": "pt", "host": true},
		}})
	}))
	mux.HandleFunc("GET /api/v1/boundaries", h.auth(func(w http.ResponseWriter, r *http.Request, _ *hUser) {
		writeJSON(w, 200, json.RawMessage(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"ADM0_A3":"COL"},"geometry":{"type":"Polygon","coordinates":[[[-79,1],[-72,-4],[-67,1],[-72,12],[-78,9],[-79,1]]]}}]}`))
	}))
	mux.HandleFunc("GET /api/v1/coverage", h.auth(func(w http.ResponseWriter, r *http.Request, _ *hUser) {
		writeJSON(w, 200, json.RawMessage(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"acc_mdl_kgh":0.3,"passes_max":3,"last_look":"2026-11-22T14:00:00Z"},"geometry":{"type":"Polygon","coordinates":[[[-74.3,4.3],[-73.8,4.3],[-73.8,4.8],[-74.3,4.8],[-74.3,4.3]]]}}]}`))
	}))
	mux.HandleFunc("GET /api/v1/tracks", h.auth(func(w http.ResponseWriter, r *http.Request, _ *hUser) {
		writeJSON(w, 200, json.RawMessage(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"granule_id":"g1"},"geometry":{"type":"LineString","coordinates":[[-74.3,4.35],[-73.8,4.35],[-73.8,4.45],[-74.3,4.45],[-74.3,4.55],[-73.8,4.55]]}}]}`))
	}))
	mux.HandleFunc("GET /api/v1/events", h.auth(h.events))
	h.Server = httptest.NewServer(mux)
	t.Cleanup(h.Close)
	return h
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (h *harness) auth(next func(http.ResponseWriter, *http.Request, *hUser)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("atalaya_session")
		h.mu.Lock()
		var u *hUser
		var tok string
		if err == nil {
			u, tok = h.sessions[c.Value], h.csrf[c.Value]
		}
		h.mu.Unlock()
		if u == nil {
			apiError(w, 401, "unauthorized", "sign in")
			return
		}
		if r.Method != "GET" && r.Header.Get("X-CSRF-Token") != tok {
			apiError(w, 403, "forbidden", "missing or wrong X-CSRF-Token")
			return
		}
		next(w, r, u)
	}
}

func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (h *harness) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, 400, "invalid", err.Error())
		return
	}
	h.mu.Lock()
	u := h.users[in.Username]
	if u == nil || u.password != in.Password {
		h.mu.Unlock()
		apiError(w, 401, "unauthorized", "wrong user name or password")
		return
	}
	sid, csrf := token(), token()
	h.sessions[sid], h.csrf[sid] = u, csrf
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "atalaya_session", Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, 200, map[string]any{"user": u, "csrf_token": csrf})
}

func (h *harness) logout(w http.ResponseWriter, r *http.Request, _ *hUser) {
	c, _ := r.Cookie("atalaya_session")
	h.mu.Lock()
	delete(h.sessions, c.Value)
	h.mu.Unlock()
	w.WriteHeader(204)
}

func (h *harness) me(w http.ResponseWriter, r *http.Request, u *hUser) {
	writeJSON(w, 200, map[string]any{"user": u})
}

func visible(u *hUser, s *hSite) bool {
	return u.AgencyID == s.Owner || slices.Contains(s.ReleasedTo, u.AgencyID)
}

func (h *harness) visibleSites(u *hUser) []hSite {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hSite
	for _, s := range h.sites {
		if visible(u, s) {
			c := *s
			c.ReleasedTo = slices.Clone(s.ReleasedTo)
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b hSite) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (h *harness) list(w http.ResponseWriter, r *http.Request, u *hUser) {
	bb := strings.Split(r.URL.Query().Get("bbox"), ",")
	if len(bb) != 4 {
		apiError(w, 400, "invalid", "bbox: want minLon,minLat,maxLon,maxLat")
		return
	}
	var box [4]float64
	for i, v := range bb {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			apiError(w, 400, "invalid", "bbox: "+err.Error())
			return
		}
		box[i] = f
	}
	items := []hSite{}
	for _, s := range h.visibleSites(u) {
		if s.Lon >= box[0] && s.Lat >= box[1] && s.Lon <= box[2] && s.Lat <= box[3] {
			items = append(items, s)
		}
	}
	writeJSON(w, 200, map[string]any{"items": items, "next_cursor": ""})
}

func (h *harness) queue(w http.ResponseWriter, r *http.Request, u *hUser) {
	items := []hSite{}
	for _, s := range h.visibleSites(u) {
		if s.Status == "candidate" || s.Status == "revisit" {
			items = append(items, s)
		}
	}
	slices.SortFunc(items, func(a, b hSite) int { return -cmpFloat(a.Probability, b.Probability) })
	writeJSON(w, 200, map[string]any{"items": items})
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (h *harness) find(w http.ResponseWriter, r *http.Request, u *hUser) *hSite {
	h.mu.Lock()
	s := h.sites[r.PathValue("id")]
	h.mu.Unlock()
	if s == nil || !visible(u, s) {
		apiError(w, 404, "not_found", "no site "+r.PathValue("id"))
		return nil
	}
	return s
}

func (h *harness) site(w http.ResponseWriter, r *http.Request, u *hUser) {
	if s := h.find(w, r, u); s != nil {
		h.mu.Lock()
		c := *s
		h.mu.Unlock()
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, c.Version))
		writeJSON(w, 200, c)
	}
}

func (h *harness) evidence(w http.ResponseWriter, r *http.Request, u *hUser) {
	s := h.find(w, r, u)
	if s == nil {
		return
	}
	// A spectrum shaped like a single absorption band at 8.2 µm (acetone's
	// LWIR peak) and a trace that crosses a Gaussian plume twice.
	var wl, meas, lib, tt, ppm, fit []float64
	for i := range 64 {
		x := 7.6 + 0.09*float64(i)
		g := math.Exp(-(x - 8.2) * (x - 8.2) / 0.05)
		wl, lib, meas = append(wl, x), append(lib, g), append(meas, 0.9*g+0.05*math.Sin(float64(i)))
	}
	for i := range 120 {
		x := float64(i)
		f := 3*math.Exp(-(x-40)*(x-40)/30) + 2*math.Exp(-(x-85)*(x-85)/30)
		tt, fit, ppm = append(tt, x), append(fit, f), append(ppm, f+0.2*math.Cos(x))
	}
	h.mu.Lock()
	dec := slices.Clone(h.decisions[s.ID])
	h.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"detections": []map[string]any{{"id": "d1", "outline": map[string]any{"type": "Polygon", "coordinates": [][][2]float64{{{s.Lon, s.Lat}, {s.Lon + 0.004, s.Lat + 0.001}, {s.Lon + 0.004, s.Lat - 0.001}, {s.Lon, s.Lat}}}}}},
		"passes": []map[string]any{
			{"granule_id": "g1", "time": "2026-11-20T14:00:00Z", "seen": true, "mdl_kgh": 0.3},
			{"granule_id": "g2", "time": "2026-11-21T14:00:00Z", "seen": false, "mdl_kgh": 0.8},
			{"granule_id": "g3", "time": "2026-11-22T14:00:00Z", "seen": true, "mdl_kgh": 0.25},
		},
		"decisions": dec,
		"spectrum":  map[string]any{"wavelength_um": wl, "measured": meas, "library": lib, "gas": "acetone"},
		"trace":     map[string]any{"t": tt, "ppm": ppm, "fit": fit},
		"plume_png": "/api/v1/sites/" + s.ID + "/plume.png",
	})
}

func (h *harness) plume(w http.ResponseWriter, r *http.Request, u *hUser) {
	if h.find(w, r, u) == nil {
		return
	}
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for y := range 32 {
		for x := range 48 {
			v := math.Exp(-float64((y-16)*(y-16))/(4+float64(x))) * math.Exp(-float64(x)/40)
			img.Set(x, y, color.RGBA{uint8(255 * v), 0, uint8(120 * v), 255})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(b.Bytes())
}

func (h *harness) decide(w http.ResponseWriter, r *http.Request, u *hUser) {
	s := h.find(w, r, u)
	if s == nil {
		return
	}
	var in struct {
		Action    string   `json:"action"`
		Reason    string   `json:"reason"`
		ReleaseTo []string `json:"release_to"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, 400, "invalid", err.Error())
		return
	}
	h.mu.Lock()
	if r.Header.Get("If-Match") != fmt.Sprintf(`"%d"`, s.Version) {
		h.mu.Unlock()
		apiError(w, 412, "precondition_failed", "the site changed")
		return
	}
	switch in.Action {
	case "confirm":
		s.Status = "confirmed"
	case "dismiss":
		if in.Reason == "" {
			h.mu.Unlock()
			apiError(w, 400, "invalid", "reason: required to dismiss")
			return
		}
		s.Status = "dismissed"
	case "revisit":
		s.Status = "revisit"
	case "release":
		s.Status = "released"
		for _, a := range in.ReleaseTo {
			if !slices.Contains(s.ReleasedTo, a) {
				s.ReleasedTo = append(s.ReleasedTo, a)
			}
		}
	default:
		h.mu.Unlock()
		apiError(w, 400, "invalid", "action: "+in.Action)
		return
	}
	s.Version++
	d := hDecision{SiteID: s.ID, Action: in.Action, Reason: in.Reason, ReleaseTo: in.ReleaseTo, Actor: u.Username, At: time.Now().UTC().Format(time.RFC3339)}
	h.decisions[s.ID] = append(h.decisions[s.ID], d)
	c := *s
	c.ReleasedTo = slices.Clone(s.ReleasedTo)
	h.mu.Unlock()
	h.publish("site", &c, c)
	out := map[string]any{"site": c, "decision": d}
	if in.Action == "revisit" {
		// The shape internal/server answers: the plan's summary and file
		// links, and its lines as GeoJSON (one line across the site here).
		base := "/api/v1/sites/" + c.ID + "/plan"
		out["plan"] = map[string]any{"lines": 1, "swath_m": 160.8, "length_m": 300, "duration_s": 30, "radius_m": 150,
			"links": map[string]string{"plan": base + ".plan", "geojson": base + ".geojson", "waypoints": base + ".waypoints", "mavlink": base + ".mavlink"}}
		out["plan_geojson"] = map[string]any{"type": "FeatureCollection", "features": []any{map[string]any{"type": "Feature",
			"properties": map[string]any{"kind": "line", "index": 0},
			"geometry":   map[string]any{"type": "LineString", "coordinates": [][]float64{{c.Lon, c.Lat - 0.0013}, {c.Lon, c.Lat + 0.0013}}}}}}
	}
	h.publish("decision", &c, d)
	writeJSON(w, 201, out)
}

// bump changes a site behind the browser's back (another analyst).
func (h *harness) bump(id string) {
	h.mu.Lock()
	h.sites[id].Version++
	h.mu.Unlock()
}

func (h *harness) publish(kind string, site *hSite, v any) {
	b, _ := json.Marshal(v)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	for ch, u := range h.subs {
		if site != nil && !visible(u, site) {
			continue
		}
		select {
		case ch <- hEvent{kind: kind, data: b}:
		default:
		}
	}
}

func (h *harness) events(w http.ResponseWriter, r *http.Request, u *hUser) {
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(200)
	fmt.Fprint(w, ": hello\n\n")
	fl.Flush()
	ch := make(chan hEvent, 16)
	h.mu.Lock()
	h.subs[ch] = u
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}()
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-ch:
			h.mu.Lock()
			seq := h.seq
			h.mu.Unlock()
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, e.kind, e.data)
			fl.Flush()
		}
	}
}
