package coverage

import (
	"fmt"
	"math"
	"time"

	"github.com/golang/geo/s2"
	"github.com/paulmach/orb"
)

// DefaultLevel is the S2 level of the cells (docs/coverage.md, "Cells"):
// level-20 cells average 77 m² (8.8 m on a side, s2.AvgAreaMetric) and range
// from 6.4 m to 13.3 m on a side over the sphere; near the equator and the
// face centres they are about 7-8 m. That is the 10 m scale of the question
// "could a small source hide here?": a few pixels of a drone cube at
// 100-300 m altitude, finer than a plume's visible length.
const DefaultLevel = 20

// DefaultTileLevel is the S2 level of the tiles that hold cells in dense
// arrays: a level-13 tile is 128 × 128 level-20 cells (about 1.1 km on a
// side, 229 KiB of state).
const DefaultTileLevel = 13

// DefaultThreshold is the threshold, in units of the accumulated 1σ emission
// noise, at which accumulated evidence counts as a detection: the threshold
// of a single pass at 0.1 false alarms per km² with 1 m pixels is near 5
// (Gaussian tail 3·10⁻⁷, internal/granule), and the evidence grid holds the
// same rate per km².
const DefaultThreshold = 5

// Options configure an Index.
type Options struct {
	// Level of the cells, 1-30; 0 means DefaultLevel.
	Level int
	// TileLevel of the tiles, between Level−10 and Level; 0 means
	// DefaultTileLevel (or Level if that is coarser).
	TileLevel int
	// Threshold of the accumulated evidence; 0 means DefaultThreshold.
	Threshold float64
}

// Pass is one granule's survey of the ground: what imaged it, when, and the
// detection threshold (in units of its 1σ noise) it was screened at.
type Pass struct {
	Granule   string    `json:"granule"`
	Sensor    string    `json:"sensor"`
	Time      time.Time `json:"time"`
	Threshold float64   `json:"threshold"`
}

// Index records, per S2 cell, the passes over it and how sensitive they
// were. Cells live in tiles: dense arrays over an aligned square of cells (a
// coarser S2 cell), created the first time a pass touches them, so memory
// grows with the surveyed area (14 bytes a cell) and not with the number of
// passes. An Index is not safe for concurrent use.
type Index struct {
	opt   Options
	g     grid
	shift int // log2 of cells per tile side
	side  int
	tiles map[uint64]*tile
	// passes are the recorded passes; cells refer to them by index+1.
	passes []Pass
	times  []int64 // passes[k].Time in Unix nanoseconds
	// Tiles kept in a database (tiles.go): the loader, the tiles asked of
	// it, its first error, the tiles changed since loading, and each
	// pass's index by identity (so tiles sharing a pass share it).
	load      TileLoader
	loaded    map[uint64]bool
	err       error
	dirty     map[uint64]bool
	passIndex map[string]uint32
}

// passKey identifies a pass across tiles.
func passKey(p Pass) string {
	return fmt.Sprintf("%s\x00%s\x00%d\x00%g", p.Granule, p.Sensor, p.Time.UnixNano(), p.Threshold)
}

// tile holds the state of side×side cells, row-major in (j, i).
type tile struct {
	invVar []float32 // Σ 1/σ_Q² of the passes, h²/kg²
	best   []float32 // smallest single-pass MDL, kg/h; 0 for never surveyed
	last   []uint32  // 1 + index of the latest pass; 0 for never surveyed
	count  []uint16  // passes (saturating)
}

// New returns an empty index.
func New(o Options) (*Index, error) {
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	if o.Level < 1 || o.Level > 30 {
		return nil, fmt.Errorf("%w: cell level %d: want 1-30", ErrInput, o.Level)
	}
	if o.TileLevel == 0 {
		o.TileLevel = min(DefaultTileLevel, o.Level)
	}
	if o.TileLevel > o.Level || o.TileLevel < o.Level-10 || o.TileLevel < 0 {
		return nil, fmt.Errorf("%w: tile level %d for cell level %d: want %d-%d", ErrInput, o.TileLevel, o.Level, max(0, o.Level-10), o.Level)
	}
	if o.Threshold == 0 {
		o.Threshold = DefaultThreshold
	}
	if !(o.Threshold > 0) || math.IsInf(o.Threshold, 0) {
		return nil, fmt.Errorf("%w: threshold %g", ErrInput, o.Threshold)
	}
	shift := o.Level - o.TileLevel
	return &Index{opt: o, g: newGrid(o.Level), shift: shift, side: 1 << shift, tiles: map[uint64]*tile{},
		dirty: map[uint64]bool{}, passIndex: map[string]uint32{}}, nil
}

