package tak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// alertSite is the site an outbox alert carries: its payload's "site", the
// HTTP API's Site JSON with owner and released_to (docs/feeds.md).
type alertSite struct {
	Site struct {
		ID             string    `json:"id"`
		Lat            float64   `json:"lat"`
		Lon            float64   `json:"lon"`
		UncertaintyM   float64   `json:"uncertainty_m"`
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
	} `json:"site"`
}

// siteOf is the site an alert is about, as the alert saw it (so that each
// sink sends the state the alert reports, in the order of the alerts), or
// read from sites if the payload carries no site. ok is false for an alert
// about no site, or about a site that does not exist.
func siteOf(ctx context.Context, a store.Alert, sites Sites) (s Site, ok bool, err error) {
	if a.SiteID == "" {
		return Site{}, false, nil
	}
	var p alertSite
	if json.Unmarshal([]byte(a.Payload), &p) == nil && p.Site.ID == a.SiteID {
		x := p.Site
		return Site{
			Site: store.Site{ID: x.ID, Lat: x.Lat, Lon: x.Lon, UncertaintyM: x.UncertaintyM, GasProfile: x.GasProfile,
				FirstSeen: x.FirstSeen, LastSeen: x.LastSeen, PassesSeen: x.PassesSeen, PassesSurvey: x.PassesSurveyed,
				Evidence: x.Evidence, Probability: x.Probability, TypeGuess: x.TypeGuess,
				Status: store.SiteStatus(x.Status), Version: x.Version},
			Owner: x.Owner, ReleasedTo: x.ReleasedTo,
		}, true, nil
	}
	s, err = sites.SharedSite(ctx, a.SiteID)
	if errors.Is(err, store.ErrNotFound) {
		return Site{}, false, nil
	}
	if err != nil {
		return Site{}, false, fmt.Errorf("site %s of alert %s: %w", a.SiteID, a.ID, err)
	}
	return s, true, nil
}
