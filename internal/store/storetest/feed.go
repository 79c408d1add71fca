package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// feedStore is what the feed tests need beyond store.Store.
type feedStore interface {
	store.Store
	store.Deliveries
	store.Webhooks
}

func asFeed(t *testing.T, s store.Store) feedStore {
	t.Helper()
	f, ok := s.(feedStore)
	if !ok {
		t.Fatalf("%T implements neither store.Deliveries nor store.Webhooks", s)
	}
	return f
}

func enqueue(t *testing.T, s store.Store, siteID, kind string) store.Alert {
	t.Helper()
	return must(s.EnqueueAlert(ctx, store.Alert{SiteID: siteID, Kind: kind, Payload: `{"n":"` + kind + `"}`}))(t)
}

func deliveryIDs(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func testFanOut(t *testing.T, st store.Store, clock *Clock) {
	s := asFeed(t, st)
	site := must(s.CreateSite(ctx, store.Site{Lat: 4.6, Lon: -74.1, Status: store.SiteReleased}))(t)
	a := enqueue(t, s, site.ID, "site.released")
	if err := s.FanOut(ctx, a.ID, []string{"webhook:1", "nats"}); err != nil {
		t.Fatal(err)
	}
	if got := must(s.ClaimOutbox(ctx, 10, time.Minute))(t); len(got) != 0 {
		t.Fatalf("outbox after fan-out: %+v", got)
	}
	wantErr(t, s.FanOut(ctx, a.ID, []string{"webhook:1"}), store.ErrNotFound, "FanOut twice")
	for _, sink := range []string{"webhook:1", "nats"} {
		got := must(s.ClaimDeliveries(ctx, sink, 10, time.Minute))(t)
		if len(got) != 1 || got[0].ID != a.ID || got[0].Sink != sink || got[0].SiteID != site.ID ||
			got[0].Kind != a.Kind || got[0].Payload != a.Payload || !got[0].Created.Equal(a.Created) || got[0].Attempts != 1 {
			t.Fatalf("ClaimDeliveries(%s) = %+v, want alert %+v", sink, got, a)
		}
	}
	if n := must(s.PendingDeliveries(ctx, ""))(t); n != 2 {
		t.Fatalf("PendingDeliveries = %d, want 2", n)
	}
	// No sink may see it: the alert leaves the outbox and goes nowhere.
	b := enqueue(t, s, site.ID, "site.updated")
	if err := s.FanOut(ctx, b.ID, nil); err != nil {
		t.Fatal(err)
	}
	if n := must(s.PendingDeliveries(ctx, ""))(t); n != 2 {
		t.Fatalf("PendingDeliveries after an empty fan-out = %d, want 2", n)
	}
	wantErr(t, s.FanOut(ctx, "nope", []string{"nats"}), store.ErrNotFound, "FanOut(unknown)")
	c := enqueue(t, s, site.ID, "site.updated")
	wantErr(t, s.FanOut(ctx, c.ID, []string{""}), store.ErrInvalid, "FanOut(empty sink)")
	// The refused fan-out left the alert in the outbox.
	clock.Advance(time.Second)
	if got := must(s.ClaimOutbox(ctx, 10, time.Minute))(t); len(got) != 1 || got[0].ID != c.ID {
		t.Fatalf("outbox after a refused fan-out: %+v", got)
	}
}

// testDeliveryOrder: per sink and site, one delivery in flight, oldest
// first; other sites and other sinks are not held back.
func testDeliveryOrder(t *testing.T, st store.Store, clock *Clock) {
	s := asFeed(t, st)
	siteA := must(s.CreateSite(ctx, store.Site{Lat: 4.6, Lon: -74.1}))(t)
	siteB := must(s.CreateSite(ctx, store.Site{Lat: 4.7, Lon: -74.2}))(t)
	var as, bs []store.Alert
	for i := range 3 {
		as = append(as, enqueue(t, s, siteA.ID, fmt.Sprintf("a%d", i)))
		clock.Advance(time.Millisecond)
		bs = append(bs, enqueue(t, s, siteB.ID, fmt.Sprintf("b%d", i)))
		clock.Advance(time.Millisecond)
	}
	// Fan out in reverse: the queue orders by the alerts' creation.
	all := append(append([]store.Alert{}, as...), bs...)
	for i := len(all) - 1; i >= 0; i-- {
		if err := s.FanOut(ctx, all[i].ID, []string{"w", "v"}); err != nil {
			t.Fatal(err)
		}
	}
	got := must(s.ClaimDeliveries(ctx, "w", 10, time.Minute))(t)
	if fmt.Sprint(deliveryIDs(got)) != fmt.Sprint([]string{as[0].ID, bs[0].ID}) {
		t.Fatalf("first claim = %v, want the heads %v %v", deliveryIDs(got), as[0].ID, bs[0].ID)
	}
	// Within the lease nothing more is due for w: the heads are in flight.
	if more := must(s.ClaimDeliveries(ctx, "w", 10, time.Minute))(t); len(more) != 0 {
		t.Fatalf("claim with heads in flight = %v", deliveryIDs(more))
	}
	// The other sink is not held back.
	if v := must(s.ClaimDeliveries(ctx, "v", 1, time.Minute))(t); len(v) != 1 || v[0].ID != as[0].ID {
		t.Fatalf("claim of v = %v", deliveryIDs(v))
	}
	// A delivered head lets its site's next one through.
	if err := s.DeleteDelivery(ctx, "w", as[0].ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteDelivery(ctx, "w", as[0].ID), store.ErrNotFound, "DeleteDelivery twice")
	if got := must(s.ClaimDeliveries(ctx, "w", 10, time.Minute))(t); len(got) != 1 || got[0].ID != as[1].ID {
		t.Fatalf("claim after delivering a0 = %v, want a1", deliveryIDs(got))
	}
	// A failed head stays the head: retried at the time given, with the
	// reason kept and the attempts counted.
	if err := s.RetryDelivery(ctx, "w", bs[0].ID, "connection refused", clock.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Second)
	if got := must(s.ClaimDeliveries(ctx, "w", 10, time.Minute))(t); len(got) != 0 {
		t.Fatalf("claim before the retry time = %v", deliveryIDs(got))
	}
	clock.Advance(5 * time.Second)
	got = must(s.ClaimDeliveries(ctx, "w", 10, time.Minute))(t)
	if len(got) != 1 || got[0].ID != bs[0].ID || got[0].Attempts != 2 || got[0].LastError != "connection refused" {
		t.Fatalf("claim at the retry time = %+v, want b0 on its 2nd attempt", got)
	}
	// A lease that runs out (a dispatcher died mid-send) makes the head
	// due again.
	clock.Advance(time.Minute)
	got = must(s.ClaimDeliveries(ctx, "w", 10, time.Minute))(t)
	if fmt.Sprint(deliveryIDs(got)) != fmt.Sprint([]string{bs[0].ID, as[1].ID}) {
		t.Fatalf("claim after the leases ran out = %v", deliveryIDs(got))
	}
	wantErr(t, s.RetryDelivery(ctx, "w", "nope", "x", clock.Now()), store.ErrNotFound, "RetryDelivery(unknown)")
	if _, err := s.ClaimDeliveries(ctx, "w", 1, 0); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("ClaimDeliveries(lease 0) = %v, want ErrInvalid", err)
	}
}

