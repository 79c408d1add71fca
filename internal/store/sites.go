package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

const siteCols = `s.id, s.lat, s.lon, s.uncertainty_m, s.gas_profile, s.first_seen_us, s.last_seen_us,
	s.passes_seen, s.passes_surveyed, s.evidence, s.probability, s.type_guess, s.status, s.version,
	s.created_us, s.updated_us`

// siteColsBare is siteCols without the table alias, for RETURNING.
var siteColsBare = strings.ReplaceAll(siteCols, "s.", "")

func scanSite(sc interface{ Scan(...any) error }, extra ...any) (Site, error) {
	var (
		s                             Site
		status                        string
		first, last, created, updated int64
	)
	dst := []any{&s.ID, &s.Lat, &s.Lon, &s.UncertaintyM, &s.GasProfile, &first, &last,
		&s.PassesSeen, &s.PassesSurvey, &s.Evidence, &s.Probability, &s.TypeGuess, &status, &s.Version,
		&created, &updated}
	err := sc.Scan(append(dst, extra...)...)
	s.Status = SiteStatus(status)
	s.FirstSeen, s.LastSeen, s.Created, s.Updated = fromUS(first), fromUS(last), fromUS(created), fromUS(updated)
	return s, err
}

// Site returns the site with that id.
func (o *ops) Site(ctx context.Context, id string) (Site, error) {
	s, err := scanSite(o.queryRow(ctx, `SELECT `+siteCols+` FROM sites s WHERE s.id = ?`, id))
	return s, o.d.wrap(err, "site %s", id)
}

func (o *ops) sites(ctx context.Context, what string, dist bool, query string, args ...any) ([]Site, []float64, error) {
	rows, err := o.query(ctx, query, args...)
	if err != nil {
		return nil, nil, o.d.wrap(err, "%s", what)
	}
	defer rows.Close()
	var (
		out []Site
		ds  []float64
	)
	for rows.Next() {
		var (
			s   Site
			d   float64
			err error
		)
		if dist {
			s, err = scanSite(rows, &d)
		} else {
			s, err = scanSite(rows)
		}
		if err != nil {
			return nil, nil, o.d.wrap(err, "%s", what)
		}
		out = append(out, s)
		ds = append(ds, d)
	}
	return out, ds, o.d.wrap(rows.Err(), "%s", what)
}

// SitesInBBox implements SiteReader.
func (o *ops) SitesInBBox(ctx context.Context, b BBox, limit int) ([]Site, error) {
	what := fmt.Sprintf("sites in %+v", b)
	var q string
	switch o.d.name {
	case "sqlite":
		q = `SELECT ` + siteCols + ` FROM sites_rtree r JOIN sites s ON s.rid = r.id
		WHERE r.max_lat >= ? AND r.min_lat <= ? AND r.max_lon >= ? AND r.min_lon <= ?
		AND s.lat >= ? AND s.lat <= ? AND s.lon >= ? AND s.lon <= ?
		ORDER BY s.id LIMIT ?`
	default:
		q = `SELECT ` + siteCols + ` FROM sites s
		WHERE s.geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)
		AND s.lat >= ? AND s.lat <= ? AND s.lon >= ? AND s.lon <= ?
		ORDER BY s.id LIMIT ?`
	}
	var args []any
	if o.d.name == "sqlite" {
		args = []any{b.MinLat, b.MaxLat, b.MinLon, b.MaxLon}
	} else {
		args = []any{b.MinLon, b.MinLat, b.MaxLon, b.MaxLat}
	}
	args = append(args, b.MinLat, b.MaxLat, b.MinLon, b.MaxLon, limitOf(limit))
	s, _, err := o.sites(ctx, what, false, q, args...)
	return s, err
}

// EarthRadiusM is the sphere radius used for distances: the IUGG mean
// radius, as PostGIS uses for sphere (use_spheroid=false) distances.
const EarthRadiusM = 6371008.8

