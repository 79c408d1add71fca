package mbtiles

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Errors, for errors.Is.
var (
	ErrNotFound = errors.New("mbtiles: no such tile")
	ErrInvalid  = errors.New("mbtiles: invalid tile address")
	ErrFormat   = errors.New("mbtiles: not an MBTiles file")
)

// MaxZoom is the deepest zoom accepted: 2^30 columns already address
// centimetres at the equator.
const MaxZoom = 30

// Metadata is the metadata table's rows that the map uses.
type Metadata struct {
	Name        string     `json:"name"`
	Format      string     `json:"format"`           // png, jpg, webp, pbf
	Bounds      [4]float64 `json:"bounds,omitempty"` // minLon, minLat, maxLon, maxLat
	MinZoom     int        `json:"minzoom"`
	MaxZoom     int        `json:"maxzoom"`
	Attribution string     `json:"attribution,omitempty"`
}

// Tileset is an open MBTiles file.
type Tileset struct {
	db   *sql.DB
	path string
	meta Metadata
	get  *sql.Stmt
}

// Open opens the MBTiles file at path read-only and reads its metadata.
func Open(ctx context.Context, path string) (*Tileset, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open mbtiles %q: want a file path without ? or #", path)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=query_only(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open mbtiles %s: %w", path, err)
	}
	ts := &Tileset{db: db, path: path}
	if err := ts.load(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open mbtiles %s: %w", path, err)
	}
	return ts, nil
}

func (ts *Tileset) load(ctx context.Context) error {
	for _, table := range []string{"metadata", "tiles"} {
		var n int
		// tiles may be a view over map and images (a layout the
		// specification allows), so both tables and views count.
		err := ts.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = ? AND type IN ('table','view')`, table).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: no %s table", ErrFormat, table)
		}
	}
	rows, err := ts.db.QueryContext(ctx, `SELECT name, value FROM metadata`)
	if err != nil {
		return fmt.Errorf("%w: metadata: %v", ErrFormat, err)
	}
	defer rows.Close()
	m := Metadata{MaxZoom: -1}
	for rows.Next() {
		var name, value sql.NullString
		if err := rows.Scan(&name, &value); err != nil {
			return fmt.Errorf("%w: metadata: %v", ErrFormat, err)
		}
		v := strings.TrimSpace(value.String)
		switch name.String {
		case "name":
			m.Name = v
		case "format":
			m.Format = strings.ToLower(v)
		case "attribution":
			m.Attribution = v
		case "minzoom", "maxzoom":
			z, err := strconv.Atoi(v)
			if err != nil || z < 0 || z > MaxZoom {
				return fmt.Errorf("%w: metadata %s = %q: want an integer 0-%d", ErrFormat, name.String, v, MaxZoom)
			}
			if name.String == "minzoom" {
				m.MinZoom = z
			} else {
				m.MaxZoom = z
			}
		case "bounds":
			b, err := parseBounds(v)
			if err != nil {
				return fmt.Errorf("%w: metadata bounds = %q: %v", ErrFormat, v, err)
			}
			m.Bounds = b
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	switch m.Format {
	case "png", "jpg", "jpeg", "webp", "pbf":
	case "":
		return fmt.Errorf("%w: metadata has no format (want png, jpg, webp or pbf)", ErrFormat)
	default:
		return fmt.Errorf("%w: metadata format %q: want png, jpg, webp or pbf", ErrFormat, m.Format)
	}
	if m.MaxZoom < 0 {
		// Optional in the specification: read it from the tiles.
		var lo, hi sql.NullInt64
		if err := ts.db.QueryRowContext(ctx, `SELECT min(zoom_level), max(zoom_level) FROM tiles`).Scan(&lo, &hi); err != nil {
			return fmt.Errorf("%w: tiles: %v", ErrFormat, err)
		}
		m.MinZoom, m.MaxZoom = int(lo.Int64), int(hi.Int64)
	}
	ts.meta = m
	ts.get, err = ts.db.PrepareContext(ctx, `SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?`)
	if err != nil {
		return fmt.Errorf("%w: tiles: %v", ErrFormat, err)
	}
	return nil
}

func parseBounds(v string) ([4]float64, error) {
	var b [4]float64
	parts := strings.Split(v, ",")
	if len(parts) != 4 {
		return b, errors.New("want minLon,minLat,maxLon,maxLat")
	}
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return b, fmt.Errorf("value %d: %v", i+1, err)
		}
		b[i] = f
	}
	if b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90 || b[0] > b[2] || b[1] > b[3] {
		return b, errors.New("out of range or min > max")
	}
	return b, nil
}

// Metadata returns the file's metadata.
func (ts *Tileset) Metadata() Metadata { return ts.meta }

// Tile returns the bytes of tile z/x/y (XYZ addressing: y counts from the
// north). ErrInvalid for an address outside the zoom's grid, ErrNotFound
// for a tile the file does not have.
func (ts *Tileset) Tile(ctx context.Context, z, x, y int) ([]byte, error) {
	if err := checkAddress(z, x, y); err != nil {
		return nil, err
	}
	row := (1<<z - 1) - y // TMS: rows count from the south
	var b []byte
	err := ts.get.QueryRowContext(ctx, z, x, row).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tile %d/%d/%d: %w", z, x, y, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tile %d/%d/%d: %w", z, x, y, err)
	}
	return b, nil
}

func checkAddress(z, x, y int) error {
	if z < 0 || z > MaxZoom {
		return fmt.Errorf("%w: zoom %d: want 0-%d", ErrInvalid, z, MaxZoom)
	}
	n := 1 << z
	if x < 0 || x >= n {
		return fmt.Errorf("%w: column %d at zoom %d: want 0-%d", ErrInvalid, x, z, n-1)
	}
	if y < 0 || y >= n {
		return fmt.Errorf("%w: row %d at zoom %d: want 0-%d", ErrInvalid, y, z, n-1)
	}
	return nil
}

// Close closes the file.
func (ts *Tileset) Close() error {
	if ts.get != nil {
		_ = ts.get.Close()
	}
	return ts.db.Close()
}
