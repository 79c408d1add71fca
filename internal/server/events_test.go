package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
)

var testAssets = fstest.MapFS{
	"index.html":             {Data: []byte("<html>ui</html>")},
	"assets/app-3f2a9c1b.js": {Data: []byte("console.log(1)")},
	"favicon.svg":            {Data: []byte("<svg/>")},
}

// sseEvent is one parsed event.
type sseEvent struct {
	id          uint64
	event, data string
	comment     bool
	err         error
}

type sseClient struct {
	ch   chan sseEvent
	resp *http.Response
}

// next returns the next event (not comments), failing after 10 s.
func (c *sseClient) next(t testing.TB) sseEvent {
	t.Helper()
	for {
		select {
		case e, ok := <-c.ch:
			if !ok {
				t.Fatal("stream ended")
			}
			if e.err != nil {
				t.Fatal(e.err)
			}
			if e.comment {
				continue
			}
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event in 10 s")
		}
	}
}

// readSSE parses a stream into ch until it ends.
func readSSE(r *bufio.Reader, ch chan<- sseEvent) {
	defer close(ch)
	var cur sseEvent
	have := false
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		l = strings.TrimRight(l, "\n")
		switch {
		case l == "":
			if have {
				ch <- cur
			}
			cur, have = sseEvent{}, false
		case strings.HasPrefix(l, ":"):
			ch <- sseEvent{comment: true, data: l}
		case strings.HasPrefix(l, "id: "):
			cur.id, _ = strconv.ParseUint(l[4:], 10, 64)
			have = true
		case strings.HasPrefix(l, "event: "):
			cur.event, have = l[7:], true
		case strings.HasPrefix(l, "data: "):
			cur.data, have = l[6:], true
		}
	}
}

// stream opens GET /api/v1/events.
func (e *env) stream(t testing.TB, tok, lastID string) (*sseClient, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.http.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	c := &sseClient{ch: make(chan sseEvent, 1000), resp: resp}
	go readSSE(bufio.NewReader(resp.Body), c.ch)
	// Wait until the hub has it, so nothing published next is missed.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if e.srv.hub.Clients() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the client never registered")
		}
		time.Sleep(time.Millisecond)
	}
	return c, func() { cancel(); resp.Body.Close() }
}

func (e *env) waitClients(t testing.TB, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); e.srv.hub.Clients() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients, want %d", e.srv.hub.Clients(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func siteEvent(owner string, rel []string, n int) Event {
	return Event{Type: "site", Owner: owner, ReleasedTo: rel, Action: access.ReadSites, Data: map[string]any{"n": n, "owner": owner}}
}

// TestEventsVisibility: each client gets exactly the events it may see,
// in order, with increasing ids.
func TestEventsVisibility(t *testing.T) {
	e := newEnv(t, sqliteURL(t))
	col, stop1 := e.stream(t, e.tok(access.RoleAnalyst, agCOL), "")
	defer stop1()
	per, stop2 := e.stream(t, e.tok(access.RoleViewer, agPER), "")
	defer stop2()
	dea, stop3 := e.stream(t, e.tok(access.RolePartner, agUSA), "")
	defer stop3()
	e.waitClients(t, 3)
	ctx := context.Background()
	_ = e.srv.hub.Publish(ctx, siteEvent(agCOL, nil, 1))
	_ = e.srv.hub.Publish(ctx, siteEvent(agPER, nil, 2))
	_ = e.srv.hub.Publish(ctx, siteEvent(agCOL, []string{agUSA}, 3))
	// A granule event: partners and viewers may not read granules.
	_ = e.srv.hub.Publish(ctx, Event{Type: "granule", Owner: agPER, Action: access.ReadGranules, Data: map[string]any{"n": 4}})
	_ = e.srv.hub.Publish(ctx, Event{Type: "granule", Owner: agCOL, Action: access.ReadGranules, Data: map[string]any{"n": 5}})
	want := map[*sseClient][]int{col: {1, 3, 5}, per: {2}, dea: {3}}
	for c, ns := range want {
		var last uint64
		for _, n := range ns {
			x := c.next(t)
			var d struct{ N int }
			_ = json.Unmarshal([]byte(x.data), &d)
			if d.N != n || x.id <= last {
				t.Errorf("got event %d id %d (after %d), want %d", d.N, x.id, last, n)
			}
			last = x.id
		}
	}
	// Nothing else arrived for per and dea: a marker event they may see
	// comes next.
	_ = e.srv.hub.Publish(ctx, siteEvent(agPER, []string{agUSA}, 6))
	for _, c := range []*sseClient{per, dea} {
		if x := c.next(t); !strings.Contains(x.data, `"n":6`) {
			t.Errorf("unexpected event %+v", x)
		}
	}
}

