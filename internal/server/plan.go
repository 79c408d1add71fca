package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/paulmach/orb"

	"github.com/atalaya-project/atalaya/internal/coverage"
	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/mavlink"
	"github.com/atalaya-project/atalaya/internal/store"
)

// MinRevisitRadiusM is the smallest radius of a site's revisit circle.
const MinRevisitRadiusM = 150

// sitePlan is what a revisit decision's payload records of its plan: the
// circle and the aircraft. The plan files are regenerated from it
// (coverage.PlanSurvey is deterministic), so a plan is fetched the same
// however the site moves afterwards.
type sitePlan struct {
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	RadiusM   float64 `json:"radius_m"`
	AltitudeM float64 `json:"altitude_m"`
	FOVDeg    float64 `json:"fov_deg"`
	Overlap   float64 `json:"overlap"`
	SpeedMS   float64 `json:"speed_ms"`
}

// revisitRadius is the circle a revisit of a site covers: three times its
// localisation uncertainty, at least MinRevisitRadiusM.
func revisitRadius(uncertaintyM float64) float64 {
	if !(uncertaintyM > 0) {
		return MinRevisitRadiusM
	}
	return max(MinRevisitRadiusM, 3*uncertaintyM)
}

func (s *Server) newSitePlan(st store.Site) sitePlan {
	o := s.cfg.Survey
	return sitePlan{Lat: st.Lat, Lon: st.Lon, RadiusM: revisitRadius(st.UncertaintyM),
		AltitudeM: o.AltitudeM, FOVDeg: o.FOVDeg, Overlap: o.Overlap, SpeedMS: o.SpeedMS}
}

func (p sitePlan) survey() (*coverage.Survey, error) {
	// The 72-gon is inscribed in the circle: plan over a slightly larger
	// one so the swaths cover the whole disc.
	area := orb.MultiPolygon{coverage.Circle(p.Lat, p.Lon, p.RadiusM/math.Cos(math.Pi/72))}
	return coverage.PlanSurvey(area, coverage.SurveyOptions{AltitudeM: p.AltitudeM, FOVDeg: p.FOVDeg,
		Overlap: p.Overlap, SpeedMS: p.SpeedMS, HeadingDeg: math.NaN()})
}

// PlanJSON summarises a survey plan and links its files.
type PlanJSON struct {
	Lines      int               `json:"lines"`
	HeadingDeg float64           `json:"heading_deg"`
	SwathM     float64           `json:"swath_m"`
	SpacingM   float64           `json:"spacing_m"`
	AltitudeM  float64           `json:"altitude_m"`
	SpeedMS    float64           `json:"speed_ms"`
	LengthM    float64           `json:"length_m"`
	DurationS  float64           `json:"duration_s"`
	RadiusM    float64           `json:"radius_m,omitempty"`
	Links      map[string]string `json:"links"`
}

// planFormats are the plan files, by the extension of their route.
var planFormats = []string{"plan", "geojson", "waypoints", "mavlink"}

func planJSON(sv *coverage.Survey, base, query string) PlanJSON {
	links := map[string]string{}
	for _, f := range planFormats {
		links[f] = base + "." + f
		if query != "" {
			links[f] += "?" + query
		}
	}
	return PlanJSON{Lines: len(sv.Lines), HeadingDeg: sv.HeadingDeg, SwathM: sv.SwathM, SpacingM: sv.SpacingM,
		AltitudeM: sv.AltitudeM, SpeedMS: sv.SpeedMS, LengthM: sv.LengthM, DurationS: sv.Duration.Seconds(), Links: links}
}

// writePlan writes one of a survey's files as an attachment named name.ext.
func writePlan(w http.ResponseWriter, sv *coverage.Survey, format, name string) error {
	var (
		b     bytes.Buffer
		ctype string
	)
	switch format {
	case "plan":
		ctype = "application/json"
		if err := sv.WriteQGC(&b); err != nil {
			return err
		}
	case "geojson":
		ctype = "application/geo+json"
		j, err := sv.GeoJSON().MarshalJSON()
		if err != nil {
			return err
		}
		b.Write(j)
	case "waypoints":
		ctype = "text/plain; charset=utf-8"
		if err := mavlink.WriteWPL(&b, sv.MissionItems()); err != nil {
			return err
		}
	case "mavlink":
		ctype = "application/octet-stream"
		if err := mavlink.WriteMission(&b, sv.MissionItems(), 1, 1); err != nil {
			return err
		}
	default:
		return fmt.Errorf("server: no plan format %q", format)
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"."+format+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("Cache-Control", "private, no-cache")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b.Bytes())
	return err
}

