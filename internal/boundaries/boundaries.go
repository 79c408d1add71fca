package boundaries

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

//go:embed data/*.atlb.gz data/manifest.json
var data embed.FS

// ErrFormat: a boundary file is not in the .atlb format.
var ErrFormat = errors.New("boundaries: bad format")

// Feature is one country or state.
type Feature struct {
	Code   string // ISO 3166-1 alpha-3 (countries) or ISO 3166-2 (states)
	Name   string
	Parent string // a state's country (ISO 3166-1 alpha-3); "" for countries; an imported area's parent name
	Source string // an imported area's data set; "" for Natural Earth's
	Shape  orb.MultiPolygon
	Bound  orb.Bound
}

// Layer is a set of features with an index for point lookups. It is
// immutable and safe for concurrent use.
type Layer struct {
	features []Feature
	grid     grid
	// cells[row*grid.nx+col] lists the polygons whose bounding box meets
	// the cell, in feature order.
	cells [][]polyRef
	polys []polyIndex
}

// grid is a regular longitude/latitude grid: cell (row, col) spans
// [x0+col·size, x0+(col+1)·size) × [y0+row·size, y0+(row+1)·size).
type grid struct {
	x0, y0, size float64
	nx, ny       int
}

// worldGrid is the 1° grid over the whole Earth of the embedded layers.
var worldGrid = grid{x0: -180, y0: -90, size: 1, nx: 360, ny: 180}

// gridFor fits a grid to the bounds of a layer's polygons with about
// cellsPerPoly cells per polygon (at most maxCells), so a cell lists few
// candidates whatever the areas' size: 1° suits countries, municipalities
// of a few km need finer cells.
func gridFor(b orb.Bound, polys int) grid {
	const (
		cellsPerPoly = 4
		maxCells     = 1 << 21
		minSize      = 1e-4 // about 11 m: finer cells buy nothing
	)
	w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
	n := min(max(polys*cellsPerPoly, 1), maxCells)
	// At least max(w, h)/n, so a long thin extent does not get n cells
	// along its length for each across.
	size := math.Max(math.Max(math.Sqrt(w*h/float64(n)), math.Max(w, h)/float64(n)), minSize)
	for {
		g := grid{x0: b.Min[0], y0: b.Min[1], size: size, nx: int(w/size) + 1, ny: int(h/size) + 1}
		if g.nx*g.ny <= maxCells {
			return g
		}
		size *= 1.5 // a long thin extent: fewer, larger cells
	}
}

// cell returns the cell of a point, clamped to the grid.
func (g grid) cell(lat, lon float64) (row, col int) {
	row = int(math.Floor((lat - g.y0) / g.size))
	col = int(math.Floor((lon - g.x0) / g.size))
	return min(max(row, 0), g.ny-1), min(max(col, 0), g.nx-1)
}

type polyRef struct {
	feature, poly int32 // poly indexes Layer.polys
	bound         orb.Bound
}

// polyIndex is a polygon's rings, each with its edges binned into
// latitude bands, so a point-in-polygon test (crossing number along a ray
// to the east) looks only at the edges of the point's band.
type polyIndex struct {
	rings []ringIndex
}

type ringIndex struct {
	ring        orb.Ring
	minY, bandH float64
	bands       [][]int32 // edge i joins ring[i] and ring[i+1]
}

// edgesPerBand is the target number of edges per band: a query costs
// about this many crossing tests per ring (a long straight edge may span
// many bands; it is listed in each).
const edgesPerBand = 8

func newRingIndex(r orb.Ring) ringIndex {
	b := r.Bound()
	nb := min(max(len(r)/edgesPerBand, 1), 1<<14)
	ri := ringIndex{ring: r, minY: b.Min[1], bandH: (b.Max[1] - b.Min[1]) / float64(nb), bands: make([][]int32, nb)}
	if ri.bandH <= 0 {
		ri.bands = ri.bands[:1]
		for i := 0; i+1 < len(r); i++ {
			ri.bands[0] = append(ri.bands[0], int32(i))
		}
		return ri
	}
	for i := 0; i+1 < len(r); i++ {
		y0, y1 := r[i][1], r[i+1][1]
		if y0 > y1 {
			y0, y1 = y1, y0
		}
		for k := ri.band(y0); k <= ri.band(y1); k++ {
			ri.bands[k] = append(ri.bands[k], int32(i))
		}
	}
	return ri
}

func (ri *ringIndex) band(y float64) int {
	if ri.bandH <= 0 {
		return 0
	}
	return min(max(int((y-ri.minY)/ri.bandH), 0), len(ri.bands)-1)
}

// contains is the crossing-number test: a ray from p towards +longitude
// crosses the ring an odd number of times if p is inside. Edges are
// half-open in latitude, so a vertex on the ray counts once.
func (ri *ringIndex) contains(p orb.Point) bool {
	in := false
	r := ri.ring
	for _, i := range ri.bands[ri.band(p[1])] {
		a, b := r[i], r[i+1]
		if (a[1] > p[1]) != (b[1] > p[1]) {
			if x := a[0] + (p[1]-a[1])*(b[0]-a[0])/(b[1]-a[1]); p[0] < x {
				in = !in
			}
		}
	}
	return in
}