// TestEventsResume: Last-Event-ID within the ring resumes without loss;
// older says reset.
func TestEventsResume(t *testing.T) {
	e := newEnv(t, sqliteURL(t), func(c *Config) { c.EventRing = 8 })
	ctx := context.Background()
	tok := e.tok(access.RoleAnalyst, agCOL)
	c, stop := e.stream(t, tok, "")
	_ = e.srv.hub.Publish(ctx, siteEvent(agCOL, nil, 1))
	first := c.next(t)
	stop()
	e.waitClients(t, 0)
	// Missed while away: 2..6, one of them PER's.
	for n := 2; n <= 6; n++ {
		owner := agCOL
		if n == 4 {
			owner = agPER
		}
		_ = e.srv.hub.Publish(ctx, siteEvent(owner, nil, n))
	}
	c, stop = e.stream(t, tok, strconv.FormatUint(first.id, 10))
	for _, n := range []int{2, 3, 5, 6} {
		if x := c.next(t); !strings.Contains(x.data, fmt.Sprintf(`"n":%d`, n)) || x.event != "site" {
			t.Errorf("resumed event %+v, want n=%d", x, n)
		}
	}
	// Live events follow the backlog.
	_ = e.srv.hub.Publish(ctx, siteEvent(agCOL, nil, 7))
	if x := c.next(t); !strings.Contains(x.data, `"n":7`) {
		t.Errorf("live after backlog %+v", x)
	}
	stop()
	// 20 more: the first id is out of the ring of 8.
	for n := 8; n < 28; n++ {
		_ = e.srv.hub.Publish(ctx, siteEvent(agCOL, nil, n))
	}
	c, stop = e.stream(t, tok, strconv.FormatUint(first.id, 10))
	defer stop()
	if x := c.next(t); x.event != "reset" || x.id != e.srv.hub.LastID() {
		t.Errorf("resume from too old an id: %+v", x)
	}
	// An id from the future (another sequence, before a restart) too.
	c2, stop2 := e.stream(t, tok, strconv.FormatUint(e.srv.hub.LastID()+100, 10))
	defer stop2()
	if x := c2.next(t); x.event != "reset" {
		t.Errorf("resume from a future id: %+v", x)
	}
}

// TestSlowClientDropped: a client that reads nothing is dropped once its
// buffer fills; the others get every event and the publisher never blocks.
func TestSlowClientDropped(t *testing.T) {
	e := newEnv(t, sqliteURL(t), func(c *Config) { c.EventBuffer = 16 })
	tok := e.tok(access.RoleAnalyst, agCOL)
	// The slow client: a raw connection that sends the request and then
	// never reads, so the server's writes fill the socket buffers.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", tok)
	e.waitClients(t, 1)
	fast, stop := e.stream(t, tok, "")
	defer stop()
	e.waitClients(t, 2)
	// Big events, so the slow client's socket buffers fill quickly.
	big := strings.Repeat("x", 64<<10)
	const n = 400
	// In lock step with the fast client: it never has more than one event
	// queued, while the slow one's queue and socket fill up.
	for i := range n {
		_ = e.srv.hub.Publish(context.Background(), Event{Type: "site", Owner: agCOL, Action: access.ReadSites, Data: map[string]any{"n": i, "pad": big}})
		x := fast.next(t)
		if !strings.Contains(x.data, fmt.Sprintf(`"n":%d,`, i)) {
			t.Fatalf("fast client: event %d is %.40s", i, x.data)
		}
	}
	e.waitClients(t, 1)
	if d := testutilCounter(t, e, "atalaya_sse_dropped_total"); d != "1" {
		t.Errorf("dropped counter %s, want 1", d)
	}
}

// TestGracefulShutdown: Serve stops accepting, lets an in-flight request
// finish, and ends SSE streams cleanly.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, sqliteURL(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx, ServeConfig{Listener: ln, Grace: 10 * time.Second}) }()
	base := "http://" + ln.Addr().String()
	tok := e.tok(access.RoleOperator, agCOL)
	// An SSE stream.
	req, _ := http.NewRequest("GET", base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	evs := make(chan sseEvent, 10)
	go readSSE(bufio.NewReader(sresp.Body), evs)
	// An upload whose body is still arriving when shutdown begins.
	pr, pw := newPipe()
	ureq, _ := http.NewRequest("POST", base+"/api/v1/granules?name=slow.tar", pr)
	ureq.Header.Set("Authorization", "Bearer "+tok)
	ureq.Header.Set("Upload-Length", "10")
	got := make(chan *http.Response, 1)
	go func() {
		r, err := http.DefaultClient.Do(ureq)
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- r
	}()
	pw.Write([]byte("12345"))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if ents, _ := readDirNames(e.spool); len(ents) == 2 {
			break // the upload's files exist: the request is in flight
		}
		if time.Now().After(deadline) {
			t.Fatal("upload never started")
		}
	}
	cancel()
	// The SSE stream ends.
	for range evs {
	}
	// New connections are refused once the listener is closed.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections")
		}
	}
	// The in-flight upload finishes.
	pw.Write([]byte("67"))
	pw.Close()
	r, ok := <-got
	if !ok {
		return
	}
	var up uploadResponse
	decode(t, read(t, r), &up)
	if r.StatusCode != 201 || up.Upload.Offset != 7 {
		t.Errorf("in-flight upload: %d %+v", r.StatusCode, up)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// testutilCounter reads one unlabelled metric from /metrics.
func testutilCounter(t *testing.T, e *env, name string) string {
	t.Helper()
	b := string(read(t, e.do("GET", "/metrics", "", nil)))
	for _, l := range strings.Split(b, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}

// TestEventsEndOnRevocation: a stream whose token is revoked ends with
// "unauthorized" at the next heartbeat; heartbeats flow meanwhile.
func TestEventsEndOnRevocation(t *testing.T) {
	e := newEnv(t, sqliteURL(t), func(c *Config) { c.Heartbeat = 20 * time.Millisecond })
	tok := e.tok(access.RoleViewer, agCOL)
	c, stop := e.stream(t, tok, "")
	defer stop()
	// A heartbeat comes.
	for x := range c.ch {
		if x.comment && strings.Contains(x.data, "heartbeat") {
			break
		}
	}
	toks, err := e.acc.Tokens(context.Background(), "viewer@"+agCOL)
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens %v %v", toks, err)
	}
	if _, err := e.acc.RevokeToken(context.Background(), access.System("test"), toks[0].ID); err != nil {
		t.Fatal(err)
	}
	if x := c.next(t); x.event != "unauthorized" {
		t.Errorf("after revocation: %+v", x)
	}
	for range c.ch { // the stream ends
	}
	e.waitClients(t, 0)
}
