package cot

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// GroundTruthElement is the detail element a device (a plugin, a script, or
// a TAK client that lets the user attach custom detail) sends to report
// what was found at a site:
//
//	<atalaya_ground_truth site="<site id>" outcome="confirmed-lab" visited_at="2026-11-25T14:00:00Z"/>
//
// site may be left out when the event names the site otherwise (its uid
// or a link, see ParseGroundTruth).
const GroundTruthElement = "atalaya_ground_truth"

// outcomeTags are the outcome names a device may send: the canonical ones (internal/feed's
// outcomes) and hashtags a field user types in remarks or a chat message,
// in English, Spanish and Portuguese.
var outcomeTags = map[string]string{
	"confirmed-lab":          "confirmed-lab",
	"nothing-found":          "nothing-found",
	"not-visited":            "not-visited",
	"laboratorio-confirmado": "confirmed-lab",
	"laboratório-confirmado": "confirmed-lab",
	"nada-encontrado":        "nothing-found",
	"no-visitado":            "not-visited",
	"nao-visitado":           "not-visited",
	"não-visitado":           "not-visited",
}

// GroundTruthReply is a device's report about a site, as read from a CoT
// event.
type GroundTruthReply struct {
	// SiteID is the site's full id, or "" when only ShortID is known.
	SiteID string
	// ShortID is the last characters of the site's id, as the marker's
	// callsign shows them (e.g. "5C6D7E"), when the user typed only that.
	ShortID string
	// Outcome is "confirmed-lab", "nothing-found" or "not-visited".
	Outcome string
	// Note is the remarks' text (the user's words), at most MaxNoteBytes.
	Note string
	// Visited is the visit time the device gave, else the event's time.
	Visited time.Time
}

// ErrNoSite: a ground-truth reply names no site (it also wraps
// ErrInvalid).
var ErrNoSite = errors.New("ground truth names no site")

// MaxNoteBytes bounds a reply's note (longer remarks are cut at a rune
// boundary; internal/feed refuses notes over 4000 bytes).
const MaxNoteBytes = 4000

var (
	hashtagRe = regexp.MustCompile(`(?i)#([\p{L}-]+)`)
	siteUIDRe = regexp.MustCompile(`atalaya-site-([0-9A-Za-z]+)`)
	shortIDRe = regexp.MustCompile(`(?i)\b([0-9a-f]{6})\b`)
)

// ParseGroundTruth reads a ground-truth reply from an event a device sent.
// It is one if the detail has an <atalaya_ground_truth> element or the
// remarks carry an outcome hashtag (#confirmed-lab, #nothing-found,
// #not-visited, or #laboratorio-confirmado, #nada-encontrado,
// #no-visitado / #nao-visitado); otherwise ok is false and the event is
// something else (a position, a chat message). The site is, in order:
// the element's site attribute; the event's own uid atalaya-site-<id> (the
// Atalaya marker, edited and sent back); a <link uid="atalaya-site-<id>">;
// atalaya-site-<id> in the remarks; a six-character short id in the
// remarks (the marker's callsign ends with it: "Possible lab 5C6D7E").
// A reply without a site or with an unknown outcome is an error naming
// what is missing.
func ParseGroundTruth(e Event) (r GroundTruthReply, ok bool, err error) {
	var el *Element
	for i := range e.Detail.Other {
		if e.Detail.Other[i].XMLName.Local == GroundTruthElement {
			el = &e.Detail.Other[i]
			break
		}
	}
	text := ""
	if e.Detail.Remarks != nil {
		text = strings.TrimSpace(e.Detail.Remarks.Text)
	}
	attr := func(name string) string {
		if el == nil {
			return ""
		}
		for _, a := range el.Attrs {
			if a.Name.Local == name {
				return strings.TrimSpace(a.Value)
			}
		}
		return ""
	}
	r.Outcome = attr("outcome")
	if el != nil && r.Outcome == "" {
		return r, true, fmt.Errorf("%w: <%s> without outcome: want confirmed-lab, nothing-found or not-visited", ErrInvalid, GroundTruthElement)
	}
	if el == nil {
		for _, m := range hashtagRe.FindAllStringSubmatch(text, -1) {
			if o, found := outcomeTags[strings.ToLower(m[1])]; found {
				r.Outcome = o
				break
			}
		}
		if r.Outcome == "" {
			return GroundTruthReply{}, false, nil
		}
	} else if o, found := outcomeTags[strings.ToLower(r.Outcome)]; found {
		r.Outcome = o
	} else {
		return r, true, fmt.Errorf("%w: <%s outcome=%q>: want confirmed-lab, nothing-found or not-visited", ErrInvalid, GroundTruthElement, r.Outcome)
	}
	r.Visited = e.Time
	if v := attr("visited_at"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return r, true, fmt.Errorf("%w: <%s visited_at=%q>: want RFC 3339", ErrInvalid, GroundTruthElement, v)
		}
		r.Visited = t.UTC()
	}
	r.Note = text
	if len(r.Note) > MaxNoteBytes {
		n := MaxNoteBytes
		for n > 0 && !utf8.RuneStart(r.Note[n]) {
			n--
		}
		r.Note = r.Note[:n]
	}
	switch {
	case attr("site") != "":
		r.SiteID = attr("site")
	case strings.HasPrefix(e.UID, UIDPrefix) && !strings.HasSuffix(e.UID, "-delete"):
		r.SiteID = strings.TrimPrefix(e.UID, UIDPrefix)
	}
	for _, l := range e.Detail.Links {
		if r.SiteID == "" && strings.HasPrefix(l.UID, UIDPrefix) {
			r.SiteID = strings.TrimPrefix(l.UID, UIDPrefix)
		}
	}
	if r.SiteID == "" {
		if m := siteUIDRe.FindStringSubmatch(text); m != nil {
			r.SiteID = m[1]
		} else {
			r.ShortID = findShortID(text)
		}
	}
	if r.SiteID == "" && r.ShortID == "" {
		return r, true, fmt.Errorf("%w: %w (%s): send it on the site's marker, or write the six characters of its name (e.g. 5C6D7E) in the message", ErrInvalid, ErrNoSite, r.Outcome)
	}
	return r, true, nil
}

// findShortID finds a site's short id in a message: six hex characters with a
// digit among them, or all upper case as the callsign shows them (so words
// such as "decade" or "facade" are not taken for one).
func findShortID(text string) string {
	for _, m := range shortIDRe.FindAllString(text, -1) {
		if strings.ContainsAny(m, "0123456789") || m == strings.ToUpper(m) {
			return strings.ToLower(m)
		}
	}
	return ""
}
