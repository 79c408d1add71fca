package coverage

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/golang/geo/s2"
	"github.com/paulmach/orb"
)

// Site is an open candidate site that needs a confirming look.
type Site struct {
	Lat, Lon float64
	// Weight is the site's claim on a revisit relative to a block never
	// surveyed (1): e.g. the analyst's probability that it is real.
	Weight float64
	// RadiusM is the distance scale of the site's pull (its localisation
	// error); 0 means 100 m.
	RadiusM float64
}

// PriorityOptions configure Priorities.
type PriorityOptions struct {
	// SourceKgH is the emission rate of the source of interest (kg/h).
	SourceKgH float64
	// Memory is the time after which a look no longer says much about
	// the present: a transient source may have started since (e-folding
	// time; 0 means 14 days).
	Memory time.Duration
	// Now is the time of the planned revisit.
	Now time.Time
	// BlockLevel is the S2 level of the ranked blocks; 0 means 15 (about
	// 280 m, a few swaths of a drone at 300 m).
	BlockLevel int
	// Sites are open candidate sites.
	Sites []Site
}

// Block is one block of cells ranked for a revisit.
type Block struct {
	Cell     s2.CellID
	Lat, Lon float64 // centre
	// Priority = Hidden + SiteTerm (docs/coverage.md, "Revisit priority").
	Priority float64
	// Hidden is the area-weighted mean over the block's cells (inside the
	// area) of the probability that a source of SourceKgH there is hidden.
	Hidden float64
	// SiteTerm is the pull of the open sites.
	SiteTerm float64
	// Surveyed is the share of the block's area ever surveyed; AccMDL the
	// largest accumulated MDL (kg/h) over the surveyed part, where a source
	// hides best (+Inf if none surveyed);
	// LastLook the latest look at any of its cells.
	Surveyed float64
	AccMDL   float64
	LastLook time.Time
	AreaM2   float64
}

// hiddenProb is the probability that a source of rate q in a cell is not
// known now: P = 1 − (1 − P_miss)·exp(−Δt/τ), where P_miss = Φ(T − q/σ_n)
// is the probability that the accumulated evidence (1σ noise σ_n, threshold
// T) missed it and exp(−Δt/τ) the chance that the ground is as it was at the
// last look.
func hiddenProb(q, sigma, thr, ageS, memS float64) float64 {
	if math.IsInf(sigma, 1) {
		return 1
	}
	miss := 0.5 * math.Erfc(-(thr-q/sigma)/math.Sqrt2)
	return 1 - (1-miss)*math.Exp(-math.Max(ageS, 0)/memS)
}

type blockKey struct{ f, i, j int }

type blockAcc struct {
	area, hidden, surveyed float64
	last                   int64
	worst                  float64
}

