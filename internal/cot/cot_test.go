package cot_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/cot/nodecot"
	"github.com/atalaya-project/atalaya/internal/store"
)

var now = time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)

func site() store.Site {
	return store.Site{
		ID: "0193a4b2c3d4e5f60718293a4b5c6d7e", Lat: 4.60971, Lon: -74.08175, UncertaintyM: 15,
		GasProfile: `{"acetone":{"z":5.2,"ppmm":120,"emission_kg_h":0.4},"ammonia":3.1}`,
		FirstSeen:  now.Add(-10 * 24 * time.Hour), LastSeen: now.Add(-24 * time.Hour),
		PassesSeen: 3, PassesSurvey: 5, Evidence: 6.1, Probability: 0.83, TypeGuess: "methamphetamine-lab",
		Status: store.SiteReleased, Version: 4,
	}
}

func opts(lang string) cot.SiteOptions {
	return cot.SiteOptions{Lang: lang, BaseURL: "https://atalaya.example", ProducerUID: "atalaya-test"}
}

func TestSiteEvent(t *testing.T) {
	s := site()
	e, err := cot.SiteEvent(s, opts("es"), now)
	if err != nil {
		t.Fatal(err)
	}
	if e.UID != "atalaya-site-"+s.ID || e.Type != "b-m-p-s-m" || e.How != "m-f" {
		t.Errorf("uid/type/how = %s %s %s", e.UID, e.Type, e.How)
	}
	if e.Point.Lat != s.Lat || e.Point.Lon != s.Lon || e.Point.CE != 15 || e.Point.HAE != cot.Unknown || e.Point.LE != cot.Unknown {
		t.Errorf("point = %+v", e.Point)
	}
	if want := s.LastSeen.Add(cot.DefaultLifetime); !e.Stale.Equal(want) {
		t.Errorf("stale = %s, want last seen + lifetime %s", e.Stale, want)
	}
	if e.Detail.Color.ARGB != cot.ColorRed || e.Detail.UserIcon.IconSetPath != "COT_MAPPING_SPOTMAP/b-m-p-s-m/-65536" {
		t.Errorf("color %d icon %q", e.Detail.Color.ARGB, e.Detail.UserIcon.IconSetPath)
	}
	if got := e.Detail.Contact.Callsign; got != "Posible laboratorio 5C6D7E (83%)" {
		t.Errorf("callsign %q", got)
	}
	r := e.Detail.Remarks.Text
	for _, want := range []string{"laboratorio de metanfetamina", "Probabilidad 83 %", "6,1σ", "acetona 5,2σ (120 ppm·m, 0,40 kg/h); amoníaco 3,1σ",
		"3 de 5 pasadas", "primera vez 2026-11-15, última 2026-11-24", "±15 m"} {
		if !strings.Contains(r, want) {
			t.Errorf("remarks lack %q:\n%s", want, r)
		}
	}
	if len(e.Detail.Links) != 3 || e.Detail.Links[2].URL != "https://atalaya.example/sites/"+s.ID || e.Detail.Links[0].Relation != "p-p" {
		t.Errorf("links %+v", e.Detail.Links)
	}
	b, err := cot.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("__group")) {
		t.Errorf("site event has __group (ATAK would treat it as a team member): %s", b)
	}

	// An old sighting still shows for MinStale after it is sent, and is
	// not live.
	old := s
	old.LastSeen = now.Add(-60 * 24 * time.Hour)
	e, _ = cot.SiteEvent(old, opts("en"), now)
	if !e.Stale.Equal(now.Add(time.Hour)) || opts("en").Live(old, now) || !opts("en").Live(s, now) {
		t.Errorf("old site stale %s", e.Stale)
	}
}

