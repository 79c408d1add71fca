package tak_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/tak"
)

// partnerServer stands in for a partner's TAK server: it accepts one
// client at a time (TLS with a client certificate from the partner's CA, or
// plain TCP), reads its events and can ping it.
type partnerServer struct {
	ln     net.Listener
	events chan cot.Event
	mu     sync.Mutex
	conn   net.Conn
	accept chan struct{}
}

func newPartnerServer(t testing.TB, cfg *tls.Config) *partnerServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	p := &partnerServer{ln: ln, events: make(chan cot.Event, 8192), accept: make(chan struct{}, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conn = c
			p.mu.Unlock()
			p.accept <- struct{}{}
			go func() {
				r := cot.NewReader(c)
				for {
					e, err := r.Next()
					if err != nil {
						c.Close()
						return
					}
					p.events <- e
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.drop() })
	return p
}

func (p *partnerServer) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		p.conn.Close()
	}
}

// until reads events until one with the uid and type arrives, returning
// the events read before it.
func (p *partnerServer) until(t testing.TB, uid, typ string) []cot.Event {
	t.Helper()
	var before []cot.Event
	deadline := time.After(time.Minute)
	for {
		select {
		case e := <-p.events:
			if e.UID == uid && (typ == "" || e.Type == typ) {
				return before
			}
			before = append(before, e)
		case <-deadline:
			t.Fatalf("partner server: no %s %s within a minute (got %d others)", uid, typ, len(before))
		}
	}
}

// ping pings the connected client and returns what it sent before the
// pong.
func (p *partnerServer) ping(t testing.TB) []cot.Event {
	t.Helper()
	b, _ := cot.Marshal(cot.Ping(time.Now()))
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	return p.until(t, "takPong", cot.TypePong)
}

