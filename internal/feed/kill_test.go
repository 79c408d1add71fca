package feed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// childStoreEnv, when set, makes the test binary a dispatcher process on
// that store (see TestDispatcherKilledMidSend).
const childStoreEnv = "ATALAYA_FEED_TEST_CHILD_STORE"

func TestMain(m *testing.M) {
	if url := os.Getenv(childStoreEnv); url != "" {
		os.Exit(childDispatcher(url))
	}
	os.Exit(m.Run())
}

// childDispatcher runs a dispatcher until the process is killed.
func childDispatcher(url string) int {
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opt := fastOptions(st)
	opt.Lease = time.Second
	if err := NewDispatcher(st, opt).Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// A dispatcher process killed (SIGKILL) while a webhook request is in
// flight — the receiver has the alert, the dispatcher never learns it —
// loses nothing: a new dispatcher takes up the queue after the lease, sends
// that alert again (the receiver drops the repeat by its id) and every
// other one, each site's in order.
func TestDispatcherKilledMidSend(t *testing.T) {
	eachStore(t, func(t *testing.T, st *store.DB, url string) {
		ctx := t.Context()
		r := newReceiver(t, secretA)
		held, unblock := make(chan Event, 1), make(chan struct{})
		t.Cleanup(func() { close(unblock) }) // before the receiver's own cleanup
		var (
			once sync.Once
			n    int
			mu   sync.Mutex
		)
		r.onReq = func(ev Event) {
			mu.Lock()
			n++
			k := n
			mu.Unlock()
			if k == 5 {
				once.Do(func() {
					held <- ev
					<-unblock // never reply: the sender dies waiting
				})
			}
		}
		if _, err := st.PutWebhook(ctx, store.Webhook{AgencyID: "PNC", URL: r.url(), Secret: secretA}); err != nil {
			t.Fatal(err)
		}
		var sites []store.Site
		for i := range 4 {
			sites = append(sites, newSite(t, st, 4.6+0.01*float64(i), -74.1))
		}
		var want []Event
		for range 3 {
			for _, s := range sites {
				want = append(want, release(t, st, s.ID, "PNC"))
			}
		}
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), childStoreEnv+"="+url)
		child.Stderr = os.Stderr
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		var inFlight Event
		select {
		case inFlight = <-held:
		case <-time.After(30 * time.Second):
			_ = child.Process.Kill()
			_ = child.Wait()
			t.Fatal("the child dispatcher sent no 5th alert in 30 s")
		}
		if err := child.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = child.Wait()
		before := r.distinct()
		if before != 5 {
			t.Fatalf("the receiver had %d alerts when the dispatcher died, want 5", before)
		}
		runDispatcher(t, NewDispatcher(st, fastOptions(st)))
		waitFor(t, 30*time.Second, "every alert after the restart", func() bool { return r.distinct() == len(want) })
		waitFor(t, 10*time.Second, "the queue to empty", func() bool {
			n, err := st.PendingDeliveries(ctx, "")
			return err == nil && n == 0
		})
		got := r.snapshot()
		checkInOrder(t, got, want)
		repeats := 0
		for _, e := range got {
			if e.ID == inFlight.ID {
				repeats++
			}
		}
		if repeats != 2 {
			t.Fatalf("the alert in flight when the dispatcher died arrived %d times, want 2 (once before, once after)", repeats)
		}
		t.Logf("%d alerts, %d deliveries: the one in flight at the kill was sent again and dropped by id", len(want), len(got))
	})
}