func TestSiteEventLanguages(t *testing.T) {
	want := map[string][]string{
		"en": {"Possible lab 5C6D7E (83%)", "methamphetamine laboratory", "Probability 83%", "acetone 5.2σ (120 ppm·m, 0.40 kg/h); ammonia 3.1σ", "3 of 5 survey passes"},
		"es": {"Posible laboratorio", "evidencia combinada 6,1σ", "amoníaco"},
		"pt": {"Possível laboratório 5C6D7E (83%)", "laboratório de metanfetamina", "Probabilidade 83 %", "amônia 3,1σ", "3 de 5 passagens"},
	}
	for lang, ws := range want {
		e, err := cot.SiteEvent(site(), opts(lang), now)
		if err != nil {
			t.Fatal(err)
		}
		text := e.Detail.Contact.Callsign + "\n" + e.Detail.Remarks.Text
		for _, w := range ws {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q missing from\n%s", lang, w, text)
			}
		}
	}
}

func TestColorFor(t *testing.T) {
	for _, c := range []struct {
		p    float64
		want int32
	}{{0.95, cot.ColorRed}, {0.8, cot.ColorRed}, {0.79, cot.ColorOrange}, {0.5, cot.ColorOrange}, {0.49, cot.ColorYellow}, {0, cot.ColorYellow}} {
		if got := cot.ColorFor(c.p); got != c.want {
			t.Errorf("ColorFor(%v) = %d, want %d", c.p, got, c.want)
		}
	}
	// The ARGB integers are the two's-complement of the colours.
	red, orange, yellow := cot.ColorRed, cot.ColorOrange, cot.ColorYellow
	if uint32(red) != 0xFFFF0000 || uint32(orange) != 0xFFFF8000 || uint32(yellow) != 0xFFFFFF00 {
		t.Error("colour constants are not opaque red, orange, yellow")
	}
}

func TestBadGasProfile(t *testing.T) {
	s := site()
	s.GasProfile = `["acetone"]`
	if _, err := cot.SiteEvent(s, opts("en"), now); err == nil || !strings.Contains(err.Error(), "gas profile") {
		t.Errorf("err = %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, lang := range cot.Langs {
		e, err := cot.SiteEvent(site(), opts(lang), now)
		if err != nil {
			t.Fatal(err)
		}
		b, err := cot.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cot.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", lang, err, b)
		}
		normalize(&got)
		normalize(&e)
		if !reflect.DeepEqual(got, e) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", lang, got, e)
		}
	}
}

// normalize makes empty slices nil for comparison.
func normalize(e *cot.Event) {
	if len(e.Detail.Links) == 0 {
		e.Detail.Links = nil
	}
	if len(e.Detail.Other) == 0 {
		e.Detail.Other = nil
	}
}