// Options returns the index's options with defaults filled in.
func (ix *Index) Options() Options { return ix.opt }

// Passes returns the passes recorded, in the order they were added.
func (ix *Index) Passes() []Pass { return append([]Pass(nil), ix.passes...) }

// Tiles returns the number of tiles allocated.
func (ix *Index) Tiles() int { return len(ix.tiles) }

// MemoryBytes returns the bytes held by the cells' arrays.
func (ix *Index) MemoryBytes() int64 {
	return int64(len(ix.tiles)) * int64(ix.side*ix.side) * 14
}

func tileKey(f, ti, tj int) uint64 { return uint64(f)<<58 | uint64(ti)<<29 | uint64(tj) }

func (ix *Index) tileAt(f, i, j int, create bool) *tile {
	k := tileKey(f, i>>ix.shift, j>>ix.shift)
	t := ix.tiles[k]
	if t == nil && ix.load != nil {
		t, _ = ix.loadTile(k)
	}
	if create {
		ix.dirty[k] = true
	}
	if t == nil && create {
		n := ix.side * ix.side
		t = &tile{invVar: make([]float32, n), best: make([]float32, n), last: make([]uint32, n), count: make([]uint16, n)}
		ix.tiles[k] = t
	}
	return t
}

func (ix *Index) addPass(p Pass) (uint32, error) {
	if !(p.Threshold > 0) || math.IsInf(p.Threshold, 0) {
		return 0, fmt.Errorf("%w: pass %s: threshold %g must be positive", ErrInput, p.Granule, p.Threshold)
	}
	if len(ix.passes) >= math.MaxUint32-1 {
		return 0, fmt.Errorf("%w: too many passes", ErrInput)
	}
	ix.passes = append(ix.passes, p)
	ix.times = append(ix.times, p.Time.UnixNano())
	ix.passIndex[passKey(p)] = uint32(len(ix.passes))
	return uint32(len(ix.passes)), nil
}

// AddPolygon records a pass over the cells whose centres lie inside area
// (longitude, latitude in degrees; holes are holes) with one 1σ emission noise
// sigmaKgH (kg/h; see Plume.KgHPerPPMm) everywhere. It returns the number of
// cells updated.
func (ix *Index) AddPolygon(p Pass, area orb.Polygon, sigmaKgH float64) (int, error) {
	if !(sigmaKgH > 0) || math.IsInf(sigmaKgH, 0) {
		return 0, fmt.Errorf("%w: pass %s: emission noise %g kg/h must be positive and finite", ErrInput, p.Granule, sigmaKgH)
	}
	sp, err := toSphere(area)
	if err != nil {
		return 0, fmt.Errorf("pass %s: %w", p.Granule, err)
	}
	pi, err := ix.addPass(p)
	if err != nil {
		return 0, err
	}
	s := float32(sigmaKgH)
	return ix.update(pi, sp, func(_, _, _ int, out []float32) {
		for k := range out {
			out[k] = s
		}
	}), nil
}

// update applies pass pi to the cells of poly, with sample filling out with
// the 1σ emission noise of the cells (f, j, i0…i0+len(out)−1); a sample that
// is not positive and finite leaves its cell alone.
func (ix *Index) update(pi uint32, poly spherePolygon, sample func(f, j, i0 int, out []float32)) int {
	p := ix.passes[pi-1]
	thr := float32(p.Threshold)
	now := ix.times[pi-1]
	var buf []float32
	cells := 0
	mask := ix.side - 1
	ix.g.scan(poly, func(f, j, i0, i1 int) {
		if n := i1 - i0 + 1; cap(buf) < n {
			buf = make([]float32, n, 2*n)
		}
		buf = buf[:i1-i0+1]
		sample(f, j, i0, buf)
		for i := i0; i <= i1; {
			t := ix.tileAt(f, i, j, true)
			end := min(i1, i|mask)
			row := (j & mask) << ix.shift
			for ; i <= end; i++ {
				s := buf[i-i0]
				if !(s > 0) || s > math.MaxFloat32 {
					continue
				}
				k := row + i&mask
				t.invVar[k] += 1 / (s * s)
				if m := thr * s; t.best[k] == 0 || m < t.best[k] {
					t.best[k] = m
				}
				if t.count[k] < math.MaxUint16 {
					t.count[k]++
				}
				if l := t.last[k]; l == 0 || ix.times[l-1] <= now {
					t.last[k] = pi
				}
				cells++
			}
		}
	})
	return cells
}