// latestSitePlan is the plan of the site's latest revisit decision.
func (s *Server) latestSitePlan(r *http.Request, siteID string) (sitePlan, store.Decision, error) {
	h, err := s.cfg.Store.SiteHistory(r.Context(), siteID)
	if err != nil {
		return sitePlan{}, store.Decision{}, err
	}
	for _, d := range slices.Backward(h.Decisions) {
		if d.Action != store.ActionRevisit {
			continue
		}
		var p struct {
			Plan *sitePlan `json:"plan"`
		}
		if json.Unmarshal([]byte(d.Payload), &p) == nil && p.Plan != nil {
			return *p.Plan, d, nil
		}
	}
	return sitePlan{}, store.Decision{}, notFound("site %s has no revisit plan: decide revisit (POST /api/v1/sites/%s/decisions) first", siteID, siteID)
}

// sitePlanFile serves GET /sites/{id}/plan.<format>: the survey plan of
// the site's latest revisit decision.
func (s *Server) sitePlanFile(format string) func(http.ResponseWriter, *http.Request, *call) error {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		p, d, err := s.latestSitePlan(r, c.site.ID)
		if err != nil {
			return err
		}
		sv, err := p.survey()
		if err != nil {
			return err
		}
		c.detail = map[string]any{"decision": d.ID, "format": format}
		return writePlan(w, sv, format, "site-"+c.site.ID)
	}
}

// revisitQuery is GET /revisit's query.
type revisitQuery struct {
	bbox      store.BBox
	top       int
	gas       string
	sourceKgH float64
}

// maxRevisitSpanDeg bounds the ranked box (the ranking visits every
// surveyed cell inside it).
const maxRevisitSpanDeg = 0.25

func (s *Server) parseRevisit(q url.Values) (revisitQuery, error) {
	rq := revisitQuery{top: 5, sourceKgH: 1}
	for k := range q {
		switch k {
		case "bbox", "top", "gas", "source_kgh":
		case "":
			return rq, invalid("query", "a query parameter without a name")
		default:
			return rq, invalid(k, "unknown query parameter %q", k)
		}
	}
	if q.Get("bbox") == "" {
		return rq, invalid("bbox", "name the area to rank: bbox=minLon,minLat,maxLon,maxLat")
	}
	var err error
	if rq.bbox, err = parseBBox(q.Get("bbox")); err != nil {
		return rq, err
	}
	if rq.bbox.MaxLat-rq.bbox.MinLat > maxRevisitSpanDeg || rq.bbox.MaxLon-rq.bbox.MinLon > maxRevisitSpanDeg {
		return rq, invalid("bbox", "wider than %g° on a side: rank a smaller area", maxRevisitSpanDeg)
	}
	if t := q.Get("top"); t != "" {
		if rq.top, err = strconv.Atoi(t); err != nil || rq.top < 1 || rq.top > 50 {
			return rq, invalid("top", "%q: want a whole number of blocks, 1 to 50", t)
		}
	}
	rq.gas = q.Get("gas")
	if rq.gas == "" && len(s.cfg.Gases) > 0 {
		rq.gas = s.cfg.Gases[0]
	}
	if rq.gas == "" || len(rq.gas) > 64 {
		return rq, invalid("gas", "name the gas whose coverage to rank")
	}
	if k := q.Get("source_kgh"); k != "" {
		if rq.sourceKgH, err = strconv.ParseFloat(k, 64); err != nil || !(rq.sourceKgH > 0) || math.IsInf(rq.sourceKgH, 0) {
			return rq, invalid("source_kgh", "%q: want a positive emission rate in kg/h", k)
		}
	}
	return rq, nil
}