// DistanceM is the great-circle distance in metres between two points on
// the sphere of radius EarthRadiusM (haversine).
func DistanceM(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	p1, p2 := lat1*rad, lat2*rad
	dp, dl := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * EarthRadiusM * math.Asin(math.Min(1, math.Sqrt(h)))
}

// aroundBBox is a box holding every point within r metres of (lat, lon).
func aroundBBox(lat, lon, r float64) BBox {
	const mPerDeg = EarthRadiusM * math.Pi / 180
	dlat := r / mPerDeg * 1.001 // 0.1% margin for rounding
	b := BBox{MinLat: math.Max(-90, lat-dlat), MaxLat: math.Min(90, lat+dlat), MinLon: -180, MaxLon: 180}
	// Widest in longitude at the box's latitude nearest a pole.
	c := math.Cos(math.Max(math.Abs(b.MinLat), math.Abs(b.MaxLat)) * math.Pi / 180)
	if c > 1e-9 {
		if dlon := dlat / c; dlon < 180 {
			b.MinLon, b.MaxLon = math.Max(-180, lon-dlon), math.Min(180, lon+dlon)
		}
	}
	return b
}

// SitesNear implements SiteReader.
func (o *ops) SitesNear(ctx context.Context, lat, lon, radiusM float64, limit int) ([]Site, []float64, error) {
	what := fmt.Sprintf("sites within %g m of %g,%g", radiusM, lat, lon)
	if err := finite("near query", "lat", lat, "lon", lon, "radius", radiusM); err != nil {
		return nil, nil, err
	}
	if err := checkLatLon("near query", lat, lon); err != nil {
		return nil, nil, err
	}
	if radiusM < 0 {
		return nil, nil, fmt.Errorf("%w: %s: negative radius", ErrInvalid, what)
	}
	if o.d.name == "postgres" {
		// Sphere distances (use_spheroid false), the same as DistanceM;
		// ST_DWithin uses the geography GiST index.
		return o.sites(ctx, what, true, `SELECT `+siteCols+`,
			ST_Distance(s.geog, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, false) AS d
			FROM sites s
			WHERE ST_DWithin(s.geog, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, ?, false)
			ORDER BY d, s.id LIMIT ?`, lon, lat, lon, lat, radiusM, limitOf(limit))
	}
	// SQLite: candidates from the R*Tree, then exact distances here.
	sites, err := o.SitesInBBox(ctx, aroundBBox(lat, lon, radiusM), 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	type hit struct {
		s Site
		d float64
	}
	hits := make([]hit, 0, len(sites))
	for _, s := range sites {
		if d := DistanceM(lat, lon, s.Lat, s.Lon); d <= radiusM {
			hits = append(hits, hit{s, d})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].d != hits[j].d {
			return hits[i].d < hits[j].d
		}
		return hits[i].s.ID < hits[j].s.ID
	})
	if n := limitOf(limit); len(hits) > n {
		hits = hits[:n]
	}
	out, ds := make([]Site, len(hits)), make([]float64, len(hits))
	for i, h := range hits {
		out[i], ds[i] = h.s, h.d
	}
	return out, ds, nil
}

func validSite(s *Site) error {
	if s.Status == "" {
		s.Status = SiteCandidate
	}
	switch s.Status {
	case SiteCandidate, SiteConfirmed, SiteDismissed, SiteRevisit, SiteReleased:
	default:
		return fmt.Errorf("%w: site status %q: want candidate, confirmed, dismissed, revisit or released", ErrInvalid, s.Status)
	}
	if err := finite("site", "lat", s.Lat, "lon", s.Lon, "uncertainty_m", s.UncertaintyM,
		"evidence", s.Evidence, "probability", s.Probability); err != nil {
		return err
	}
	return checkLatLon("site", s.Lat, s.Lon)
}

