package coverage

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// An Index can live in a database one tile at a time, so that many
// workers update the coverage of the ground they processed without ever
// holding the whole index: give it a TileLoader, and tiles missing from
// memory are read through it when a pass or a query touches them; after
// adding passes, Dirty lists the tiles changed and EncodeTile encodes each
// for storing back (the caller stores them with optimistic versions, as
// internal/fusion does in the granule's transaction).
//
// An encoded tile is self-contained: it carries the passes its cells refer
// to (a tile-local pass table), so tiles written by different processes
// merge into any index.

// TileLoader returns the encoding of a stored tile (EncodeTile), or
// ok=false if the tile was never stored.
type TileLoader func(key string) (data []byte, ok bool, err error)

// SetTileLoader makes the index read tiles missing from memory through
// load. Tiles already in memory are not reread.
func (ix *Index) SetTileLoader(load TileLoader) {
	ix.load = load
	if ix.loaded == nil {
		ix.loaded = map[uint64]bool{}
	}
}

// Err returns the first error of the tile loader (a tile that could not be
// read or decoded); while it is set, passes and queries may have been
// applied to fewer tiles than they touched.
func (ix *Index) Err() error { return ix.err }

// TileKey returns the key of tile k as EncodeTile's callers store it:
// "L<tile level>/<face>/<i>/<j>".
func (ix *Index) tileKeyString(k uint64) string {
	f, ti, tj := k>>58, (k>>29)&(1<<29-1), k&(1<<29-1)
	return "L" + strconv.Itoa(ix.opt.TileLevel) + "/" + strconv.FormatUint(f, 10) + "/" +
		strconv.FormatUint(ti, 10) + "/" + strconv.FormatUint(tj, 10)
}

func (ix *Index) parseTileKey(s string) (uint64, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 || parts[0] != "L"+strconv.Itoa(ix.opt.TileLevel) {
		return 0, fmt.Errorf("%w: tile key %q: want L%d/FACE/I/J", ErrFormat, s, ix.opt.TileLevel)
	}
	var v [3]uint64
	for i, p := range parts[1:] {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil || (i == 0 && n > 5) || n >= 1<<29 {
			return 0, fmt.Errorf("%w: tile key %q", ErrFormat, s)
		}
		v[i] = n
	}
	return tileKey(int(v[0]), int(v[1]), int(v[2])), nil
}

// Dirty returns the keys of the tiles changed since they were loaded or
// created (all tiles changed by passes, in key order), and clears the mark.
func (ix *Index) Dirty() []string {
	keys := slices.Sorted(maps.Keys(ix.dirty))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = ix.tileKeyString(k)
	}
	clear(ix.dirty)
	return out
}

// tileMagic starts an encoded tile; the last byte is the format version.
const tileMagic = "ATCOVT\x00\x01"

type tileHeader struct {
	Level     int    `json:"level"`
	TileLevel int    `json:"tile_level"`
	Passes    []Pass `json:"passes"`
}

// EncodeTile encodes a tile in memory for storing: the magic, a uint32
// length and a JSON header (levels and the passes its cells refer to),
// then the cells' four arrays (float32 Σ1/σ², float32 best MDL, uint32
// 1+index of the latest pass in the header's list, uint16 count), all
// little-endian and DEFLATE-compressed (most tiles are partly surveyed).
func (ix *Index) EncodeTile(key string) ([]byte, error) {
	k, err := ix.parseTileKey(key)
	if err != nil {
		return nil, err
	}
	t := ix.tiles[k]
	if t == nil {
		return nil, fmt.Errorf("%w: tile %s is not in memory", ErrInput, key)
	}
	local := map[uint32]uint32{}
	var passes []Pass
	last := make([]uint32, len(t.last))
	for c, l := range t.last {
		if l == 0 {
			continue
		}
		m, ok := local[l]
		if !ok {
			passes = append(passes, ix.passes[l-1])
			m = uint32(len(passes))
			local[l] = m
		}
		last[c] = m
	}
	hdr, err := json.Marshal(tileHeader{Level: ix.opt.Level, TileLevel: ix.opt.TileLevel, Passes: passes})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(tileMagic)
	_ = binary.Write(&buf, binary.LittleEndian, uint32(len(hdr)))
	buf.Write(hdr)
	zw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	for _, a := range []any{t.invVar, t.best, last, t.count} {
		if err := binary.Write(zw, binary.LittleEndian, a); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// loadTile reads tile k through the loader into memory; ok is false if it
// was never stored. Its passes join the index's (the same pass from
// several tiles once).
func (ix *Index) loadTile(k uint64) (*tile, bool) {
	if ix.load == nil || ix.loaded[k] || ix.err != nil {
		return nil, false
	}
	ix.loaded[k] = true
	key := ix.tileKeyString(k)
	data, ok, err := ix.load(key)
	if err != nil {
		ix.err = fmt.Errorf("coverage tile %s: %w", key, err)
		return nil, false
	}
	if !ok {
		return nil, false
	}
	t, err := ix.decodeTile(data)
	if err != nil {
		ix.err = fmt.Errorf("coverage tile %s: %w", key, err)
		return nil, false
	}
	ix.tiles[k] = t
	return t, true
}

func (ix *Index) decodeTile(data []byte) (*tile, error) {
	if !bytes.HasPrefix(data, []byte(tileMagic)) || len(data) < len(tileMagic)+4 {
		return nil, fmt.Errorf("%w: not a coverage tile", ErrFormat)
	}
	rest := data[len(tileMagic):]
	n := binary.LittleEndian.Uint32(rest)
	rest = rest[4:]
	if uint64(n) > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: header of %d bytes in %d", ErrFormat, n, len(rest))
	}
	var h tileHeader
	if err := json.Unmarshal(rest[:n], &h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if h.Level != ix.opt.Level || h.TileLevel != ix.opt.TileLevel {
		return nil, fmt.Errorf("%w: levels %d/%d, the index's %d/%d", ErrFormat, h.Level, h.TileLevel, ix.opt.Level, ix.opt.TileLevel)
	}
	remap := make([]uint32, len(h.Passes)+1)
	for i, p := range h.Passes {
		gi, ok := ix.passIndex[passKey(p)]
		if !ok {
			var err error
			if gi, err = ix.addPass(p); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrFormat, err)
			}
		}
		remap[i+1] = gi
	}
	cells := ix.side * ix.side
	t := &tile{invVar: make([]float32, cells), best: make([]float32, cells), last: make([]uint32, cells), count: make([]uint16, cells)}
	zr := flate.NewReader(bytes.NewReader(rest[n:]))
	defer zr.Close()
	for _, a := range []any{t.invVar, t.best, t.last, t.count} {
		if err := binary.Read(zr, binary.LittleEndian, a); err != nil {
			return nil, fmt.Errorf("%w: cells: %w", ErrFormat, err)
		}
	}
	if _, err := zr.Read(make([]byte, 1)); err != io.EOF {
		return nil, fmt.Errorf("%w: bytes after the cells", ErrFormat)
	}
	for c, l := range t.last {
		if int(l) > len(h.Passes) || (l == 0) != (t.count[c] == 0) {
			return nil, fmt.Errorf("%w: cell %d refers to pass %d of %d", ErrFormat, c, l, len(h.Passes))
		}
		t.last[c] = remap[l]
	}
	return t, nil
}