// partnerTLS makes the partner's CA, its server's TLS configuration
// (requiring client certificates from that CA) and Atalaya's client
// configuration with a certificate the partner issued.
func partnerTLS(t testing.TB) (server, client *tls.Config) {
	ca, err := tak.InitCA(filepath.Join(t.TempDir(), "partner-ca"), tak.CAOptions{KeyBits: 2048, Name: "Partner CA"})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.ServerCert([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "atalaya"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := tak.ParseCSR(der)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := ca.SignClient(csr, "atalaya", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	server = &tls.Config{Certificates: []tls.Certificate{sc}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	client = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cc.Raw}, PrivateKey: key}}, RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
	return server, client
}

func TestPusher(t *testing.T) {
	for _, mode := range []string{"tls", "tcp"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			var srvCfg, cliCfg *tls.Config
			if mode == "tls" {
				srvCfg, cliCfg = partnerTLS(t)
			}
			srv := newPartnerServer(t, srvCfg)
			shown := e.site(bogota, 0.9, store.SiteReleased, partner)
			e.site(bogota, 0.9, store.SiteReleased) // COL's own: not the partner's
			p, err := tak.NewPusher(tak.PushConfig{Address: srv.ln.Addr().String(), TLS: cliCfg, AgencyID: partner,
				Site: cot.SiteOptions{Lang: "en", BaseURL: "https://atalaya.example"}, Sites: e.sites,
				MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if p.Name() != "tak:"+partner+":"+srv.ln.Addr().String() || p.Agency() != partner {
				t.Errorf("sink name %q agency %q", p.Name(), p.Agency())
			}
			if err := p.Deliver(ctx, e.alert(shown.ID)); !errors.Is(err, tak.ErrNotConnected) {
				t.Errorf("Deliver before connecting: %v", err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { p.Run(runCtx); close(done) }()
			defer func() { cancel(); <-done }()

			// The snapshot on connect: the partner's live released site only.
			<-p.Connected()
			<-srv.accept
			got := srv.ping(t)
			if len(got) != 1 || got[0].UID != cot.SiteUID(shown.ID) || got[0].Detail.Contact.Callsign[:12] != "Possible lab" {
				t.Fatalf("snapshot %+v", got)
			}
			// Live: a new release to the partner arrives; one that is not
			// the partner's does not; a withdrawal does.
			s2 := e.site(saoPaulo, 0.7, store.SiteConfirmed, partner)
			s3 := e.site(saoPaulo, 0.7, store.SiteConfirmed, colombia)
			for _, s := range []store.Site{s2, s3} {
				if err := p.Deliver(ctx, e.setStatus(s.ID, store.SiteReleased)); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Deliver(ctx, e.setStatus(shown.ID, store.SiteDismissed)); err != nil {
				t.Fatal(err)
			}
			got = srv.ping(t)
			if len(got) != 2 || got[0].UID != cot.SiteUID(s2.ID) || got[1].Type != cot.TypeDelete ||
				got[1].Detail.Links[0].UID != cot.SiteUID(shown.ID) || got[1].Detail.ForceDelete == nil {
				t.Fatalf("live events %+v", got)
			}
			// The server drops the connection: the pusher reconnects and
			// sends the snapshot again (now s2 only).
			srv.drop()
			select {
			case <-srv.accept:
			case <-time.After(time.Minute):
				t.Fatal("no reconnection within a minute")
			}
			<-p.Connected()
			if got := srv.ping(t); len(got) != 1 || got[0].UID != cot.SiteUID(s2.ID) {
				t.Fatalf("snapshot after reconnecting %+v", got)
			}
		})
	}
}

// BenchmarkReleaseToTAK measures the time from an analyst's release
// (the transaction that marks the site released, records the release and
// enqueues the alert) to the event arriving at the partner's TAK server
// (push), at a device on Atalaya's streaming port (stream), and at one that
// negotiated TAK protocol version 1 (stream-protobuf): the outbox claim,
// the sink's Deliver and the TLS connection included.
// Run with -benchtime=1000x for BENCHMARKS.md.
func BenchmarkReleaseToTAK(b *testing.B) {
	for _, path := range []string{"push", "stream", "stream-protobuf"} {
		b.Run(path, func(b *testing.B) { benchRelease(b, path) })
	}
}

func benchRelease(b *testing.B, path string) {
	e := newEnv(b)
	e.start()
	var deliver func(context.Context, store.Alert) error
	var arrived func(uid string)
	switch path {
	case "push":
		srvCfg, cliCfg := partnerTLS(b)
		srv := newPartnerServer(b, srvCfg)
		p, err := tak.NewPusher(tak.PushConfig{Address: srv.ln.Addr().String(), TLS: cliCfg, AgencyID: partner,
			Site: cot.SiteOptions{Lang: "en"}, Sites: e.sites})
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { p.Run(runCtx); close(done) }()
		b.Cleanup(func() { cancel(); <-done })
		<-p.Connected()
		deliver = p.Deliver
		arrived = func(uid string) { srv.until(b, uid, cot.TypeSpotMarker) }
	case "stream":
		d, err := e.connect(e.mustEnroll("dave"))
		if err != nil {
			b.Fatal(err)
		}
		d.sync(b)
		deliver = e.stream.Deliver
		arrived = func(uid string) { d.until(b, uid, cot.TypeSpotMarker) }
	case "stream-protobuf":
		// A device that negotiated TAK protocol version 1.
		d := e.connectProto(e.mustEnroll("dave"))
		d.sync(b)
		deliver = e.stream.Deliver
		arrived = func(uid string) { d.until(b, uid, cot.TypeSpotMarker) }
	}
	// Candidate sites, made before the clock starts.
	sites := make([]store.Site, b.N)
	for i := range sites {
		sites[i] = e.site(bogota, 0.8, store.SiteConfirmed)
	}
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		s := sites[i]
		err := e.db.InTx(ctx, func(tx store.Tx) error {
			s.Status = store.SiteReleased
			up, err := tx.UpdateSite(ctx, s)
			if err != nil {
				return err
			}
			if _, err := tx.ReleaseSite(ctx, store.Release{SiteID: s.ID, AgencyID: partner, ReleasedBy: "analyst"}); err != nil {
				return err
			}
			a := alertFor(tak.Site{Site: up, Owner: colombia, ReleasedTo: []string{partner}})
			_, err = tx.EnqueueAlert(ctx, a)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		as, err := e.db.ClaimOutbox(ctx, 1, time.Minute)
		if err != nil || len(as) != 1 {
			b.Fatalf("claim: %d alerts, %v", len(as), err)
		}
		if err := deliver(ctx, as[0]); err != nil {
			b.Fatal(err)
		}
		if err := e.db.DeleteOutbox(ctx, as[0].ID); err != nil {
			b.Fatal(err)
		}
		arrived(cot.SiteUID(s.ID))
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	latencies(b, ds)
}

// latencies reports the median and 99th percentile.
func latencies(b *testing.B, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	b.ReportMetric(float64(q(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, "max-ms")
}

// TestPusherRefresh: with no alert delivered, the pusher's periodic
// reconciliation sends a newly released site and the withdrawal of a
// dismissed one.
func TestPusherRefresh(t *testing.T) {
	e := newEnv(t)
	srv := newPartnerServer(t, nil)
	first := e.site(bogota, 0.9, store.SiteReleased, partner)
	p, err := tak.NewPusher(tak.PushConfig{Address: srv.ln.Addr().String(), AgencyID: partner,
		Site: cot.SiteOptions{Lang: "en"}, Sites: e.sites, RefreshEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { p.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	srv.until(t, cot.SiteUID(first.ID), cot.TypeSpotMarker)
	later := e.site(saoPaulo, 0.7, store.SiteReleased, partner)
	e.site(saoPaulo, 0.7, store.SiteReleased, colombia) // not the partner's
	e.setStatus(first.ID, store.SiteDismissed)
	got := map[string]bool{}
	for !got[cot.SiteUID(later.ID)+" b-m-p-s-m"] || !got[cot.SiteUID(first.ID)+"-delete t-x-d-d"] {
		select {
		case ev := <-srv.events:
			if got[ev.UID+" "+ev.Type] {
				t.Errorf("%s %s sent twice", ev.UID, ev.Type)
			}
			got[ev.UID+" "+ev.Type] = true
		case <-time.After(time.Minute):
			t.Fatalf("not reconciled within a minute: %v", got)
		}
	}
	if len(got) != 2 {
		t.Errorf("events %v", got)
	}
}
