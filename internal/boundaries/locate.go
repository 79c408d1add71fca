package boundaries

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// Sources of the embedded layers, as a report names them.
const (
	NaturalEarthAdmin0 = "Natural Earth admin-0, 1:10 million"
	NaturalEarthAdmin1 = "Natural Earth admin-1, 1:10 million"
)

// Place is where a point is: its country (Natural Earth), its state and its
// municipality, each with the data set it came from.
type Place struct {
	CountryCode, Country string // ISO 3166-1 alpha-3 and name; "" at sea
	CountrySource        string

	StateCode, State string // StateCode: ISO 3166-2 (Natural Earth) or the operator's code
	StateSource      string // "" if no state was found
	// StateFallback: the operator's data gives no state here (no state
	// area covers the point, and no municipality with a parent does), so
	// the state is Natural Earth's, or none.
	StateFallback bool

	MunicipalityCode, Municipality string
	MunicipalitySource             string // "" if no municipality was found
	// MunicipalSources are the municipal data sets loaded: empty means no
	// municipal boundaries are loaded at all; otherwise an empty
	// Municipality means the point is outside all of them.
	MunicipalSources []string
}

// NaturalEarthPlace is the country and state of a point from the embedded
// Natural Earth layers alone (no municipality).
func NaturalEarthPlace(lat, lon float64) Place {
	var p Place
	if iso, name, ok := CountryAt(lat, lon); ok {
		p.CountryCode, p.Country, p.CountrySource = iso, name, NaturalEarthAdmin0
	}
	p.StateFallback = true
	if code, name, _, ok := StateAt(lat, lon); ok {
		p.StateCode, p.State, p.StateSource = code, name, NaturalEarthAdmin1
	}
	return p
}

// AreaStore is where the operator's administrative areas are kept
// (store.DB implements it).
type AreaStore interface {
	AdminAreas(ctx context.Context, level store.AdminLevel) ([]store.AdminArea, error)
	AdminAreasGeneration(ctx context.Context) (int64, error)
}

// Locator finds the municipality and state of a point in the operator's
// administrative areas (falling back to Natural Earth for the state), from
// an in-memory index of every area, loaded on first use and reloaded when
// the store's generation changes (an import or delete by any process). It
// is safe for concurrent use.
type Locator struct {
	st AreaStore
	// MaxAge is how long a loaded index is used before the store's
	// generation is checked again (0: at every lookup, one small query).
	MaxAge time.Duration
	now    func() time.Time

	mu      sync.Mutex
	idx     *areaIndex
	checked time.Time
}

// areaIndex is the loaded areas of one generation.
type areaIndex struct {
	gen                 int64
	muni, states        *Layer // nil if none
	muniSrcs, stateSrcs []string
}

// NewLocator returns a locator over the areas in st.
func NewLocator(st AreaStore) *Locator { return &Locator{st: st, now: time.Now} }

// index returns the current index, reloading it if the store's generation
// changed.
func (l *Locator) index(ctx context.Context) (*areaIndex, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.idx != nil && l.MaxAge > 0 && now.Sub(l.checked) < l.MaxAge {
		return l.idx, nil
	}
	gen, err := l.st.AdminAreasGeneration(ctx)
	if err != nil {
		return nil, fmt.Errorf("locate: %w", err)
	}
	l.checked = now
	if l.idx != nil && l.idx.gen == gen {
		return l.idx, nil
	}
	idx, err := loadIndex(ctx, l.st)
	if err != nil {
		return nil, err
	}
	// The generation read before the areas: if an import landed in
	// between, the next check reloads.
	idx.gen = gen
	l.idx = idx
	return idx, nil
}

func loadIndex(ctx context.Context, st AreaStore) (*areaIndex, error) {
	areas, err := st.AdminAreas(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("locate: %w", err)
	}
	return buildIndex(areas)
}

// buildIndex indexes areas (newest import first) by level.
func buildIndex(areas []store.AdminArea) (*areaIndex, error) {
	var (
		muni, states []Feature
		err          error
	)
	idx := &areaIndex{}
	for _, a := range areas { // newest import first: it wins where sets overlap
		shape, err := ParseShape([]byte(a.GeoJSON))
		if err != nil {
			return nil, fmt.Errorf("locate: %s area %s (%q) from %q: %w", a.Level, a.ID, a.Name, a.Source, err)
		}
		f := Feature{Code: a.Code, Name: a.Name, Parent: a.Parent, Source: a.Source, Shape: shape}
		switch a.Level {
		case store.LevelMunicipality:
			muni = append(muni, f)
			if !slices.Contains(idx.muniSrcs, a.Source) {
				idx.muniSrcs = append(idx.muniSrcs, a.Source)
			}
		case store.LevelState:
			states = append(states, f)
			if !slices.Contains(idx.stateSrcs, a.Source) {
				idx.stateSrcs = append(idx.stateSrcs, a.Source)
			}
		}
	}
	slices.Sort(idx.muniSrcs)
	slices.Sort(idx.stateSrcs)
	if len(muni) > 0 {
		if idx.muni, err = NewLayer(muni); err != nil {
			return nil, fmt.Errorf("locate: municipalities: %w", err)
		}
	}
	if len(states) > 0 {
		if idx.states, err = NewLayer(states); err != nil {
			return nil, fmt.Errorf("locate: states: %w", err)
		}
	}
	return idx, nil
}

