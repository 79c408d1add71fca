package web_test

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// -screenshots DIR writes the main screens there (docs/screenshots):
//
//	go test ./web -run TestScreenshots -screenshots ../docs/screenshots
//
// Without it the test still renders them and checks each is a whole PNG
// of the window's size, into a temporary folder.
var screenshotDir = flag.String("screenshots", "", "write the main screens' PNGs to this folder")

func scenarioScreenshots(t *testing.T, b backend) {
	dir := *screenshotDir
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	site := b.queue[0]
	for _, c := range []struct{ lang, user, browser string }{{"en", b.analystEN, "en-GB"}, {"es", b.analystES, "es-CO"}} {
		ctx := newBrowser(t, c.browser)
		consoleErrors(t, ctx, c.user)
		login(t, ctx, b.url, c.user, b.password)
		var mapPNG, queuePNG, sitePNG []byte
		run(t, ctx, "map with coverage and tracks",
			waitJS(`document.querySelectorAll('#queue li').length > 0`),
			// Turn the coverage and flight-track overlays on (the 3rd and
			// 4th checkboxes of the layer control), then let tiles settle.
			chromedp.Click(chromedp.CSS(`.leaflet-control-layers-overlays label:nth-child(3) input`)),
			chromedp.Click(chromedp.CSS(`.leaflet-control-layers-overlays label:nth-child(4) input`)),
			waitJS(`document.querySelector('#map').dataset.loaded === 'coverage tracks'`),
			chromedp.Focus(chromedp.CSS(`#queue`)),
		)
		mapPNG = shot(t, ctx, chromedp.CaptureScreenshot())
		queuePNG = shot(t, ctx, chromedp.Screenshot(chromedp.CSS(`#panel`)))
		run(t, ctx, "site page",
			// Tall enough for the whole page of evidence.
			chromedp.EmulateViewport(1280, 1900),
			gotoSite(site),
			waitJS(`document.querySelector('#site-view').dataset.siteId === `+jsString(site)),
			chromedp.WaitVisible(chromedp.CSS(`#decisions-h`)),
			// The site's evidence comes from a real detection run
			// (realBackend): its spectrum chart and plume image show.
			chromedp.WaitVisible(chromedp.CSS(`#spectrum-chart polyline.measured`)),
			waitJS(`document.querySelector('#plume-img') && document.querySelector('#plume-img').complete && document.querySelector('#plume-img').naturalWidth > 0`))
		sitePNG = shot(t, ctx, chromedp.CaptureScreenshot())
		for name, b := range map[string][]byte{"map": mapPNG, "queue": queuePNG, "site": sitePNG} {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s-%s: %v", name, c.lang, err)
			}
			if r := img.Bounds(); r.Dx() < 300 || r.Dy() < 300 {
				t.Fatalf("%s-%s: %v, too small", name, c.lang, r)
			}
			writeFile(t, filepath.Join(dir, name+"-"+c.lang+".png"), b)
		}
	}
}

func shot(t *testing.T, ctx context.Context, a chromedp.Action[[]byte]) []byte {
	t.Helper()
	b, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return b
}
