package tak_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/cot/nodecot"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/tak"
)

// takServer stands in for a TAK Server input that negotiates the TAK
// protocol as protocol.txt describes it and TAK Server does it: on
// accept it sends (or not) the offer of version 1 as XML, answers a
// t-x-takp-q, and from its true answer on reads and writes protobuf
// frames.
type takServer struct {
	ln     net.Listener
	mode   string // "offer" (answers true), "decline" (answers false), "silent" (no offer), "mute" (offers, never answers)
	events chan serverEvent
	accept chan struct{}

	mu    sync.Mutex
	conn  net.Conn
	proto bool
	wmu   sync.Mutex
}

// serverEvent is an event the server read and the protocol it came in.
type serverEvent struct {
	e     cot.Event
	proto bool
}

func newTAKServer(t testing.TB, mode string, cfg *tls.Config) *takServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	s := &takServer{ln: ln, mode: mode, events: make(chan serverEvent, 8192), accept: make(chan struct{}, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conn, s.proto = c, false
			s.mu.Unlock()
			s.accept <- struct{}{}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); s.drop() })
	return s
}

const offerUID = "8f6f6794-466d-4404-9b60-557511f9dab1"

func (s *takServer) serve(c net.Conn) {
	defer c.Close()
	if s.mode != "silent" {
		// TAK Server's bytes: declaration, newline, the event, nothing after.
		b, _ := cot.Marshal(cot.ProtocolOffer(offerUID, "4.8-RELEASE-45-HEAD", time.Now()))
		s.write(c, append([]byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), b...))
	}
	r := cot.NewReader(c)
	for {
		e, err := r.Next()
		if err != nil {
			return
		}
		s.mu.Lock()
		proto := s.proto
		s.mu.Unlock()
		if e.Type == cot.TypeProtocolRequest {
			v, ok := cot.RequestedProtocol(e)
			switch {
			case s.mode == "mute":
			case s.mode == "offer" && ok && v == 1 && e.UID == offerUID:
				b, _ := cot.Marshal(cot.ProtocolResponse(offerUID, true, time.Now()))
				s.wmu.Lock()
				_, _ = c.Write(b)
				s.mu.Lock()
				s.proto = true
				s.mu.Unlock()
				s.wmu.Unlock()
				_ = r.UseProtocol(1)
			default:
				b, _ := cot.Marshal(cot.ProtocolResponse(offerUID, false, time.Now()))
				s.write(c, b)
			}
		}
		s.events <- serverEvent{e: e, proto: proto}
	}
}

func (s *takServer) write(c net.Conn, b []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, _ = c.Write(b)
}

func (s *takServer) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
	}
}

// ping pings the client in the connection's protocol and returns what the
// client sent before the pong, and the pong.
func (s *takServer) ping(t testing.TB) (before []serverEvent, pong serverEvent) {
	t.Helper()
	s.mu.Lock()
	c, proto := s.conn, s.proto
	s.mu.Unlock()
	var b []byte
	if proto {
		b, _ = cot.MarshalFrame(cot.Ping(time.Now()))
	} else {
		b, _ = cot.Marshal(cot.Ping(time.Now()))
	}
	s.write(c, b)
	deadline := time.After(time.Minute)
	for {
		select {
		case ev := <-s.events:
			if ev.e.Type == cot.TypePong {
				return before, ev
			}
			before = append(before, ev)
		case <-deadline:
			t.Fatalf("no pong within a minute (got %d events)", len(before))
		}
	}
}

