package cot

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// SiteOptions say how sites become events.
type SiteOptions struct {
	// Lang is the receiving agency's language: "es", "en" or "pt" (default
	// "en").
	Lang string
	// BaseURL is Atalaya's web address, e.g. "https://atalaya.example";
	// the site's page is BaseURL/sites/ID. Empty: no links to pages.
	BaseURL string
	// ProducerUID identifies this Atalaya installation as the events'
	// producer (default "atalaya").
	ProducerUID string
	// Lifetime is how long after a site was last seen its event stays
	// current: stale = last seen + Lifetime (default DefaultLifetime).
	Lifetime time.Duration
	// MinStale is the least time an event stays current after it is sent,
	// so that the release of a site last seen long ago still shows
	// (default 1 h).
	MinStale time.Duration
}

// DefaultLifetime is how long a site stays current after it was last seen:
// laboratories move within weeks (vapour signatures are transient), so a
// month-old sighting is history, not a lead for a patrol.
const DefaultLifetime = 30 * 24 * time.Hour

// UIDPrefix starts the uid of every site event: "atalaya-site-" + site id.
const UIDPrefix = "atalaya-site-"

// SiteUID is the stable uid of a site's event.
func SiteUID(siteID string) string { return UIDPrefix + siteID }

func (o SiteOptions) lifetime() time.Duration {
	if o.Lifetime > 0 {
		return o.Lifetime
	}
	return DefaultLifetime
}

func (o SiteOptions) producer() string {
	if o.ProducerUID != "" {
		return o.ProducerUID
	}
	return "atalaya"
}

// Live reports whether a site's event is still current at now (its stale
// time, from its age, is after now).
func (o SiteOptions) Live(s store.Site, now time.Time) bool {
	return s.LastSeen.Add(o.lifetime()).After(now)
}

// Stale is a site's stale time: last seen + Lifetime, but at least MinStale
// after now.
func (o SiteOptions) Stale(s store.Site, now time.Time) time.Time {
	minStale := o.MinStale
	if minStale <= 0 {
		minStale = time.Hour
	}
	st := s.LastSeen.Add(o.lifetime())
	if m := now.Add(minStale); st.Before(m) {
		st = m
	}
	return st.UTC()
}

// Marker colours by probability, ARGB as ATAK's spot map writes them.
const (
	ColorRed    = int32(-65536) // 0xFFFF0000: probability ≥ 0.8
	ColorOrange = int32(-32768) // 0xFFFF8000: probability ≥ 0.5
	ColorYellow = int32(-256)   // 0xFFFFFF00: below 0.5
	spotIcons   = "COT_MAPPING_SPOTMAP/b-m-p-s-m/"
)

// ColorFor is the marker colour for a probability.
func ColorFor(p float64) int32 {
	switch {
	case p >= 0.8:
		return ColorRed
	case p >= 0.5:
		return ColorOrange
	default:
		return ColorYellow
	}
}

// GasSummary is one gas of a site's profile.
type GasSummary struct {
	Gas      string
	Evidence float64 // combined z (σ)
	PeakPPMM float64 // ppm·m; 0 if not known
	RateKgH  float64 // kg/h; 0 if not known
}

