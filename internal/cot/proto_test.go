package cot_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/cot/nodecot"
)

// protoEvents are every kind of event Atalaya writes, and a device's
// position report as ATAK writes it (every typed detail message).
func protoEvents(t testing.TB) []cot.Event {
	t.Helper()
	var evs []cot.Event
	for _, lang := range cot.Langs {
		for _, p := range []float64{0.95, 0.6, 0.2} {
			s := site()
			s.Probability = p
			s.ID += fmt.Sprintf("%s%02.0f", lang, 100*p)
			e, err := cot.SiteEvent(s, opts(lang), now)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, e)
		}
	}
	ack := cot.ChatMessage(cot.ChatParty{UID: "atalaya", Callsign: "Atalaya"}, cot.ChatParty{UID: "ANDROID-0c1d2e3f", Callsign: "DAVE"},
		"m1", cot.AckText("es", cot.Ack{SiteID: site().ID, Outcome: "confirmed-lab"}), now)
	evs = append(evs, cot.DeleteEvent("abc", opts("en"), now), cot.Ping(now), cot.Pong(now), ack,
		cot.ProtocolOffer("offer-1", "Atalaya test", now), cot.ProtocolRequest("offer-1", now), cot.ProtocolResponse("offer-1", true, now))
	b, err := os.ReadFile(filepath.Join("testdata", "atak-sa.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sa, err := cot.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return append(evs, sa)
}

// canonical is an event in a form where the XML and the protobuf paths
// compare equal: detail elements sorted by name, attributes as a sorted
// list with numbers in one form.
func canonical(e cot.Event) cot.Event {
	normalize(&e)
	others := append([]cot.Element(nil), e.Detail.Other...)
	for i := range others {
		attrs := append([]xml.Attr(nil), others[i].Attrs...)
		for j := range attrs {
			if f, err := strconv.ParseFloat(attrs[j].Value, 64); err == nil {
				attrs[j].Value = strconv.FormatFloat(f, 'g', -1, 64)
			}
		}
		sort.Slice(attrs, func(a, b int) bool { return attrs[a].Name.Local < attrs[b].Name.Local })
		others[i].Attrs = attrs
	}
	sort.SliceStable(others, func(a, b int) bool { return others[a].XMLName.Local < others[b].XMLName.Local })
	e.Detail.Other = others
	if len(e.Detail.Other) == 0 {
		e.Detail.Other = nil
	}
	return e
}

// Every event survives XML → protobuf → event, and the typed messages are
// used where detail.proto wants them (no <contact>, <takv>, <__group>,
// <status>, <track> or <precisionlocation> left in xmlDetail).
func TestProtoRoundTrip(t *testing.T) {
	for _, e := range protoEvents(t) {
		b, err := cot.MarshalProto(e)
		if err != nil {
			t.Fatalf("%s: %v", e.UID, err)
		}
		for _, el := range []string{"<contact", "<takv", "<__group", "<status", "<track", "<precisionlocation"} {
			if bytes.Contains(b, []byte(el)) {
				t.Errorf("%s: %s is in xmlDetail, want its typed message", e.UID, el)
			}
		}
		got, err := cot.UnmarshalProto(b)
		if err != nil {
			t.Fatalf("%s: %v", e.UID, err)
		}
		if g, w := canonical(got), canonical(e); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: protobuf round trip\n got %+v\nwant %+v", e.UID, g, w)
		}
		// And the frame.
		fr, err := cot.MarshalFrame(e)
		if err != nil || fr[0] != 0xbf {
			t.Fatalf("%s: frame %x…: %v", e.UID, fr[:2], err)
		}
	}
}

