package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

const granuleCols = `id, kind, sha256, name, size, uri, min_lat, min_lon, max_lat, max_lon,
	footprint_geojson, acquired_us, status, attempts, error, populated, created_us, updated_us`

func scanGranule(s interface{ Scan(...any) error }) (Granule, error) {
	var (
		g                          Granule
		kind, status               string
		acquired, created, updated int64
	)
	err := s.Scan(&g.ID, &kind, &g.SHA256, &g.Name, &g.Size, &g.URI,
		&g.Footprint.MinLat, &g.Footprint.MinLon, &g.Footprint.MaxLat, &g.Footprint.MaxLon,
		&g.FootprintGeoJSON, &acquired, &status, &g.Attempts, &g.Error, &g.Populated, &created, &updated)
	g.Kind, g.Status = GranuleKind(kind), GranuleStatus(status)
	g.Acquired, g.Created, g.Updated = fromUS(acquired), fromUS(created), fromUS(updated)
	return g, err
}

func (o *ops) granules(ctx context.Context, what, query string, args ...any) ([]Granule, error) {
	rows, err := o.query(ctx, query, args...)
	if err != nil {
		return nil, o.d.wrap(err, "%s", what)
	}
	defer rows.Close()
	var out []Granule
	for rows.Next() {
		g, err := scanGranule(rows)
		if err != nil {
			return nil, o.d.wrap(err, "%s", what)
		}
		out = append(out, g)
	}
	return out, o.d.wrap(rows.Err(), "%s", what)
}

// Granule returns the granule with that id.
func (o *ops) Granule(ctx context.Context, id string) (Granule, error) {
	g, err := scanGranule(o.queryRow(ctx, `SELECT `+granuleCols+` FROM granules WHERE id = ?`, id))
	return g, o.d.wrap(err, "granule %s", id)
}

// GranulesByStatus returns granules in a status, least recently changed
// first.
func (o *ops) GranulesByStatus(ctx context.Context, status GranuleStatus, limit int) ([]Granule, error) {
	return o.granules(ctx, "granules by status "+string(status),
		`SELECT `+granuleCols+` FROM granules WHERE status = ? ORDER BY updated_us, id LIMIT ?`,
		string(status), limitOf(limit))
}

// GranulesCovering implements GranuleReader.
func (o *ops) GranulesCovering(ctx context.Context, lat, lon float64, limit int) ([]Granule, error) {
	if err := finite("covering query", "lat", lat, "lon", lon); err != nil {
		return nil, err
	}
	return o.granules(ctx, fmt.Sprintf("granules covering %g,%g", lat, lon),
		`SELECT `+granuleCols+` FROM granules
		WHERE status = 'done' AND min_lat <= ? AND max_lat >= ? AND min_lon <= ? AND max_lon >= ?
		ORDER BY acquired_us, id LIMIT ?`,
		lat, lat, lon, lon, limitOf(limit))
}

