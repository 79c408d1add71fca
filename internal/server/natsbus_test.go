package server

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/pipeline"
	"github.com/nats-io/nats.go"
)

// TestEventsOverNATS: two API processes on one store share events through
// a real NATS server: a decision made on one reaches the clients of the
// other, each filtered by visibility, on subject atalaya.events.<owner>.
func TestEventsOverNATS(t *testing.T) {
	ns, err := pipeline.StartNATS(pipeline.NATSConfig{StoreDir: filepath.Join(t.TempDir(), "nats"), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	conn := func() *natsConn {
		nc, err := pipeline.Connect(ns.ClientURL(), "test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	a := newEnv(t, sqliteURL(t), func(c *Config) { c.Publisher = NATSPublisher{Conn: conn()} })
	ncA := conn()
	if _, err := SubscribeNATS(ncA, a.srv.Hub()); err != nil {
		t.Fatal(err)
	}
	// Process B: another server on the same store and NATS.
	cfg := a.srv.cfg
	cfg.Registry = nil
	cfg.Publisher = NATSPublisher{Conn: conn()}
	cfg.UploadDir = t.TempDir()
	srvB, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ncB := conn()
	if _, err := SubscribeNATS(ncB, srvB.Hub()); err != nil {
		t.Fatal(err)
	}
	// A raw subscriber sees the subject.
	raw := conn()
	msgs := make(chan string, 10)
	if _, err := raw.Subscribe(EventSubjectPrefix+">", func(m *natsMsg) { msgs <- m.Subject }); err != nil {
		t.Fatal(err)
	}
	for _, nc := range []*natsConn{ncA, ncB, raw} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	b := &env{t: t, st: a.st, srv: srvB, http: httptest.NewServer(srvB.Handler()), tokens: a.tokens}
	defer b.http.Close()
	defer srvB.hub.Close()
	colB, stop1 := b.stream(t, a.tok(access.RoleViewer, agCOL), "")
	defer stop1()
	perB, stop2 := b.stream(t, a.tok(access.RoleViewer, agPER), "")
	defer stop2()
	b.waitClients(t, 2)
	// The decision is made on A.
	resp := a.do("POST", "/api/v1/sites/"+a.siteCOL.ID+"/decisions", a.tok(access.RoleAnalyst, agCOL),
		strings.NewReader(`{"action":"confirm"}`), "If-Match", `"1"`)
	if read(t, resp); resp.StatusCode != 201 {
		t.Fatalf("decision: %d", resp.StatusCode)
	}
	x := colB.next(t)
	if x.event != "site" || !strings.Contains(x.data, `"status":"confirmed"`) || !strings.Contains(x.data, a.siteCOL.ID) {
		t.Errorf("B's COL client got %+v", x)
	}
	if x := colB.next(t); x.event != "decision" {
		t.Errorf("then %+v", x)
	}
	if subj := <-msgs; subj != EventSubjectPrefix+agCOL {
		t.Errorf("subject %s", subj)
	}
	// PER's client on B saw nothing of it: the next event it gets is one
	// for PER.
	_ = b.srv.pub.Publish(context.Background(), siteEvent(agPER, nil, 9))
	if x := perB.next(t); !strings.Contains(x.data, `"n":9`) {
		t.Errorf("B's PER client got %+v", x)
	}
}

type (
	natsConn = nats.Conn
	natsMsg  = nats.Msg
)