func (pi *polyIndex) contains(p orb.Point) bool {
	if !pi.rings[0].contains(p) {
		return false
	}
	for i := 1; i < len(pi.rings); i++ {
		if pi.rings[i].contains(p) {
			return false
		}
	}
	return true
}

// limits for decoding: the embedded files are far below them; they stop a
// corrupt file from asking for absurd allocations.
const (
	maxDecoded = 256 << 20
	scale      = 1e5 // coordinates are stored as round(deg·1e5)
)

// Decode reads a layer in the .atlb format (gzip-compressed).
func Decode(r io.Reader) (*Layer, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxDecoded+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if len(raw) > maxDecoded {
		return nil, fmt.Errorf("%w: more than %d bytes decompressed", ErrFormat, maxDecoded)
	}
	return decodeRaw(raw)
}

type reader struct {
	b   *bytes.Reader
	err error
}

func (r *reader) uvarint(what string, max int) int {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(r.b)
	if err != nil {
		r.err = fmt.Errorf("%w: %s: %w", ErrFormat, what, err)
		return 0
	}
	if v > uint64(max) {
		r.err = fmt.Errorf("%w: %s %d: at most %d possible with %d bytes left", ErrFormat, what, v, max, r.b.Len())
		return 0
	}
	return int(v)
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(r.b)
	if err != nil {
		r.err = fmt.Errorf("%w: %s: %w", ErrFormat, what, err)
	}
	return v
}

func (r *reader) string(what string) string {
	n := r.uvarint(what+" length", r.b.Len())
	if r.err != nil {
		return ""
	}
	b := make([]byte, n)
	_, _ = io.ReadFull(r.b, b) // n ≤ Len
	return string(b)
}

func decodeRaw(raw []byte) (*Layer, error) {
	const magic = "ATLB1\n"
	if !bytes.HasPrefix(raw, []byte(magic)) {
		return nil, fmt.Errorf("%w: no ATLB1 header", ErrFormat)
	}
	r := &reader{b: bytes.NewReader(raw[len(magic):])}
	// Each count is bounded by the bytes left: a feature takes at least 4
	// bytes, a polygon or ring 1, a point 2.
	n := r.uvarint("feature count", r.b.Len()/4)
	l := &Layer{features: make([]Feature, 0, n)}
	for i := 0; i < n && r.err == nil; i++ {
		f := Feature{Code: r.string("code"), Name: r.string("name"), Parent: r.string("parent")}
		np := r.uvarint("polygon count", r.b.Len())
		f.Shape = make(orb.MultiPolygon, 0, np)
		for p := 0; p < np && r.err == nil; p++ {
			nr := r.uvarint("ring count", r.b.Len())
			poly := make(orb.Polygon, 0, nr)
			for k := 0; k < nr && r.err == nil; k++ {
				npt := r.uvarint("point count", r.b.Len()/2)
				ring := make(orb.Ring, npt)
				var x, y int64
				for j := range ring {
					x += r.varint("longitude")
					y += r.varint("latitude")
					ring[j] = orb.Point{float64(x) / scale, float64(y) / scale}
				}
				if r.err == nil && npt < 4 {
					r.err = fmt.Errorf("%w: feature %q: ring of %d points: want at least 4 (closed)", ErrFormat, f.Code, npt)
				}
				for _, pt := range ring {
					if !(pt[0] >= -180 && pt[0] <= 180 && pt[1] >= -90 && pt[1] <= 90) && r.err == nil {
						r.err = fmt.Errorf("%w: feature %q: point %v outside [-180, 180]×[-90, 90]", ErrFormat, f.Code, pt)
					}
				}
				poly = append(poly, ring)
			}
			if r.err == nil && len(poly) == 0 {
				r.err = fmt.Errorf("%w: feature %q: polygon without rings", ErrFormat, f.Code)
			}
			f.Shape = append(f.Shape, poly)
		}
		if r.err != nil {
			break
		}
		if len(f.Shape) == 0 {
			return nil, fmt.Errorf("%w: feature %q has no polygon", ErrFormat, f.Code)
		}
		f.Bound = f.Shape.Bound()
		l.features = append(l.features, f)
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.b.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last feature", ErrFormat, r.b.Len())
	}
	l.index(worldGrid)
	return l, nil
}

func (l *Layer) index(g grid) {
	l.grid = g
	l.cells = make([][]polyRef, g.nx*g.ny)
	for i, f := range l.features {
		for _, p := range f.Shape {
			j := len(l.polys)
			pi := polyIndex{rings: make([]ringIndex, len(p))}
			for k, r := range p {
				pi.rings[k] = newRingIndex(r)
			}
			l.polys = append(l.polys, pi)
			b := p[0].Bound()
			r0, c0 := g.cell(b.Min[1], b.Min[0])
			r1, c1 := g.cell(b.Max[1], b.Max[0])
			for r := r0; r <= r1; r++ {
				for c := c0; c <= c1; c++ {
					l.cells[r*g.nx+c] = append(l.cells[r*g.nx+c], polyRef{int32(i), int32(j), b})
				}
			}
		}
	}
}