// OverdueGranules implements GranuleReader.
func (o *ops) OverdueGranules(ctx context.Context, deadline time.Time, limit int) ([]Granule, error) {
	return o.granules(ctx, "overdue granules",
		`SELECT `+granuleCols+` FROM granules
		WHERE status IN ('recorded', 'processing', 'failed') AND updated_us < ?
		ORDER BY updated_us, id LIMIT ?`,
		us(deadline), limitOf(limit))
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func validGranule(g *Granule) error {
	g.SHA256 = strings.ToLower(g.SHA256)
	switch {
	case g.Kind != KindCube && g.Kind != KindTrace && g.Kind != KindFlightLog:
		return fmt.Errorf("%w: granule kind %q: want cube, trace or flightlog", ErrInvalid, g.Kind)
	case !sha256Hex.MatchString(g.SHA256):
		return fmt.Errorf("%w: granule sha256 %q: want 64 hex digits", ErrInvalid, g.SHA256)
	case g.Size < 0:
		return fmt.Errorf("%w: granule size %d: want ≥ 0", ErrInvalid, g.Size)
	case g.URI == "":
		return fmt.Errorf("%w: granule uri is empty", ErrInvalid)
	}
	f := g.Footprint
	if err := finite("granule", "footprint min_lat", f.MinLat, "footprint min_lon", f.MinLon,
		"footprint max_lat", f.MaxLat, "footprint max_lon", f.MaxLon); err != nil {
		return err
	}
	if f.MinLat > f.MaxLat || f.MinLon > f.MaxLon {
		return fmt.Errorf("%w: granule footprint %+v: min above max", ErrInvalid, f)
	}
	if err := checkLatLon("granule footprint min", f.MinLat, f.MinLon); err != nil {
		return err
	}
	return checkLatLon("granule footprint max", f.MaxLat, f.MaxLon)
}

// PutGranule implements GranuleWriter.
func (o *ops) PutGranule(ctx context.Context, g Granule) (Granule, bool, error) {
	if err := validGranule(&g); err != nil {
		return Granule{}, false, err
	}
	now := o.now()
	if g.ID == "" {
		g.ID = newID(now)
	}
	res, err := o.exec(ctx, `INSERT INTO granules (`+granuleCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (sha256) DO NOTHING`,
		g.ID, string(g.Kind), g.SHA256, g.Name, g.Size, g.URI,
		g.Footprint.MinLat, g.Footprint.MinLon, g.Footprint.MaxLat, g.Footprint.MaxLon,
		g.FootprintGeoJSON, us(g.Acquired), string(GranuleRecorded), 0, "", g.Populated, us(now), us(now))
	if err != nil {
		return Granule{}, false, o.d.wrap(err, "put granule %s", g.SHA256)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Granule{}, false, o.d.wrap(err, "put granule %s", g.SHA256)
	}
	rec, err := scanGranule(o.queryRow(ctx, `SELECT `+granuleCols+` FROM granules WHERE sha256 = ?`, g.SHA256))
	return rec, n == 1, o.d.wrap(err, "put granule %s", g.SHA256)
}

// StartGranule implements GranuleWriter.
func (o *ops) StartGranule(ctx context.Context, id string) (Granule, error) {
	g, err := scanGranule(o.queryRow(ctx, `UPDATE granules
		SET status = 'processing', attempts = attempts + 1, updated_us = ?
		WHERE id = ? AND status <> 'done'
		RETURNING `+granuleCols, us(o.now()), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Granule{}, o.notDone(ctx, "start granule", id)
	}
	return g, o.d.wrap(err, "start granule %s", id)
}

// notDone explains why a granule could not change: ErrNotFound or
// ErrConflict (it is done).
func (o *ops) notDone(ctx context.Context, what, id string) error {
	if _, err := o.Granule(ctx, id); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s %s: %w: it is done", what, id, ErrConflict)
}

// FailGranule implements GranuleWriter.
func (o *ops) FailGranule(ctx context.Context, id, reason string) error {
	res, err := o.exec(ctx, `UPDATE granules SET status = 'failed', error = ?, updated_us = ?
		WHERE id = ? AND status <> 'done'`, reason, us(o.now()), id)
	if err != nil {
		return o.d.wrap(err, "fail granule %s", id)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return o.d.wrap(err, "fail granule %s", id)
		}
		return o.notDone(ctx, "fail granule", id)
	}
	return nil
}

const detectionCols = `id, granule_id, gas, method, score, p_value, lat, lon, uncertainty_m,
	peak_ppmm, mean_ppmm, sigma_ppmm, ime_kg, rate_kgh, rate_sigma_kgh, outline_geojson, properties, created_us`

func scanDetection(s interface{ Scan(...any) error }) (Detection, error) {
	var (
		d       Detection
		created int64
	)
	err := s.Scan(&d.ID, &d.GranuleID, &d.Gas, &d.Method, &d.Score, &d.PValue, &d.Lat, &d.Lon, &d.UncertaintyM,
		&d.PeakPPMM, &d.MeanPPMM, &d.SigmaPPMM, &d.IMEKg, &d.RateKgH, &d.RateSigmaKgH, &d.OutlineJSON, &d.Properties, &created)
	d.Created = fromUS(created)
	return d, err
}

func (o *ops) detections(ctx context.Context, what, query string, args ...any) ([]Detection, error) {
	rows, err := o.query(ctx, query, args...)
	if err != nil {
		return nil, o.d.wrap(err, "%s", what)
	}
	defer rows.Close()
	var out []Detection
	for rows.Next() {
		d, err := scanDetection(rows)
		if err != nil {
			return nil, o.d.wrap(err, "%s", what)
		}
		out = append(out, d)
	}
	return out, o.d.wrap(rows.Err(), "%s", what)
}

// Detection returns the detection with that id.
func (o *ops) Detection(ctx context.Context, id string) (Detection, error) {
	d, err := scanDetection(o.queryRow(ctx, `SELECT `+detectionCols+` FROM detections WHERE id = ?`, id))
	return d, o.d.wrap(err, "detection %s", id)
}

// DetectionPlumePNG returns a detection's plume image, empty if it has none.
func (o *ops) DetectionPlumePNG(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := o.queryRow(ctx, `SELECT plume_png FROM detections WHERE id = ?`, id).Scan(&b)
	return b, o.d.wrap(err, "plume image of detection %s", id)
}

// DetectionsOfGranule returns a granule's detections in the order they were
// written.
func (o *ops) DetectionsOfGranule(ctx context.Context, granuleID string) ([]Detection, error) {
	return o.detections(ctx, "detections of granule "+granuleID,
		`SELECT `+detectionCols+` FROM detections WHERE granule_id = ? ORDER BY created_us, id`, granuleID)
}

func validDetection(i int, d *Detection) error {
	rec := fmt.Sprintf("detection %d", i)
	if d.Gas == "" || d.Method == "" {
		return fmt.Errorf("%w: %s gas %q method %q: want both", ErrInvalid, rec, d.Gas, d.Method)
	}
	if err := finite(rec, "score", d.Score, "p_value", d.PValue, "lat", d.Lat, "lon", d.Lon,
		"uncertainty_m", d.UncertaintyM, "peak_ppmm", d.PeakPPMM, "mean_ppmm", d.MeanPPMM,
		"sigma_ppmm", d.SigmaPPMM, "ime_kg", d.IMEKg, "rate_kgh", d.RateKgH, "rate_sigma_kgh", d.RateSigmaKgH); err != nil {
		return err
	}
	return checkLatLon(rec, d.Lat, d.Lon)
}

// CompleteGranule implements GranuleWriter. On the DB it runs in a
// transaction of its own.
func (o *ops) CompleteGranule(ctx context.Context, granuleID string, ds []Detection) ([]Detection, error) {
	if !o.inTx {
		panic("store: CompleteGranule outside a transaction") // DB overrides it
	}
	for i := range ds {
		if err := validDetection(i, &ds[i]); err != nil {
			return nil, fmt.Errorf("complete granule %s: %w", granuleID, err)
		}
	}
	now := o.now()
	// The status change comes first: in PostgreSQL it locks the row, so a
	// concurrent completion of the same granule waits, then finds it done.
	res, err := o.exec(ctx, `UPDATE granules SET status = 'done', error = '', updated_us = ?
		WHERE id = ? AND status <> 'done'`, us(now), granuleID)
	if err != nil {
		return nil, o.d.wrap(err, "complete granule %s", granuleID)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, o.d.wrap(err, "complete granule %s", granuleID)
	}
	if n == 0 {
		if _, err := o.Granule(ctx, granuleID); err != nil {
			return nil, fmt.Errorf("complete granule: %w", err)
		}
		return o.DetectionsOfGranule(ctx, granuleID) // done already: idempotent
	}
	out := make([]Detection, len(ds))
	for i, d := range ds {
		d.GranuleID = granuleID
		if d.ID == "" {
			d.ID = newID(now)
		}
		// Distinct created times keep the written order on read-back.
		d.Created = fromUS(us(now) + int64(i))
		png := []byte(d.PlumePNG)
		if png == nil {
			png = []byte{}
		}
		if _, err := o.exec(ctx, `INSERT INTO detections (`+detectionCols+`, plume_png)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.GranuleID, d.Gas, d.Method, d.Score, d.PValue, d.Lat, d.Lon, d.UncertaintyM,
			d.PeakPPMM, d.MeanPPMM, d.SigmaPPMM, d.IMEKg, d.RateKgH, d.RateSigmaKgH, d.OutlineJSON, d.Properties,
			us(d.Created), png); err != nil {
			return nil, o.d.wrap(err, "complete granule %s: detection %d", granuleID, i)
		}
		d.PlumePNG = "" // as a read returns it
		out[i] = d
	}
	return out, nil
}
