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

	mu     sync.Mutex
	cache  map[string]hostEntry
	points map[[2]float64]string // point → ISO code (sites do not move often)
}

// maxPoints bounds the point cache; it is emptied when full.
const maxPoints = 1 << 16

type hostEntry struct {
	id string
	at time.Time
}

// OwnerOf implements Jurisdiction; access.ErrNoJurisdiction when no host
// agency governs the point.
func (j *HostJurisdiction) OwnerOf(ctx context.Context, lat, lon float64) (string, error) {
	j.mu.Lock()
	iso, ok := j.points[[2]float64{lat, lon}]
	j.mu.Unlock()
	if !ok {
		iso, _, ok = boundaries.CountryAt(lat, lon)
		j.mu.Lock()
		if j.points == nil || len(j.points) >= maxPoints {
			j.points = map[[2]float64]string{}
		}
		j.points[[2]float64{lat, lon}] = iso // "" when in no country
		j.mu.Unlock()
	}
	if !ok || iso == "" {
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
