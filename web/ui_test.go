package web_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// consoleErrors collects the page's console errors and uncaught
// exceptions; the test fails on any at its end.
func consoleErrors(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	msgs := chromedp.Console(ctx)
	var mu sync.Mutex
	var errs []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			s := strings.ToLower(m.String())
			// HTTP statuses the browser logs (401 before login, 404 for
			// an absent imagery layer, 412 on a stale decision) are part
			// of the behaviour under test, asserted in the page.
			if strings.Contains(s, "failed to load resource") {
				continue
			}
			if strings.Contains(s, "error") || strings.Contains(s, "exception") {
				mu.Lock()
				errs = append(errs, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("%s: browser console: %s", name, e)
		}
	})
}

// TestEvidenceCharts draws a site's evidence from a fixture the real
// server cannot produce yet (it returns no spectrum, trace or plume image
// until the evidence work lands): the chart puts the library signature's
// peak where the axis says 8.23 µm, every sample is drawn, the passes
// surveyed without a detection are marked, the plume image decodes.
func TestEvidenceCharts(t *testing.T) {
	_, b := harnessBackend(t)
	ctx := newBrowser(t, "en-GB")
	consoleErrors(t, ctx, "analyst")
	login(t, ctx, b.url, b.analystEN, b.password)
	run(t, ctx, "open a site",
		gotoSite("s-fent"),
		chromedp.WaitVisible(chromedp.CSS(`#spectrum-chart`)),
		waitJS(`document.querySelector('#plume-img').complete && document.querySelector('#plume-img').naturalWidth === 48`))
	got := eval[map[string]float64](t, ctx, `(() => {
		const pts = (sel) => document.querySelector(sel).getAttribute('points').trim().split(' ').map(p => p.split(',').map(Number));
		const lib = pts('#spectrum-chart polyline.library');
		const top = lib.reduce((a, p) => (p[1] < a[1] ? p : a));
		// The x axis's tick labelled 8 and the one labelled 10.
		const ticks = [...document.querySelectorAll('#spectrum-chart .axes text')].filter(e => e.getAttribute('text-anchor') === 'middle' && /^\d+$/.test(e.textContent));
		const at = (v) => Number(ticks.find(e => e.textContent === String(v)).getAttribute('x'));
		return {
			samples: lib.length, measured: pts('#spectrum-chart polyline.measured').length, trace: pts('#trace-chart polyline.fit').length,
			peakUm: 8 + (top[0] - at(8)) / (at(10) - at(8)) * 2,
			notSeen: document.querySelectorAll('#passes tbody tr.not-seen').length,
			// The gas table: a source grid's evidence has no column (—).
			peakDash: document.querySelector('table.gases tbody tr td:nth-of-type(2)').textContent === '—' ? 1 : 0,
			rate: parseFloat(document.querySelector('table.gases tbody tr td:nth-of-type(3)').textContent),
			passes: document.querySelectorAll('#passes tbody tr').length,
		};
	})()`)
	// The fixture's library band is exp(−(λ−8.2)²/0.05) sampled at
	// 7.6 + 0.09·i µm: its largest sample is at i = 7, 8.23 µm.
	if got["samples"] != 64 || got["measured"] != 64 || got["trace"] != 120 || got["passes"] != 3 || got["notSeen"] != 1 ||
		got["peakUm"] < 8.22 || got["peakUm"] > 8.24 || got["peakDash"] != 1 || got["rate"] != 0.55 {
		t.Fatalf("evidence drawn %v, want 64 spectrum samples, 120 trace samples, peak at 8.23 µm, 3 passes, 1 not seen, gas peak — and rate 0.55", got)
	}
}