func testDeadLetters(t *testing.T, st store.Store, clock *Clock) {
	s := asFeed(t, st)
	site := must(s.CreateSite(ctx, store.Site{Lat: 4.6, Lon: -74.1}))(t)
	a0 := enqueue(t, s, site.ID, "a0")
	clock.Advance(time.Millisecond)
	a1 := enqueue(t, s, site.ID, "a1")
	for _, a := range []store.Alert{a0, a1} {
		if err := s.FanOut(ctx, a.ID, []string{"w", "v"}); err != nil {
			t.Fatal(err)
		}
	}
	must(s.ClaimDeliveries(ctx, "w", 10, time.Minute))(t)
	if err := s.KillDelivery(ctx, "w", a0.ID, "HTTP 410 Gone"); err != nil {
		t.Fatal(err)
	}
	// A dead letter no longer holds back its site.
	if got := must(s.ClaimDeliveries(ctx, "w", 10, time.Minute))(t); len(got) != 1 || got[0].ID != a1.ID {
		t.Fatalf("claim after a dead letter = %v, want a1", deliveryIDs(got))
	}
	dead := must(s.DeadLetters(ctx, "", 0))(t)
	if len(dead) != 1 || dead[0].ID != a0.ID || dead[0].Sink != "w" || dead[0].LastError != "HTTP 410 Gone" ||
		!dead[0].Dead.Equal(clock.Now()) || dead[0].Payload != a0.Payload {
		t.Fatalf("DeadLetters = %+v", dead)
	}
	if d := must(s.DeadLetters(ctx, "v", 0))(t); len(d) != 0 {
		t.Fatalf("DeadLetters(v) = %+v", d)
	}
	if n := must(s.PendingDeliveries(ctx, "w"))(t); n != 1 {
		t.Fatalf("PendingDeliveries(w) = %d, want 1 (the dead letter is not pending)", n)
	}
	if _, err := s.ReplayDeadLetters(ctx, "w", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReplayDeadLetters(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.ReplayDeadLetters(ctx, "", a0.ID); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("ReplayDeadLetters without a sink = %v, want ErrInvalid", err)
	}
	if n := must(s.ReplayDeadLetters(ctx, "w", a0.ID))(t); n != 1 {
		t.Fatalf("ReplayDeadLetters = %d, want 1", n)
	}
	if d := must(s.DeadLetters(ctx, "", 0))(t); len(d) != 0 {
		t.Fatalf("DeadLetters after replay = %+v", d)
	}
	// Replayed, a0 is live again and older than a1: once a1's lease is
	// over, a0 is the site's head again, its attempts reset.
	clock.Advance(time.Minute)
	got := must(s.ClaimDeliveries(ctx, "w", 10, time.Minute))(t)
	if len(got) != 1 || got[0].ID != a0.ID || got[0].Attempts != 1 {
		t.Fatalf("claim after replay = %+v, want a0 on attempt 1", got)
	}
	if n := must(s.DropDeliveries(ctx, "w"))(t); n != 2 {
		t.Fatalf("DropDeliveries(w) = %d, want 2", n)
	}
	if n := must(s.PendingDeliveries(ctx, ""))(t); n != 2 {
		t.Fatalf("PendingDeliveries after dropping w = %d, want v's 2", n)
	}
}

// testDeliveryConcurrentClaims: dispatchers claiming at once never get the
// same delivery, nor two of one site.
func testDeliveryConcurrentClaims(t *testing.T, st store.Store, clock *Clock) {
	s := asFeed(t, st)
	const sitesN, perSite = 8, 4
	for i := range sitesN {
		site := must(s.CreateSite(ctx, store.Site{Lat: 4.6 + float64(i)*1e-3, Lon: -74.1}))(t)
		for j := range perSite {
			a := enqueue(t, s, site.ID, fmt.Sprintf("k%d", j))
			if err := s.FanOut(ctx, a.ID, []string{"w"}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Millisecond)
		}
	}
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			got, err := s.ClaimDeliveries(ctx, "w", 3, time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, d := range got {
				if seen[d.SiteID] {
					t.Errorf("site %s claimed twice at once", d.SiteID)
				}
				seen[d.SiteID] = true
			}
		})
	}
	wg.Wait()
	if len(seen) != sitesN {
		t.Fatalf("claimed %d sites' heads, want %d", len(seen), sitesN)
	}
}

