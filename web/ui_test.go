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

// TestQueueKeyboardAndSitePage: the queue is in the server's order, the
// keyboard moves through it and opens a site, whose page shows its
// evidence; dismissing needs a reason.
func TestQueueKeyboardAndSitePage(t *testing.T) {
	h := newHarness(t)
	ctx := newBrowser(t, "en-GB")
	consoleErrors(t, ctx, "analyst")
	login(t, ctx, h.URL, "alex", harnessPassword)
	run(t, ctx, "queue loads",
		waitJS(`document.querySelectorAll('#queue li').length === 3`))
	order := eval[[]string](t, ctx, `[...document.querySelectorAll('#queue li')].map(li => li.dataset.siteId)`)
	if strings.Join(order, ",") != "s-meth,s-fent,s-farm" {
		t.Fatalf("queue order %v, want the server's: s-meth,s-fent,s-farm", order)
	}
	run(t, ctx, "keyboard: down, enter",
		chromedp.Focus(chromedp.CSS(`#queue`)),
		chromedp.KeyEvent("\u0301"), // ArrowDown
		waitJS(`document.querySelector('#queue li[aria-selected="true"]').dataset.siteId === 's-fent'`),
		chromedp.KeyEvent("\r"),
		waitJS(`location.hash === '#/site/s-fent'`),
		chromedp.WaitVisible(chromedp.CSS(`#spectrum-chart`)),
	)
	// The evidence is drawn: two series on each chart, three passes, the
	// plume image decoded.
	got := eval[map[string]any](t, ctx, `({
		spectrum: document.querySelectorAll('#spectrum-chart polyline').length,
		trace: document.querySelectorAll('#trace-chart polyline').length,
		points: document.querySelector('#spectrum-chart polyline.measured').getAttribute('points').split(' ').length,
		passes: document.querySelectorAll('#passes tbody tr').length,
		notSeen: document.querySelectorAll('#passes tbody tr.not-seen').length,
		title: document.querySelector('#site-title').textContent,
	})`)
	if got["spectrum"].(float64) != 2 || got["trace"].(float64) != 2 || got["points"].(float64) != 64 ||
		got["passes"].(float64) != 3 || got["notSeen"].(float64) != 1 || got["title"] != "Candidate site: fentanyl laboratory" {
		t.Fatalf("site page %v", got)
	}
	run(t, ctx, "plume image loads", waitJS(`document.querySelector('#plume-img').complete && document.querySelector('#plume-img').naturalWidth === 48`))

	// Dismiss without a reason: refused in the page, nothing sent.
	run(t, ctx, "dismiss needs a reason",
		chromedp.Click(chromedp.CSS(`#act-dismiss`)),
		chromedp.Click(chromedp.CSS(`#dismiss-submit`)),
		waitJS(`document.querySelector('#reason-error').textContent === 'A reason is required to dismiss a site.'`))
	if v := h.sites["s-fent"].Version; v != 1 {
		t.Fatalf("version %d after a refused dismiss, want 1", v)
	}
	run(t, ctx, "dismiss with a reason",
		chromedp.SendKeys(chromedp.CSS(`#reason`), "a bakery: ethanol and steam"),
		chromedp.Click(chromedp.CSS(`#dismiss-submit`)),
		waitJS(`document.querySelector('#site-status').textContent === 'dismissed'`),
		waitJS(`document.querySelectorAll('#decisions li[data-action="dismiss"]').length === 1`),
		waitJS(`document.querySelector('#decisions q').textContent === 'a bakery: ethanol and steam'`),
	)
	run(t, ctx, "back to the queue: the dismissed site has left it",
		chromedp.Click(chromedp.CSS(`.site-head .close`)),
		waitJS(`[...document.querySelectorAll('#queue li')].map(li => li.dataset.siteId).join() === 's-meth,s-farm'`),
		waitJS(`document.querySelector('path.site-marker[data-site-id="s-fent"]').dataset.status === 'dismissed'`),
	)
}

func TestReleaseLiveHarness(t *testing.T) {
	_, b := harnessBackend(t)
	scenarioRelease(t, b)
}

func TestStaleDecisionHarness(t *testing.T) {
	_, b := harnessBackend(t)
	scenarioStale(t, b)
}

func TestSpanishHarness(t *testing.T) {
	_, b := harnessBackend(t)
	scenarioSpanish(t, b)
}