// CandidateStore gives the areas whose bounding box contains a point and
// the data sets loaded (store.DB implements it).
type CandidateStore interface {
	AdminAreasAt(ctx context.Context, lat, lon float64) ([]store.AdminArea, error)
	AdminAreaSets(ctx context.Context) ([]store.AdminAreaSet, error)
}

// PlaceAt is Locator.AreaAt for a single lookup: it reads only the areas
// whose bounding box contains the point (the store's bbox filter), not
// every area, so a one-off command does not load a national mesh.
func PlaceAt(ctx context.Context, st CandidateStore, lat, lon float64) (Place, error) {
	if !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) {
		return Place{}, fmt.Errorf("locate %v, %v: want latitude in [-90, 90] and longitude in [-180, 180] degrees", lat, lon)
	}
	areas, err := st.AdminAreasAt(ctx, lat, lon)
	if err != nil {
		return Place{}, fmt.Errorf("locate: %w", err)
	}
	idx, err := buildIndex(areas)
	if err != nil {
		return Place{}, err
	}
	sets, err := st.AdminAreaSets(ctx)
	if err != nil {
		return Place{}, fmt.Errorf("locate: %w", err)
	}
	idx.muniSrcs = nil
	for _, s := range sets { // sorted by level, source
		if s.Level == store.LevelMunicipality {
			idx.muniSrcs = append(idx.muniSrcs, s.Source)
		}
	}
	return idx.at(lat, lon), nil
}

// Once finds places with PlaceAt: for processes that locate one or a few
// points (a command-line report), where loading every area would cost more.
type Once struct{ Store CandidateStore }

// AreaAt implements the same lookup as Locator.AreaAt.
func (o Once) AreaAt(ctx context.Context, lat, lon float64) (Place, error) {
	return PlaceAt(ctx, o.Store, lat, lon)
}

// Refresh drops the loaded index: the next lookup reloads it (call it after
// importing in this process).
func (l *Locator) Refresh() {
	l.mu.Lock()
	l.idx = nil
	l.mu.Unlock()
}

// AreaAt returns the place of a point (WGS 84 degrees): the country from
// Natural Earth; the municipality from the operator's municipal areas; the
// state from the operator's state areas, else the municipality's parent,
// else Natural Earth admin-1 (StateFallback says so).
func (l *Locator) AreaAt(ctx context.Context, lat, lon float64) (Place, error) {
	idx, err := l.index(ctx)
	if err != nil {
		return Place{}, err
	}
	return idx.at(lat, lon), nil
}

func (idx *areaIndex) at(lat, lon float64) Place {
	p := NaturalEarthPlace(lat, lon)
	p.MunicipalSources = idx.muniSrcs
	var m *Feature
	if idx.muni != nil {
		if f, ok := idx.muni.At(lat, lon); ok {
			m = f
			p.MunicipalityCode, p.Municipality, p.MunicipalitySource = f.Code, f.Name, f.Source
		}
	}
	if idx.states != nil {
		if f, ok := idx.states.At(lat, lon); ok {
			p.StateCode, p.State, p.StateSource, p.StateFallback = f.Code, f.Name, f.Source, false
			return p
		}
	}
	if m != nil && m.Parent != "" {
		p.StateCode, p.State, p.StateSource, p.StateFallback = "", m.Parent, m.Source, false
	}
	return p
}

// StoreAreas converts areas read from a boundary file into the store's
// records (geometry as GeoJSON, bounding box), for
// store.AdminAreas.ImportAdminAreas.
func StoreAreas(as []Area) ([]store.AdminArea, error) {
	out := make([]store.AdminArea, len(as))
	for i, a := range as {
		gj, err := a.GeoJSON()
		if err != nil {
			return nil, fmt.Errorf("area %d (%q): %w", i, a.Name, err)
		}
		b := a.Shape.Bound()
		out[i] = store.AdminArea{Name: a.Name, Code: a.Code, Parent: a.Parent, GeoJSON: string(gj),
			BBox: store.BBox{MinLat: b.Min[1], MinLon: b.Min[0], MaxLat: b.Max[1], MaxLon: b.Max[0]}}
	}
	return out, nil
}