// CreateSite implements SiteWriter.
func (o *ops) CreateSite(ctx context.Context, s Site) (Site, error) {
	if err := validSite(&s); err != nil {
		return Site{}, err
	}
	now := o.now()
	if s.ID == "" {
		s.ID = newID(now)
	}
	out, err := scanSite(o.queryRow(ctx, `INSERT INTO sites (id, lat, lon, uncertainty_m, gas_profile,
		first_seen_us, last_seen_us, passes_seen, passes_surveyed, evidence, probability, type_guess, status,
		version, created_us, updated_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
		RETURNING `+siteColsBare,
		s.ID, s.Lat, s.Lon, s.UncertaintyM, s.GasProfile, us(s.FirstSeen), us(s.LastSeen),
		s.PassesSeen, s.PassesSurvey, s.Evidence, s.Probability, s.TypeGuess, string(s.Status), us(now), us(now)))
	return out, o.d.wrap(err, "create site %s", s.ID)
}

// UpdateSite implements SiteWriter.
func (o *ops) UpdateSite(ctx context.Context, s Site) (Site, error) {
	if err := validSite(&s); err != nil {
		return Site{}, err
	}
	out, err := scanSite(o.queryRow(ctx, `UPDATE sites SET lat = ?, lon = ?, uncertainty_m = ?,
		gas_profile = ?, first_seen_us = ?, last_seen_us = ?, passes_seen = ?, passes_surveyed = ?,
		evidence = ?, probability = ?, type_guess = ?, status = ?, version = version + 1, updated_us = ?
		WHERE id = ? AND version = ?
		RETURNING `+siteColsBare,
		s.Lat, s.Lon, s.UncertaintyM, s.GasProfile, us(s.FirstSeen), us(s.LastSeen), s.PassesSeen,
		s.PassesSurvey, s.Evidence, s.Probability, s.TypeGuess, string(s.Status), us(o.now()), s.ID, s.Version))
	if errors.Is(err, sql.ErrNoRows) {
		cur, err := o.Site(ctx, s.ID)
		if err != nil {
			return Site{}, fmt.Errorf("update site: %w", err)
		}
		return Site{}, fmt.Errorf("update site %s: %w: version %d, stored %d", s.ID, ErrConflict, s.Version, cur.Version)
	}
	return out, o.d.wrap(err, "update site %s", s.ID)
}

// LinkDetections implements SiteWriter.
func (o *ops) LinkDetections(ctx context.Context, siteID string, detectionIDs ...string) error {
	now := us(o.now())
	for _, d := range detectionIDs {
		if _, err := o.exec(ctx, `INSERT INTO site_detections (site_id, detection_id, linked_us) VALUES (?, ?, ?)
			ON CONFLICT (site_id, detection_id) DO NOTHING`, siteID, d, now); err != nil {
			return o.d.wrap(err, "link detection %s to site %s", d, siteID)
		}
	}
	return nil
}

// SiteHistory implements SiteReader.
func (o *ops) SiteHistory(ctx context.Context, id string) (History, error) {
	s, err := o.Site(ctx, id)
	if err != nil {
		return History{}, fmt.Errorf("site history: %w", err)
	}
	ds, err := o.detections(ctx, "site history "+id, `SELECT d.`+
		"id, d.granule_id, d.gas, d.method, d.score, d.p_value, d.lat, d.lon, d.uncertainty_m, "+
		"d.peak_ppmm, d.mean_ppmm, d.sigma_ppmm, d.ime_kg, d.rate_kgh, d.rate_sigma_kgh, d.outline_geojson, d.properties, d.created_us"+
		` FROM site_detections sd JOIN detections d ON d.id = sd.detection_id
		WHERE sd.site_id = ? ORDER BY d.created_us, d.id`, id)
	if err != nil {
		return History{}, err
	}
	dec, err := o.Decisions(ctx, id)
	if err != nil {
		return History{}, err
	}
	return History{Site: s, Detections: ds, Decisions: dec}, nil
}