// NewLayer indexes features for point lookups (At returns the first
// feature, in the given order, that contains a point). Each polygon needs
// an outer ring then its holes, each ring closed with at least 4 points.
func NewLayer(features []Feature) (*Layer, error) {
	l := &Layer{features: make([]Feature, len(features))}
	var b orb.Bound
	n := 0
	for i, f := range features {
		if len(f.Shape) == 0 {
			return nil, fmt.Errorf("%w: feature %d (%q) has no polygon", ErrFormat, i, f.Name)
		}
		for j, p := range f.Shape {
			if len(p) == 0 {
				return nil, fmt.Errorf("%w: feature %d (%q): polygon %d has no ring", ErrFormat, i, f.Name, j)
			}
			for k, r := range p {
				if len(r) < 4 || r[0] != r[len(r)-1] {
					return nil, fmt.Errorf("%w: feature %d (%q): polygon %d ring %d: want a closed ring of at least 4 points", ErrFormat, i, f.Name, j, k)
				}
			}
		}
		f.Bound = f.Shape.Bound()
		if n == 0 {
			b = f.Bound
		} else {
			b = b.Union(f.Bound)
		}
		n += len(f.Shape)
		l.features[i] = f
	}
	l.index(gridFor(b, n))
	return l, nil
}

// At returns the first feature whose shape contains the point.
func (l *Layer) At(lat, lon float64) (*Feature, bool) {
	if !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) || len(l.cells) == 0 {
		return nil, false
	}
	row, col := l.grid.cell(lat, lon)
	pt := orb.Point{lon, lat}
	for _, ref := range l.cells[row*l.grid.nx+col] {
		if !ref.bound.Contains(pt) {
			continue
		}
		if l.polys[ref.poly].contains(pt) {
			return &l.features[ref.feature], true
		}
	}
	return nil, false
}

// Features returns the layer's features (the embedded layers' sorted by
// code then name).
func (l *Layer) Features() []Feature { return l.features }

// GeoJSON encodes the layer as a FeatureCollection whose features carry
// "code", "name" and (for states) "country" properties.
func (l *Layer) GeoJSON() ([]byte, error) {
	fc := geojson.NewFeatureCollection()
	for _, f := range l.features {
		g := geojson.NewFeature(f.Shape)
		g.ID = f.Code
		g.Properties["code"] = f.Code
		g.Properties["name"] = f.Name
		if f.Parent != "" {
			g.Properties["country"] = f.Parent
		}
		fc.Append(g)
	}
	return json.Marshal(fc)
}

func load(name string) *Layer {
	f, err := data.Open("data/" + name)
	if err != nil {
		panic(fmt.Sprintf("boundaries: embedded %s: %v", name, err)) // a build without data/: programmer error
	}
	defer f.Close()
	l, err := Decode(bufio.NewReader(f))
	if err != nil {
		panic(fmt.Sprintf("boundaries: embedded %s: %v", name, err))
	}
	return l
}

var (
	countries = sync.OnceValue(func() *Layer { return load("countries-10m.atlb.gz") })
	mapLayer  = sync.OnceValue(func() *Layer { return load("countries-50m.atlb.gz") })
	states    = sync.OnceValue(func() *Layer { return load("admin1-latam-10m.atlb.gz") })
	mapJSON   = sync.OnceValue(func() []byte {
		b, err := mapLayer().GeoJSON()
		if err != nil {
			panic(fmt.Sprintf("boundaries: encode the base map: %v", err))
		}
		return b
	})
)

// Countries is the admin-0 layer at 1:10 million (loaded on first use).
func Countries() *Layer { return countries() }

// States is the admin-1 layer of Latin America and the Caribbean at 1:10
// million (loaded on first use).
func States() *Layer { return states() }

// CountryAt returns the ISO 3166-1 alpha-3 code and the Natural Earth name
// of the country containing the point (WGS 84 degrees); ok is false at sea,
// outside every country, or for an invalid point.
func CountryAt(lat, lon float64) (iso3, name string, ok bool) {
	f, ok := countries().At(lat, lon)
	if !ok {
		return "", "", false
	}
	return f.Code, f.Name, true
}

// StateAt returns the ISO 3166-2 code, the name and the country (ISO
// 3166-1 alpha-3) of the state, department or province containing the
// point, for Latin America and the Caribbean; ok is false elsewhere.
func StateAt(lat, lon float64) (code, name, country string, ok bool) {
	f, ok := states().At(lat, lon)
	if !ok {
		return "", "", "", false
	}
	return f.Code, f.Name, f.Parent, true
}

// GeoJSON returns the countries at 1:50 million as a GeoJSON
// FeatureCollection (properties "code": ISO 3166-1 alpha-3, "name"), for
// the web base map. The slice is shared: do not modify it.
func GeoJSON() []byte { return mapJSON() }

// Manifest returns data/manifest.json: the source packages, their versions
// and each file's SHA-256.
func Manifest() []byte {
	b, err := data.ReadFile("data/manifest.json")
	if err != nil {
		panic(fmt.Sprintf("boundaries: embedded manifest: %v", err))
	}
	return b
}
