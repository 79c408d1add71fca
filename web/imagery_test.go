package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"testing"

	"github.com/atalaya-project/atalaya/internal/mbtiles"
)

// writeMBTiles makes an MBTiles 1.3 file (the specification's tables, TMS
// rows) whose 256×256 tiles are filled with a colour encoding their stored
// address: red = zoom, green = column, blue = TMS row.
func writeMBTiles(t *testing.T, path string, maxZoom int) {
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
		`INSERT INTO metadata VALUES ('name','test'),('format','png'),('minzoom','0'),('maxzoom','` + itoa(maxZoom) + `'),('attribution','synthetic tiles')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for z := 0; z <= maxZoom; z++ {
		for x := range 1 << z {
			for row := range 1 << z {
				img := image.NewRGBA(image.Rect(0, 0, 256, 256))
				c := color.RGBA{uint8(z), uint8(x), uint8(row), 255}
				for i := 0; i < len(img.Pix); i += 4 {
					img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
				}
				var b bytes.Buffer
				if err := png.Encode(&b, img); err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(`INSERT INTO tiles VALUES (?,?,?,?)`, z, x, row, b.Bytes()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestOfflineImagery: with an MBTiles file served by the real server at
// /tiles/ (Config.Tiles, `atalaya serve --tiles FILE`), the map
// offers the imagery layer and Leaflet's XYZ request for Bogotá at zoom 5
// (tile 5/9/15 by the OpenStreetMap formula) is answered with the tile
// stored at TMS row 2⁵ − 1 − 15 = 16: the colour the page reads back from
// the loaded image says so.
func TestOfflineImagery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "imagery.mbtiles")
	writeMBTiles(t, path, 5)
	ts, err := mbtiles.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	b := realBackend(t, ts)
	ctx := newBrowser(t, "en-GB")
	consoleErrors(t, ctx, "analyst")
	login(t, ctx, b.url, b.analystEN, b.password)
	run(t, ctx, "the imagery layer is offered and its tiles load",
		waitJS(`[...document.querySelectorAll('.leaflet-control-layers-overlays label')].some(l => l.textContent.trim() === 'Imagery (offline)')`),
		waitJS(`[...document.querySelectorAll('img.leaflet-tile')].some(i => i.src.endsWith('/tiles/5/9/15') && i.complete && i.naturalWidth === 256)`),
	)
	rgb := eval[[]int](t, ctx, `(() => {
		const img = [...document.querySelectorAll('img.leaflet-tile')].find(i => i.src.endsWith('/tiles/5/9/15'));
		const c = document.createElement('canvas');
		c.width = c.height = 4;
		const g = c.getContext('2d');
		g.drawImage(img, 0, 0, 4, 4);
		return [...g.getImageData(1, 1, 1, 1).data.slice(0, 3)];
	})()`)
	if len(rgb) != 3 || rgb[0] != 5 || rgb[1] != 9 || rgb[2] != 16 {
		t.Fatalf("tile 5/9/15 shows the stored tile %v (zoom, column, TMS row), want [5 9 16]", rgb)
	}
	attr := eval[string](t, ctx, `document.querySelector('.leaflet-control-attribution').textContent`)
	if !bytes.Contains([]byte(attr), []byte("synthetic tiles")) {
		t.Fatalf("attribution %q lacks the file's", attr)
	}
}
