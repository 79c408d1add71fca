package server

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/coverage"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"
)

// SiteJSON is a site as the API shows it.
type SiteJSON struct {
	ID             string    `json:"id"`
	Lat            float64   `json:"lat"`
	Lon            float64   `json:"lon"`
	UncertaintyM   float64   `json:"uncertainty_m"`
	Gases          []GasJSON `json:"gases"`
	GasProfile     string    `json:"gas_profile"` // the stored JSON text, as the feeds carry it
	FirstSeen      string    `json:"first_seen"`
	LastSeen       string    `json:"last_seen"`
	PassesSeen     int       `json:"passes_seen"`
	PassesSurveyed int       `json:"passes_surveyed"`
	Evidence       float64   `json:"evidence"`
	Probability    float64   `json:"probability"`
	TypeGuess      string    `json:"type_guess"`
	Status         string    `json:"status"`
	Version        int64     `json:"version"`
	Owner          string    `json:"owner"`
	ReleasedTo     []string  `json:"released_to"`
}

// GasJSON is one gas's evidence at a site.
type GasJSON struct {
	Gas      string  `json:"gas"`
	Evidence float64 `json:"evidence"`
	PeakPPMM float64 `json:"peak_ppmm"`
	RateKgH  float64 `json:"rate_kgh"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// gases reads a gas profile: a JSON object of gas → evidence (a number),
// or gas → {log_bf|z, ppmm, emission_kg_h} as internal/sites writes it.
func gases(profile string) ([]GasJSON, json.RawMessage) {
	var m map[string]json.RawMessage
	if profile == "" || json.Unmarshal([]byte(profile), &m) != nil {
		return []GasJSON{}, json.RawMessage("{}")
	}
	out := make([]GasJSON, 0, len(m))
	for gas, raw := range m {
		g := GasJSON{Gas: gas}
		var num float64
		var obj struct {
			LogBF    *float64 `json:"log_bf"`
			Z        *float64 `json:"z"`
			Evidence *float64 `json:"evidence"`
			PPMm     float64  `json:"ppmm"`
			Peak     float64  `json:"peak_ppmm"`
			Rate     float64  `json:"emission_kg_h"`
			RateKgH  float64  `json:"rate_kgh"`
		}
		switch {
		case json.Unmarshal(raw, &num) == nil:
			g.Evidence = num
		case json.Unmarshal(raw, &obj) == nil:
			switch {
			case obj.Evidence != nil:
				g.Evidence = *obj.Evidence
			case obj.LogBF != nil:
				g.Evidence = *obj.LogBF
			case obj.Z != nil:
				g.Evidence = *obj.Z
			}
			g.PeakPPMM = max(obj.PPMm, obj.Peak)
			g.RateKgH = max(obj.Rate, obj.RateKgH)
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Evidence != out[j].Evidence {
			return out[i].Evidence > out[j].Evidence
		}
		return out[i].Gas < out[j].Gas
	})
	return out, json.RawMessage(profile)
}

func siteJSON(v siteView) SiteJSON {
	gs, _ := gases(v.GasProfile)
	prof := v.GasProfile
	rel := v.releasedTo
	if rel == nil {
		rel = []string{}
	}
	return SiteJSON{
		ID: v.ID, Lat: v.Lat, Lon: v.Lon, UncertaintyM: v.UncertaintyM, Gases: gs, GasProfile: prof,
		FirstSeen: rfc3339(v.FirstSeen), LastSeen: rfc3339(v.LastSeen), PassesSeen: v.PassesSeen,
		PassesSurveyed: v.PassesSurvey, Evidence: v.Evidence, Probability: v.Probability,
		TypeGuess: v.TypeGuess, Status: string(v.Status), Version: v.Version, Owner: v.owner, ReleasedTo: rel,
	}
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// siteFilter is GET /sites's query.
type siteFilter struct {
	bbox         store.BBox
	statuses     []store.SiteStatus
	gas          string
	minP         float64
	since, until time.Time
	limit        int
	after        string
}

func parseSiteFilter(q url.Values) (siteFilter, error) {
	f := siteFilter{bbox: world}
	for k := range q {
		switch k {
		case "bbox", "status", "gas", "min_probability", "since", "until", "limit", "cursor":
		default:
			return f, invalid(k, "unknown query parameter %q", k)
		}
	}
	var err error
	if b := q.Get("bbox"); b != "" {
		if f.bbox, err = parseBBox(b); err != nil {
			return f, err
		}
	}
	if st := q.Get("status"); st != "" {
		for _, x := range strings.Split(st, ",") {
			switch x := store.SiteStatus(x); x {
			case store.SiteCandidate, store.SiteConfirmed, store.SiteDismissed, store.SiteRevisit, store.SiteReleased:
				f.statuses = append(f.statuses, x)
			default:
				return f, invalid("status", "%q: want candidate, confirmed, dismissed, revisit or released (comma-separated)", x)
			}
		}
	}
	f.gas = q.Get("gas")
	if len(f.gas) > 64 {
		return f, invalid("gas", "too long")
	}
	if f.minP, err = parseProbability("min_probability", q.Get("min_probability")); err != nil {
		return f, err
	}
	if f.since, err = parseTime("since", q.Get("since")); err != nil {
		return f, err
	}
	if f.until, err = parseTime("until", q.Get("until")); err != nil {
		return f, err
	}
	if f.limit, err = parseLimit(q.Get("limit"), 100, 1000); err != nil {
		return f, err
	}
	// The cursor is bound to every filter but limit and cursor.
	key := url.Values{}
	for k, v := range q {
		if k != "limit" && k != "cursor" {
			key[k] = v
		}
	}
	f.after, err = parseCursor(q.Get("cursor"), key.Encode())
	return f, err
}

// query is the part of the filter the store runs (all but gas).
func (f siteFilter) query() store.SiteQuery {
	return store.SiteQuery{BBox: f.bbox, Statuses: f.statuses, MinProbability: f.minP,
		Since: f.since, Until: f.until, Order: store.ByID, After: store.SiteKey{ID: f.after}}
}

// matchGas is the rest: a site with evidence of the gas (the stored gas
// profile is JSON).
func (f siteFilter) matchGas(v siteView) bool {
	if f.gas == "" {
		return true
	}
	gs, _ := gases(v.GasProfile)
	return slices.ContainsFunc(gs, func(g GasJSON) bool { return g.Gas == f.gas })
}

// visibleSites returns the sites of q that p sees and keep passes, in q's
// order after q.After, up to limit (0: all); more reports whether any are
// left. The store filters and orders (SitesPage); the visibility rule runs
// here, as strict as on one site: the owner (the host agency of the
// country the site is in) or an agency it was released to, read for a
// whole page at once (ReleasedTo).
func (s *Server) visibleSites(ctx context.Context, p Principal, q store.SiteQuery, limit int,
	keep func(siteView) bool) (out []siteView, more bool, err error) {
	owners, err := s.cfg.Sites.Owners(ctx)
	if err != nil {
		return nil, false, err
	}
	// Pages a little larger than asked: some sites are not visible.
	q.Limit = 500
	if limit > 0 {
		q.Limit = min(max(2*limit+1, 100), 1000)
	}
	for {
		page, err := s.cfg.Store.SitesPage(ctx, q)
		if err != nil {
			return nil, false, err
		}
		ids := make([]string, len(page))
		for i, st := range page {
			ids[i] = st.ID
		}
		rel, err := s.cfg.Store.ReleasedTo(ctx, ids)
		if err != nil {
			return nil, false, err
		}
		for _, st := range page {
			v := siteView{Site: st, owner: owners.Of(st.Lat, st.Lon), releasedTo: rel[st.ID]}
			if !Visible(p, v.owner, v.releasedTo) || !keep(v) {
				continue
			}
			if limit > 0 && len(out) == limit {
				return out, true, nil
			}
			out = append(out, v)
		}
		if len(page) < q.Limit {
			return out, false, nil
		}
		q.After = page[len(page)-1].Key()
	}
}

func (s *Server) listSites(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := parseSiteFilter(r.URL.Query())
	if err != nil {
		return err
	}
	vs, more, err := s.visibleSites(r.Context(), c.p, f.query(), f.limit, f.matchGas)
	if err != nil {
		return err
	}
	items := make([]SiteJSON, len(vs))
	ids := make([]string, len(vs))
	for i, v := range vs {
		items[i], ids[i] = siteJSON(v), v.ID
	}
	resp := struct {
		Items      []SiteJSON `json:"items"`
		NextCursor string     `json:"next_cursor"`
	}{Items: items}
	if more {
		key := url.Values{}
		for k, v := range r.URL.Query() {
			if k != "limit" && k != "cursor" {
				key[k] = v
			}
		}
		resp.NextCursor = cursor{filters: key.Encode(), after: vs[len(vs)-1].ID}.encode()
	}
	c.detail = map[string]any{"sites": ids}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getSite(w http.ResponseWriter, r *http.Request, c *call) error {
	tag := etag(c.site.Version)
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeJSON(w, http.StatusOK, siteJSON(c.site))
	return nil
}

func etagMatch(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}

// Evidence is GET /sites/{id}/evidence.
type Evidence struct {
	Detections []DetectionJSON `json:"detections"`
	Passes     []PassJSON      `json:"passes"`
	Decisions  []DecisionJSON  `json:"decisions"`
	// Spectrum is the strongest imaging detection's (DetectionID) measured
	// spectrum against the library signature for its retrieved column;
	// PlumePNG the URL of its plume image ("" if none).
	Spectrum struct {
		WavelengthUM []float64 `json:"wavelength_um"`
		Measured     []float64 `json:"measured"`
		Library      []float64 `json:"library"`
		Gas          string    `json:"gas"`
		DetectionID  string    `json:"detection_id,omitempty"`
	} `json:"spectrum"`
	// Trace is the strongest point-sensor detection's measured
	// concentration against the fitted plume's.
	Trace struct {
		T           []float64 `json:"t"`
		PPM         []float64 `json:"ppm"`
		Fit         []float64 `json:"fit"`
		Gas         string    `json:"gas,omitempty"`
		DetectionID string    `json:"detection_id,omitempty"`
	} `json:"trace"`
	PlumePNG string `json:"plume_png"`
	// Place is where the site is, each name with its boundary data set.
	Place PlaceJSON `json:"place"`
}

// PlaceJSON is a site's municipality, state and country with their sources
// (boundaries.Place). An empty municipality with no municipal_sources: no
// municipal boundaries are loaded; with some: the site is outside them.
type PlaceJSON struct {
	Municipality       string   `json:"municipality"`
	MunicipalityCode   string   `json:"municipality_code"`
	MunicipalitySource string   `json:"municipality_source"`
	MunicipalSources   []string `json:"municipal_sources"`
	State              string   `json:"state"`
	StateCode          string   `json:"state_code"`
	StateSource        string   `json:"state_source"`
	StateFallback      bool     `json:"state_fallback"`
	Country            string   `json:"country"`
	CountryCode        string   `json:"country_code"`
	CountrySource      string   `json:"country_source"`
}

// place locates a site.
func (s *Server) place(ctx context.Context, lat, lon float64) (PlaceJSON, error) {
	p := boundaries.NaturalEarthPlace(lat, lon)
	if s.places != nil {
		var err error
		if p, err = s.places.AreaAt(ctx, lat, lon); err != nil {
			return PlaceJSON{}, err
		}
	}
	srcs := p.MunicipalSources
	if srcs == nil {
		srcs = []string{}
	}
	return PlaceJSON{Municipality: p.Municipality, MunicipalityCode: p.MunicipalityCode, MunicipalitySource: p.MunicipalitySource,
		MunicipalSources: srcs, State: p.State, StateCode: p.StateCode, StateSource: p.StateSource, StateFallback: p.StateFallback,
		Country: p.Country, CountryCode: p.CountryCode, CountrySource: p.CountrySource}, nil
}

// PassJSON is one pass over a site: one that saw it (a detection linked
// to the site), or an imaging pass whose footprint holds the site and that
// saw nothing, with MDLKgH the site's accumulated minimum detectable rate
// of Gas (every pass together).
type PassJSON struct {
	GranuleID string  `json:"granule_id"`
	Time      string  `json:"time"`
	Seen      bool    `json:"seen"`
	MDLKgH    float64 `json:"mdl_kgh"`
	Gas       string  `json:"gas,omitempty"`
}

// DecisionJSON is one decision.
type DecisionJSON struct {
	ID      string          `json:"id"`
	SiteID  string          `json:"site_id"`
	Actor   string          `json:"actor"`
	At      string          `json:"at"`
	Action  string          `json:"action"`
	Reason  string          `json:"reason"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func decisionJSON(d store.Decision) DecisionJSON {
	out := DecisionJSON{ID: d.ID, SiteID: d.SiteID, Actor: d.Actor, At: rfc3339(d.At), Action: string(d.Action), Reason: d.Reason}
	if d.Payload != "" && json.Valid([]byte(d.Payload)) {
		out.Payload = json.RawMessage(d.Payload)
	}
	return out
}

func (s *Server) getEvidence(w http.ResponseWriter, r *http.Request, c *call) error {
	h, err := s.cfg.Store.SiteHistory(r.Context(), c.site.ID)
	if err != nil {
		return err
	}
	var ev Evidence
	if ev.Place, err = s.place(r.Context(), c.site.Lat, c.site.Lon); err != nil {
		return err
	}
	ev.Detections = make([]DetectionJSON, len(h.Detections))
	ev.Passes = []PassJSON{}
	seen := map[string]bool{}
	for i, d := range h.Detections {
		ev.Detections[i] = detectionJSON(d)
		if seen[d.GranuleID] {
			continue
		}
		seen[d.GranuleID] = true
		p := PassJSON{GranuleID: d.GranuleID, Seen: true}
		if g, err := s.cfg.Store.Granule(r.Context(), d.GranuleID); err == nil {
			p.Time = rfc3339(g.Acquired)
		}
		ev.Passes = append(ev.Passes, p)
	}
	if err := s.passesNotSeen(r.Context(), c.site, seen, &ev); err != nil {
		return err
	}
	ev.Decisions = make([]DecisionJSON, len(h.Decisions))
	for i, d := range h.Decisions {
		ev.Decisions[i] = decisionJSON(d)
	}
	ev.Spectrum.WavelengthUM, ev.Spectrum.Measured, ev.Spectrum.Library = []float64{}, []float64{}, []float64{}
	ev.Trace.T, ev.Trace.PPM, ev.Trace.Fit = []float64{}, []float64{}, []float64{}
	if d, sp, ok := bestSpectrum(h.Detections); ok {
		ev.Spectrum.WavelengthUM, ev.Spectrum.Measured, ev.Spectrum.Library = sp.WavelengthUM, sp.Measured, sp.Library
		ev.Spectrum.Gas = sp.Gas
		ev.Spectrum.DetectionID = d.ID
		if sp.HasPNG {
			ev.PlumePNG = "/api/v1/sites/" + url.PathEscape(c.site.ID) + "/plume.png"
		}
	}
	if d, tr, ok := bestTrace(h.Detections); ok {
		ev.Trace.T, ev.Trace.PPM, ev.Trace.Fit = tr.T, tr.PPM, tr.Fit
		ev.Trace.Gas, ev.Trace.DetectionID = d.Gas, d.ID
	}
	writeJSON(w, http.StatusOK, ev)
	return nil
}

// evidenceProps is what a detection's properties carry for the site page
// (fusion.Detections, pipeline's point detections).
type evidenceProps struct {
	Spectrum  *evidenceSpectrum `json:"spectrum"`
	PlumeCrop []int             `json:"plume_crop"`
	Trace     *evidenceTrace    `json:"trace"`
}

// evidenceSpectrum is granule.Spectrum as stored, the part served.
type evidenceSpectrum struct {
	Gas          string    `json:"gas"`
	WavelengthUM []float64 `json:"wavelength_um"`
	Measured     []float64 `json:"measured"`
	Library      []float64 `json:"library"`
	HasPNG       bool      `json:"-"`
}

// evidenceTrace is sniff.Trace as stored.
type evidenceTrace struct {
	T   []float64 `json:"t"`
	PPM []float64 `json:"ppm"`
	Fit []float64 `json:"fit"`
}

func props(d store.Detection) evidenceProps {
	var p evidenceProps
	if d.Properties != "" {
		_ = json.Unmarshal([]byte(d.Properties), &p) // evidence is optional: a record without it shows none
	}
	return p
}

// bestSpectrum is the spectrum of the site's strongest imaging detection
// (highest score) that has one.
func bestSpectrum(ds []store.Detection) (store.Detection, *evidenceSpectrum, bool) {
	var best store.Detection
	var sp *evidenceSpectrum
	for _, d := range ds {
		p := props(d)
		if p.Spectrum == nil || len(p.Spectrum.Measured) == 0 || len(p.Spectrum.Measured) != len(p.Spectrum.Library) ||
			len(p.Spectrum.WavelengthUM) != len(p.Spectrum.Measured) {
			continue
		}
		if sp == nil || d.Score > best.Score {
			best, sp = d, p.Spectrum
			sp.HasPNG = len(p.PlumeCrop) == 4
		}
	}
	return best, sp, sp != nil
}

// bestTrace is the trace of the site's strongest point-sensor detection.
func bestTrace(ds []store.Detection) (store.Detection, *evidenceTrace, bool) {
	var best store.Detection
	var tr *evidenceTrace
	for _, d := range ds {
		p := props(d)
		if p.Trace == nil || len(p.Trace.T) == 0 || len(p.Trace.PPM) != len(p.Trace.T) || len(p.Trace.Fit) != len(p.Trace.T) {
			continue
		}
		if tr == nil || d.Score > best.Score {
			best, tr = d, p.Trace
		}
	}
	return best, tr, tr != nil
}

// passesNotSeen adds the imaging passes that surveyed the site and saw
// nothing there: every done cube granule whose footprint holds the site and
// that has no detection linked to it, oldest first, each with the site's
// accumulated minimum detectable rate for each of its gases (the coverage
// index keeps every pass's sum, not each pass's own figure; docs/server.md).
func (s *Server) passesNotSeen(ctx context.Context, v siteView, seen map[string]bool, ev *Evidence) error {
	gs, _ := gases(v.GasProfile)
	mdl := map[string]float64{}
	for _, g := range gs {
		ix, err := fusion.CoverageIndex(ctx, s.cfg.Store, g.Gas)
		if err != nil {
			return err
		}
		rec := ix.At(v.Lat, v.Lon)
		if err := ix.Err(); err != nil {
			return err
		}
		if rec.Surveyed() {
			mdl[g.Gas] = finiteOr0(rec.AccMDL)
		}
	}
	granules, err := s.cfg.Store.GranulesCovering(ctx, v.Lat, v.Lon, 1000)
	if err != nil {
		return err
	}
	for _, g := range granules {
		if g.Kind != store.KindCube || seen[g.ID] || !footprintHolds(g, v.Lat, v.Lon) {
			continue
		}
		seen[g.ID] = true
		p := PassJSON{GranuleID: g.ID, Time: rfc3339(g.Acquired), Seen: false}
		// The gas the site is known for most (the profile's first) gives
		// the rate; the others are in the site's coverage.
		for _, gg := range gs {
			if m, ok := mdl[gg.Gas]; ok {
				p.MDLKgH, p.Gas = m, gg.Gas
				break
			}
		}
		ev.Passes = append(ev.Passes, p)
	}
	return nil
}

// footprintHolds reports whether a granule's footprint polygon (GeoJSON)
// holds the point; without a polygon, its box does.
func footprintHolds(g store.Granule, lat, lon float64) bool {
	if g.FootprintGeoJSON == "" {
		return g.Footprint.Contains(lat, lon)
	}
	geom, err := geojson.UnmarshalGeometry([]byte(g.FootprintGeoJSON))
	if err != nil {
		return g.Footprint.Contains(lat, lon)
	}
	pt := orb.Point{lon, lat}
	switch p := geom.Geometry().(type) {
	case orb.Polygon:
		return planar.PolygonContains(p, pt)
	case orb.MultiPolygon:
		return planar.MultiPolygonContains(p, pt)
	}
	return g.Footprint.Contains(lat, lon)
}

func finiteOr0(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// getPlumePNG is GET /sites/{id}/plume.png: the plume image of the
// site's strongest imaging detection, or of ?detection=ID (one of the
// site's).
func (s *Server) getPlumePNG(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	for k := range q {
		if k != "detection" {
			return invalid(k, "unknown query parameter %q", k)
		}
	}
	h, err := s.cfg.Store.SiteHistory(r.Context(), c.site.ID)
	if err != nil {
		return err
	}
	id := q.Get("detection")
	if id == "" {
		d, sp, ok := bestSpectrum(h.Detections)
		if !ok || !sp.HasPNG {
			return notFound("site %s has no plume image", c.site.ID)
		}
		id = d.ID
	} else if !slices.ContainsFunc(h.Detections, func(d store.Detection) bool { return d.ID == id }) {
		return notFound("site %s has no detection %q", c.site.ID, id)
	}
	b, err := s.cfg.Store.DetectionPlumePNG(r.Context(), id)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return notFound("detection %s has no plume image", id)
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// decisionRequest is POST /sites/{id}/decisions's body.
type decisionRequest struct {
	Action    string   `json:"action"`
	Reason    string   `json:"reason"`
	ReleaseTo []string `json:"release_to"`
}

// decisionStatus is the status a decision moves a site to; ground truth
// leaves it where it is.
var decisionStatus = map[string]store.SiteStatus{
	"confirm": store.SiteConfirmed, "dismiss": store.SiteDismissed,
	"revisit": store.SiteRevisit, "release": store.SiteReleased,
}

func (s *Server) postDecision(w http.ResponseWriter, r *http.Request, c *call) error {
	want, err := parseVersion(r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	var req decisionRequest
	if err := decodeJSON(w, r, s.cfg.MaxBody, &req); err != nil {
		return err
	}
	if len(req.Reason) > 4000 {
		return invalid("reason", "longer than 4000 bytes")
	}
	need, err := access.DecisionAction(req.Action)
	if err != nil {
		return invalid("action", "%q: want confirm, dismiss, revisit, release or ground-truth", req.Action)
	}
	c.action = need
	if !c.p.Can(need) {
		return forbidden("role %s may not %s", c.p.Role, need)
	}
	if req.Action == "release" {
		if !access.CanRelease(c.p, c.site.owner) {
			return forbidden("only the owning agency (%s) releases this site", c.site.owner)
		}
		if len(req.ReleaseTo) == 0 {
			return invalid("release_to", "name at least one agency to release the site to")
		}
		known, err := s.cfg.Directory.Agencies(r.Context())
		if err != nil {
			return err
		}
		for _, a := range req.ReleaseTo {
			if !slices.ContainsFunc(known, func(k access.Agency) bool { return k.ID == a }) {
				return invalid("release_to", "no agency %q", a)
			}
		}
	} else if len(req.ReleaseTo) > 0 {
		return invalid("release_to", "only a release names agencies")
	}
	if want != c.site.Version {
		return errorf(http.StatusPreconditionFailed, CodePreconditionFailed, "If-Match",
			"the site is at version %d, not %d: reload it and decide again", c.site.Version, want)
	}
	payload := ""
	switch {
	case len(req.ReleaseTo) > 0:
		b, _ := json.Marshal(map[string]any{"release_to": req.ReleaseTo})
		payload = string(b)
	case req.Action == "confirm" || req.Action == "dismiss":
		// The evidence the verdict was given on, for calibration
		// (store.Verdicts).
		b, _ := json.Marshal(map[string]any{"evidence": c.site.Evidence})
		payload = string(b)
	}
	var plan *coverage.Survey
	if req.Action == "revisit" {
		// The payload records what the plan is made from; GET
		// /sites/{id}/plan.* regenerates it from there.
		sp := s.newSitePlan(c.site.Site)
		if plan, err = sp.survey(); err != nil {
			return err
		}
		b, _ := json.Marshal(map[string]any{"plan": sp})
		payload = string(b)
	}
	var (
		updated store.Site
		dec     store.Decision
		alerted bool
	)
	err = s.cfg.Store.InTx(r.Context(), func(tx store.Tx) error {
		st := c.site.Site
		if status, ok := decisionStatus[req.Action]; ok {
			st.Status = status
		}
		var err error
		if updated, err = tx.UpdateSite(r.Context(), st); err != nil {
			return err
		}
		if dec, err = tx.AppendDecision(r.Context(), store.Decision{SiteID: st.ID, Actor: c.p.UserID,
			Action: store.DecisionAction(req.Action), Reason: req.Reason, Payload: payload}); err != nil {
			return err
		}
		if req.Action == "release" {
			if _, err := s.cfg.Sites.Release(r.Context(), tx, c.p, updated, req.ReleaseTo); err != nil {
				return err
			}
		}
		alerted, err = s.enqueueAlert(r.Context(), tx, c.site, updated, dec, req)
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusPreconditionFailed, CodePreconditionFailed, "If-Match",
			"the site changed meanwhile: reload it and decide again")
	}
	if err != nil {
		return err
	}
	if alerted && s.cfg.AlertCommitted != nil {
		s.cfg.AlertCommitted() // wake the outbox dispatchers
	}
	if s.cfg.Judged != nil && (req.Action == "confirm" || req.Action == "dismiss" || req.Action == "ground-truth") {
		s.cfg.Judged()
	}
	rel := c.site.releasedTo
	if req.Action == "release" {
		for _, a := range req.ReleaseTo {
			if !slices.Contains(rel, a) {
				rel = append(rel, a)
			}
		}
	}
	v := siteView{Site: updated, owner: c.site.owner, releasedTo: rel}
	sj := siteJSON(v)
	dj := decisionJSON(dec)
	c.detail = map[string]any{"decision": dec.ID, "action": req.Action, "version": updated.Version}
	s.publish(r.Context(), Event{Type: "site", Owner: v.owner, ReleasedTo: rel, Action: access.ReadSites, Data: sj})
	s.publish(r.Context(), Event{Type: "decision", Owner: v.owner, ReleasedTo: rel, Action: access.ReadSites, Data: dj})
	resp := map[string]any{"site": sj, "decision": dj}
	if plan != nil {
		pj := planJSON(plan, "/api/v1/sites/"+url.PathEscape(updated.ID)+"/plan", "")
		pj.RadiusM = revisitRadius(c.site.UncertaintyM)
		resp["plan"] = pj
		resp["plan_geojson"] = plan.GeoJSON()
	}
	w.Header().Set("ETag", etag(updated.Version))
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// queue is the review queue: candidate and revisit sites the principal
// sees, most probable first (a human's review changes most there), then
// the least surveyed.
func (s *Server) queue(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, err := parseLimit(r.URL.Query().Get("limit"), 100, 1000)
	if err != nil {
		return err
	}
	// The store orders: most probable, then least surveyed, then id.
	vs, _, err := s.visibleSites(r.Context(), c.p, store.SiteQuery{Order: store.ByQueue}, limit,
		func(siteView) bool { return true })
	if err != nil {
		return err
	}
	items := make([]SiteJSON, len(vs))
	ids := make([]string, len(vs))
	for i, v := range vs {
		items[i], ids[i] = siteJSON(v), v.ID
	}
	c.detail = map[string]any{"sites": ids}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// enqueueAlert writes, in the decision's transaction, the alert partners
// get (internal/feed's Event): a release, a change to a released site, or
// its withdrawal (a dismissal after release). Decisions on sites nobody
// else sees alert no one. It reports whether it wrote one.
func (s *Server) enqueueAlert(ctx context.Context, tx store.Tx, before siteView, updated store.Site, dec store.Decision, req decisionRequest) (bool, error) {
	released := len(before.releasedTo) > 0 || before.Status == store.SiteReleased
	var kind string
	switch {
	case req.Action == "release":
		kind = feed.KindSiteReleased
	case released && req.Action == "dismiss":
		kind = feed.KindSiteWithdrawn
	case released:
		kind = feed.KindSiteUpdated
	default:
		return false, nil
	}
	rs, err := tx.Releases(ctx, updated.ID)
	if err != nil {
		return false, err
	}
	rel := make([]string, len(rs))
	for i, r := range rs {
		rel[i] = r.AgencyID
	}
	sj := siteJSON(siteView{Site: updated, owner: before.owner, releasedTo: rel})
	fs := feed.Site{ID: sj.ID, Lat: sj.Lat, Lon: sj.Lon, UncertaintyM: sj.UncertaintyM, GasProfile: sj.GasProfile,
		FirstSeen: updated.FirstSeen.UTC(), LastSeen: updated.LastSeen.UTC(), PassesSeen: sj.PassesSeen,
		PassesSurveyed: sj.PassesSurveyed, Evidence: sj.Evidence, Probability: sj.Probability, TypeGuess: sj.TypeGuess,
		Status: sj.Status, Version: sj.Version, Owner: sj.Owner, ReleasedTo: sj.ReleasedTo}
	for _, g := range sj.Gases {
		fs.Gases = append(fs.Gases, feed.SiteGas{Gas: g.Gas, Evidence: g.Evidence, PeakPPMM: g.PeakPPMM, RateKgH: g.RateKgH})
	}
	_, err = feed.Enqueue(ctx, tx, feed.Event{Kind: kind, Time: s.cfg.Now().UTC(), Site: fs,
		Decision: &feed.Decision{ID: dec.ID, Actor: dec.Actor, At: dec.At.UTC(), Action: string(dec.Action), Reason: dec.Reason}})
	return err == nil, err
}