// BlockJSON is one block ranked for a revisit.
type BlockJSON struct {
	Cell     string      `json:"cell"` // S2 cell token
	Lat      float64     `json:"lat"`
	Lon      float64     `json:"lon"`
	Priority float64     `json:"priority"`
	Hidden   float64     `json:"hidden"`
	SiteTerm float64     `json:"site_term"`
	Surveyed float64     `json:"surveyed"`
	AccMDL   *float64    `json:"acc_mdl_kgh"` // null: never surveyed
	LastLook string      `json:"last_look"`
	AreaM2   float64     `json:"area_m2"`
	Polygon  []orb.Point `json:"polygon"`
}

// revisitPlan ranks the blocks of the query's box from the stored coverage,
// pulled toward the open sites p sees, and plans over the top ones.
func (s *Server) revisitPlan(r *http.Request, c *call) ([]coverage.Block, *coverage.Survey, error) {
	rq, err := s.parseRevisit(r.URL.Query())
	if err != nil {
		return nil, nil, err
	}
	ix, err := fusion.CoverageIndex(r.Context(), s.cfg.Store, rq.gas)
	if err != nil {
		return nil, nil, err
	}
	vs, _, err := s.visibleSites(r.Context(), c.p, store.SiteQuery{BBox: rq.bbox, Order: store.ByQueue}, 0,
		func(siteView) bool { return true })
	if err != nil {
		return nil, nil, err
	}
	po := coverage.PriorityOptions{SourceKgH: rq.sourceKgH, Now: s.cfg.Now()}
	for _, v := range vs {
		po.Sites = append(po.Sites, coverage.Site{Lat: v.Lat, Lon: v.Lon, Weight: v.Probability, RadiusM: max(v.UncertaintyM, 50)})
	}
	b := rq.bbox
	area := orb.MultiPolygon{coverage.Rect(orb.Bound{Min: orb.Point{b.MinLon, b.MinLat}, Max: orb.Point{b.MaxLon, b.MaxLat}})}
	blocks, err := ix.PrioritiesIn(area, po)
	if err != nil {
		return nil, nil, invalid("bbox", "%v", err)
	}
	blocks = blocks[:min(rq.top, len(blocks))]
	var cells orb.MultiPolygon
	for _, bl := range blocks {
		cells = append(cells, coverage.CellPolygon(bl.Cell))
	}
	o := s.cfg.Survey
	o.HeadingDeg = math.NaN()
	sv, err := coverage.PlanSurvey(cells, o)
	return blocks, sv, err
}

// revisit is GET /revisit: the ranked blocks and the plan over them.
func (s *Server) revisit(w http.ResponseWriter, r *http.Request, c *call) error {
	blocks, sv, err := s.revisitPlan(r, c)
	if err != nil {
		return err
	}
	out := make([]BlockJSON, len(blocks))
	for i, b := range blocks {
		out[i] = BlockJSON{Cell: b.Cell.ToToken(), Lat: b.Lat, Lon: b.Lon, Priority: b.Priority, Hidden: b.Hidden,
			SiteTerm: b.SiteTerm, Surveyed: b.Surveyed, LastLook: rfc3339(b.LastLook), AreaM2: b.AreaM2,
			Polygon: coverage.CellPolygon(b.Cell)[0]}
		if !math.IsInf(b.AccMDL, 0) && !math.IsNaN(b.AccMDL) {
			m := b.AccMDL
			out[i].AccMDL = &m
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"blocks": out,
		"plan": planJSON(sv, "/api/v1/revisit/plan", r.URL.RawQuery), "geojson": sv.GeoJSON()})
	return nil
}

// revisitFile serves GET /revisit/plan.<format>, with /revisit's query.
func (s *Server) revisitFile(format string) func(http.ResponseWriter, *http.Request, *call) error {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		_, sv, err := s.revisitPlan(r, c)
		if err != nil {
			return err
		}
		return writePlan(w, sv, format, "revisit-"+s.cfg.Now().UTC().Format("20060102T1504Z"))
	}
}

// planRoutes are the plan files' routes.
func (s *Server) planRoutes(v1 string, read Action, coverageRead Action) []Route {
	var rs []Route
	for _, f := range planFormats {
		rs = append(rs,
			Route{Method: "GET", Pattern: v1 + "/sites/{id}/plan." + f, Actions: acts(read), Site: true, Audit: true, h: s.sitePlanFile(f)},
			Route{Method: "GET", Pattern: v1 + "/revisit/plan." + f, Actions: acts(coverageRead), Audit: true, h: s.revisitFile(f)})
	}
	return rs
}
