package tak

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/cot"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Site is a site with who may see it.
type Site struct {
	store.Site
	Owner      string   // the agency whose jurisdiction it is in
	ReleasedTo []string // the agencies it was released to
}

// Sites is where the TAK outputs read sites and their releasability.
type Sites interface {
	// SharedSite returns the site with its owner and releases;
	// store.ErrNotFound if there is no such site.
	SharedSite(ctx context.Context, id string) (Site, error)
	// ReleasedTo returns the released sites agencyID may see (see Shows).
	ReleasedTo(ctx context.Context, agencyID string) ([]Site, error)
}

// Agencies tells the language an agency reads ("es", "en" or "pt").
type Agencies interface {
	AgencyLang(ctx context.Context, agencyID string) (string, error)
}

// User is who a certificate or a password belongs to.
type User struct {
	ID       string // the username: the certificate's CN
	AgencyID string
	// StoreID is the user's id in the store, for the audit log (optional).
	StoreID string
	// Actor, if set, is who the audit log records as issuing (e.g. the CLI's
	// system principal); otherwise the user.
	Actor *access.Principal
}

// Authenticator checks the username and password a device enrolls with
// (HTTP Basic on the enrollment port).
type Authenticator interface {
	Password(ctx context.Context, username, password string) (User, error)
}

// ErrUnauthorized is what an Authenticator returns for bad credentials.
var ErrUnauthorized = errors.New("tak: unauthorized")

// Knows reports whether agency may know of the site at all: it owns it or
// the site was released to it. Only such an agency is ever sent anything
// about the site, its withdrawal included.
func Knows(s Site, agency string) bool {
	return agency != "" && (s.Owner == agency || slices.Contains(s.ReleasedTo, agency))
}

// Shows reports whether agency's devices show the site at now: the agency
// knows it, the site's status is released, and it is live (its stale time,
// from its age, is still ahead).
func Shows(s Site, agency string, o cot.SiteOptions, now time.Time) bool {
	return Knows(s, agency) && s.Status == store.SiteReleased && o.Live(s.Site, now)
}

// eventFor is the event an agency's devices get for s: the marker, or its
// withdrawal; ok is false if the agency may not know of the site at all.
func eventFor(s Site, agency, lang string, o cot.SiteOptions, now time.Time) (e cot.Event, ok bool, err error) {
	if !Knows(s, agency) {
		return cot.Event{}, false, nil
	}
	o.Lang = lang
	if !Shows(s, agency, o, now) {
		return cot.DeleteEvent(s.ID, o, now), true, nil
	}
	e, err = cot.SiteEvent(s.Site, o, now)
	return e, err == nil, err
}
