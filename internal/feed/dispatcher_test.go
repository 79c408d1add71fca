package feed

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// A webhook receiver that is down while sites are released gets every
// alert once it is back, each site's in order, with no duplicates after
// de-duplication by alert id; a receiver that stayed up got them all
// meanwhile (one down sink holds back no other).
func TestSinkDownThenBack(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.DB, _ string) {
		ctx := t.Context()
		up, flaky := newReceiver(t, secretA), newReceiver(t, secretB)
		for _, h := range []store.Webhook{
			{AgencyID: "PNC", URL: up.url(), Secret: secretA},
			{AgencyID: "PNC", URL: flaky.url(), Secret: secretB},
		} {
			if _, err := st.PutWebhook(ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		flaky.down()
		d := NewDispatcher(st, fastOptions(st))
		runDispatcher(t, d)
		const nSites, perSite = 6, 5
		var sites []store.Site
		for i := range nSites {
			sites = append(sites, newSite(t, st, 4.6+0.01*float64(i), -74.1))
		}
		var want []Event
		for range perSite {
			for _, s := range sites {
				want = append(want, release(t, st, s.ID, "PNC"))
				d.Notify()
			}
		}
		waitFor(t, 30*time.Second, "the up receiver to get every alert", func() bool { return up.distinct() == len(want) })
		checkInOrder(t, up.snapshot(), want)
		if n := len(flaky.snapshot()); n != 0 {
			t.Fatalf("the down receiver got %d events", n)
		}
		// Failed attempts were recorded meanwhile, none dead.
		waitFor(t, 10*time.Second, "retries of the down sink", func() bool {
			dead, _ := st.DeadLetters(ctx, "", 0)
			n, _ := st.PendingDeliveries(ctx, "")
			return len(dead) == 0 && n == len(want)
		})
		flaky.up()
		waitFor(t, 30*time.Second, "the receiver that came back to get every alert", func() bool { return flaky.distinct() == len(want) })
		checkInOrder(t, flaky.snapshot(), want)
		waitFor(t, 10*time.Second, "the queues to empty", func() bool {
			n, err := st.PendingDeliveries(ctx, "")
			return err == nil && n == 0
		})
		for _, r := range []*receiver{up, flaky} {
			if f := r.failures(); len(f) > 0 {
				t.Fatalf("requests that failed verification: %v", f)
			}
		}
		t.Logf("%d alerts: the up receiver got %d deliveries, the one that came back %d",
			len(want), len(up.snapshot()), len(flaky.snapshot()))
	})
}

// A receiver that refuses an alert (HTTP 4xx) makes it a dead letter at
// once; one that keeps failing makes it one after MaxAttempts. An
// administrator lists them and replays them once the receiver is fixed.
func TestDeadLettersReplay(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.DB, _ string) {
		ctx := t.Context()
		r := newReceiver(t, secretA)
		h, err := st.PutWebhook(ctx, store.Webhook{AgencyID: "PNC", URL: r.url(), Secret: secretA})
		if err != nil {
			t.Fatal(err)
		}
		opt := fastOptions(st)
		opt.MaxAttempts = 3
		runDispatcher(t, NewDispatcher(st, opt))
		s1, s2 := newSite(t, st, 4.6, -74.1), newSite(t, st, 4.7, -74.2)
		r.setStatus(http.StatusGone)
		e1 := release(t, st, s1.ID, "PNC")
		waitFor(t, 10*time.Second, "a dead letter", func() bool {
			dead, _ := st.DeadLetters(ctx, "", 0)
			return len(dead) == 1
		})
		dead, _ := st.DeadLetters(ctx, "", 0)
		if dead[0].ID != e1.ID || dead[0].Sink != WebhookSinkName(h.ID) || dead[0].Attempts != 1 ||
			!strings.Contains(dead[0].LastError, "410 Gone") {
			t.Fatalf("dead letter %+v", dead[0])
		}
		r.setStatus(http.StatusServiceUnavailable)
		e2 := release(t, st, s2.ID, "PNC")
		waitFor(t, 10*time.Second, "a second dead letter after 3 attempts", func() bool {
			dead, _ := st.DeadLetters(ctx, "", 0)
			return len(dead) == 2
		})
		dead, _ = st.DeadLetters(ctx, "", 0)
		if dead[1].ID != e2.ID || dead[1].Attempts != 3 {
			t.Fatalf("second dead letter %+v, want %s after 3 attempts", dead[1], e2.ID)
		}
		r.setStatus(0)
		n, err := st.ReplayDeadLetters(ctx, "", "")
		if err != nil || n != 2 {
			t.Fatalf("replay: %d, %v", n, err)
		}
		waitFor(t, 10*time.Second, "the replayed alerts", func() bool { return r.distinct() == 2 })
		waitFor(t, 10*time.Second, "the queue to empty", func() bool {
			n, _ := st.PendingDeliveries(ctx, "")
			d, _ := st.DeadLetters(ctx, "", 0)
			return n == 0 && len(d) == 0
		})
	})
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n        int
		lo, hi   time.Duration
		base, mx time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second, time.Second, time.Hour},
		{2, time.Second, 2 * time.Second, time.Second, time.Hour},
		{5, 8 * time.Second, 16 * time.Second, time.Second, time.Hour},
		{40, 30 * time.Minute, time.Hour, time.Second, time.Hour},
	} {
		lo := Backoff(tc.base, tc.mx, tc.n, 0)
		hi := Backoff(tc.base, tc.mx, tc.n, 0.999999999)
		if lo != tc.lo || hi < tc.hi-time.Millisecond || hi > tc.hi {
			t.Errorf("Backoff(n=%d) in [%v, %v], want [%v, %v]", tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
}

// A sink that returns an error names it; Run refuses two sinks of one name.
func TestDispatcherDuplicateSinks(t *testing.T) {
	st := openStore(t, "sqlite:"+t.TempDir()+"/a.db")
	s := NewWebhookSink(store.Webhook{ID: "x", AgencyID: "PNC", URL: "http://127.0.0.1:1/", Secret: secretA}, nil, nil)
	err := NewDispatcher(st, Options{Sinks: []Sink{s, s}}).Run(context.Background())
	if err == nil || err.Error() != fmt.Sprintf("dispatcher: two sinks named %q", s.Name()) {
		t.Fatalf("Run with two sinks of one name: %v", err)
	}
}
