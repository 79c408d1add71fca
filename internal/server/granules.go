package server

import (
	"math"
	"strconv"

	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/atalaya-project/atalaya/internal/coverage"
	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/paulmach/orb"

	"github.com/atalaya-project/atalaya/internal/store"
)

// GranuleJSON is a granule as the API shows it.
type GranuleJSON struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	SHA256    string          `json:"sha256"`
	Name      string          `json:"name"`
	Size      int64           `json:"size"`
	BBox      [4]float64      `json:"bbox"` // minLon, minLat, maxLon, maxLat
	Footprint json.RawMessage `json:"footprint,omitempty"`
	Acquired  string          `json:"acquired"`
	Status    string          `json:"status"`
	Attempts  int             `json:"attempts"`
	Error     string          `json:"error,omitempty"`
	Created   string          `json:"created"`
	Updated   string          `json:"updated"`
}

func granuleJSON(g store.Granule) GranuleJSON {
	out := GranuleJSON{ID: g.ID, Kind: string(g.Kind), SHA256: g.SHA256, Name: g.Name, Size: g.Size,
		BBox:     [4]float64{g.Footprint.MinLon, g.Footprint.MinLat, g.Footprint.MaxLon, g.Footprint.MaxLat},
		Acquired: rfc3339(g.Acquired), Status: string(g.Status), Attempts: g.Attempts, Error: g.Error,
		Created: rfc3339(g.Created), Updated: rfc3339(g.Updated)}
	if g.FootprintGeoJSON != "" && json.Valid([]byte(g.FootprintGeoJSON)) {
		out.Footprint = json.RawMessage(g.FootprintGeoJSON)
	}
	return out
}

var granuleStatuses = []store.GranuleStatus{store.GranuleRecorded, store.GranuleProcessing, store.GranuleDone, store.GranuleFailed}