// Priorities ranks the blocks of cells inside area by how much a new pass
// would add, highest first.
func (ix *Index) Priorities(area orb.Polygon, o PriorityOptions) ([]Block, error) {
	if !(o.SourceKgH > 0) || math.IsInf(o.SourceKgH, 0) {
		return nil, fmt.Errorf("%w: source of interest %g kg/h must be positive", ErrInput, o.SourceKgH)
	}
	if o.Memory == 0 {
		o.Memory = 14 * 24 * time.Hour
	}
	if o.Memory < 0 {
		return nil, fmt.Errorf("%w: memory %v must be positive", ErrInput, o.Memory)
	}
	if o.BlockLevel == 0 {
		o.BlockLevel = 15
	}
	if o.BlockLevel < 1 || o.BlockLevel > ix.opt.Level {
		return nil, fmt.Errorf("%w: block level %d: want 1-%d", ErrInput, o.BlockLevel, ix.opt.Level)
	}
	for _, s := range o.Sites {
		if !(s.Weight >= 0) || s.RadiusM < 0 || math.Abs(s.Lat) > 90 || math.Abs(s.Lon) > 180 {
			return nil, fmt.Errorf("%w: site %+v", ErrInput, s)
		}
	}
	shift := ix.opt.Level - o.BlockLevel
	mem := o.Memory.Seconds()
	now := o.Now.UnixNano()
	blocks := map[blockKey]*blockAcc{}
	err := ix.visitRuns(area, func(f, j, i0, i1 int, t *tile, k0 int) {
		var b *blockAcc
		for i := i0; i <= i1; i++ {
			if b == nil || i&(1<<shift-1) == 0 {
				key := blockKey{f, i >> shift, j >> shift}
				if b = blocks[key]; b == nil {
					b = &blockAcc{last: math.MinInt64}
					blocks[key] = b
				}
			}
			a := ix.g.area(i, j)
			b.area += a
			sigma := math.Inf(1)
			age := 0.0
			if t != nil {
				if k := k0 + i - i0; t.count[k] > 0 {
					sigma = 1 / math.Sqrt(float64(t.invVar[k]))
					lt := ix.times[t.last[k]-1]
					age = float64(now-lt) / 1e9
					b.surveyed += a
					b.last = max(b.last, lt)
					b.worst = math.Max(b.worst, ix.opt.Threshold*sigma)
				}
			}
			b.hidden += a * hiddenProb(o.SourceKgH, sigma, ix.opt.Threshold, age, mem)
		}
	})
	if err != nil {
		return nil, err
	}
	bg := newGrid(o.BlockLevel)
	out := make([]Block, 0, len(blocks))
	for key, b := range blocks {
		c := bg.centre(key.f, key.i, key.j)
		lon, lat := xyzToLonLat(c)
		blk := Block{Cell: bg.cellID(key.f, key.i, key.j), Lat: lat, Lon: lon, AreaM2: b.area,
			Hidden: b.hidden / b.area, Surveyed: b.surveyed / b.area, AccMDL: math.Inf(1)}
		if b.surveyed > 0 {
			blk.AccMDL = b.worst
			blk.LastLook = time.Unix(0, b.last).UTC()
		}
		for _, s := range o.Sites {
			r := s.RadiusM
			if r == 0 {
				r = 100
			}
			d := s2.LatLngFromDegrees(lat, lon).Distance(s2.LatLngFromDegrees(s.Lat, s.Lon)).Radians() * earthRadiusM
			blk.SiteTerm += s.Weight * math.Exp(-d*d/(2*r*r))
		}
		blk.Priority = blk.Hidden + blk.SiteTerm
		out = append(out, blk)
	}
	slices.SortFunc(out, func(a, b Block) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		if c := cmp.Compare(b.AreaM2, a.AreaM2); c != 0 {
			return c
		}
		return cmp.Compare(a.Cell, b.Cell)
	})
	return out, nil
}

// CellPolygon returns the outline of an S2 cell as a lon/lat polygon.
func CellPolygon(id s2.CellID) orb.Polygon {
	c := s2.CellFromCellID(id)
	ring := make(orb.Ring, 0, 5)
	for k := range 4 {
		ll := s2.LatLngFromPoint(c.Vertex(k))
		ring = append(ring, orb.Point{ll.Lng.Degrees(), ll.Lat.Degrees()})
	}
	return orb.Polygon{append(ring, ring[0])}
}

// PrioritiesIn ranks the blocks of every polygon of area (Priorities on
// each), merged, highest priority first. It fails if no cell lies inside
// the area, or if the index failed to load a tile.
func (ix *Index) PrioritiesIn(area orb.MultiPolygon, o PriorityOptions) ([]Block, error) {
	var all []Block
	for _, p := range area {
		bl, err := ix.Priorities(p, o)
		if err != nil {
			return nil, err
		}
		all = append(all, bl...)
	}
	// Polygons are ranked separately; merge the lists (stable).
	slices.SortStableFunc(all, func(a, b Block) int { return cmp.Compare(b.Priority, a.Priority) })
	if err := ix.Err(); err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: no cells inside the area", ErrInput)
	}
	return all, nil
}
