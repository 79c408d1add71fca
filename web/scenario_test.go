package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// backend is what the browser scenarios run against: its URL, the users
// (an analyst of the owning host agency in English and in Spanish, a
// partner of the agency a site is released to, a partner of another
// agency), the candidate sites in the order the queue must show them, and
// how another analyst changes a site behind a page's back.
type backend struct {
	url                      string
	password                 string
	analystEN, analystES     string
	partner, otherPartner    string
	partnerAgency, otherAgcy string
	queue                    []string // candidate site ids, queue order
	titles                   map[string]string
	// concurrent makes a change to site id as another analyst would.
	concurrent func(t *testing.T, id string)
	// disable disables a user as an administrator would.
	disable func(t *testing.T, username string)
}

func harnessBackend(t *testing.T) (*harness, backend) {
	h := newHarness(t)
	return h, backend{
		url: h.URL, password: harnessPassword,
		analystEN: "alex", analystES: "ana", partner: "pat", otherPartner: "paulo",
		partnerAgency: "PER-DIRANDRO", otherAgcy: "BRA-PF",
		queue:      []string{"s-meth", "s-fent", "s-farm"},
		titles:     map[string]string{"s-fent": "Candidate site: fentanyl laboratory"},
		concurrent: func(t *testing.T, id string) { h.bump(id) },
	}
}

func queueIDs(t *testing.T, ctx context.Context) []string {
	return eval[[]string](t, ctx, `[...document.querySelectorAll('#queue li')].map(li => li.dataset.siteId)`)
}

func hasMarker(t *testing.T, ctx context.Context, id string) bool {
	return eval[bool](t, ctx, `!!document.querySelector(`+jsString(markerSelector(id))+`)`)
}