func TestDecodeATAK(t *testing.T) {
	// A ping and a position report as ATAK writes them, with TAK Server's
	// flow tags on the second.
	b, err := os.ReadFile(filepath.Join("testdata", "atak-sa.xml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := cot.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.UID != "ANDROID-589520ccfcd20f01" || e.Type != "a-f-G-U-C" || e.Point.Lat != 38.85606343062312 || e.Detail.Contact.Callsign != "HOPE" {
		t.Errorf("decoded %+v", e)
	}
	var names []string
	for _, o := range e.Detail.Other {
		names = append(names, o.XMLName.Local)
	}
	if !slicesContains(names, cot.FlowTags) || !slicesContains(names, "__group") {
		t.Fatalf("other detail elements %v", names)
	}
	e.StripFlowTags()
	out, err := cot.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(cot.FlowTags)) {
		t.Errorf("flow tags survived:\n%s", out)
	}
	if !bytes.Contains(out, []byte(`<__group role="Team Member" name="Cyan"></__group>`)) || !bytes.Contains(out, []byte(`<takv `)) {
		t.Errorf("other detail lost:\n%s", out)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestDecodeErrors(t *testing.T) {
	const ok = `<event version="2.0" uid="u1" type="a-u-G" how="m-f" time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z" stale="2026-01-01T00:05:00Z"><point lat="1" lon="2" hae="0" ce="10" le="10"/><detail/></event>`
	if _, err := cot.Decode([]byte(ok)); err != nil {
		t.Fatalf("good event: %v", err)
	}
	for _, c := range []struct{ in, want string }{
		{strings.Replace(ok, `version="2.0"`, `version="1.0"`, 1), "version"},
		{strings.Replace(ok, `uid="u1"`, `uid=""`, 1), "uid is empty"},
		{strings.Replace(ok, `type="a-u-G"`, `type="a--G"`, 1), "type"},
		{strings.Replace(ok, `how="m-f"`, `how=""`, 1), "how"},
		{strings.Replace(ok, `time="2026-01-01T00:00:00Z"`, `time="yesterday"`, 1), "time \"yesterday\""},
		{strings.Replace(ok, `stale="2026-01-01T00:05:00Z"`, `stale="2025-01-01T00:05:00Z"`, 1), "stale"},
		{strings.Replace(ok, `lat="1"`, `lat="91"`, 1), "lat 91"},
		{strings.Replace(ok, `lon="2"`, `lon="x"`, 1), "lon \"x\""},
		{strings.Replace(ok, `ce="10"`, `ce="-1"`, 1), "ce -1"},
		{strings.Replace(ok, `le="10"`, `le="NaN"`, 1), "le NaN"},
		{strings.Replace(ok, `<point lat="1" lon="2" hae="0" ce="10" le="10"/>`, ``, 1), "no point"},
		{`<foo/>`, "want <event>"},
		{``, "no <event>"},
		{ok + ok, "more than one"},
		{`<!DOCTYPE event [<!ENTITY x "y">]>` + ok, "DTD"},
		{strings.Replace(ok, `uid="u1"`, `uid="&x;"`, 1), "entity"},
		{ok[:len(ok)-3], "unexpected EOF"},
		{"junk" + ok, "text \"junk\""},
	} {
		_, err := cot.Decode([]byte(c.in))
		if err == nil || !errors.Is(err, cot.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%.60q…) = %v, want an ErrInvalid naming %q", c.in, err, c.want)
		}
	}
}

func TestReaderStream(t *testing.T) {
	var stream bytes.Buffer
	var want []string
	for i, lang := range cot.Langs {
		s := site()
		s.ID += lang
		e, err := cot.SiteEvent(s, opts(lang), now)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := cot.Marshal(e)
		if i == 1 {
			stream.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n")
		}
		stream.Write(b)
		stream.WriteString("\n\n")
		want = append(want, e.UID)
	}
	r := cot.NewReader(&stream)
	var got []string
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.UID)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("uids %v, want %v", got, want)
	}

	// An event longer than the limit is refused before it is buffered
	// whole.
	huge := `<event version="2.0" uid="u" type="a-u-G" how="m-f" time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z" stale="2026-01-01T00:05:00Z"><point lat="1" lon="2" hae="0" ce="10" le="10"/><detail><remarks>` +
		strings.Repeat("x", cot.MaxEventBytes+10000) + `</remarks></detail></event>`
	if _, err := cot.NewReader(strings.NewReader(huge)).Next(); !errors.Is(err, cot.ErrInvalid) || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("huge event: %v", err)
	}
}

func TestDeleteAndPing(t *testing.T) {
	d := cot.DeleteEvent("abc", opts("en"), now)
	b, err := cot.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`<link uid="atalaya-site-abc" type="b-m-p-s-m" relation="none"`)) || !bytes.Contains(b, []byte("<__forcedelete>")) {
		t.Errorf("delete event:\n%s", b)
	}
	for _, e := range []cot.Event{cot.Ping(now), cot.Pong(now)} {
		if _, err := cot.Marshal(e); err != nil {
			t.Error(err)
		}
	}
}

