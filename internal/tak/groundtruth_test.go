package tak_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/cot/nodecot"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/nodepkg"
	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/tak"
)

// geoChat is a GeoChat message to All Chat Rooms as ATAK sends it (type
// b-t-f, the text in remarks; the link is the sender's own uid).
func geoChat(text string, now time.Time) []byte {
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
		`<event version="2.0" uid="GeoChat.ANDROID-0c1d2e3f.All Chat Rooms.7f3e9a" type="b-t-f" how="h-g-i-g-o" time="%[1]s" start="%[1]s" stale="%[2]s">`+
		`<point lat="4.6101" lon="-74.0801" hae="2600.0" ce="9.9" le="9999999.0"/>`+
		`<detail><__chat parent="RootContactGroup" groupOwner="false" messageId="7f3e9a" chatroom="All Chat Rooms" id="All Chat Rooms" senderCallsign="DAVE">`+
		`<chatgrp uid0="ANDROID-0c1d2e3f" uid1="All Chat Rooms" id="All Chat Rooms"/></__chat>`+
		`<link uid="ANDROID-0c1d2e3f" type="a-f-G-U-C" relation="p-p"/>`+
		`<remarks source="BAO.F.ATAK.ANDROID-0c1d2e3f" to="All Chat Rooms" time="%[1]s">%[3]s</remarks>`+
		`<__serverdestination destinations="0.0.0.0:4242:tcp:ANDROID-0c1d2e3f"/></detail></event>`,
		ts, now.Add(24*time.Hour).UTC().Format("2006-01-02T15:04:05.000Z"), text)
}

// custom is an event carrying the <atalaya_ground_truth> detail element.
func custom(attrs string, now time.Time) []byte {
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	return fmt.Appendf(nil, `<event version="2.0" uid="ANDROID-0c1d2e3f-gt-1" type="b-m-p-s-m" how="h-g-i-g-o" time="%[1]s" start="%[1]s" stale="%[1]s">`+
		`<point lat="4.6" lon="-74.1" hae="9999999" ce="9999999" le="9999999"/>`+
		`<detail><atalaya_ground_truth %[2]s/><remarks>checked on foot</remarks></detail></event>`, ts, attrs)
}