// Field by field against node-cot 14.23.2, which encodes and decodes with
// protobufjs from the published .proto files: every protobuf message
// Atalaya writes decodes there (and passes node-cot's schema) to the
// uid, type, how, times, point, callsign and remarks of the XML path; what
// node-cot encodes from Atalaya's XML and from ATAK's decodes here to the
// event the XML decoder makes of it.
func TestProtoNodeCoT(t *testing.T) {
	evs := protoEvents(t)
	var payloads, xmls [][]byte
	for _, e := range evs {
		p, err := cot.MarshalProto(e)
		if err != nil {
			t.Fatal(err)
		}
		x, err := cot.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		payloads, xmls = append(payloads, p), append(xmls, x)
	}
	dec, enc, err := nodecot.Proto(payloads, xmls)
	if err != nil {
		t.Fatal(err)
	}
	ms := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Errorf("node-cot time %q: %v", s, err)
		}
		return tm
	}
	for i, d := range dec {
		e := evs[i]
		if !d.OK {
			t.Errorf("node-cot refused the protobuf of %s: %s", e.UID, d.Error)
			continue
		}
		if d.UID != e.UID || d.Type != e.Type || d.How != e.How {
			t.Errorf("node-cot: uid %q type %q how %q, want %q %q %q", d.UID, d.Type, d.How, e.UID, e.Type, e.How)
		}
		if !ms(d.Time).Equal(e.Time) || !ms(d.Start).Equal(e.Start) || !ms(d.Stale).Equal(e.Stale) {
			t.Errorf("%s: node-cot times %s %s %s, want %s %s %s", e.UID, d.Time, d.Start, d.Stale, e.Time, e.Start, e.Stale)
		}
		if d.Lat != e.Point.Lat || d.Lon != e.Point.Lon || d.HAE != e.Point.HAE || d.CE != e.Point.CE || d.LE != e.Point.LE {
			t.Errorf("%s: node-cot point %v %v %v %v %v, want %+v", e.UID, d.Lat, d.Lon, d.HAE, d.CE, d.LE, e.Point)
		}
		if c := e.Detail.Contact; c != nil && (d.Callsign != c.Callsign || d.Endpoint != c.Endpoint) {
			t.Errorf("%s: node-cot callsign %q endpoint %q, want %q %q", e.UID, d.Callsign, d.Endpoint, c.Callsign, c.Endpoint)
		}
		if r := e.Detail.Remarks; r != nil && d.Remarks != r.Text {
			t.Errorf("%s: node-cot remarks %q, want %q", e.UID, d.Remarks, r.Text)
		}
		want := map[string]bool{}
		if e.Detail.Contact != nil {
			want["contact"] = true
		}
		if e.Detail.Remarks != nil {
			want["remarks"] = true
		}
		if len(e.Detail.Links) > 0 {
			want["link"] = true
		}
		for _, el := range e.Detail.Other {
			if el.XMLName.Local != cot.FlowTags && el.XMLName.Local != "precisionlocation" { // node-cot 14.23.2 reads precisionLocation under another key
				want[el.XMLName.Local] = true
			}
		}
		for _, k := range d.Detail {
			delete(want, k)
		}
		if len(want) > 0 {
			t.Errorf("%s: node-cot lacks detail %v (has %v)", e.UID, want, d.Detail)
		}
		if e.Type == cot.TypeChat && (d.Chat == nil || d.Chat.Chatroom != "DAVE" || d.Chat.ID != "ANDROID-0c1d2e3f" || d.Chat.SenderCallsign != "Atalaya") {
			t.Errorf("chat: node-cot __chat %+v", d.Chat)
		}
	}
	for i, n := range enc {
		e := evs[i]
		if !n.OK {
			t.Errorf("node-cot could not encode %s: %s", e.UID, n.Error)
			continue
		}
		got, err := cot.UnmarshalProto(n.Proto)
		if err != nil {
			t.Errorf("node-cot's protobuf of %s: %v", e.UID, err)
			continue
		}
		if got.UID != e.UID || got.Type != e.Type || got.How != e.How || !got.Time.Equal(e.Time) || !got.Start.Equal(e.Start) ||
			!got.Stale.Equal(e.Stale) || got.Point != e.Point {
			t.Errorf("node-cot's protobuf of %s decodes to %+v", e.UID, got)
		}
		if c := e.Detail.Contact; c != nil && (got.Detail.Contact == nil || *got.Detail.Contact != *c) {
			t.Errorf("%s: contact %+v from node-cot's protobuf, want %+v", e.UID, got.Detail.Contact, c)
		}
		if r := e.Detail.Remarks; r != nil && (got.Detail.Remarks == nil || got.Detail.Remarks.Text != r.Text) {
			t.Errorf("%s: remarks %+v from node-cot's protobuf", e.UID, got.Detail.Remarks)
		}
		if len(got.Detail.Links) != len(e.Detail.Links) {
			t.Errorf("%s: %d links from node-cot's protobuf, want %d", e.UID, len(got.Detail.Links), len(e.Detail.Links))
		}
		for _, name := range []string{"takv", "__group", "status", "track"} {
			if hasOther(e, name) != hasOther(got, name) {
				t.Errorf("%s: <%s> lost in node-cot's protobuf", e.UID, name)
			}
		}
	}
}