// TestNodeCoT has @tak-ps/node-cot, software nobody here wrote, parse and
// validate every kind of event Atalaya emits; the GeoJSON it makes must keep
// position, uid and type.
func TestNodeCoT(t *testing.T) {
	type sent struct {
		e   cot.Event
		xml []byte
	}
	var evs []sent
	for _, lang := range cot.Langs {
		for _, p := range []float64{0.95, 0.6, 0.2} {
			s := site()
			s.Probability = p
			s.ID += fmt.Sprintf("%s%02.0f", lang, 100*p)
			e, err := cot.SiteEvent(s, opts(lang), now)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, sent{e: e})
		}
	}
	evs = append(evs, sent{e: cot.DeleteEvent("abc", opts("en"), now)}, sent{e: cot.Ping(now)}, sent{e: cot.Pong(now)})
	var xmls [][]byte
	for i := range evs {
		b, err := cot.Marshal(evs[i].e)
		if err != nil {
			t.Fatal(err)
		}
		evs[i].xml = b
		xmls = append(xmls, b)
	}
	res, err := nodecot.Parse(xmls...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		e := evs[i].e
		if !r.OK {
			t.Errorf("node-cot refused %s: %s\n%s", e.UID, r.Error, evs[i].xml)
			continue
		}
		f := r.Feature
		if r.UID != e.UID || f.ID != e.UID || r.Type != e.Type || f.Properties.Type != e.Type || r.How != e.How {
			t.Errorf("node-cot: uid %s/%s type %s/%s how %s, want %s %s %s", r.UID, f.ID, r.Type, f.Properties.Type, r.How, e.UID, e.Type, e.How)
		}
		c := f.Geometry.Coordinates
		// node-cot truncates GeoJSON coordinates to 6 decimals (0.11 m).
		if f.Geometry.Type != "Point" || len(c) < 2 || math.Abs(c[0]-e.Point.Lon) > 1e-6 || math.Abs(c[1]-e.Point.Lat) > 1e-6 {
			t.Errorf("%s: node-cot geometry %s %v, want %v,%v", e.UID, f.Geometry.Type, c, e.Point.Lon, e.Point.Lat)
		}
		if b := r.Back; b.UID != e.UID || b.Type != e.Type || math.Abs(b.Lat-e.Point.Lat) > 1e-6 || math.Abs(b.Lon-e.Point.Lon) > 1e-6 {
			t.Errorf("%s: GeoJSON back to CoT in node-cot: %+v", e.UID, b)
		}
		if r.Group {
			t.Errorf("%s has __group", e.UID)
		}
		if e.Type == cot.TypeSpotMarker {
			if f.Properties.Callsign != e.Detail.Contact.Callsign || f.Properties.Remarks != e.Detail.Remarks.Text {
				t.Errorf("%s: node-cot callsign %q remarks %q", e.UID, f.Properties.Callsign, f.Properties.Remarks)
			}
			// node-cot reads the spot-map icon path as the marker's colour.
			want := map[int32]string{cot.ColorRed: "#FF0000", cot.ColorOrange: "#FF8000", cot.ColorYellow: "#FFFF00"}[e.Detail.Color.ARGB]
			if !strings.EqualFold(f.Properties.Color, want) || len(f.Properties.Links) != len(e.Detail.Links) {
				t.Errorf("%s: node-cot marker colour %q (want %s), links %d", e.UID, f.Properties.Color, want, len(f.Properties.Links))
			}
			if st, err := time.Parse(time.RFC3339, f.Properties.Stale); err != nil || !st.Equal(e.Stale) {
				t.Errorf("%s: node-cot stale %q, want %s", e.UID, f.Properties.Stale, e.Stale)
			}
		}
		if e.Type == cot.TypeDelete && !r.ForceDelete {
			t.Errorf("delete event lost __forcedelete in node-cot")
		}
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.xml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, lang := range cot.Langs {
		e, _ := cot.SiteEvent(site(), opts(lang), now)
		b, _ := cot.Marshal(e)
		f.Add(b)
	}
	d, _ := cot.Marshal(cot.DeleteEvent("x", opts("en"), now))
	f.Add(d)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := cot.Decode(data)
		if err != nil {
			if !errors.Is(err, cot.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		// What decodes encodes, and decodes again to the same event.
		b, err := cot.Marshal(e)
		if err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
		e2, err := cot.Decode(b)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%s", err, b)
		}
		b2, err := xml.Marshal(e2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("not stable:\n%s\n%s", b, b2)
		}
	})
}