// A partner's device on the streaming port (a Go TLS client with the
// certificate Atalaya's enrollment issued) reports ground truth three
// ways — the site's marker sent back with an outcome hashtag in its
// remarks, a GeoChat message naming the site by the short id of its
// callsign, and the <atalaya_ground_truth> element — and each becomes a
// ground-truth decision of the device's user (via cot), audited, with a
// site.updated alert. A site the user's agency may not see, an unknown
// outcome, a short id that names no visible site, and ordinary traffic
// (a position report) record nothing.
func TestGroundTruthReplies(t *testing.T) {
	e := newEnv(t)
	marker := e.site(bogota, 0.9, store.SiteReleased, partner)
	chatted := e.site(bogota, 0.6, store.SiteReleased, partner)
	hidden := e.site(saoPaulo, 0.9, store.SiteReleased) // BRA's only
	e.start()
	dave, err := e.db.UserByName(ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.connect(e.mustEnroll("dave"))
	if err != nil {
		t.Fatal(err)
	}
	send := func(b []byte) {
		t.Helper()
		if _, err := d.conn.Write(b); err != nil {
			t.Fatal(err)
		}
		d.sync(t) // the server reads in order: the reply was handled before the pong
	}
	decisions := func(id string) []store.Decision {
		t.Helper()
		ds, err := e.db.Decisions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	now := time.Now()

	// Things that are not replies, or are refused: nothing recorded.
	send(geoChat("On my way, ETA 20 min", now))
	send(custom(`site="`+hidden.ID+`" outcome="confirmed-lab"`, now))
	send(custom(`site="`+marker.ID+`" outcome="found-something"`, now))
	send(geoChat("FFFFFF #nothing-found", now)) // no visible site ends with it (almost surely)
	for _, s := range []store.Site{marker, chatted, hidden} {
		if ds := decisions(s.ID); len(ds) != 0 {
			t.Errorf("site %s: decisions %+v after refused replies", s.ID, ds)
		}
	}

	// 1. The site's own marker, edited on the device and sent back.
	var ev cot.Event
	d.mu.Lock()
	for _, x := range d.events {
		if x.UID == cot.SiteUID(marker.ID) && x.Type == "b-m-p-s-m" {
			ev = x
		}
	}
	d.mu.Unlock()
	if ev.UID == "" {
		t.Fatal("the device was not sent the released site's marker")
	}
	ev.How, ev.Time = "h-e", now
	ev.Detail.Remarks.Text = "#confirmed-lab lab dismantled, samples positive\n" + ev.Detail.Remarks.Text
	b, err := cot.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	send(b)
	// 2. GeoChat naming the site by its callsign's short id.
	short := strings.ToUpper(chatted.ID[len(chatted.ID)-6:])
	send(geoChat("Sitio "+short+": #nada-encontrado, solo un galpón", now))
	// 3. The custom element, with the visit time.
	send(custom(`site="`+marker.ID+`" outcome="not-visited" visited_at="2026-11-20T08:30:00Z"`, now))

	type payload struct {
		Outcome, Agency, Via string
		Visited              time.Time `json:"visited_at"`
	}
	check := func(d store.Decision, outcome string, visited time.Time, note string) {
		t.Helper()
		var p payload
		if err := json.Unmarshal([]byte(d.Payload), &p); err != nil {
			t.Fatal(err)
		}
		if d.Action != store.ActionGroundTruth || d.Actor != dave.ID || p.Outcome != outcome || p.Agency != partner || p.Via != "cot" ||
			!p.Visited.Equal(visited) || !strings.Contains(d.Reason, note) {
			t.Errorf("decision %+v (payload %+v), want %s by %s via cot visited %v with note %q", d, p, outcome, dave.ID, visited, note)
		}
	}
	// Each reply, recorded or refused, was acknowledged in a GeoChat
	// message from Atalaya in the user's agency's language (English), to
	// the device: its first GeoChat message told its uid and callsign.
	var acks []cot.Event
	d.mu.Lock()
	for _, x := range d.events {
		if x.Type == "b-t-f" {
			acks = append(acks, x)
		}
	}
	d.mu.Unlock()
	refused := "Atalaya did not record your report: "
	for i, want := range []struct{ to, text string }{
		{"ANDROID-0c1d2e3f", refused + "site " + hidden.ID + " does not exist or your agency cannot see it."},
		{"ANDROID-0c1d2e3f", refused + "the outcome or the visit time is not understood."},
		{"ANDROID-0c1d2e3f", refused + "no site your agency can see ends in FFFFFF."},
		{"ANDROID-0c1d2e3f", "Atalaya recorded your report for site " + strings.ToUpper(marker.ID[len(marker.ID)-6:]) + ": laboratory confirmed (visit "},
		{"ANDROID-0c1d2e3f", "Atalaya recorded your report for site " + short + ": nothing found"},
		{"ANDROID-0c1d2e3f", "Atalaya recorded your report for site " + strings.ToUpper(marker.ID[len(marker.ID)-6:]) + ": not visited (visit 2026-11-20 08:30 UTC). Thank you."},
	} {
		if i >= len(acks) {
			t.Errorf("acknowledgement %d missing (%d)", i, len(acks))
			break
		}
		a := acks[i]
		if p, ok := cot.ChatSender(a); !ok || p.Callsign != "Atalaya" || a.Detail.Remarks.To != want.to || !strings.HasPrefix(a.Detail.Remarks.Text, want.text) {
			t.Errorf("acknowledgement %d: to %q: %q, want to %s: %q", i, a.Detail.Remarks.To, a.Detail.Remarks.Text, want.to, want.text)
		}
	}
	if len(acks) != 6 {
		t.Errorf("%d acknowledgements, want 6", len(acks))
	}
	// node-cot validates them.
	var xmls [][]byte
	for _, a := range acks {
		b, _ := cot.Marshal(a)
		xmls = append(xmls, b)
	}
	if res, err := nodecot.Parse(xmls...); err != nil {
		t.Fatal(err)
	} else {
		for i, r := range res {
			if !r.OK || r.Feature.Properties.Remarks != acks[i].Detail.Remarks.Text {
				t.Errorf("node-cot on acknowledgement %d: %+v", i, r)
			}
		}
	}

	ms := decisions(marker.ID)
	cs := decisions(chatted.ID)
	if len(ms) != 2 || len(cs) != 1 || len(decisions(hidden.ID)) != 0 {
		t.Fatalf("decisions: marker %d, chatted %d, hidden %d; want 2, 1, 0", len(ms), len(cs), len(decisions(hidden.ID)))
	}
	check(ms[0], "confirmed-lab", now.UTC().Truncate(time.Millisecond), "lab dismantled")
	check(ms[1], "not-visited", time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC), "checked on foot")
	check(cs[0], "nothing-found", now.UTC().Truncate(time.Millisecond), "solo un galpón")
	for _, want := range []string{marker.ID, chatted.ID, marker.ID} {
		if got := <-e.recorded; got != want {
			t.Errorf("recorded %s, want %s", got, want)
		}
	}
	// The audit log and the partners' alerts have each.
	ents, err := e.db.AuditEntries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range ents {
		if en.Action == "site.ground-truth" && en.ActorAgency == partner && strings.Contains(en.Details, `"via":"cot"`) {
			n++
		}
	}
	alerts, err := e.db.ClaimOutbox(ctx, 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || len(alerts) != 3 {
		t.Errorf("%d ground-truth audit entries and %d alerts, want 3 and 3", n, len(alerts))
	}
}

// @tak-ps/node-tak, with events built by @tak-ps/node-cot (TAK client
// software nobody here wrote), reports ground truth on the streaming port
// with a certificate from the enrollment endpoints: the site's marker with
// an outcome hashtag, and a note linked to another site with the
// <atalaya_ground_truth> element.
func TestGroundTruthNodeTAK(t *testing.T) {
	pkg := &nodepkg.Package{Dir: filepath.Join("testdata", "node"), Name: "@tak-ps/node-tak", Version: "8.3.0", Repo: "internal/tak/testdata/node"}
	if err := pkg.Ensure(); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	a := e.site(bogota, 0.9, store.SiteReleased, partner)
	b := e.site(bogota, 0.7, store.SiteReleased, partner)
	e.start()
	c := e.mustEnroll("dave")
	cmd := exec.Command("node", "groundtruth.mjs", "ssl://"+e.streamAt, c.certPEM, c.keyPEM, a.ID, b.ID)
	cmd.Dir = pkg.Dir
	out, err := cmd.Output()
	var res struct {
		Chats []struct {
			UID, Type, Chatroom, ID, Sender, To, Remarks string
		}
		Errors []string
	}
	if err == nil {
		err = json.Unmarshal(out, &res)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("node-tak: %v: %s%s", err, out, ee.Stderr)
		}
		t.Fatalf("node-tak: %v: %s", err, out)
	}
	// node-tak read both acknowledgements (GeoChat to All Chat Rooms: it
	// sent no position report) and node-cot parsed them.
	if len(res.Errors) != 0 || len(res.Chats) != 2 {
		t.Fatalf("node-tak: chats %+v, errors %v", res.Chats, res.Errors)
	}
	for i, site := range []store.Site{a, b} {
		c := res.Chats[i]
		want := "Atalaya recorded your report for site " + strings.ToUpper(site.ID[len(site.ID)-6:]) + ": "
		if c.Type != "b-t-f" || c.Sender != "Atalaya" || c.Chatroom != cot.AllChatRooms || !strings.HasPrefix(c.Remarks, want) {
			t.Errorf("node-tak chat %d: %+v, want remarks %q…", i, c, want)
		}
	}
	got := map[string]bool{}
	for range 2 {
		select {
		case id := <-e.recorded:
			got[id] = true
		case <-time.After(time.Minute): // a guard: both arrive before the pong
			t.Fatalf("recorded only %v", got)
		}
	}
	for id, outcome := range map[string]string{a.ID: "confirmed-lab", b.ID: "nothing-found"} {
		ds, err := e.db.Decisions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || !strings.Contains(ds[0].Payload, `"outcome":"`+outcome+`"`) || !strings.Contains(ds[0].Payload, `"via":"cot"`) {
			t.Errorf("site %s: decisions %+v, want one %s via cot", id, ds, outcome)
		}
	}
}

// AckFor tells the device why each kind of refusal happened, from the
// errors cot.ParseGroundTruth and FeedGroundTruth return.
func TestAckFor(t *testing.T) {
	parse := func(remarks, elem string) (cot.GroundTruthReply, error) {
		e := cot.Event{UID: "ANDROID-1", Type: "b-t-f", How: "h-g-i-g-o", Time: time.Now(), Start: time.Now(), Stale: time.Now(),
			Detail: cot.Detail{Remarks: &cot.Remarks{Text: remarks}}}
		if elem != "" {
			b := custom(elem, time.Now())
			var err error
			if e, err = cot.Decode(b); err != nil {
				t.Fatal(err)
			}
		}
		r, ok, err := cot.ParseGroundTruth(e)
		if !ok {
			t.Fatalf("%q %q is not a reply", remarks, elem)
		}
		return r, err
	}
	for _, c := range []struct {
		remarks, elem string
		err           error // from the GroundTruthFunc, when parsing succeeded
		want          cot.Refusal
	}{
		{remarks: "#nothing-found somewhere", want: cot.RefusedNoSite},
		{elem: `site="x" outcome="confirmed-lab" visited_at="yesterday"`, want: cot.RefusedOutcome},
		{elem: `site="x" outcome="maybe"`, want: cot.RefusedOutcome},
		{remarks: "AB12CD #nothing-found", err: fmt.Errorf("x: %w", tak.ErrAmbiguousSite), want: cot.RefusedAmbiguous},
		{remarks: "AB12CD #nothing-found", err: fmt.Errorf("x: %w", store.ErrNotFound), want: cot.RefusedUnknownShort},
		{elem: `site="x" outcome="not-visited"`, err: fmt.Errorf("x: %w", store.ErrNotFound), want: cot.RefusedUnknownSite},
		{elem: `site="x" outcome="not-visited"`, err: fmt.Errorf("x: %w", feed.ErrForbidden), want: cot.RefusedRole},
		{elem: `site="x" outcome="not-visited"`, err: errors.New("database is locked"), want: cot.RefusedFailed},
		{elem: `site="x" outcome="not-visited"`, want: cot.NotRefused},
	} {
		r, err := parse(c.remarks, c.elem)
		if err == nil {
			err = c.err
		}
		if got := tak.AckFor(r, r.SiteID, err); got.Refusal != c.want {
			t.Errorf("%q %q (%v): refusal %d, want %d", c.remarks, c.elem, err, got.Refusal, c.want)
		}
	}
}