func hasOther(e cot.Event, name string) bool {
	for _, el := range e.Detail.Other {
		if el.XMLName.Local == name {
			return true
		}
	}
	return false
}

// TestProtoBytes pins the encoding of a small event to bytes worked out by
// hand from cotevent.proto (proto3: zero fields left out).
func TestProtoBytes(t *testing.T) {
	e := cot.Event{UID: "u", Type: "a-f", How: "m-g", Time: time.UnixMilli(1), Start: time.UnixMilli(1), Stale: time.UnixMilli(2),
		Point: cot.Point{Lat: 1, CE: 2}, Detail: cot.Detail{Contact: &cot.Contact{Callsign: "C"}}}
	got, err := cot.MarshalProto(e)
	if err != nil {
		t.Fatal(err)
	}
	ev := []byte{
		0x0a, 3, 'a', '-', 'f', // 1 type
		0x2a, 1, 'u', // 5 uid
		0x30, 1, // 6 sendTime
		0x38, 1, // 7 startTime
		0x40, 2, // 8 staleTime
		0x4a, 3, 'm', '-', 'g', // 9 how
		0x51, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // 10 lat 1.0
		0x69, 0, 0, 0, 0, 0, 0, 0, 0x40, // 13 ce 2.0
		0x7a, 5, 0x12, 3, 0x12, 1, 'C', // 15 detail { 2 contact { 2 callsign } }
	}
	want := append([]byte{0x12, byte(len(ev))}, ev...) // TakMessage 2 cotEvent
	if !bytes.Equal(got, want) {
		t.Errorf("protobuf\n got % x\nwant % x", got, want)
	}
}