func runPusher(t *testing.T, cfg tak.PushConfig) *tak.Pusher {
	t.Helper()
	p, err := tak.NewPusher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { p.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// The pusher against a TAK server that offers version 1 switches to
// protobuf before the snapshot; the request is the first thing it writes
// and is XML, everything after it frames; the server's protobuf ping gets a
// protobuf pong; live changes go as frames. A server that declines, and
// one that never offers, get XML throughout; one that offers and never
// answers is disconnected and gets XML on the next connection.
func TestPusherProtocol(t *testing.T) {
	for _, mode := range []string{"offer", "decline", "silent", "mute"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			srvCfg, cliCfg := partnerTLS(t)
			srv := newTAKServer(t, mode, srvCfg)
			shown := e.site(bogota, 0.9, store.SiteReleased, partner)
			p := runPusher(t, tak.PushConfig{Address: srv.ln.Addr().String(), TLS: cliCfg, AgencyID: partner,
				Site: cot.SiteOptions{Lang: "en"}, Sites: e.sites, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
				OfferWait: 200 * time.Millisecond, ResponseWait: 300 * time.Millisecond})
			<-srv.accept
			if mode == "mute" {
				// The request goes unanswered: the pusher gives up on the
				// connection and comes back speaking XML without asking.
				select {
				case <-srv.accept:
				case <-time.After(time.Minute):
					t.Fatal("no reconnection within a minute")
				}
			}
			<-p.Connected()
			before, pong := srv.ping(t)
			wantProto := mode == "offer"
			if pong.proto != wantProto || p.Protocol() != map[bool]int{true: 1, false: 0}[wantProto] {
				t.Errorf("pong as protobuf %v, pusher's protocol %d; want protobuf %v", pong.proto, p.Protocol(), wantProto)
			}
			var sites []serverEvent
			requests := 0
			for _, ev := range before {
				switch ev.e.Type {
				case cot.TypeProtocolRequest:
					requests++
					if ev.proto || ev.e.UID != offerUID {
						t.Errorf("request %+v", ev)
					}
				case cot.TypeSpotMarker:
					sites = append(sites, ev)
				}
			}
			// mute: the first connection's request only; the second
			// connection does not ask again.
			if want := map[string]int{"offer": 1, "decline": 1, "silent": 0, "mute": 1}[mode]; requests != want {
				t.Errorf("%d protocol requests, want %d", requests, want)
			}
			if len(sites) != 1 || sites[0].e.UID != cot.SiteUID(shown.ID) || sites[0].proto != wantProto ||
				sites[0].e.Detail.Contact.Callsign[:12] != "Possible lab" {
				t.Fatalf("snapshot %+v", sites)
			}
			// A live change.
			s2 := e.site(saoPaulo, 0.7, store.SiteConfirmed, partner)
			if err := p.Deliver(ctx, e.setStatus(s2.ID, store.SiteReleased)); err != nil {
				t.Fatal(err)
			}
			before, _ = srv.ping(t)
			if len(before) != 1 || before[0].e.UID != cot.SiteUID(s2.ID) || before[0].proto != wantProto {
				t.Errorf("live %+v", before)
			}
		})
	}
}

// The pusher against Atalaya's own streaming server (as a partner's
// Atalaya would be): it takes the offer and the two speak protobuf.
func TestPusherToStream(t *testing.T) {
	e := newEnv(t)
	e.site(bogota, 0.9, store.SiteReleased, partner)
	e.start()
	c := e.mustEnroll("dave")
	p := runPusher(t, tak.PushConfig{Address: e.streamAt, AgencyID: partner, Site: cot.SiteOptions{Lang: "en"}, Sites: e.sites,
		TLS: &tls.Config{RootCAs: e.ca.Pool(), ServerName: "127.0.0.1", Certificates: []tls.Certificate{c.tlsCert}}})
	<-p.Connected()
	if got := p.Protocol(); got != 1 {
		t.Fatalf("protocol %d with Atalaya's stream, want 1", got)
	}
	if n := e.stream.Connected(); n[partner] != 1 {
		t.Errorf("stream connections %v", n)
	}
}

// protoDevice is a TAK client that negotiates version 1 on the streaming
// port as ATAK does with protocol negotiation on: it waits for the offer,
// asks, and after the true answer reads and writes frames.
type protoDevice struct {
	conn     net.Conn
	beforeSw []cot.Event // XML events before the switch
	got      chan cot.Event
	err      error
}