func testWebhooks(t *testing.T, st store.Store, clock *Clock) {
	s := asFeed(t, st)
	w := must(s.PutWebhook(ctx, store.Webhook{AgencyID: "PNC", URL: "https://pnc.example/atalaya", Secret: "0123456789abcdef0123"}))(t)
	if w.ID == "" || !w.Created.Equal(clock.Now()) {
		t.Fatalf("PutWebhook = %+v", w)
	}
	got := must(s.Webhooks(ctx))(t)
	if len(got) != 1 || got[0] != w {
		t.Fatalf("Webhooks = %+v, want %+v", got, w)
	}
	_, err := s.PutWebhook(ctx, store.Webhook{ID: w.ID, AgencyID: "PNC", URL: "https://x.example", Secret: "0123456789abcdef"})
	wantErr(t, err, store.ErrConflict, "PutWebhook(same id)")
	for _, bad := range []store.Webhook{
		{AgencyID: "", URL: "https://x.example", Secret: "0123456789abcdef"},
		{AgencyID: "PNC", URL: "ftp://x.example", Secret: "0123456789abcdef"},
		{AgencyID: "PNC", URL: "/relative", Secret: "0123456789abcdef"},
		{AgencyID: "PNC", URL: "https://x.example", Secret: "short"},
	} {
		_, err := s.PutWebhook(ctx, bad)
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("PutWebhook(%+v)", bad))
	}
	if err := s.DeleteWebhook(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteWebhook(ctx, w.ID), store.ErrNotFound, "DeleteWebhook twice")
	if got := must(s.Webhooks(ctx))(t); len(got) != 0 {
		t.Fatalf("Webhooks after delete = %+v", got)
	}
}

