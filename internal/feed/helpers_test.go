package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

// eachStore runs f against a fresh SQLite store and a fresh PostgreSQL
// schema (never skipped: without a cluster it fails and says how to start
// one). url opens the same store again (for a child process).
func eachStore(t *testing.T, f func(t *testing.T, st *store.DB, url string)) {
	t.Run("sqlite", func(t *testing.T) {
		url := "sqlite:" + filepath.Join(t.TempDir(), "atalaya.db")
		f(t, openStore(t, url), url)
	})
	t.Run("postgres", func(t *testing.T) {
		url := storetest.PostgresSchemaURL(t)
		f(t, openStore(t, url), url)
	})
}

func openStore(t testing.TB, url string) *store.DB {
	t.Helper()
	st, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newSite stores a candidate site owned by owner.
func newSite(t testing.TB, st store.Store, lat, lon float64) store.Site {
	t.Helper()
	s, err := st.CreateSite(context.Background(), store.Site{
		Lat: lat, Lon: lon, UncertaintyM: 15, FirstSeen: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		LastSeen: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC), PassesSeen: 3, PassesSurvey: 4,
		Evidence: 12.5, Probability: 0.91, TypeGuess: "meth-p2p", GasProfile: `{"ammonia":{"z":9.1,"ppmm":830,"emission_kg_h":1.9,"detected":true},"acetone":{"z":2.2,"ppmm":120}}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// release updates the site (a new version) and enqueues its event in the
// same transaction, as the API's release does, and returns the event.
func release(t testing.TB, st store.Store, siteID, owner string, to ...string) Event {
	t.Helper()
	ctx := context.Background()
	var ev Event
	err := st.InTx(ctx, func(tx store.Tx) error {
		s, err := tx.Site(ctx, siteID)
		if err != nil {
			return err
		}
		s.Status = store.SiteReleased
		s, err = tx.UpdateSite(ctx, s)
		if err != nil {
			return err
		}
		for _, a := range to {
			if _, err := tx.ReleaseSite(ctx, store.Release{SiteID: siteID, AgencyID: a, ReleasedBy: "analyst-1"}); err != nil {
				return err
			}
		}
		ev = Event{Kind: KindSiteReleased, Time: time.Now().UTC(), Site: NewSite(s, owner, to)}
		a, err := Enqueue(ctx, tx, ev)
		ev.ID = a.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// receiver is a webhook receiver: it verifies each request's signature,
// records the events, and can be taken down and brought back on the same
// address.
type receiver struct {
	t      testing.TB
	secret []byte
	addr   string

	mu     sync.Mutex
	srv    *httptest.Server
	events []Event         // arrival order, repeats included
	times  []time.Time     // arrival time of each
	status int             // reply status (0: 204)
	onReq  func(ev Event)  // called before replying, if set
	bad    []string        // requests that failed verification
	seen   map[string]bool // alert ids (receiver-side de-duplication)
}

func newReceiver(t testing.TB, secret string) *receiver {
	r := &receiver{t: t, secret: []byte(secret), seen: map[string]bool{}}
	r.up()
	t.Cleanup(r.down)
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/hook" }

// up starts (or restarts, on the same address) the receiver.
func (r *receiver) up() {
	r.t.Helper()
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var (
		ln  net.Listener
		err error
	)
	// The port was ours a moment ago; the kernel may hold it briefly.
	for range 100 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	r.mu.Lock()
	r.srv, r.addr = srv, ln.Addr().String()
	r.mu.Unlock()
}

// down stops the receiver: connections are refused until up.
func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	now := time.Now()
	if err := VerifyWebhook(r.secret, req.Header.Get(HeaderSignature), body, now, 0); err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, err.Error())
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(HeaderAlertID) || ev.Kind != req.Header.Get(HeaderEvent) {
		r.mu.Lock()
		r.bad = append(r.bad, fmt.Sprintf("body %s, headers %v: %v", body, req.Header, err))
		r.mu.Unlock()
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.times = append(r.times, now)
	r.seen[ev.ID] = true
	status, on := r.status, r.onReq
	r.mu.Unlock()
	if on != nil {
		on(ev)
	}
	if status == 0 {
		status = http.StatusNoContent
	}
	w.WriteHeader(status)
}

func (r *receiver) setStatus(s int) {
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
}

// distinct is the number of distinct alert ids received.
func (r *receiver) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *receiver) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func (r *receiver) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

// dedupe keeps the first arrival of each alert id, in arrival order.
func dedupe(evs []Event) []Event {
	seen := map[string]bool{}
	var out []Event
	for _, e := range evs {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out
}

// checkInOrder fails unless, after de-duplication, got holds exactly the
// events of want (by id) and each site's events arrived in the order they
// were enqueued (increasing site version).
func checkInOrder(t testing.TB, got []Event, want []Event) {
	t.Helper()
	d := dedupe(got)
	if len(d) != len(want) {
		t.Fatalf("%d distinct events arrived (of %d deliveries), want %d", len(d), len(got), len(want))
	}
	ids := map[string]bool{}
	for _, e := range want {
		ids[e.ID] = true
	}
	last := map[string]int64{}
	for _, e := range d {
		if !ids[e.ID] {
			t.Fatalf("unexpected event %s (site %s)", e.ID, e.Site.ID)
		}
		if v, ok := last[e.Site.ID]; ok && e.Site.Version <= v {
			t.Fatalf("site %s: version %d arrived after version %d", e.Site.ID, e.Site.Version, v)
		}
		last[e.Site.ID] = e.Site.Version
	}
}

// waitFor polls cond until it holds, failing after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runDispatcher runs d until the test ends.
func runDispatcher(t testing.TB, d *Dispatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// fastOptions are dispatcher options for tests: quick polls and retries.
func fastOptions(st store.Webhooks) Options {
	return Options{
		MoreSinks:  WebhookSinks(st, nil, nil),
		Refresh:    50 * time.Millisecond,
		Poll:       10 * time.Millisecond,
		Lease:      2 * time.Second,
		Backoff:    10 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
	}
}

const secretA, secretB = "agency-A-secret-0123456789", "agency-B-secret-0123456789"

// putAgencies stores agencies with these ids (the first the host of COL).
func putAgencies(t testing.TB, st store.Store, ids ...string) {
	t.Helper()
	for i, id := range ids {
		a := store.Agency{ID: id, Name: "Agency " + id, Country: "COL", Lang: "es", Host: i == 0}
		if i > 0 {
			a.Country, a.Lang = "USA", "en"
		}
		if _, err := st.PutAgency(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
}

// startNATS starts an embedded NATS server with JetStream for the test.
func startNATS(t testing.TB) *nats.Conn {
	t.Helper()
	ns, err := pipeline.StartNATS(pipeline.NATSConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := pipeline.Connect(ns.ClientURL(), "feed-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// streamEvents replays every event stored on agency's subject.
func streamEvents(t testing.TB, nc *nats.Conn, agency string) []Event {
	t.Helper()
	ctx := context.Background()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := js.OrderedConsumer(ctx, SitesStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{SitesSubjectOf(agency)}})
	if err != nil {
		t.Fatal(err)
	}
	var out []Event
	for {
		batch, err := c.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var ev Event
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Fatalf("message on %s: %v", m.Subject(), err)
			}
			if m.Headers().Get(HeaderAlertID) != ev.ID {
				t.Fatalf("message on %s: header id %q, body id %q", m.Subject(), m.Headers().Get(HeaderAlertID), ev.ID)
			}
			out = append(out, ev)
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
		if n == 0 {
			return out
		}
	}
}

// fixedOwner is a jurisdiction where every site belongs to owner.
func fixedOwner(owner string) func(context.Context, float64, float64) (string, error) {
	return func(context.Context, float64, float64) (string, error) { return owner, nil }
}

// agencyHeader is how the tests' stand-in for the server's
// authentication names the caller's agency.
const agencyHeader = "X-Test-Agency"

func testPrincipal(r *http.Request) (access.Principal, bool) {
	a := r.Header.Get(agencyHeader)
	if a == "" {
		return access.Principal{}, false
	}
	return access.Principal{UserID: "u-" + a, AgencyID: a, Role: access.RolePartner, Lang: "en"}, true
}