// Record is what the index knows of one cell.
type Record struct {
	Cell s2.CellID
	// AreaM2 is the cell's area.
	AreaM2 float64
	// Passes is the number of passes over the cell (saturating at 65535).
	Passes int
	// Last is the latest pass over the cell (zero if none).
	Last Pass
	// BestMDL is the smallest minimum detectable emission rate of a single
	// pass, kg/h; +Inf if never surveyed.
	BestMDL float64
	// AccMDL is the minimum detectable emission rate of a persistent source
	// from all passes together, Threshold·(Σ 1/σ_i²)^(−1/2), kg/h; +Inf if
	// never surveyed.
	AccMDL float64
	// SigmaKgH is the accumulated 1σ emission noise (Σ 1/σ_i²)^(−1/2).
	SigmaKgH float64
}

// Surveyed reports whether any pass covered the cell.
func (r Record) Surveyed() bool { return r.Passes > 0 }

func (ix *Index) record(f, i, j int, withID bool) Record {
	r := Record{AreaM2: ix.g.area(i, j), BestMDL: math.Inf(1), AccMDL: math.Inf(1), SigmaKgH: math.Inf(1)}
	if withID {
		r.Cell = ix.g.cellID(f, i, j)
	}
	t := ix.tileAt(f, i, j, false)
	if t == nil {
		return r
	}
	mask := ix.side - 1
	k := (j&mask)<<ix.shift + i&mask
	if t.count[k] == 0 {
		return r
	}
	r.Passes = int(t.count[k])
	r.Last = ix.passes[t.last[k]-1]
	r.BestMDL = float64(t.best[k])
	r.SigmaKgH = 1 / math.Sqrt(float64(t.invVar[k]))
	r.AccMDL = ix.opt.Threshold * r.SigmaKgH
	return r
}

// At returns the record of the cell containing a point (degrees).
func (ix *Index) At(lat, lon float64) Record {
	f, i, j := ix.g.cellOf(lonLatToXYZ(lon, lat))
	return ix.record(f, i, j, true)
}

// Cell returns the record of a cell of the index's level.
func (ix *Index) Cell(id s2.CellID) (Record, error) {
	f, i, j, err := ix.g.fromCellID(id)
	if err != nil {
		return Record{}, err
	}
	return ix.record(f, i, j, true), nil
}

// visit calls fn for every cell whose centre lies in area.
func (ix *Index) visit(area orb.Polygon, fn func(f, i, j int) bool) error {
	sp, err := toSphere(area)
	if err != nil {
		return err
	}
	stop := false
	ix.g.scan(sp, func(f, j, i0, i1 int) {
		for i := i0; i <= i1 && !stop; i++ {
			stop = !fn(f, i, j)
		}
	})
	return nil
}

// visitRuns calls fn for every run of cells whose centres lie in area, split
// at tile edges: cells (f, i0…i1, j), their tile t (nil if never touched) and
// the index in t of cell (i0, j).
func (ix *Index) visitRuns(area orb.Polygon, fn func(f, j, i0, i1 int, t *tile, k0 int)) error {
	sp, err := toSphere(area)
	if err != nil {
		return err
	}
	mask := ix.side - 1
	ix.g.scan(sp, func(f, j, i0, i1 int) {
		for i := i0; i <= i1; {
			end := min(i1, i|mask)
			fn(f, j, i, end, ix.tileAt(f, i, j, false), (j&mask)<<ix.shift+i&mask)
			i = end + 1
		}
	})
	return nil
}

// Cells calls fn with the record of every cell whose centre lies inside area
// (surveyed or not) until fn returns false.
func (ix *Index) Cells(area orb.Polygon, fn func(Record) bool) error {
	return ix.visit(area, func(f, i, j int) bool { return fn(ix.record(f, i, j, true)) })
}

// Rect returns the polygon of a longitude-latitude rectangle, for Cells and
// Summary.
func Rect(b orb.Bound) orb.Polygon { return orb.Polygon{b.ToRing()} }
