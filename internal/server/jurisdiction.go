package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/store"
)

// HostJurisdiction owns a site by the host agency of the Natural Earth
// country containing it (internal/boundaries), as the access contract
// says; host agencies are cached for TTL (default 30 s).
type HostJurisdiction struct {
	Store interface {
		HostAgency(ctx context.Context, country string) (store.Agency, error)
	}
	TTL time.Duration

	mu    sync.Mutex
	cache map[string]hostEntry
}

type hostEntry struct {
	id string
	at time.Time
}

// OwnerOf implements Jurisdiction; access.ErrNoJurisdiction when no host
// agency governs the point.
func (j *HostJurisdiction) OwnerOf(ctx context.Context, lat, lon float64) (string, error) {
	iso, _, ok := boundaries.CountryAt(lat, lon)
	if !ok {
		return "", fmt.Errorf("%w: %g,%g is in no country", access.ErrNoJurisdiction, lat, lon)
	}
	ttl := j.TTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	j.mu.Lock()
	if e, ok := j.cache[iso]; ok && time.Since(e.at) < ttl {
		j.mu.Unlock()
		if e.id == "" {
			return "", fmt.Errorf("%w: no host agency for %s", access.ErrNoJurisdiction, iso)
		}
		return e.id, nil
	}
	j.mu.Unlock()
	a, err := j.Store.HostAgency(ctx, iso)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	j.mu.Lock()
	if j.cache == nil {
		j.cache = map[string]hostEntry{}
	}
	j.cache[iso] = hostEntry{id: a.ID, at: time.Now()}
	j.mu.Unlock()
	if a.ID == "" {
		return "", fmt.Errorf("%w: no host agency for %s", access.ErrNoJurisdiction, iso)
	}
	return a.ID, nil
}