// ParseGasProfile reads a site's gas profile: a JSON object from gas name
// to either its evidence (a number) or an object with the evidence ("z",
// as package sites writes it, or "evidence"), the peak concentration-
// pathlength ("ppmm" or "peak_ppmm") and the emission rate ("emission_kg_h"
// or "rate_kgh"). Gases come out strongest first.
func ParseGasProfile(profile string) ([]GasSummary, error) {
	if strings.TrimSpace(profile) == "" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(profile), &m); err != nil {
		return nil, fmt.Errorf("gas profile %.60q: want a JSON object from gas to evidence: %w", profile, err)
	}
	out := make([]GasSummary, 0, len(m))
	for gas, raw := range m {
		g := GasSummary{Gas: gas}
		if err := json.Unmarshal(raw, &g.Evidence); err != nil {
			var o struct {
				Z        *float64 `json:"z"`
				Evidence float64  `json:"evidence"`
				PPMm     *float64 `json:"ppmm"`
				Peak     float64  `json:"peak_ppmm"`
				Emission *float64 `json:"emission_kg_h"`
				Rate     float64  `json:"rate_kgh"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				return nil, fmt.Errorf("gas profile: gas %q: %s: want a number or {z, ppmm, emission_kg_h}", gas, raw)
			}
			g.Evidence, g.PeakPPMM, g.RateKgH = o.Evidence, o.Peak, o.Rate
			if o.Z != nil {
				g.Evidence = *o.Z
			}
			if o.PPMm != nil {
				g.PeakPPMM = *o.PPMm
			}
			if o.Emission != nil {
				g.RateKgH = *o.Emission
			}
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Evidence != out[j].Evidence {
			return out[i].Evidence > out[j].Evidence
		}
		return out[i].Gas < out[j].Gas
	})
	return out, nil
}

// SiteEvent is the event a released site becomes: a spot-map marker with a
// stable uid, updated in place on every change. now is the send time.
func SiteEvent(s store.Site, o SiteOptions, now time.Time) (Event, error) {
	gases, err := ParseGasProfile(s.GasProfile)
	if err != nil {
		return Event{}, fmt.Errorf("site %s: %w", s.ID, err)
	}
	now = now.UTC()
	l := lang(o.Lang)
	ce := s.UncertaintyM
	if !(ce > 0) || math.IsInf(ce, 0) {
		ce = Unknown
	}
	color := ColorFor(s.Probability)
	e := Event{
		UID: SiteUID(s.ID), Type: TypeSpotMarker, How: HowFused,
		Time: now, Start: now, Stale: o.Stale(s, now),
		Point: Point{Lat: s.Lat, Lon: s.Lon, HAE: Unknown, CE: ce, LE: Unknown},
	}
	e.Detail.Contact = &Contact{Callsign: callsign(l, s)}
	e.Detail.Remarks = &Remarks{Source: o.producer(), Time: now.Format(TimeLayout), Text: remarks(l, s, gases)}
	e.Detail.Color = &Color{ARGB: color}
	e.Detail.UserIcon = &UserIcon{IconSetPath: spotIcons + strconv.Itoa(int(color))}
	e.Detail.Links = append(e.Detail.Links, Link{
		UID: o.producer(), Type: "a-f-G-E-S", Relation: "p-p",
		ProductionTime: now.Format(TimeLayout), ParentCallsign: "Atalaya",
	})
	if o.BaseURL != "" {
		base := strings.TrimRight(o.BaseURL, "/")
		e.Detail.Links = append(e.Detail.Links,
			Link{URL: base + "/", Mime: "text/html", Relation: "r-u", Remarks: "Atalaya"},
			Link{URL: base + "/sites/" + url.PathEscape(s.ID), Mime: "text/html", Relation: "r-u", Remarks: l.sitePage})
	}
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("site %s: %w", s.ID, err)
	}
	return e, nil
}

// DeleteEvent withdraws the site's marker from every device: a t-x-d-d
// event whose link names the marker (uid and type) and <__forcedelete/>.
func DeleteEvent(siteID string, o SiteOptions, now time.Time) Event {
	now = now.UTC()
	e := Event{
		UID: SiteUID(siteID) + "-delete", Type: TypeDelete, How: HowFused,
		Time: now, Start: now, Stale: now.Add(time.Hour),
		Point: Point{HAE: Unknown, CE: Unknown, LE: Unknown},
	}
	e.Detail.Links = []Link{{UID: SiteUID(siteID), Type: TypeSpotMarker, Relation: "none",
		ProductionTime: now.Format(TimeLayout), ParentCallsign: "Atalaya"}}
	e.Detail.ForceDelete = &Empty{}
	return e
}

// Pong is the answer to a client's ping (t-x-c-t).
func Pong(now time.Time) Event {
	now = now.UTC()
	return Event{UID: "takPong", Type: TypePong, How: HowGIGO, Time: now, Start: now,
		Stale: now.Add(20 * time.Second), Point: Point{HAE: 0, CE: Unknown, LE: Unknown}}
}

// Ping is a keep-alive for a TAK server (t-x-c-t).
func Ping(now time.Time) Event {
	now = now.UTC()
	return Event{UID: "takPing", Type: TypePing, How: HowGIGO, Time: now, Start: now,
		Stale: now.Add(20 * time.Second), Point: Point{HAE: 0, CE: Unknown, LE: Unknown}}
}
