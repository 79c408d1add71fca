package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// AdminLevel is the level of an administrative area.
type AdminLevel string

// Administrative levels an operator may import.
const (
	LevelMunicipality AdminLevel = "municipality" // municipio, município, county (admin-2)
	LevelState        AdminLevel = "state"        // state, department, province (admin-1)
)

// Valid reports whether l is a known level.
func (l AdminLevel) Valid() bool { return l == LevelMunicipality || l == LevelState }

// AdminArea is an administrative area from the operator's boundary data
// (the host nation's own: IBGE, DANE, INEGI, INEI, …).
type AdminArea struct {
	ID     string
	Level  AdminLevel
	Name   string
	Code   string // the source's code (IBGE CD_MUN, DANE MPIO_CDPMP, …); may be empty
	Parent string // the enclosing area's name (a municipality's state); may be empty
	Source string // the data set, as the operator named it ("IBGE malha municipal 2024")
	// GeoJSON is the area's geometry: a GeoJSON Polygon or MultiPolygon,
	// longitude/latitude WGS 84 degrees.
	GeoJSON string
	// BBox bounds the geometry: the store filters candidates by it.
	BBox     BBox
	Imported time.Time
}

// AdminAreaSet is one imported data set: a level and a source.
type AdminAreaSet struct {
	Level    AdminLevel
	Source   string
	Areas    int
	Imported time.Time // the latest import
}

// AdminAreas stores the administrative areas an operator imported, for
// every process (server, workers, report) to locate sites in.
type AdminAreas interface {
	// ImportAdminAreas replaces every area of level and source with areas
	// (their Level, Source, ID and Imported are set here), all or nothing,
	// and returns the number stored.
	ImportAdminAreas(ctx context.Context, level AdminLevel, source string, areas []AdminArea) (int, error)
	// AdminAreas returns the areas of a level ("": every level), the most
	// recently imported first, then by level, source, code, name and id.
	AdminAreas(ctx context.Context, level AdminLevel) ([]AdminArea, error)
	// AdminAreasAt returns the areas whose bounding box contains the
	// point (candidates: the caller tests the geometry), in the order of
	// AdminAreas.
	AdminAreasAt(ctx context.Context, lat, lon float64) ([]AdminArea, error)
	// AdminAreaSets lists the imported data sets by level and source.
	AdminAreaSets(ctx context.Context) ([]AdminAreaSet, error)
	// DeleteAdminAreas deletes the areas of level and source and returns
	// how many there were.
	DeleteAdminAreas(ctx context.Context, level AdminLevel, source string) (int, error)
	// AdminAreasGeneration is a number that changes whenever areas are
	// imported or deleted, so a process holding them in memory knows when
	// to reload.
	AdminAreasGeneration(ctx context.Context) (int64, error)
}

var _ AdminAreas = (*DB)(nil)

const adminAreaCols = `id, level, name, code, parent, source, geojson, min_lat, min_lon, max_lat, max_lon, imported_us`

// adminAreaOrder: newest import first, so that where two data sets of a
// level overlap the newer one wins.
const adminAreaOrder = ` ORDER BY imported_us DESC, level, source, code, name, id`

func scanAdminArea(sc interface{ Scan(...any) error }) (AdminArea, error) {
	var (
		a        AdminArea
		level    string
		imported int64
	)
	err := sc.Scan(&a.ID, &level, &a.Name, &a.Code, &a.Parent, &a.Source, &a.GeoJSON,
		&a.BBox.MinLat, &a.BBox.MinLon, &a.BBox.MaxLat, &a.BBox.MaxLon, &imported)
	a.Level, a.Imported = AdminLevel(level), fromUS(imported)
	return a, err
}

