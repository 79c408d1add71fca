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

func TestQueueKeyboardAndSitePageHarness(t *testing.T) {
	_, b := harnessBackend(t)
	scenarioDismiss(t, b)
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