// scenarioRelease: an analyst confirms a site and releases it to a
// partner agency; the partner, already signed in, sees it appear on the
// map and in the list without reloading; a partner of another agency
// never does (it sees a later release to its own agency, so the stream
// was live when the first went by).
func scenarioRelease(t *testing.T, b backend) {
	analyst := newBrowser(t, "en-GB")
	partner := newBrowser(t, "en-US")
	other := newBrowser(t, "pt-BR")
	consoleErrors(t, analyst, "analyst")
	consoleErrors(t, partner, "partner")
	consoleErrors(t, other, "other partner")
	site, later := b.queue[0], b.queue[len(b.queue)-1]

	login(t, partner, b.url, b.partner, b.password)
	login(t, other, b.url, b.otherPartner, b.password)
	run(t, partner, "partner: live", waitJS(`document.querySelector('#live').dataset.state === 'on'`))
	run(t, other, "other partner: live, in Portuguese (its profile)",
		waitJS(`document.querySelector('#live').dataset.state === 'on'`),
		waitJS(`document.documentElement.lang === 'pt' && document.querySelector('#queue-title').textContent === 'Locais compartilhados com sua agência'`))
	if hasMarker(t, partner, site) || hasMarker(t, other, site) {
		t.Fatalf("partners see %s before its release", site)
	}

	login(t, analyst, b.url, b.analystEN, b.password)
	run(t, analyst, "analyst: queue", waitJS(`document.querySelectorAll('#queue li').length === `+itoa(len(b.queue))))
	if got := queueIDs(t, analyst); strings.Join(got, ",") != strings.Join(b.queue, ",") {
		t.Fatalf("queue %v, want %v", got, b.queue)
	}
	run(t, analyst, "open the first site and confirm it",
		chromedp.Click(chromedp.CSS(`#queue li[data-site-id=`+jsString(site)+`]`)),
		chromedp.WaitVisible(chromedp.CSS(`#act-confirm`)),
		chromedp.Click(chromedp.CSS(`#act-confirm`)),
		waitJS(`document.querySelector('#site-status').textContent === 'confirmed'`),
		waitJS(`document.querySelectorAll('#decisions li[data-action="confirm"]').length === 1`),
	)
	run(t, analyst, "release it to the partner agency",
		chromedp.Click(chromedp.CSS(`#act-release`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=agency][value=`+jsString(b.partnerAgency)+`]`)),
		chromedp.Click(chromedp.CSS(`input[name=agency][value=`+jsString(b.partnerAgency)+`]`)),
		chromedp.Click(chromedp.CSS(`#release-submit`)),
		waitJS(`document.querySelector('#site-status').textContent === 'released'`),
	)
	run(t, partner, "the partner sees it arrive live, on the map and in the list",
		waitJS(`!!document.querySelector(`+jsString(markerSelector(site))+`)`),
		waitJS(`[...document.querySelectorAll('#queue li')].some(li => li.dataset.siteId === `+jsString(site)+`)`),
		waitJS(`document.querySelector(`+jsString(markerSelector(site))+`).dataset.status === 'released'`),
	)
	// The partner's downloads: the site page's PDF report in the page's
	// language (English: pat's profile), the map's GeoJSON, KML and KMZ,
	// each fetched with the page's session.
	run(t, partner, "the partner opens the site: a PDF report link in English, a download menu on the map",
		gotoSite(site),
		waitJS(`document.querySelector('#site-view').dataset.siteId === `+jsString(site)),
		chromedp.WaitVisible(chromedp.CSS(`#report-link`)),
		chromedp.WaitVisible(chromedp.CSS(`#download-menu`)),
	)
	if href := eval[string](t, partner, `document.querySelector('#report-link').getAttribute('href')`); href != "/api/v1/sites/"+site+"/report.pdf?lang=en" {
		t.Errorf("report link %q", href)
	}
	fetched := eval[string](t, partner, `(async () => {
		const get = async (u) => { const r = await fetch(u); const b = new Uint8Array(await r.arrayBuffer());
			return r.status + ' ' + r.headers.get('content-type') + ' ' + String.fromCharCode(...b.slice(0, 5)) + ' ' + (new TextDecoder().decode(b).includes(`+jsString(site)+`)); };
		const links = ['#report-link', '#download-geojson', '#download-kml', '#download-kmz'].map((s) => document.querySelector(s).href);
		return (await Promise.all(links.map(get))).join('\n');
	})()`, chromedp.EvalAwaitPromise)
	want := strings.Join([]string{"200 application/pdf %PDF- ", "200 application/geo+json {\"typ true", "200 application/vnd.google-earth.kml+xml <?xml true", "200 application/vnd.google-earth.kmz PK\x03\x04\x14 "}, "\n")
	if lines, wl := strings.Split(fetched, "\n"), strings.Split(want, "\n"); len(lines) != 4 ||
		!strings.HasPrefix(lines[0], wl[0]) || lines[1] != wl[1] || lines[2] != wl[2] || !strings.HasPrefix(lines[3], "200 application/vnd.google-earth.kmz PK") {
		t.Errorf("the partner's downloads:\n%s", fetched)
	}
	if eval[bool](t, other, `!!document.querySelector('#download-menu')`) != true {
		t.Errorf("the other partner (a partner too) has no download menu")
	}
	// A later release to the other agency reaches the other partner: its
	// stream was live, and the first release was not for it.
	run(t, analyst, "release a second site to the other agency",
		gotoSite(later),
		waitJS(`document.querySelector('#site-view').dataset.siteId === `+jsString(later)),
		chromedp.WaitVisible(chromedp.CSS(`#act-release`)),
		chromedp.Click(chromedp.CSS(`#act-release`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=agency][value=`+jsString(b.otherAgcy)+`]`)),
		chromedp.Click(chromedp.CSS(`input[name=agency][value=`+jsString(b.otherAgcy)+`]`)),
		chromedp.Click(chromedp.CSS(`#release-submit`)),
		waitJS(`document.querySelector('#site-status').textContent === 'released'`),
	)
	run(t, other, "the other partner sees its own release",
		waitJS(`!!document.querySelector(`+jsString(markerSelector(later))+`)`))
	if hasMarker(t, other, site) {
		t.Fatalf("a partner of %s sees %s, released only to %s", b.otherAgcy, site, b.partnerAgency)
	}
	if ids := queueIDs(t, other); strings.Contains(strings.Join(ids, ","), site) {
		t.Fatalf("other partner's list %v has %s", ids, site)
	}
	if hasMarker(t, partner, later) {
		t.Fatalf("a partner of %s sees %s, released only to %s", b.partnerAgency, later, b.otherAgcy)
	}
}

// scenarioStale: a page whose site changed behind its back (its live
// stream blocked, so it cannot know) sends a decision on the old version;
// the server answers 412 and the page reloads the site and says so,
// without the decision.
func scenarioStale(t *testing.T, b backend) {
	ctx := newBrowser(t, "en-GB")
	consoleErrors(t, ctx, "analyst")
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
		URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/api/v1/events*", Block: true}}}); err != nil {
		t.Fatalf("block the event stream: %v", err)
	}
	site := b.queue[1]
	login(t, ctx, b.url, b.analystEN, b.password)
	run(t, ctx, "open a site",
		gotoSite(site),
		waitJS(`document.querySelector('#site-view').dataset.siteId === `+jsString(site)),
		chromedp.WaitVisible(chromedp.CSS(`#act-confirm`)))
	before := eval[string](t, ctx, `document.querySelector('.version').textContent`)
	b.concurrent(t, site)
	run(t, ctx, "confirm on the stale version",
		chromedp.Click(chromedp.CSS(`#act-confirm`)),
		waitJS(`document.querySelector('#action-out').textContent.startsWith('Someone changed this site meanwhile')`))
	after := eval[string](t, ctx, `document.querySelector('.version').textContent`)
	if before == after {
		t.Fatalf("version still %q after the 412: the page did not reload the site", after)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#decisions li[data-action="confirm"]').length`); n != 0 {
		t.Fatalf("%d confirm decisions recorded from a stale page", n)
	}
	// On the reloaded version a decision goes through: a revisit, whose
	// answer carries the survey plan to fly.
	run(t, ctx, "request a revisit: the plan is shown",
		chromedp.Click(chromedp.CSS(`#act-revisit`)),
		waitJS(`!!document.querySelector('#plan-summary') && !!document.querySelector('#plan-link-plan')`),
		waitJS(`Number(document.querySelector('#map').dataset.plan) > 0`))
	// The server answers with the survey plan (internal/server: a circle of
	// at least 150 m around the site): its files are linked, and its lines
	// drawn on the map. The QGroundControl file downloads as an attachment.
	got := eval[map[string]any](t, ctx, `(async () => {
		const a = document.querySelector('#plan-link-plan');
		const r = await fetch(a.href);
		const p = await r.json();
		return { href: a.getAttribute('href'), links: document.querySelectorAll('#plan-links a[download]').length,
			disposition: r.headers.get('Content-Disposition') || '', fileType: p.fileType,
			lines: Number(document.querySelector('#map').dataset.plan),
			drawn: document.querySelectorAll('#map path.plan-line').length,
			summary: (document.querySelector('#plan-summary') || {}).textContent || '' };
	})()`, chromedp.EvalAwaitPromise)
	if href, _ := got["href"].(string); !strings.HasSuffix(href, "/plan.plan") || got["links"] != 4.0 {
		t.Fatalf("plan links %v", got)
	}
	if d, _ := got["disposition"].(string); !strings.HasPrefix(d, "attachment;") || got["fileType"] != "Plan" {
		t.Fatalf("plan file: %v", got)
	}
	if got["drawn"] != got["lines"] || !strings.Contains(got["summary"].(string), "lines") {
		t.Fatalf("plan on the map: %v", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#decisions li[data-action="revisit"]').length`); n != 2 {
		t.Fatalf("%d revisit decisions shown, want 2 (the other analyst's and ours)", n)
	}
}

// scenarioSpanish: an analyst whose profile says Spanish gets the page in
// Spanish, with Spanish number and date formats, whatever the browser's
// language.
func scenarioSpanish(t *testing.T, b backend) {
	ctx := newBrowser(t, "en-US")
	consoleErrors(t, ctx, "analyst")
	login(t, ctx, b.url, b.analystES, b.password)
	run(t, ctx, "queue in Spanish",
		waitJS(`document.querySelectorAll('#queue li').length > 0`),
		waitJS(`document.documentElement.lang === 'es'`))
	got := eval[map[string]string](t, ctx, `({
		title: document.querySelector('#queue-title').textContent,
		logout: document.querySelector('#logout').textContent,
		prob: document.querySelector('#queue li .prob').textContent,
	})`)
	if got["title"] != "Cola de revisión" || got["logout"] != "Cerrar sesión" {
		t.Fatalf("Spanish profile: %v", got)
	}
	// Intl's Spanish percent puts a (non-breaking) space before the sign.
	if !strings.HasSuffix(got["prob"], "\u00a0%") {
		t.Fatalf("probability %q, want Spanish percent format (NBSP before %%)", got["prob"])
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// scenarioDismiss: the queue is in the server's order, the keyboard moves
// through it and opens a site, whose page shows the evidence the API
// returns; dismissing needs a reason, and the dismissed site leaves the
// queue and is restyled on the map.
func scenarioDismiss(t *testing.T, b backend) {
	ctx := newBrowser(t, "en-GB")
	consoleErrors(t, ctx, "analyst")
	login(t, ctx, b.url, b.analystEN, b.password)
	run(t, ctx, "queue loads", waitJS(`document.querySelectorAll('#queue li').length === `+itoa(len(b.queue))))
	if got := queueIDs(t, ctx); strings.Join(got, ",") != strings.Join(b.queue, ",") {
		t.Fatalf("queue order %v, want the server's: %v", got, b.queue)
	}
	site := b.queue[1]
	run(t, ctx, "keyboard: down, enter",
		chromedp.Focus(chromedp.CSS(`#queue`)),
		chromedp.KeyEvent(kb.ArrowDown),
		waitJS(`document.querySelector('#queue li[aria-selected="true"]').dataset.siteId === `+jsString(site)),
		waitJS(`document.querySelector('#queue').getAttribute('aria-activedescendant') === document.querySelector('#queue li[aria-selected="true"]').id`),
		chromedp.KeyEvent(kb.Enter),
		waitJS(`location.hash === '#/site/' + `+jsString(site)),
		chromedp.WaitVisible(chromedp.CSS(`#passes-h`)),
	)
	// The page shows what the API returned for the site's evidence.
	got := eval[map[string]any](t, ctx, `(async () => {
		const ev = await (await fetch('/api/v1/sites/' + `+jsString(site)+` + '/evidence')).json();
		const pts = (sel) => { const p = document.querySelector(sel); return p ? p.getAttribute('points').trim().split(' ').length : 0; };
		return {
			title: document.querySelector('#site-title').textContent,
			wantSpectrum: (ev.spectrum.wavelength_um || []).length,
			spectrum: pts('#spectrum-chart polyline.measured'),
			library: pts('#spectrum-chart polyline.library'),
			wantTrace: (ev.trace.t || []).length,
			trace: pts('#trace-chart polyline.measured'),
			wantPasses: ev.passes.length,
			passes: document.querySelectorAll('#passes tbody tr').length,
			wantNotSeen: ev.passes.filter(p => !p.seen).length,
			notSeen: document.querySelectorAll('#passes tbody tr.not-seen').length,
			wantPlume: !!ev.plume_png,
			plume: !!document.querySelector('#plume-img'),
			wantPlumes: ev.detections.filter(d => d.outline).length,
			plumes: document.querySelectorAll('.leaflet-plumes-pane path.plume').length,
			wantCountry: ev.place.country,
			country: document.querySelector('[data-place="country"]').textContent,
			municipality: document.querySelector('[data-place="municipality"]').textContent,
		};
	})()`, chromedp.EvalAwaitPromise)
	// No municipal boundaries are loaded: the page says so; the country is
	// the API's (Natural Earth's, named as the source).
	if c, _ := got["wantCountry"].(string); c == "" || !strings.HasPrefix(got["country"].(string), c) ||
		!strings.Contains(got["country"].(string), "source: Natural Earth admin-0") ||
		got["municipality"] != "not determined (no municipal boundaries loaded)" {
		t.Fatalf("site page place: %v", got)
	}
	if got["title"] != b.titles[site] ||
		got["spectrum"] != got["wantSpectrum"] || got["library"] != got["wantSpectrum"] || got["trace"] != got["wantTrace"] ||
		got["passes"] != got["wantPasses"] || got["notSeen"] != got["wantNotSeen"] || got["plume"] != got["wantPlume"] || got["plumes"] != got["wantPlumes"] {
		t.Fatalf("site page does not show the API's evidence: %v", got)
	}
	version := func() float64 {
		return eval[float64](t, ctx, `(async () => (await (await fetch('/api/v1/sites/' + `+jsString(site)+`)).json()).version)()`, chromedp.EvalAwaitPromise)
	}
	v0 := version()
	run(t, ctx, "dismiss needs a reason",
		chromedp.Click(chromedp.CSS(`#act-dismiss`)),
		chromedp.Click(chromedp.CSS(`#dismiss-submit`)),
		waitJS(`document.querySelector('#reason-error').textContent === 'A reason is required to dismiss a site.'`),
		waitJS(`document.activeElement === document.querySelector('#reason')`))
	if v := version(); v != v0 {
		t.Fatalf("version %v after a refused dismiss, want %v: something was sent", v, v0)
	}
	run(t, ctx, "dismiss with a reason",
		chromedp.SendKeys(chromedp.CSS(`#reason`), "a bakery: ethanol and steam"),
		chromedp.Click(chromedp.CSS(`#dismiss-submit`)),
		waitJS(`document.querySelector('#site-status').textContent === 'dismissed'`),
		waitJS(`document.querySelectorAll('#decisions li[data-action="dismiss"]').length === 1`),
		waitJS(`document.querySelector('#decisions q').textContent === 'a bakery: ethanol and steam'`),
		waitJS(`document.querySelector('#decisions li[data-action="dismiss"]').textContent.includes('by you')`),
	)
	if v := version(); v != v0+1 {
		t.Fatalf("version %v after the dismiss, want %v", v, v0+1)
	}
	rest := append([]string{b.queue[0]}, b.queue[2:]...)
	run(t, ctx, "back to the queue: the dismissed site has left it, its marker restyled",
		chromedp.Click(chromedp.CSS(`.site-head .close`)),
		waitJS(`[...document.querySelectorAll('#queue li')].map(li => li.dataset.siteId).join() === `+jsString(strings.Join(rest, ","))),
		waitJS(`document.querySelector(`+jsString(markerSelector(site))+`).dataset.status === 'dismissed'`),
	)
}

// contrastJS lists the visible elements whose own text has less than
// WCAG 2's 4.5:1 contrast with the background behind it (relative
// luminance and ratio as WCAG 2.2 defines them, §1.4.3).
const contrastJS = `(() => {
	const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const v = m[1].split(',').map(Number); return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1}; };
	const lum = ({r, g, b}) => { const f = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
	const bg = (e) => { for (; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
	const bad = [];
	let checked = 0;
	for (const e of document.querySelectorAll('body *')) {
		if (e.closest('svg') || !e.getClientRects().length) continue;
		if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
		const cs = getComputedStyle(e);
		if (cs.visibility === 'hidden' || Number(cs.opacity) === 0 || e.closest('.toast:not(.show)')) continue;
		const L1 = lum(parse(cs.color)), L2 = lum(bg(e));
		const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
		checked++;
		if (ratio < 4.5) bad.push(e.tagName + '.' + e.className + ' "' + e.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2));
	}
	return {bad, checked};
})()`

type contrastResult struct {
	Bad     []string `json:"bad"`
	Checked int      `json:"checked"`
}

// scenarioContrast: every visible text of the queue, the map's controls
// and legend, and a site page with the dismiss and release forms open
// reads at 4.5:1 or better, probability badges of every class included.
func scenarioContrast(t *testing.T, b backend) {
	ctx := newBrowser(t, "en-GB")
	consoleErrors(t, ctx, "analyst")
	login(t, ctx, b.url, b.analystEN, b.password)
	run(t, ctx, "queue", waitJS(`document.querySelectorAll('#queue li').length === `+itoa(len(b.queue))))
	check := func(where string, min int) {
		r := eval[contrastResult](t, ctx, contrastJS)
		if len(r.Bad) > 0 || r.Checked < min {
			t.Errorf("%s: %d texts checked, below 4.5:1: %v", where, r.Checked, r.Bad)
		}
	}
	check("queue and map", 30)
	run(t, ctx, "site page with its forms",
		gotoSite(b.queue[0]),
		waitJS(`document.querySelector('#site-view').dataset.siteId === `+jsString(b.queue[0])),
		chromedp.Click(chromedp.CSS(`#act-dismiss`)),
		chromedp.Click(chromedp.CSS(`#dismiss-submit`)),
		waitJS(`document.querySelector('#reason-error').textContent !== ''`))
	check("site page, dismiss form with its error", 40)
	run(t, ctx, "release form",
		chromedp.Click(chromedp.CSS(`#act-release`)),
		chromedp.WaitVisible(chromedp.CSS(`#release-submit`)))
	check("site page, release form", 40)
}

// scenarioSessionEnded: an administrator disables a signed-in analyst; the
// server ends the analyst's event stream ("unauthorized") and the page
// stops showing sites and asks to sign in again, saying why.
func scenarioSessionEnded(t *testing.T, b backend) {
	ctx := newBrowser(t, "en-GB")
	consoleErrors(t, ctx, "analyst")
	login(t, ctx, b.url, b.analystEN, b.password)
	run(t, ctx, "live", waitJS(`document.querySelector('#live').dataset.state === 'on'`))
	b.disable(t, b.analystEN)
	run(t, ctx, "the page signs out",
		chromedp.WaitVisible(chromedp.CSS(`#login`)),
		waitJS(`document.querySelector('#app').hidden && document.querySelector('#login-error').textContent === 'Your session has ended: sign in again.'`),
		waitJS(`document.querySelector('#live').dataset.state === 'off'`))
}

// scenarioLivePage: an analyst has a site's page open; another analyst
// decides on it; the open page shows the new status, version and
// decision in place, without a reload, and the queue behind it follows.
func scenarioLivePage(t *testing.T, b backend) {
	ctx := newBrowser(t, "en-GB")
	consoleErrors(t, ctx, "analyst")
	login(t, ctx, b.url, b.analystEN, b.password)
	site := b.queue[len(b.queue)-1]
	run(t, ctx, "open a site",
		waitJS(`document.querySelector('#live').dataset.state === 'on'`),
		gotoSite(site),
		waitJS(`document.querySelector('#site-view').dataset.siteId === `+jsString(site)),
		chromedp.WaitVisible(chromedp.CSS(`#act-confirm`)),
		// A mark on the document: a reload would lose it.
		waitJS(`(window.__noReload = true)`))
	v0 := eval[string](t, ctx, `document.querySelector('#site-view').dataset.version`)
	b.concurrent(t, site)
	run(t, ctx, "the open page follows",
		waitJS(`document.querySelector('#site-status').textContent === 'revisit requested'`),
		waitJS(`document.querySelector('#site-view').dataset.version !== `+jsString(v0)),
		waitJS(`document.querySelectorAll('#decisions li[data-action="revisit"]').length === 1`),
		waitJS(`document.querySelector('#queue li[data-site-id=`+jsString(site)+`] .badge').textContent === 'revisit requested'`),
		waitJS(`window.__noReload === true`))
}
