package tak

import (
	"context"
	"errors"
	"fmt"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// SiteStore is what StoreSites reads: sites, their releases, and the
// released sites.
type SiteStore interface {
	store.SiteReader
	store.ReleaseReader
	store.SitesByStatus
}

// Owners says which agency owns the site at a point: the host agency of the
// country containing it (jurisdiction), or access.ErrNoJurisdiction.
// *access.Service implements it.
type Owners interface {
	OwnerOf(ctx context.Context, lat, lon float64) (string, error)
}

// StoreSites reads sites and their releasability from the store.
type StoreSites struct {
	Store  SiteStore
	Owners Owners
}

var _ Sites = StoreSites{}

// SharedSite implements Sites.
func (s StoreSites) SharedSite(ctx context.Context, id string) (Site, error) {
	st, err := s.Store.Site(ctx, id)
	if err != nil {
		return Site{}, err
	}
	return s.share(ctx, st)
}

func (s StoreSites) share(ctx context.Context, st store.Site) (Site, error) {
	rs, err := s.Store.Releases(ctx, st.ID)
	if err != nil {
		return Site{}, fmt.Errorf("releases of site %s: %w", st.ID, err)
	}
	out := Site{Site: st}
	for _, r := range rs {
		out.ReleasedTo = append(out.ReleasedTo, r.AgencyID)
	}
	out.Owner, err = s.Owners.OwnerOf(ctx, st.Lat, st.Lon)
	if errors.Is(err, access.ErrNoJurisdiction) {
		out.Owner = "" // seen only by the agencies it was released to
	} else if err != nil {
		return Site{}, fmt.Errorf("owner of site %s: %w", st.ID, err)
	}
	return out, nil
}

// ReleasedTo implements Sites: the released sites released to the agency,
// and those it owns.
func (s StoreSites) ReleasedTo(ctx context.Context, agencyID string) ([]Site, error) {
	seen := map[string]bool{}
	var out []Site
	ids, err := s.Store.SitesReleasedTo(ctx, agencyID)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		st, err := s.SharedSite(ctx, id)
		if err != nil {
			return nil, err
		}
		seen[id] = true
		if st.Status == store.SiteReleased {
			out = append(out, st)
		}
	}
	released, err := s.Store.SitesWithStatus(ctx, store.SiteReleased, 0)
	if err != nil {
		return nil, err
	}
	for _, st := range released {
		if seen[st.ID] {
			continue
		}
		sh, err := s.share(ctx, st)
		if err != nil {
			return nil, err
		}
		if sh.Owner == agencyID {
			out = append(out, sh)
		}
	}
	return out, nil
}

// StoreAgencies reads agencies' languages from the store.
type StoreAgencies struct {
	Store store.AgencyReader
}

// AgencyLang implements Agencies.
func (s StoreAgencies) AgencyLang(ctx context.Context, id string) (string, error) {
	a, err := s.Store.Agency(ctx, id)
	if err != nil {
		return "", err
	}
	return a.Lang, nil
}

// StoreAuth checks enrollment passwords against the store's users.
type StoreAuth struct {
	Users store.UserReader
	// Params are the argon2id parameters (access.DefaultParams if zero).
	Params access.Params
	// Hashing, if not nil, bounds concurrent password checks to its
	// capacity (each takes Params.Memory), so a burst of enrollment
	// requests cannot exhaust memory.
	Hashing chan struct{}
}

// Password implements Authenticator.
func (s StoreAuth) Password(ctx context.Context, username, password string) (User, error) {
	u, err := s.Users.UserByName(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return User{}, fmt.Errorf("%w: no user %q", ErrUnauthorized, username)
	}
	if err != nil {
		return User{}, err
	}
	if u.Disabled || u.PasswordHash == "" {
		return User{}, fmt.Errorf("%w: user %q may not sign in", ErrUnauthorized, username)
	}
	p := s.Params
	if p == (access.Params{}) {
		p = access.DefaultParams
	}
	if s.Hashing != nil {
		select {
		case s.Hashing <- struct{}{}:
			defer func() { <-s.Hashing }()
		case <-ctx.Done():
			return User{}, ctx.Err()
		}
	}
	ok, _, err := access.VerifyPassword(password, u.PasswordHash, p)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, fmt.Errorf("%w: wrong password for %q", ErrUnauthorized, username)
	}
	return User{ID: u.Username, AgencyID: u.AgencyID, StoreID: u.ID}, nil
}