func checkAdminArea(i int, a AdminArea) error {
	what := fmt.Sprintf("administrative area %d (%q)", i, a.Name)
	if a.Name == "" {
		return fmt.Errorf("%w: %s: empty name", ErrInvalid, what)
	}
	b := a.BBox
	if err := finite(what, "min_lat", b.MinLat, "min_lon", b.MinLon, "max_lat", b.MaxLat, "max_lon", b.MaxLon); err != nil {
		return err
	}
	if err := checkLatLon(what+" bbox min", b.MinLat, b.MinLon); err != nil {
		return err
	}
	if err := checkLatLon(what+" bbox max", b.MaxLat, b.MaxLon); err != nil {
		return err
	}
	if b.MinLat > b.MaxLat || b.MinLon > b.MaxLon {
		return fmt.Errorf("%w: %s: bbox %+v: min above max", ErrInvalid, what, b)
	}
	// The shape of the coordinates is checked here (PostGIS would refuse
	// what SQLite stores otherwise); that the rings make sense is the
	// importer's job.
	var g struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	}
	if err := json.Unmarshal([]byte(a.GeoJSON), &g); err != nil {
		return fmt.Errorf("%w: %s: geometry is not JSON: %w", ErrInvalid, what, err)
	}
	var polys [][][][]float64
	switch g.Type {
	case "Polygon":
		var p [][][]float64
		if err := json.Unmarshal(g.Coordinates, &p); err != nil {
			return fmt.Errorf("%w: %s: Polygon coordinates: %w", ErrInvalid, what, err)
		}
		polys = append(polys, p)
	case "MultiPolygon":
		if err := json.Unmarshal(g.Coordinates, &polys); err != nil {
			return fmt.Errorf("%w: %s: MultiPolygon coordinates: %w", ErrInvalid, what, err)
		}
	default:
		return fmt.Errorf("%w: %s: geometry type %q: want Polygon or MultiPolygon", ErrInvalid, what, g.Type)
	}
	if len(polys) == 0 {
		return fmt.Errorf("%w: %s: no polygon", ErrInvalid, what)
	}
	for j, p := range polys {
		if len(p) == 0 {
			return fmt.Errorf("%w: %s: polygon %d has no ring", ErrInvalid, what, j)
		}
		for k, r := range p {
			if len(r) < 4 {
				return fmt.Errorf("%w: %s: polygon %d ring %d has %d positions: want at least 4", ErrInvalid, what, j, k, len(r))
			}
			for _, pos := range r {
				if len(pos) < 2 {
					return fmt.Errorf("%w: %s: polygon %d ring %d: a position with %d numbers", ErrInvalid, what, j, k, len(pos))
				}
			}
		}
	}
	return nil
}

// ImportAdminAreas implements AdminAreas.
func (o *ops) ImportAdminAreas(ctx context.Context, level AdminLevel, source string, areas []AdminArea) (int, error) {
	if !level.Valid() {
		return 0, fmt.Errorf("%w: administrative level %q: want municipality or state", ErrInvalid, level)
	}
	if source == "" {
		return 0, fmt.Errorf("%w: administrative areas need a source (the data set's name)", ErrInvalid)
	}
	for i, a := range areas {
		if err := checkAdminArea(i, a); err != nil {
			return 0, err
		}
	}
	what := fmt.Sprintf("import %s areas from %q", level, source)
	if _, err := o.exec(ctx, `DELETE FROM admin_areas WHERE level = ? AND source = ?`, string(level), source); err != nil {
		return 0, o.d.wrap(err, "%s", what)
	}
	now := o.now()
	for i, a := range areas {
		_, err := o.exec(ctx, `INSERT INTO admin_areas (`+adminAreaCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			newID(now), string(level), a.Name, a.Code, a.Parent, source, a.GeoJSON,
			a.BBox.MinLat, a.BBox.MinLon, a.BBox.MaxLat, a.BBox.MaxLon, us(now))
		if err != nil {
			return 0, o.d.wrap(err, "%s: area %d (%q)", what, i, a.Name)
		}
	}
	if _, err := o.exec(ctx, `UPDATE admin_areas_generation SET generation = generation + 1 WHERE id = 1`); err != nil {
		return 0, o.d.wrap(err, "%s", what)
	}
	return len(areas), nil
}

