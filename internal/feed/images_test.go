package feed

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"testing"

	"github.com/atalaya-project/atalaya/internal/store"
)

// A square plume outline 20 m a side, centred 30 m east of the site, is
// drawn where the projection puts it: filled inside, white outside, the
// site's cross at the centre, north up.
func TestPlumePNG(t *testing.T) {
	lat, lon := 4.6097, -74.0817
	const mPerDegLat = math.Pi / 180 * store.EarthRadiusM
	mPerDegLon := mPerDegLat * math.Cos(lat*math.Pi/180)
	ll := func(x, y float64) string { return fmt.Sprintf("[%.9f,%.9f]", lon+x/mPerDegLon, lat+y/mPerDegLat) }
	outline := `{"type":"Polygon","coordinates":[[` + ll(20, -10) + "," + ll(40, -10) + "," + ll(40, 10) + "," + ll(20, 10) + "," + ll(20, -10) + `]]}`
	d := store.Detection{GranuleID: "g1", Lat: lat, Lon: lon + 30/mPerDegLon, PeakPPMM: 500, OutlineJSON: outline}
	b, width, err := PlumePNG(lat, lon, 10, []store.Detection{d})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n := img.Bounds().Dx()
	if n != PlumeImageSize || width != 120 { // half-width max(60, 3σ=30, 1.1·40=44, 1.2·30=36) = 60 m
		t.Fatalf("image %d px showing %g m, want %d px and 120 m", n, width, PlumeImageSize)
	}
	at := func(x, y float64) (r, g, b uint32) {
		px := int(math.Round(float64(n)/2 + x*float64(n)/width))
		py := int(math.Round(float64(n)/2 - y*float64(n)/width))
		r, g, b, _ = img.At(px, py).RGBA()
		return r >> 8, g >> 8, b >> 8
	}
	if r, g, b := at(35, 5); r != 255 || g != 0 || b != 0 { // inside, away from the dot: red (the strongest)
		t.Errorf("inside the outline: %d,%d,%d, want red", r, g, b)
	}
	for _, p := range [][2]float64{{-30, 0}, {30, 20}, {30, -20}, {50, 0}} {
		if r, g, b := at(p[0], p[1]); r != 255 || g != 255 || b != 255 {
			t.Errorf("outside the outline at %v m: %d,%d,%d, want white", p, r, g, b)
		}
	}
	if r, g, b := at(0, 0); r != 0 || g != 0 || b != 200 {
		t.Errorf("the site: %d,%d,%d, want the blue cross", r, g, b)
	}
}
