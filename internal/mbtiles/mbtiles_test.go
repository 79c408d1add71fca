package mbtiles

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// makeMBTiles writes an MBTiles 1.3 file with the specification's schema:
// a metadata table and a tiles table keyed by (zoom_level, tile_column,
// tile_row) with rows in TMS order. Each tile is a 4×4 PNG whose colour
// encodes its TMS address, so a test can tell which row it was given.
func makeMBTiles(t testing.TB, path string, meta map[string]string, zooms int) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE metadata (name text, value text)`,
		`CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)`,
		`CREATE UNIQUE INDEX tile_index on tiles (zoom_level, tile_column, tile_row)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range meta {
		if _, err := db.Exec(`INSERT INTO metadata (name, value) VALUES (?, ?)`, k, v); err != nil {
			t.Fatal(err)
		}
	}
	for z := range zooms {
		for x := range 1 << z {
			for row := range 1 << z {
				if _, err := db.Exec(`INSERT INTO tiles VALUES (?, ?, ?, ?)`, z, x, row, tilePNG(t, z, x, row)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func tilePNG(t testing.TB, z, x, tmsRow int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range 16 {
		img.Set(i%4, i/4, color.RGBA{uint8(z), uint8(x), uint8(tmsRow), 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decodeAddr(t *testing.T, b []byte) (z, x, tmsRow int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r, g, bl, _ := img.At(1, 1).RGBA()
	return int(r >> 8), int(g >> 8), int(bl >> 8)
}

var testMeta = map[string]string{
	"name": "test imagery", "format": "png", "minzoom": "0", "maxzoom": "3",
	"bounds": "-180,-85.05112877980659,180,85.05112877980659", "attribution": "synthetic",
}

func open(t *testing.T) *Tileset {
	t.Helper()
	path := filepath.Join(t.TempDir(), "imagery.mbtiles")
	makeMBTiles(t, path, testMeta, 4)
	ts, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	return ts
}

// slippy is the OpenStreetMap wiki's formula for the XYZ tile containing a
// point: x = ⌊(lon+180)/360·2^z⌋, y = ⌊(1 − asinh(tan φ)/π)/2·2^z⌋.
func slippy(lat, lon float64, z int) (x, y int) {
	n := math.Exp2(float64(z))
	x = int(math.Floor((lon + 180) / 360 * n))
	phi := lat * math.Pi / 180
	y = int(math.Floor((1 - math.Asinh(math.Tan(phi))/math.Pi) / 2 * n))
	return x, y
}

// TestTileYFlip: the tile the map asks for at XYZ (z, x, y) is the row
// stored at TMS 2^z − 1 − y; Bogotá (4.61° N, 74.08° W) at zoom 3 is XYZ
// 2/3 (OSM formula), stored at TMS row 4.
func TestTileYFlip(t *testing.T) {
	ts := open(t)
	x, y := slippy(4.61, -74.08, 3)
	if x != 2 || y != 3 {
		t.Fatalf("slippy(Bogotá, 3) = %d/%d, want 2/3", x, y)
	}
	b, err := ts.Tile(context.Background(), 3, x, y)
	if err != nil {
		t.Fatal(err)
	}
	if z, gx, row := decodeAddr(t, b); z != 3 || gx != 2 || row != 4 {
		t.Fatalf("tile 3/2/3 holds the one stored at %d/%d/%d, want TMS 3/2/4", z, gx, row)
	}
	for z := range 4 {
		for x := range 1 << z {
			for y := range 1 << z {
				b, err := ts.Tile(context.Background(), z, x, y)
				if err != nil {
					t.Fatalf("%d/%d/%d: %v", z, x, y, err)
				}
				if gz, gx, row := decodeAddr(t, b); gz != z || gx != x || row != (1<<z)-1-y {
					t.Fatalf("%d/%d/%d: got stored tile %d/%d/%d", z, x, y, gz, gx, row)
				}
			}
		}
	}
	if _, err := ts.Tile(context.Background(), 4, 0, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("zoom 4 (absent): %v, want ErrNotFound", err)
	}
	if _, err := ts.Tile(context.Background(), 2, 4, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("column 4 at zoom 2: %v, want ErrInvalid", err)
	}
	m := ts.Metadata()
	if m.Name != "test imagery" || m.Format != "png" || m.MinZoom != 0 || m.MaxZoom != 3 || m.Bounds[0] != -180 || m.Attribution != "synthetic" {
		t.Fatalf("metadata %+v", m)
	}
}

func TestHTTP(t *testing.T) {
	ts := open(t)
	mux := http.NewServeMux()
	mux.Handle("GET /tiles/", http.StripPrefix("/tiles/", ts))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(p string) (*http.Response, []byte) {
		r, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r, b
	}
	r, b := get("/tiles/1/1/0")
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("tile: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if z, x, row := decodeAddr(t, b); z != 1 || x != 1 || row != 1 {
		t.Fatalf("1/1/0 served stored %d/%d/%d, want TMS 1/1/1", z, x, row)
	}
	if r, _ := get("/tiles/1/1/0.png"); r.StatusCode != 200 {
		t.Fatalf("with extension: %d", r.StatusCode)
	}
	for p, want := range map[string]int{"/tiles/5/0/0": 404, "/tiles/1/2/0": 400, "/tiles/a/0/0": 400, "/tiles/1/0": 400, "/tiles/01/0/0": 400, "/tiles/1/0/0.gif": 400} {
		if r, _ := get(p); r.StatusCode != want {
			t.Errorf("%s: %d, want %d", p, r.StatusCode, want)
		}
	}
	r, b = get("/tiles/metadata.json")
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil || r.StatusCode != 200 || m.MaxZoom != 3 || m.Format != "png" {
		t.Fatalf("metadata.json: %d %s %v", r.StatusCode, b, err)
	}
}

// TestOpenRefuses: files that are not MBTiles are refused with a message
// naming what is wrong, and the file is not changed.
func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	noTiles := filepath.Join(dir, "no-tiles.mbtiles")
	db, _ := sql.Open("sqlite", noTiles)
	if _, err := db.Exec(`CREATE TABLE metadata (name text, value text)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(context.Background(), noTiles); !errors.Is(err, ErrFormat) {
		t.Fatalf("no tiles table: %v, want ErrFormat", err)
	}
	badFormat := filepath.Join(dir, "bad.mbtiles")
	makeMBTiles(t, badFormat, map[string]string{"name": "x", "format": "tiff"}, 1)
	if _, err := Open(context.Background(), badFormat); !errors.Is(err, ErrFormat) {
		t.Fatalf("format tiff: %v, want ErrFormat", err)
	}
	// maxzoom absent: read from the tiles.
	noZoom := filepath.Join(dir, "nozoom.mbtiles")
	makeMBTiles(t, noZoom, map[string]string{"name": "x", "format": "png"}, 3)
	ts, err := Open(context.Background(), noZoom)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if m := ts.Metadata(); m.MinZoom != 0 || m.MaxZoom != 2 {
		t.Fatalf("zooms from tiles: %+v, want 0-2", m)
	}
	if _, err := Open(context.Background(), filepath.Join(dir, "absent.mbtiles")); err == nil {
		t.Fatal("absent file opened")
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"0/0/0", "3/2/3", "3/2/3.png", "30/1073741823/0", "1/2/0", "a/b/c", "01/0/0", "1//0", "-1/0/0", "1/0/0.gif", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		z, x, y, err := ParsePath(p)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v is not ErrInvalid", p, err)
			}
			return
		}
		if z < 0 || z > MaxZoom || x < 0 || y < 0 || x >= 1<<z || y >= 1<<z {
			t.Fatalf("%q accepted as %d/%d/%d outside the grid", p, z, x, y)
		}
	})
}