func (o *ops) adminAreas(ctx context.Context, what, q string, args ...any) ([]AdminArea, error) {
	rows, err := o.query(ctx, q, args...)
	if err != nil {
		return nil, o.d.wrap(err, "%s", what)
	}
	defer rows.Close()
	var out []AdminArea
	for rows.Next() {
		a, err := scanAdminArea(rows)
		if err != nil {
			return nil, o.d.wrap(err, "%s", what)
		}
		out = append(out, a)
	}
	return out, o.d.wrap(rows.Err(), "%s", what)
}

// AdminAreas implements AdminAreas.
func (o *ops) AdminAreas(ctx context.Context, level AdminLevel) ([]AdminArea, error) {
	return o.adminAreas(ctx, "administrative areas", `SELECT `+adminAreaCols+` FROM admin_areas WHERE level = ? OR ? = ''`+adminAreaOrder,
		string(level), string(level))
}

// AdminAreasAt implements AdminAreas.
func (o *ops) AdminAreasAt(ctx context.Context, lat, lon float64) ([]AdminArea, error) {
	if err := checkLatLon("administrative areas at", lat, lon); err != nil {
		return nil, err
	}
	return o.adminAreas(ctx, fmt.Sprintf("administrative areas at %.6f, %.6f", lat, lon),
		`SELECT `+adminAreaCols+` FROM admin_areas WHERE min_lat <= ? AND max_lat >= ? AND min_lon <= ? AND max_lon >= ?`+adminAreaOrder,
		lat, lat, lon, lon)
}

// AdminAreaSets implements AdminAreas.
func (o *ops) AdminAreaSets(ctx context.Context) ([]AdminAreaSet, error) {
	const what = "administrative area sets"
	rows, err := o.query(ctx, `SELECT level, source, COUNT(*), MAX(imported_us) FROM admin_areas GROUP BY level, source ORDER BY level, source`)
	if err != nil {
		return nil, o.d.wrap(err, "%s", what)
	}
	defer rows.Close()
	var out []AdminAreaSet
	for rows.Next() {
		var (
			s        AdminAreaSet
			level    string
			imported int64
		)
		if err := rows.Scan(&level, &s.Source, &s.Areas, &imported); err != nil {
			return nil, o.d.wrap(err, "%s", what)
		}
		s.Level, s.Imported = AdminLevel(level), fromUS(imported)
		out = append(out, s)
	}
	return out, o.d.wrap(rows.Err(), "%s", what)
}

// DeleteAdminAreas implements AdminAreas.
func (o *ops) DeleteAdminAreas(ctx context.Context, level AdminLevel, source string) (int, error) {
	what := fmt.Sprintf("delete %s areas from %q", level, source)
	res, err := o.exec(ctx, `DELETE FROM admin_areas WHERE level = ? AND source = ?`, string(level), source)
	if err != nil {
		return 0, o.d.wrap(err, "%s", what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, o.d.wrap(err, "%s", what)
	}
	if n > 0 {
		if _, err := o.exec(ctx, `UPDATE admin_areas_generation SET generation = generation + 1 WHERE id = 1`); err != nil {
			return 0, o.d.wrap(err, "%s", what)
		}
	}
	return int(n), nil
}

// AdminAreasGeneration implements AdminAreas.
func (o *ops) AdminAreasGeneration(ctx context.Context) (int64, error) {
	var g int64
	err := o.queryRow(ctx, `SELECT generation FROM admin_areas_generation WHERE id = 1`).Scan(&g)
	return g, o.d.wrap(err, "administrative areas generation")
}

// ImportAdminAreas implements AdminAreas, in a transaction of its own.
func (db *DB) ImportAdminAreas(ctx context.Context, level AdminLevel, source string, areas []AdminArea) (n int, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		n, err = t.ImportAdminAreas(ctx, level, source, areas)
		return err
	})
	return n, err
}

// DeleteAdminAreas implements AdminAreas, in a transaction of its own.
func (db *DB) DeleteAdminAreas(ctx context.Context, level AdminLevel, source string) (n int, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		n, err = t.DeleteAdminAreas(ctx, level, source)
		return err
	})
	return n, err
}