func TestReaderSwitch(t *testing.T) {
	x1, _ := cot.Marshal(cot.Ping(now))
	x2, _ := cot.Marshal(cot.ProtocolResponse("o", true, now))
	sa := protoEvents(t)[0]
	f1, _ := cot.MarshalFrame(sa)
	ctl, _ := cot.MarshalTakMessage(cot.TakMessage{Control: &cot.TakControl{MinProtoVersion: 1, MaxProtoVersion: 1}})
	f2, _ := cot.MarshalFrame(cot.Pong(now))
	stream := bytes.Join([][]byte{x1, []byte("\n"), x2, []byte("\r\n"), f1, cot.AppendFrame(nil, ctl), f2}, nil)
	r := cot.NewReader(bytes.NewReader(stream))
	var got []string
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Type)
		if e.Type == cot.TypeProtocolResponse {
			if err := r.UseProtocol(1); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := []string{cot.TypePing, cot.TypeProtocolResponse, sa.Type, cot.TypePong}; !reflect.DeepEqual(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	for name, c := range map[string]struct {
		data []byte
		eof  bool
	}{
		"bad magic":       {data: append([]byte{0xbe}, f1[1:]...)},
		"truncated":       {data: f1[:len(f1)-3], eof: true},
		"truncated len":   {data: []byte{0xbf, 0x80}, eof: true},
		"too long":        {data: []byte{0xbf, 0x81, 0x80, 0x80, 0x01}},
		"varint overflow": {data: []byte{0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		"not a message":   {data: []byte{0xbf, 2, 0x12, 5}},
		"no detail xml":   {data: cot.AppendFrame(nil, []byte{0x12, 4, 0x7a, 2, 0x0a, 0})},
	} {
		r := cot.NewReader(bytes.NewReader(c.data))
		_ = r.UseProtocol(1)
		_, err := r.Next()
		switch {
		case c.eof && !errors.Is(err, io.ErrUnexpectedEOF):
			t.Errorf("%s: %v, want unexpected EOF", name, err)
		case !c.eof && !errors.Is(err, cot.ErrInvalid):
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestProtoErrors(t *testing.T) {
	good, _ := cot.MarshalProto(cot.Ping(now))
	for name, b := range map[string][]byte{
		"uid wrong type":   {0x12, 2, 0x28, 1},
		"no uid":           {0x12, 3, 0x4a, 1, 'h'},
		"bad utf-8":        {0x12, 3, 0x2a, 1, 0xff},
		"time past 9999":   {0x12, 11, 0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0},
		"bad detail xml":   append([]byte{0x12, byte(len(good) + 4)}, append(good[2:], 0x7a, 2, 0x0a, '<')...),
		"nan lat":          append([]byte{0x12, byte(len(good) + 7)}, append(good[2:], 0x51, 0, 0, 0, 0, 0, 0, 0xf8)...),
		"no event":         {},
		"oversized string": {0x12, 3, 0x0a, 5, 'a'},
	} {
		if _, err := cot.UnmarshalProto(b); !errors.Is(err, cot.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := cot.MarshalProto(cot.Event{UID: "x", Type: "a", How: "h", Time: time.Unix(-1, 0), Start: time.Unix(-1, 0), Stale: now}); !errors.Is(err, cot.ErrInvalid) {
		t.Errorf("a time before 1970: %v", err)
	}
}

func TestNegotiationEvents(t *testing.T) {
	offer, req, yes, no := cot.ProtocolOffer("o-1", `Atalaya "1.0" <dev>`, now), cot.ProtocolRequest("o-1", now),
		cot.ProtocolResponse("o-1", true, now), cot.ProtocolResponse("o-1", false, now)
	var xmls [][]byte
	for _, e := range []cot.Event{offer, req, yes, no} {
		b, err := cot.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		d, err := cot.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", e.Type, err, b)
		}
		xmls = append(xmls, b)
		if d.UID != "o-1" || d.How != "m-g" {
			t.Errorf("%s: uid %s how %s", e.Type, d.UID, d.How)
		}
		switch e.Type {
		case cot.TypeProtocolOffer:
			if !cot.OffersProtocol(d, 1) || cot.OffersProtocol(d, 2) {
				t.Errorf("offer %s", b)
			}
		case cot.TypeProtocolRequest:
			if v, ok := cot.RequestedProtocol(d); !ok || v != 1 {
				t.Errorf("request %s: %d %v", b, v, ok)
			}
		case cot.TypeProtocolResponse:
			acc, ok := cot.ProtocolAccepted(d)
			if !ok || acc != (e.Detail.Other[0].Inner == `<TakResponse status="true"/>`) {
				t.Errorf("response %s: %v %v", b, acc, ok)
			}
		}
	}
	// TAK Server's offer, as it is on the wire.
	tak := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<event version="2.0" uid="8f6f6794-466d-4404-9b60-557511f9dab1" type="t-x-takp-v" time="2023-08-22T01:33:14Z" start="2023-08-22T01:33:14Z" stale="2023-08-22T01:34:14Z" how="m-g"><point lat="0.0" lon="0.0" hae="0.0" ce="999999" le="999999"/><detail><TakControl><TakProtocolSupport version="1"/><TakServerVersionInfo serverVersion="4.8-RELEASE-45-HEAD" apiVersion="3"/></TakControl></detail></event>`)
	d, err := cot.Decode(tak)
	if err != nil || !cot.OffersProtocol(d, 1) {
		t.Errorf("TAK Server's offer: %v %+v", err, d)
	}
	res, err := nodecot.Parse(xmls...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.OK {
			t.Errorf("node-cot refused %s", xmls[i])
		}
	}
}

func TestChatAndAck(t *testing.T) {
	from, to := cot.ChatParty{UID: "atalaya", Callsign: "Atalaya"}, cot.ChatParty{UID: "ANDROID-1", Callsign: "ANA"}
	text := cot.AckText("es", cot.Ack{SiteID: site().ID, Outcome: "nothing-found", Visited: time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)})
	if want := "Atalaya registró su informe del sitio 5C6D7E: nada encontrado (visita 2026-11-20 08:30 UTC). Gracias."; text != want {
		t.Errorf("ack %q, want %q", text, want)
	}
	for _, c := range []struct {
		lang string
		ack  cot.Ack
		want string
	}{
		{"en", cot.Ack{Refusal: cot.RefusedUnknownShort, ShortID: "ffffff"}, "Atalaya did not record your report: no site your agency can see ends in FFFFFF."},
		{"pt", cot.Ack{Refusal: cot.RefusedAmbiguous, ShortID: "abc123"}, "O Atalaya não registrou seu relatório: ABC123 corresponde a vários locais."},
		{"es", cot.Ack{Refusal: cot.RefusedUnknownSite, SiteID: "xyz"}, "Atalaya no registró su informe: el sitio xyz no existe o su agencia no puede verlo."},
		{"en", cot.Ack{Refusal: cot.RefusedRole}, "your role may not report ground truth"},
		{"pt", cot.Ack{Outcome: "confirmed-lab", SiteID: "0000000000aaa111"}, "O Atalaya registrou seu relatório do local AAA111: laboratório confirmado. Obrigado."},
	} {
		if got := cot.AckText(c.lang, c.ack); !strings.Contains(got, c.want) {
			t.Errorf("%s %+v: %q, want %q", c.lang, c.ack, got, c.want)
		}
	}
	e := cot.ChatMessage(from, to, "m-1", text, now)
	b, err := cot.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	d, err := cot.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := cot.ChatSender(d); !ok || p != from {
		t.Errorf("sender %+v %v", p, ok)
	}
	if d.UID != "GeoChat.atalaya.ANDROID-1.m-1" || d.Type != "b-t-f" || d.Detail.Remarks.Text != text || d.Detail.Remarks.To != "ANDROID-1" {
		t.Errorf("chat %s", b)
	}
	res, err := nodecot.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].OK || res[0].Feature.Properties.Remarks != text {
		t.Errorf("node-cot: %+v", res[0])
	}
	// A message to All Chat Rooms when the device's uid is not known.
	all := cot.ChatMessage(from, cot.ChatParty{}, "m-2", "hi", now)
	if p, _ := cot.ChatSender(all); p != from || !strings.Contains(all.UID, "All Chat Rooms") {
		t.Errorf("all chat rooms: %+v", all)
	}
}

func FuzzUnmarshalProto(f *testing.F) {
	for _, e := range protoEvents(f) {
		b, err := cot.MarshalProto(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 2, 0x08, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := cot.UnmarshalTakMessage(data)
		if err != nil {
			if !errors.Is(err, cot.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if m.Event == nil {
			return
		}
		// What decodes encodes, and decodes again to the same event.
		b, err := cot.MarshalProto(*m.Event)
		if err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
		e2, err := cot.UnmarshalProto(b)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if g, w := canonical(e2), canonical(*m.Event); !reflect.DeepEqual(g, w) {
			t.Fatalf("not stable:\n%+v\n%+v", g, w)
		}
		// And the frame reader agrees.
		r := cot.NewReader(bytes.NewReader(cot.AppendFrame(nil, data)))
		_ = r.UseProtocol(1)
		if _, err := r.Next(); err != nil {
			t.Fatalf("frame reader: %v", err)
		}
	})
}

// FuzzReaderFrames feeds a stream that switches to TAK protocol frames:
// every event read passes Validate; the stream ends in io.EOF, a truncation
// (io.ErrUnexpectedEOF) or an error wrapping ErrInvalid, never a panic.
func FuzzReaderFrames(f *testing.F) {
	var all []byte
	for _, e := range protoEvents(f) {
		b, err := cot.MarshalFrame(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		all = append(all, b...)
	}
	f.Add(all)
	f.Add([]byte("\n\xbf\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := cot.NewReader(bytes.NewReader(data))
		_ = r.UseProtocol(1)
		for {
			e, err := r.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, cot.ErrInvalid) {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err := e.Validate(); err != nil {
				t.Fatalf("read an invalid event: %v", err)
			}
		}
	})
}

// BenchmarkEncode reports the bytes of a site marker on the wire and the
// cost of writing it, as XML and as a TAK protocol version 1 frame.
func BenchmarkEncode(b *testing.B) {
	e, err := cot.SiteEvent(site(), opts("es"), now)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		enc  func(cot.Event) ([]byte, error)
	}{{"xml", cot.Marshal}, {"protobuf", cot.MarshalFrame}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				out, err := c.enc(e)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(n), "bytes/event")
		})
	}
}

// BenchmarkDecode reads site markers back from a stream of each kind.
func BenchmarkDecode(b *testing.B) {
	e, err := cot.SiteEvent(site(), opts("es"), now)
	if err != nil {
		b.Fatal(err)
	}
	x, _ := cot.Marshal(e)
	p, _ := cot.MarshalFrame(e)
	for _, c := range []struct {
		name  string
		one   []byte
		proto int
	}{{"xml", append(x, '\n'), 0}, {"protobuf", p, 1}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			stream := bytes.Repeat(c.one, 100)
			b.SetBytes(int64(len(stream)))
			for b.Loop() {
				r := cot.NewReader(bytes.NewReader(stream))
				_ = r.UseProtocol(c.proto)
				for range 100 {
					if _, err := r.Next(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
