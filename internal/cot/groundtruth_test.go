package cot_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/atalaya-project/atalaya/internal/cot"
)

const gtSite = "0193a4b2c3d4e5f60718293a4b5c6d7e"

// gtEvent builds an event from its uid, type and the inside of <detail>.
func gtEvent(t testing.TB, uid, typ, detail string) cot.Event {
	t.Helper()
	e, err := cot.Decode([]byte(`<event version="2.0" uid="` + uid + `" type="` + typ + `" how="h-g-i-g-o" time="2026-11-25T10:00:00Z" start="2026-11-25T10:00:00Z" stale="2026-11-26T10:00:00Z">` +
		`<point lat="4.6" lon="-74.1" hae="9999999" ce="9999999" le="9999999"/><detail>` + detail + `</detail></event>`))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestParseGroundTruth(t *testing.T) {
	sent := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, uid, typ, detail string
		ok                     bool
		site, short, outcome   string
		visited                time.Time
		err                    string
	}{
		{name: "position report", uid: "ANDROID-1", typ: "a-f-G-U-C", detail: `<contact callsign="DAVE"/>`},
		{name: "chat without a hashtag", uid: "GeoChat.A.All.1", typ: "b-t-f", detail: `<remarks>5C6D7E on my way</remarks>`},
		{name: "marker sent back", uid: cot.SiteUID(gtSite), typ: "b-m-p-s-m", detail: `<remarks>#confirmed-lab Lab found.</remarks>`,
			ok: true, site: gtSite, outcome: "confirmed-lab", visited: sent},
		{name: "withdrawal uid is no site", uid: cot.SiteUID(gtSite) + "-delete", typ: "b-m-p-s-m", detail: `<remarks>#not-visited</remarks>`,
			ok: true, err: "names no site"},
		{name: "chat, short id upper case, Spanish tag", uid: "GeoChat.A.All.2", typ: "b-t-f", detail: `<remarks>Sitio 5C6D7E: #Nada-Encontrado</remarks>`,
			ok: true, short: "5c6d7e", outcome: "nothing-found", visited: sent},
		{name: "chat, Portuguese tag with accent", uid: "GeoChat.A.All.3", typ: "b-t-f", detail: `<remarks>local 4b5c6d #não-visitado</remarks>`,
			ok: true, short: "4b5c6d", outcome: "not-visited", visited: sent},
		{name: "a word of hex letters is no short id", uid: "GeoChat.A.All.4", typ: "b-t-f", detail: `<remarks>a decade of facade #nothing-found</remarks>`,
			ok: true, outcome: "nothing-found", err: "names no site"},
		{name: "chat, full uid", uid: "GeoChat.A.All.5", typ: "b-t-f", detail: `<remarks>atalaya-site-` + gtSite + ` #confirmed-lab</remarks>`,
			ok: true, site: gtSite, outcome: "confirmed-lab", visited: sent},
		{name: "link to the site", uid: "ANDROID-1-note", typ: "b-m-p-s-m", detail: `<link uid="` + cot.SiteUID(gtSite) + `" relation="p-p" type="b-m-p-s-m"/><remarks>#nothing-found</remarks>`,
			ok: true, site: gtSite, outcome: "nothing-found", visited: sent},
		{name: "element", uid: "x", typ: "b-m-p-s-m", detail: `<atalaya_ground_truth site="` + gtSite + `" outcome="not-visited" visited_at="2026-11-20T08:30:00-05:00"/>`,
			ok: true, site: gtSite, outcome: "not-visited", visited: time.Date(2026, 11, 20, 13, 30, 0, 0, time.UTC)},
		{name: "element wins over hashtags", uid: cot.SiteUID(gtSite), typ: "b-m-p-s-m", detail: `<atalaya_ground_truth outcome="nothing-found"/><remarks>#confirmed-lab</remarks>`,
			ok: true, site: gtSite, outcome: "nothing-found", visited: sent},
		{name: "element without outcome", uid: "x", typ: "b-m-p-s-m", detail: `<atalaya_ground_truth site="` + gtSite + `"/>`, ok: true, err: "without outcome"},
		{name: "element, unknown outcome", uid: "x", typ: "b-m-p-s-m", detail: `<atalaya_ground_truth site="s" outcome="maybe"/>`, ok: true, err: `outcome="maybe"`},
		{name: "element, bad time", uid: "x", typ: "b-m-p-s-m", detail: `<atalaya_ground_truth site="s" outcome="confirmed-lab" visited_at="yesterday"/>`, ok: true, err: "visited_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok, err := cot.ParseGroundTruth(gtEvent(t, tc.uid, tc.typ, tc.detail))
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (%+v, %v)", ok, tc.ok, r, err)
			}
			if tc.err != "" {
				if err == nil || !errors.Is(err, cot.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one wrapping ErrInvalid with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.SiteID != tc.site || r.ShortID != tc.short || r.Outcome != tc.outcome || !r.Visited.Equal(tc.visited) {
				t.Errorf("got %+v, want site %q short %q outcome %q visited %v", r, tc.site, tc.short, tc.outcome, tc.visited)
			}
		})
	}
	// A long note is cut at a rune boundary within the limit.
	long := strings.Repeat("ñ", cot.MaxNoteBytes)
	r, _, err := cot.ParseGroundTruth(gtEvent(t, cot.SiteUID(gtSite), "b-m-p-s-m", `<remarks>#confirmed-lab `+long+`</remarks>`))
	if err != nil || len(r.Note) > cot.MaxNoteBytes || len(r.Note) < cot.MaxNoteBytes-1 || !utf8.ValidString(r.Note) {
		t.Errorf("long note: %d bytes, valid %v, %v", len(r.Note), utf8.ValidString(r.Note), err)
	}
}

// FuzzParseGroundTruth: any event a device sends is either not a reply, a
// reply naming a site and a known outcome with a bounded note, or an
// error wrapping ErrInvalid.
func FuzzParseGroundTruth(f *testing.F) {
	for _, s := range []string{
		`<remarks>#confirmed-lab 5C6D7E</remarks>`,
		`<atalaya_ground_truth site="abc" outcome="nothing-found" visited_at="2026-11-20T08:30:00Z"/>`,
		`<link uid="atalaya-site-abc"/><remarks>#no-visitado</remarks>`,
		`<remarks>hola</remarks>`,
	} {
		f.Add(cot.SiteUID(gtSite), s)
		f.Add("GeoChat.x", s)
	}
	f.Fuzz(func(t *testing.T, uid, detail string) {
		b := []byte(`<event version="2.0" uid="` + uid + `" type="b-t-f" how="h-g-i-g-o" time="2026-11-25T10:00:00Z" start="2026-11-25T10:00:00Z" stale="2026-11-26T10:00:00Z">` +
			`<point lat="4.6" lon="-74.1" hae="9999999" ce="9999999" le="9999999"/><detail>` + detail + `</detail></event>`)
		e, err := cot.Decode(b)
		if err != nil {
			return
		}
		r, ok, err := cot.ParseGroundTruth(e)
		switch {
		case !ok:
			if err != nil {
				t.Fatalf("not a reply, yet an error: %v", err)
			}
		case err != nil:
			if !errors.Is(err, cot.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
		default:
			if r.SiteID == "" && len(r.ShortID) != 6 {
				t.Fatalf("reply without a site: %+v", r)
			}
			switch r.Outcome {
			case "confirmed-lab", "nothing-found", "not-visited":
			default:
				t.Fatalf("outcome %q", r.Outcome)
			}
			if len(r.Note) > cot.MaxNoteBytes {
				t.Fatalf("note of %d bytes", len(r.Note))
			}
		}
	})
}