// allGranules returns the granules of the given statuses (all if none),
// newest first.
func (s *Server) allGranules(r *http.Request, statuses []store.GranuleStatus) ([]store.Granule, error) {
	if len(statuses) == 0 {
		statuses = granuleStatuses
	}
	var out []store.Granule
	for _, st := range statuses {
		gs, err := s.cfg.Store.GranulesByStatus(r.Context(), st, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, gs...)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

func (s *Server) listGranules(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "status", "limit", "cursor":
		default:
			return invalid(k, "unknown query parameter %q", k)
		}
	}
	var statuses []store.GranuleStatus
	if st := q.Get("status"); st != "" {
		for _, x := range strings.Split(st, ",") {
			switch x := store.GranuleStatus(x); x {
			case store.GranuleRecorded, store.GranuleProcessing, store.GranuleDone, store.GranuleFailed:
				statuses = append(statuses, x)
			default:
				return invalid("status", "%q: want recorded, processing, done or failed", x)
			}
		}
	}
	limit, err := parseLimit(q.Get("limit"), 100, 1000)
	if err != nil {
		return err
	}
	after, err := parseCursor(q.Get("cursor"), "status="+q.Get("status"))
	if err != nil {
		return err
	}
	gs, err := s.allGranules(r, statuses)
	if err != nil {
		return err
	}
	// Pages run newest first; the cursor holds the last item's
	// "created_us/id", a position in that order.
	items := []GranuleJSON{}
	next, last := "", ""
	for _, g := range gs {
		key := granuleKey(g)
		if after != "" && key >= after {
			continue
		}
		if len(items) == limit {
			next = cursor{filters: "status=" + q.Get("status"), after: last}.encode()
			break
		}
		items = append(items, granuleJSON(g))
		last = key
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

// granuleKey sorts as the listing runs (descending): zero-padded creation
// time, then id.
func granuleKey(g store.Granule) string {
	return fmt.Sprintf("%020d/%s", g.Created.UnixMicro(), g.ID)
}

func (s *Server) getGranule(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.cfg.Store.Granule(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no granule %q", r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, granuleJSON(g))
	return nil
}

// DetectionJSON is a detection as the API shows it.
type DetectionJSON struct {
	ID           string          `json:"id"`
	GranuleID    string          `json:"granule_id"`
	Gas          string          `json:"gas"`
	Method       string          `json:"method"`
	Score        float64         `json:"score"`
	PValue       float64         `json:"p_value"`
	Lat          float64         `json:"lat"`
	Lon          float64         `json:"lon"`
	UncertaintyM float64         `json:"uncertainty_m"`
	PeakPPMM     float64         `json:"peak_ppmm"`
	MeanPPMM     float64         `json:"mean_ppmm"`
	SigmaPPMM    float64         `json:"sigma_ppmm"`
	IMEKg        float64         `json:"ime_kg"`
	RateKgH      float64         `json:"rate_kgh"`
	RateSigmaKgH float64         `json:"rate_sigma_kgh"`
	Outline      json.RawMessage `json:"outline,omitempty"`
	Created      string          `json:"created"`
}

func detectionJSON(d store.Detection) DetectionJSON {
	out := DetectionJSON{ID: d.ID, GranuleID: d.GranuleID, Gas: d.Gas, Method: d.Method, Score: d.Score,
		PValue: d.PValue, Lat: d.Lat, Lon: d.Lon, UncertaintyM: d.UncertaintyM, PeakPPMM: d.PeakPPMM,
		MeanPPMM: d.MeanPPMM, SigmaPPMM: d.SigmaPPMM, IMEKg: d.IMEKg, RateKgH: d.RateKgH,
		RateSigmaKgH: d.RateSigmaKgH, Created: rfc3339(d.Created)}
	if d.OutlineJSON != "" && json.Valid([]byte(d.OutlineJSON)) {
		out.Outline = json.RawMessage(d.OutlineJSON)
	}
	return out
}

func (s *Server) listDetections(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	for k := range q {
		if k != "granule" {
			return invalid(k, "unknown query parameter %q", k)
		}
	}
	id := q.Get("granule")
	if id == "" {
		return invalid("granule", "name the granule: ?granule=ID")
	}
	if _, err := s.cfg.Store.Granule(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return notFound("no granule %q", id)
	} else if err != nil {
		return err
	}
	ds, err := s.cfg.Store.DetectionsOfGranule(r.Context(), id)
	if err != nil {
		return err
	}
	items := make([]DetectionJSON, len(ds))
	for i, d := range ds {
		items[i] = detectionJSON(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// footprints is a GeoJSON FeatureCollection of the footprints of the
// granules of the given kinds (all if none) intersecting b.
func (s *Server) footprints(w http.ResponseWriter, r *http.Request, kinds ...store.GranuleKind) error {
	q := r.URL.Query()
	for k := range q {
		if k != "bbox" {
			return invalid(k, "unknown query parameter %q", k)
		}
	}
	b := world
	if v := q.Get("bbox"); v != "" {
		var err error
		if b, err = parseBBox(v); err != nil {
			return err
		}
	}
	gs, err := s.allGranules(r, []store.GranuleStatus{store.GranuleDone})
	if err != nil {
		return err
	}
	type feature struct {
		Type       string          `json:"type"`
		ID         string          `json:"id"`
		Geometry   json.RawMessage `json:"geometry"`
		Properties map[string]any  `json:"properties"`
	}
	fs := []feature{}
	for _, g := range gs {
		if len(kinds) > 0 && !containsKind(kinds, g.Kind) {
			continue
		}
		f := g.Footprint
		if f.MaxLat < b.MinLat || f.MinLat > b.MaxLat || f.MaxLon < b.MinLon || f.MinLon > b.MaxLon {
			continue
		}
		geom := json.RawMessage(g.FootprintGeoJSON)
		if g.FootprintGeoJSON == "" || !json.Valid(geom) {
			if f == (store.BBox{}) {
				continue // no footprint recorded
			}
			geom, _ = json.Marshal(map[string]any{"type": "Polygon", "coordinates": [][][2]float64{{
				{f.MinLon, f.MinLat}, {f.MaxLon, f.MinLat}, {f.MaxLon, f.MaxLat}, {f.MinLon, f.MaxLat}, {f.MinLon, f.MinLat}}}})
		}
		fs = append(fs, feature{Type: "Feature", ID: g.ID, Geometry: geom, Properties: map[string]any{
			"granule_id": g.ID, "kind": g.Kind, "name": g.Name, "acquired": rfc3339(g.Acquired)}})
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(map[string]any{"type": "FeatureCollection", "features": fs})
}

func containsKind(ks []store.GranuleKind, k store.GranuleKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// coverage is where and how sensitively the ground was surveyed for a gas
// (the coverage index the workers keep in the store, internal/fusion):
// S2 cells aggregated to a level fitting the bbox (about 100 across), or
// ?level=; with no gas (none asked for, none configured), the processed
// granules' footprints.
func (s *Server) coverage(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "bbox", "gas", "level":
		default:
			return invalid(k, "unknown query parameter %q", k)
		}
	}
	gas := q.Get("gas")
	if gas == "" && len(s.cfg.Gases) > 0 {
		gas = s.cfg.Gases[0]
	}
	if gas == "" {
		if q.Has("level") {
			return invalid("level", "a level needs a gas")
		}
		return s.footprints(w, r)
	}
	if len(gas) > 64 || strings.ContainsAny(gas, "/\x00") {
		return invalid("gas", "%q: not a gas name", gas)
	}
	b := world
	if v := q.Get("bbox"); v != "" {
		var err error
		if b, err = parseBBox(v); err != nil {
			return err
		}
	}
	level := 0
	if v := q.Get("level"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > coverage.DefaultLevel {
			return invalid("level", "%q: want an S2 level from 1 to %d", v, coverage.DefaultLevel)
		}
		level = n
	} else {
		// An S2 cell of level L is about 9,220 km / 2^L across at mid
		// latitudes (S2's average edge, 2π·6371 km/4/2^L ≈ 10,000 km/2^L,
		// less for the cube's corners); aim at ~100 cells across the box.
		widthKm := math.Max(b.MaxLon-b.MinLon, b.MaxLat-b.MinLat) * 111.2
		level = int(math.Round(math.Log2(9220 / math.Max(widthKm/100, 1e-3))))
		level = min(max(level, 1), coverage.DefaultLevel)
	}
	ix, err := fusion.CoverageIndex(r.Context(), s.cfg.Store, gas)
	if err != nil {
		return err
	}
	fc, err := ix.GeoJSON(orb.Bound{Min: orb.Point{b.MinLon, b.MinLat}, Max: orb.Point{b.MaxLon, b.MaxLat}}, level)
	if errors.Is(err, coverage.ErrInput) {
		return invalid("level", "%v", err)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(fc)
}

// tracks are the flight logs' footprints.
func (s *Server) tracks(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.footprints(w, r, store.KindFlightLog)
}