func (e *env) connectProto(c *credentials) *protoDevice {
	t := e.t
	conn, err := tls.Dial("tcp", e.streamAt, &tls.Config{RootCAs: e.ca.Pool(), ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{c.tlsCert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute)) // a guard, not a timing
	d := &protoDevice{conn: conn, got: make(chan cot.Event, 4096)}
	r := cot.NewReader(conn)
	for requested := false; ; {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("before the switch: %v", err)
		}
		if ev.Type == cot.TypeProtocolOffer && !requested {
			if !cot.OffersProtocol(ev, 1) {
				t.Fatalf("offer %+v", ev)
			}
			b, _ := cot.Marshal(cot.ProtocolRequest(ev.UID, time.Now()))
			if _, err := conn.Write(b); err != nil {
				t.Fatal(err)
			}
			requested = true
			continue
		}
		if ok, isResp := cot.ProtocolAccepted(ev); isResp {
			if !ok || !requested {
				t.Fatalf("response %+v", ev)
			}
			break
		}
		d.beforeSw = append(d.beforeSw, ev)
	}
	_ = conn.SetReadDeadline(time.Time{})
	if err := r.UseProtocol(1); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			ev, err := r.Next()
			if err != nil {
				d.err = err
				close(d.got)
				return
			}
			d.got <- ev
		}
	}()
	return d
}

// until reads frames until one has the uid (and type, if not empty), as
// device.until does.
func (d *protoDevice) until(t testing.TB, uid, typ string) cot.Event {
	t.Helper()
	return untilEvent(t, d.got, func() error { return d.err }, uid, typ)
}

func (d *protoDevice) send(t testing.TB, e cot.Event) {
	t.Helper()
	b, err := cot.MarshalFrame(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// sync pings (a frame) and returns what arrived before the pong.
func (d *protoDevice) sync(t testing.TB) []cot.Event {
	t.Helper()
	d.send(t, cot.Ping(time.Now()))
	var before []cot.Event
	deadline := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-d.got:
			if !ok {
				t.Fatalf("connection ended: %v", d.err)
			}
			if ev.Type == cot.TypePong {
				return before
			}
			before = append(before, ev)
		case <-deadline:
			t.Fatal("no pong within a minute")
		}
	}
}