// testFanOutDue: due alerts move, oldest first, to the sinks the route
// names, in one transaction; alerts not due stay; the batch is bounded.
func testFanOutDue(t *testing.T, st store.Store, clock *Clock) {
	s := asFeed(t, st)
	site := must(s.CreateSite(ctx, store.Site{Lat: 4.6, Lon: -74.1}))(t)
	var as []store.Alert
	for i := range 3 {
		as = append(as, enqueue(t, s, site.ID, fmt.Sprintf("k%d", i)))
		clock.Advance(time.Millisecond)
	}
	route := func(a store.Alert) (string, []string) {
		if a.Kind == "k1" {
			return a.Payload, nil // nobody may see it
		}
		return a.Payload + "+", []string{"w", "v"}
	}
	got, sinks := must2(s.FanOutDue(ctx, 2, route))(t)
	if len(got) != 2 || got[0].ID != as[0].ID || got[1].ID != as[1].ID || len(sinks[0]) != 2 || len(sinks[1]) != 0 {
		t.Fatalf("FanOutDue(2) = %v %v", got, sinks)
	}
	got, _ = must2(s.FanOutDue(ctx, 10, route))(t)
	if len(got) != 1 || got[0].ID != as[2].ID {
		t.Fatalf("second FanOutDue = %v", got)
	}
	if got, _ := must2(s.FanOutDue(ctx, 10, route))(t); len(got) != 0 {
		t.Fatalf("FanOutDue of an empty outbox = %v", got)
	}
	if n := must(s.PendingDeliveries(ctx, ""))(t); n != 4 {
		t.Fatalf("PendingDeliveries = %d, want 4 (k0 and k2 to w and v)", n)
	}
	// A route naming an empty sink rolls the whole batch back.
	a := enqueue(t, s, site.ID, "k3")
	if _, _, err := s.FanOutDue(ctx, 10, func(a store.Alert) (string, []string) { return a.Payload, []string{""} }); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("FanOutDue with an empty sink name: %v", err)
	}
	if got := must(s.ClaimOutbox(ctx, 10, time.Minute))(t); len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("outbox after a refused FanOutDue = %v", got)
	}
	// The deliveries carry the payload route returned.
	if ds := must(s.ClaimDeliveries(ctx, "v", 10, time.Minute))(t); len(ds) != 1 || ds[0].Payload != as[0].Payload+"+" {
		t.Fatalf("delivery payload %+v, want the routed %q", ds, as[0].Payload+"+")
	}
	// DeleteDeliveries removes a batch, skipping ids not there.
	if left := must(s.DeleteDeliveries(ctx, "w", []string{as[0].ID, "gone"}))(t); left != 1 {
		t.Fatalf("DeleteDeliveries left %d, want 1", left)
	}
	if left := must(s.DeleteDeliveries(ctx, "w", []string{as[2].ID}))(t); left != 0 {
		t.Fatalf("DeleteDeliveries left %d, want 0", left)
	}
	if n := must(s.PendingDeliveries(ctx, "w"))(t); n != 0 {
		t.Fatalf("PendingDeliveries(w) after DeleteDeliveries = %d", n)
	}
}
