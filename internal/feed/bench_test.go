package feed

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

// BenchmarkReleaseToWebhook measures the time from an analyst's release
// (the start of the transaction that updates the site, appends the
// decision and the release and enqueues the alert) to the alert's arrival
// at a webhook receiver (an HTTP server verifying the signature), over
// 1,000 releases of 100 sites issued at 50 per second, with the dispatcher
// woken by Notify after each commit ("notified", as a server in the same
// process does) or finding the alert at its next poll ("polled", 250 ms, as
// a dispatcher in another process does). It reports the median, 99th
// percentile and maximum in ms.
//
//	go test -run '^$' -bench ReleaseToWebhook -benchtime 1x ./internal/feed/
func BenchmarkReleaseToWebhook(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, mode := range []string{"notified", "polled"} {
			b.Run(db+"/"+mode, func(b *testing.B) {
				url := "sqlite:" + filepath.Join(b.TempDir(), "a.db")
				if db == "postgres" {
					url = storetest.PostgresSchemaURL(b)
				}
				for range b.N {
					lat := releaseLatencies(b, openStore(b, url), mode == "notified", 1000, 100, 20*time.Millisecond)
					slices.Sort(lat)
					q := func(p float64) float64 {
						return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
					}
					b.ReportMetric(q(0.5), "p50-ms")
					b.ReportMetric(q(0.99), "p99-ms")
					b.ReportMetric(q(1), "max-ms")
				}
			})
		}
	}
}

func releaseLatencies(b *testing.B, st *store.DB, notify bool, n, nSites int, every time.Duration) []time.Duration {
	ctx := context.Background()
	putAgencies(b, st, "COLPNC", "A")
	r := newReceiver(b, secretA)
	if _, err := st.PutWebhook(ctx, store.Webhook{AgencyID: "A", URL: r.url(), Secret: secretA}); err != nil {
		b.Fatal(err)
	}
	var sites []store.Site
	for i := range nSites {
		sites = append(sites, newSite(b, st, 4.6+1e-3*float64(i), -74.1))
	}
	var (
		mu      sync.Mutex
		started = map[string]time.Time{}
	)
	d := NewDispatcher(st, Options{MoreSinks: WebhookSinks(st, nil, nil)})
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(dctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond) // the dispatcher has listed the webhook
	b.ResetTimer()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range n {
		<-tick.C
		wg.Go(func() {
			t0 := time.Now()
			ev := releaseOnce(b, st, sites[i%nSites].ID)
			mu.Lock()
			started[ev] = t0
			mu.Unlock()
			if notify {
				d.Notify()
			}
		})
	}
	wg.Wait()
	waitFor(b, 60*time.Second, "every alert at the receiver", func() bool { return r.distinct() == n })
	b.StopTimer()
	r.mu.Lock()
	defer r.mu.Unlock()
	var lat []time.Duration
	for i, e := range r.events {
		if t0, ok := started[e.ID]; ok {
			lat = append(lat, r.times[i].Sub(t0))
			delete(started, e.ID)
		}
	}
	if len(lat) != n {
		b.Fatalf("%d latencies for %d releases", len(lat), n)
	}
	return lat
}

// releaseOnce releases a site (again) to A as the API does and returns the
// alert id; retried on a version conflict with a concurrent release.
func releaseOnce(b *testing.B, st *store.DB, siteID string) string {
	ctx := context.Background()
	for {
		var id string
		err := st.InTx(ctx, func(tx store.Tx) error {
			s, err := tx.Site(ctx, siteID)
			if err != nil {
				return err
			}
			s.Status = store.SiteReleased
			if s, err = tx.UpdateSite(ctx, s); err != nil {
				return err
			}
			dec, err := tx.AppendDecision(ctx, store.Decision{SiteID: siteID, Actor: "analyst", Action: store.ActionRelease})
			if err != nil {
				return err
			}
			if _, err := tx.ReleaseSite(ctx, store.Release{SiteID: siteID, AgencyID: "A", ReleasedBy: "analyst"}); err != nil {
				return err
			}
			a, err := Enqueue(ctx, tx, Event{Kind: KindSiteReleased, Site: NewSite(s, "COLPNC", []string{"A"}),
				Decision: &Decision{ID: dec.ID, Actor: dec.Actor, At: dec.At, Action: string(dec.Action)}})
			id = a.ID
			return err
		})
		if err == nil {
			return id
		}
		if !isConflict(err) {
			b.Fatal(fmt.Errorf("release: %w", err))
		}
	}
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