// A device that negotiates protobuf on the streaming port: the snapshot
// (before or after the switch), live releases, pongs, ground-truth replies
// and their acknowledgements all work in frames; its SA report tells the
// server its uid and callsign, so the acknowledgement is a direct GeoChat
// message to it. A device on XML next to it is unaffected.
func TestStreamProtobuf(t *testing.T) {
	e := newEnv(t)
	first := e.site(bogota, 0.9, store.SiteReleased, partner)
	e.start()
	d := e.connectProto(e.mustEnroll("dave"))
	x, err := e.connect(e.mustEnroll("dave"))
	if err != nil {
		t.Fatal(err)
	}
	// The device's own position report (ATAK's SA), as a frame.
	now := time.Now()
	d.send(t, cot.Event{UID: "ANDROID-0c1d2e3f", Type: "a-f-G-U-C", How: "h-e", Time: now, Start: now, Stale: now.Add(time.Minute),
		Point:  cot.Point{Lat: 4.61, Lon: -74.08, HAE: cot.Unknown, CE: cot.Unknown, LE: cot.Unknown},
		Detail: cot.Detail{Contact: &cot.Contact{Callsign: "DAVE", Endpoint: "*:-1:stcp"}}})
	got := append(d.beforeSw, d.sync(t)...)
	n := 0
	for _, ev := range got {
		if ev.UID == cot.SiteUID(first.ID) && ev.Type == cot.TypeSpotMarker {
			n++
		}
	}
	if n != 1 {
		t.Errorf("snapshot: %d markers of the released site, want 1 (%d events)", n, len(got))
	}
	// A live release arrives as a frame, to both devices.
	s2 := e.site(saoPaulo, 0.7, store.SiteConfirmed, partner)
	if err := e.stream.Deliver(ctx, e.setStatus(s2.ID, store.SiteReleased)); err != nil {
		t.Fatal(err)
	}
	if got := d.sync(t); len(got) != 1 || got[0].UID != cot.SiteUID(s2.ID) || got[0].Detail.Contact.Callsign[:12] != "Possible lab" {
		t.Errorf("live release %+v", got)
	}
	x.until(t, cot.SiteUID(s2.ID), cot.TypeSpotMarker)
	x.sync(t)

	// Ground truth in a frame: a GeoChat message with the short id.
	short := strings.ToUpper(s2.ID[len(s2.ID)-6:])
	chat, err := cot.Decode(geoChat(short+" #nothing-found, only a shed", now))
	if err != nil {
		t.Fatal(err)
	}
	d.send(t, chat)
	bad, _ := cot.Decode(geoChat("FFFFFF #nothing-found", now))
	d.send(t, bad)
	acks := d.sync(t)
	if len(acks) != 2 {
		t.Fatalf("acknowledgements %+v, want 2", acks)
	}
	for i, want := range []string{"Atalaya recorded your report for site " + short + ": nothing found",
		"Atalaya did not record your report: no site your agency can see ends in FFFFFF."} {
		a := acks[i]
		p, ok := cot.ChatSender(a)
		if a.Type != "b-t-f" || !ok || p.Callsign != "Atalaya" || a.Detail.Remarks == nil || !strings.HasPrefix(a.Detail.Remarks.Text, want) {
			t.Errorf("ack %d: %+v (%+v), want %q", i, a, a.Detail.Remarks, want)
		}
		// Sent to the GeoChat sender (its chatgrp uid0).
		if a.Detail.Remarks.To != "ANDROID-0c1d2e3f" || !strings.HasPrefix(a.UID, "GeoChat.atalaya-test.ANDROID-0c1d2e3f.") {
			t.Errorf("ack %d addressed to %q (uid %s)", i, a.Detail.Remarks.To, a.UID)
		}
	}
	ds, err := e.db.Decisions(ctx, s2.ID)
	if err != nil || len(ds) != 1 || !strings.Contains(ds[0].Payload, `"outcome":"nothing-found"`) {
		t.Errorf("decisions %+v %v", ds, err)
	}
	// Node-cot validates the acknowledgement's frame payload.
	var payloads [][]byte
	for _, a := range acks {
		b, err := cot.MarshalProto(a)
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, b)
	}
	res, _, err := nodecot.Proto(payloads, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.OK || r.Chat == nil || r.Chat.SenderCallsign != "Atalaya" || r.Chat.Chatroom != "DAVE" || r.Remarks != acks[i].Detail.Remarks.Text {
			t.Errorf("node-cot on ack %d: %+v", i, r)
		}
	}
	// The XML device got none of that conversation.
	for _, ev := range x.events {
		if ev.Type == "b-t-f" {
			t.Errorf("the other device got %s", ev.UID)
		}
	}
}

// --tak-xml-only: the stream offers nothing, and the pusher does not ask a
// server that offers.
func TestXMLOnly(t *testing.T) {
	e := newEnv(t)
	e.xmlOnly = true
	e.site(bogota, 0.9, store.SiteReleased, partner)
	e.start()
	d, err := e.connect(e.mustEnroll("dave"))
	if err != nil {
		t.Fatal(err)
	}
	d.sync(t)
	d.mu.Lock()
	offers := len(d.offers)
	d.mu.Unlock()
	if offers != 0 {
		t.Errorf("%d protocol offers from an XML-only stream", offers)
	}
	srv := newTAKServer(t, "offer", nil)
	p := runPusher(t, tak.PushConfig{Address: srv.ln.Addr().String(), AgencyID: partner, Site: cot.SiteOptions{Lang: "en"},
		Sites: e.sites, XMLOnly: true})
	<-p.Connected()
	before, pong := srv.ping(t)
	for _, ev := range before {
		if ev.e.Type == cot.TypeProtocolRequest || ev.proto {
			t.Errorf("XML-only pusher sent %s (protobuf %v)", ev.e.Type, ev.proto)
		}
	}
	if pong.proto || p.Protocol() != 0 || len(before) != 1 {
		t.Errorf("pong protobuf %v, protocol %d, %d events before it", pong.proto, p.Protocol(), len(before))
	}
}
