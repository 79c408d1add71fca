package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// Alert kinds.
const (
	// KindSiteReleased: a site was released to one or more agencies (or
	// released again, to more).
	KindSiteReleased = "site.released"
	// KindSiteUpdated: a released site changed (new passes, new evidence,
	// a decision such as ground truth).
	KindSiteUpdated = "site.updated"
	// KindSiteWithdrawn: a released site was dismissed after release.
	KindSiteWithdrawn = "site.withdrawn"
)

// Event is an alert's payload (store.Alert.Payload is its JSON), and the
// body of a webhook delivery and a NATS message. Its Site follows the HTTP
// API's Site JSON; Owner and ReleasedTo decide who may see it.
type Event struct {
	// ID is the alert's id, stable across redeliveries.
	ID   string    `json:"id"`
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
	Site Site      `json:"site"`
	// Decision is the decision that caused the alert, if one did.
	Decision *Decision `json:"decision,omitempty"`
}

// Site is a site as partners see it (the HTTP API's Site JSON).
type Site struct {
	ID             string    `json:"id"`
	Lat            float64   `json:"lat"`
	Lon            float64   `json:"lon"`
	UncertaintyM   float64   `json:"uncertainty_m"`
	Gases          []SiteGas `json:"gases"`
	GasProfile     string    `json:"gas_profile"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
	PassesSeen     int       `json:"passes_seen"`
	PassesSurveyed int       `json:"passes_surveyed"`
	Evidence       float64   `json:"evidence"`
	Probability    float64   `json:"probability"`
	TypeGuess      string    `json:"type_guess"`
	Status         string    `json:"status"`
	Version        int64     `json:"version"`
	Owner          string    `json:"owner"`
	ReleasedTo     []string  `json:"released_to"`
}

// SiteGas is one gas's evidence at a site.
type SiteGas struct {
	Gas      string  `json:"gas"`
	Evidence float64 `json:"evidence"`
	PeakPPMM float64 `json:"peak_ppmm"`
	RateKgH  float64 `json:"rate_kgh"`
}

// Decision is a decision as partners see it.
type Decision struct {
	ID     string    `json:"id"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	Reason string    `json:"reason"`
}

// Audience is the agencies that may see a site: its owner and the agencies
// it was released to, sorted, without repeats or empty ids.
func (s Site) Audience() []string {
	out := make([]string, 0, 1+len(s.ReleasedTo))
	if s.Owner != "" {
		out = append(out, s.Owner)
	}
	for _, a := range s.ReleasedTo {
		if a != "" {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Enqueue writes ev to the outbox through w, which should be the
// transaction that made the change the event reports, and returns the
// alert as stored (ev.ID set to its id). ev.ID, if set, is the alert's
// id; otherwise the store picks one.
func Enqueue(ctx context.Context, w store.OutboxWriter, ev Event) (store.Alert, error) {
	if ev.Kind == "" {
		return store.Alert{}, fmt.Errorf("enqueue event: kind is empty")
	}
	if ev.Site.ID == "" {
		return store.Alert{}, fmt.Errorf("enqueue %s event: site id is empty", ev.Kind)
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.ID == "" {
		ev.ID = newAlertID(ev.Time)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return store.Alert{}, fmt.Errorf("enqueue %s event for site %s: %w", ev.Kind, ev.Site.ID, err)
	}
	a, err := w.EnqueueAlert(ctx, store.Alert{ID: ev.ID, SiteID: ev.Site.ID, Kind: ev.Kind, Payload: string(body)})
	if err != nil {
		return store.Alert{}, fmt.Errorf("enqueue %s event for site %s: %w", ev.Kind, ev.Site.ID, err)
	}
	return a, nil
}

// ParseEvent decodes an alert's payload.
func ParseEvent(a store.Alert) (Event, error) {
	var ev Event
	if err := json.Unmarshal([]byte(a.Payload), &ev); err != nil {
		return Event{}, fmt.Errorf("alert %s (%s): payload: %w", a.ID, a.Kind, err)
	}
	if ev.ID != a.ID {
		return Event{}, fmt.Errorf("alert %s (%s): payload id %q differs from the alert id", a.ID, a.Kind, ev.ID)
	}
	return ev, nil
}

// NewSite is s as partners see it, owned by owner and released to
// releasedTo. Its gases come from s.GasProfile (the sites package's
// gas → evidence object: z, ppmm, emission_kg_h); a profile that is not
// such an object leaves Gases empty and is passed on as it is.
func NewSite(s store.Site, owner string, releasedTo []string) Site {
	out := Site{
		ID: s.ID, Lat: s.Lat, Lon: s.Lon, UncertaintyM: s.UncertaintyM, GasProfile: s.GasProfile,
		FirstSeen: s.FirstSeen, LastSeen: s.LastSeen, PassesSeen: s.PassesSeen, PassesSurveyed: s.PassesSurvey,
		Evidence: s.Evidence, Probability: s.Probability, TypeGuess: s.TypeGuess, Status: string(s.Status),
		Version: s.Version, Owner: owner, ReleasedTo: append([]string{}, releasedTo...),
		Gases: []SiteGas{},
	}
	var prof map[string]struct {
		Z           float64 `json:"z"`
		PPMm        float64 `json:"ppmm"`
		EmissionKgH float64 `json:"emission_kg_h"`
	}
	if json.Unmarshal([]byte(s.GasProfile), &prof) == nil {
		for gas, g := range prof {
			out.Gases = append(out.Gases, SiteGas{Gas: gas, Evidence: g.Z, PeakPPMM: g.PPMm, RateKgH: g.EmissionKgH})
		}
		slices.SortFunc(out.Gases, func(a, b SiteGas) int {
			if a.Evidence != b.Evidence {
				if a.Evidence > b.Evidence {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Gas, b.Gas)
		})
	}
	return out
}
