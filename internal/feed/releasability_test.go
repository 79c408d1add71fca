package feed

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/store"
)

// A site released only to agency A never reaches agency B: not through B's
// webhook, not on B's NATS subject (live or replayed), not in B's GeoJSON,
// KML or KMZ exports, not through the OGC API as B.
func TestReleasability(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.DB, _ string) {
		ctx := t.Context()
		putAgencies(t, st, "COLPNC", "A", "B")
		rA, rB := newReceiver(t, secretA), newReceiver(t, secretB)
		for _, h := range []store.Webhook{{AgencyID: "A", URL: rA.url(), Secret: secretA}, {AgencyID: "B", URL: rB.url(), Secret: secretB}} {
			if _, err := st.PutWebhook(ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		nc := startNATS(t)
		ns, err := NewNATSSink(ctx, nc, NATSConfig{})
		if err != nil {
			t.Fatal(err)
		}
		liveB, err := nc.SubscribeSync(SitesSubjectOf("B"))
		if err != nil {
			t.Fatal(err)
		}
		opt := fastOptions(st)
		opt.Sinks = []Sink{ns}
		runDispatcher(t, NewDispatcher(st, opt))

		onlyA, onlyB, ownerOnly := newSite(t, st, 4.60, -74.10), newSite(t, st, 4.62, -74.12), newSite(t, st, 4.64, -74.14)
		evA1 := release(t, st, onlyA.ID, "COLPNC", "A")
		evB := release(t, st, onlyB.ID, "COLPNC", "B")
		evA2 := release(t, st, onlyA.ID, "COLPNC", "A")
		evOwn := release(t, st, ownerOnly.ID, "COLPNC")
		waitFor(t, 20*time.Second, "every delivery", func() bool {
			n, err := st.PendingDeliveries(ctx, "")
			return err == nil && n == 0 && rA.distinct() == 2 && rB.distinct() == 1
		})
		sites := func(evs []Event) []string {
			var out []string
			for _, e := range evs {
				out = append(out, e.Site.ID)
			}
			slices.Sort(out)
			return slices.Compact(out)
		}
		if got := sites(rA.snapshot()); !slices.Equal(got, []string{onlyA.ID}) {
			t.Fatalf("A's webhook got sites %v, want only %s", got, onlyA.ID)
		}
		if got := sites(rB.snapshot()); !slices.Equal(got, []string{onlyB.ID}) {
			t.Fatalf("B's webhook got sites %v, want only %s", got, onlyB.ID)
		}
		// NATS: each agency's subject replays its events only; the owner's
		// has every one.
		checkIDs := func(what string, sorted bool, got []Event, want ...Event) {
			t.Helper()
			var g, w []string
			for _, e := range got {
				g = append(g, e.ID)
			}
			for _, e := range want {
				w = append(w, e.ID)
			}
			if sorted { // across sites, order is not promised
				slices.Sort(g)
				slices.Sort(w)
			}
			if !slices.Equal(g, w) {
				t.Fatalf("%s: events %v, want %v", what, g, w)
			}
		}
		checkIDs("subject A", false, streamEvents(t, nc, "A"), evA1, evA2)
		checkIDs("subject B", false, streamEvents(t, nc, "B"), evB)
		checkIDs("subject COLPNC", true, streamEvents(t, nc, "COLPNC"), evA1, evB, evA2, evOwn)
		m, err := liveB.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var live Event
		if err := json.Unmarshal(m.Data, &live); err != nil || live.ID != evB.ID {
			t.Fatalf("live message on B: %s (%v), want %s", m.Data, err, evB.ID)
		}
		if m, err := liveB.NextMsg(200 * time.Millisecond); err == nil {
			t.Fatalf("a second live message on B: %s", m.Data)
		}

		// Exports and the OGC API, as B.
		cat := &Catalog{Sites: st, Audience: StoreAudience(st, fixedOwner("COLPNC"))}
		pB := access.Principal{UserID: "u-B", AgencyID: "B", Role: access.RolePartner}
		vis, _, err := cat.Visible(ctx, pB, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(vis) != 1 || vis[0].ID != onlyB.ID || !slices.Equal(vis[0].ReleasedTo, []string{"B"}) || vis[0].Owner != "COLPNC" {
			t.Fatalf("sites B may see: %+v", vis)
		}
		var gj, kml, kmz bytes.Buffer
		if err := WriteGeoJSON(&gj, vis); err != nil {
			t.Fatal(err)
		}
		if err := WriteKML(&kml, "B", vis, nil); err != nil {
			t.Fatal(err)
		}
		if err := WriteKMZ(ctx, &kmz, "B", vis, testImages); err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"geojson": gj.Bytes(), "kml": kml.Bytes()} {
			if bytes.Contains(b, []byte(onlyA.ID)) || bytes.Contains(b, []byte(ownerOnly.ID)) || !bytes.Contains(b, []byte(onlyB.ID)) {
				t.Fatalf("B's %s export holds other agencies' sites:\n%s", name, b)
			}
		}
		srv := httptest.NewServer(http.StripPrefix("/ogc", OGCHandler(HandlerConfig{Catalog: cat, Principal: testPrincipal, Prefix: "/ogc"})))
		defer srv.Close()
		exp := httptest.NewServer(http.StripPrefix("/export", ExportHandler(HandlerConfig{Catalog: cat, Principal: testPrincipal, Prefix: "/export", Images: testImages})))
		defer exp.Close()
		get := func(url, agency string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			if agency != "" {
				req.Header.Set(agencyHeader, agency)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		for _, u := range []string{srv.URL + "/ogc/collections/sites/items", exp.URL + "/export/sites.geojson", exp.URL + "/export/sites.kml"} {
			code, body := get(u, "B")
			if code != 200 || strings.Contains(body, onlyA.ID) || strings.Contains(body, ownerOnly.ID) || !strings.Contains(body, onlyB.ID) {
				t.Fatalf("GET %s as B: %d\n%s", u, code, body)
			}
		}
		if code, body := get(srv.URL+"/ogc/collections/sites/items/"+onlyA.ID, "B"); code != http.StatusNotFound {
			t.Fatalf("GET A's site as B: %d %s, want 404", code, body)
		}
		if code, body := get(srv.URL+"/ogc/collections/sites/items/"+onlyA.ID, "A"); code != http.StatusOK || !strings.Contains(body, onlyA.ID) {
			t.Fatalf("GET A's site as A: %d %s", code, body)
		}
		if code, _ := get(srv.URL+"/ogc/collections/sites/items", ""); code != http.StatusUnauthorized {
			t.Fatalf("GET items without a principal: %d, want 401", code)
		}
		code, body := get(exp.URL+"/export/sites.kmz", "B")
		if code != 200 {
			t.Fatalf("GET kmz as B: %d %s", code, body)
		}
		for _, f := range kmzFiles(t, []byte(body)) {
			if strings.Contains(f, onlyA.ID) || strings.Contains(f, ownerOnly.ID) {
				t.Fatalf("B's KMZ holds %s", f)
			}
		}
	})
}

// An alert written without an Event payload (store.EnqueueAlert, as code
// that does not use Enqueue writes it) is delivered as the Event of the
// site's current state, to the agencies that may see it only.
func TestAlertWithoutEventPayload(t *testing.T) {
	st := openStore(t, "sqlite:"+t.TempDir()+"/a.db")
	ctx := t.Context()
	putAgencies(t, st, "COLPNC", "A", "B")
	rA, rB := newReceiver(t, secretA), newReceiver(t, secretB)
	for _, h := range []store.Webhook{{AgencyID: "A", URL: rA.url(), Secret: secretA}, {AgencyID: "B", URL: rB.url(), Secret: secretB}} {
		if _, err := st.PutWebhook(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	cat := &Catalog{Sites: st, Audience: StoreAudience(st, fixedOwner("COLPNC"))}
	opt := fastOptions(st)
	opt.Site = cat.Lookup
	runDispatcher(t, NewDispatcher(st, opt))
	s := newSite(t, st, 4.6, -74.1)
	var a store.Alert
	err := st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.ReleaseSite(ctx, store.Release{SiteID: s.ID, AgencyID: "A", ReleasedBy: "ana"}); err != nil {
			return err
		}
		var err error
		a, err = tx.EnqueueAlert(ctx, store.Alert{SiteID: s.ID, Kind: "site.release", Payload: `{"site_id":"` + s.ID + `","version":2}`})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the alert at A", func() bool { return rA.distinct() == 1 })
	waitFor(t, 10*time.Second, "the queues to empty", func() bool {
		n, err := st.PendingDeliveries(ctx, "")
		return err == nil && n == 0
	})
	ev := rA.snapshot()[0]
	if ev.ID != a.ID || ev.Kind != "site.release" || ev.Site.ID != s.ID || ev.Site.Owner != "COLPNC" ||
		!slices.Equal(ev.Site.ReleasedTo, []string{"A"}) || ev.Site.Lat != s.Lat {
		t.Fatalf("event at A: %+v", ev)
	}
	if n := len(rB.snapshot()); n != 0 {
		t.Fatalf("B got %d events", n)
	}
}

// A dispatcher that polls once an hour delivers an alert at once when
// another process (here: another connection) wakes it over NATS.
func TestWakeOverNATS(t *testing.T) {
	st := openStore(t, "sqlite:"+t.TempDir()+"/a.db")
	ctx := t.Context()
	putAgencies(t, st, "COLPNC", "A")
	r := newReceiver(t, secretA)
	if _, err := st.PutWebhook(ctx, store.Webhook{AgencyID: "A", URL: r.url(), Secret: secretA}); err != nil {
		t.Fatal(err)
	}
	nc := startNATS(t)
	opt := fastOptions(st)
	opt.Poll = time.Hour
	d := NewDispatcher(st, opt)
	sub, err := d.ListenWake(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	runDispatcher(t, d)
	// The dispatcher's first pass lists the webhook and finds nothing.
	waitFor(t, 10*time.Second, "the webhook's worker", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.sinks) == 1
	})
	s := newSite(t, st, 4.6, -74.1)
	release(t, st, s.ID, "COLPNC", "A")
	other, err := pipeline.Connect(nc.ConnectedUrl(), "releaser")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := Wake(other); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the woken delivery", func() bool { return r.distinct() == 1 })
}
