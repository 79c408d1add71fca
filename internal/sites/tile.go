package sites

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// ErrNotFound is returned by TileStore.LoadTile for a tile never saved.
var ErrNotFound = errors.New("sites: not found")

// ErrDuplicatePass is wrapped by Grid.AddPass when a pass with the same ID
// was already added to one of the tiles it covers.
var ErrDuplicatePass = errors.New("sites: pass already added")

// ErrTileFormat is wrapped by Tile.UnmarshalBinary errors.
var ErrTileFormat = errors.New("sites: bad tile encoding")

// TileKey names one tile: a gas and the tile's column (east) and row (north)
// in the grid's zone, tile (TX, TY) holding cells i ∈ [TX·T, (TX+1)·T),
// j ∈ [TY·T, (TY+1)·T) for T cells a side.
type TileKey struct {
	Gas    string
	TX, TY int32
}

func (k TileKey) String() string { return fmt.Sprintf("%s/%d/%d", k.Gas, k.TX, k.TY) }

// TileStore persists evidence tiles. LoadTile returns an error wrapping
// ErrNotFound for a tile never saved; Tiles lists the saved tiles of a gas.
// Implementations must not keep the *Tile passed to SaveTile nor hand out
// one they keep (copy, or encode with MarshalBinary).
type TileStore interface {
	LoadTile(ctx context.Context, key TileKey) (*Tile, error)
	SaveTile(ctx context.Context, t *Tile) error
	Tiles(ctx context.Context, gas string) ([]TileKey, error)
}

// PassRecord is one pass that covered a tile.
type PassRecord struct {
	ID   string
	Time time.Time
	// Inflation is the factor the pass's cell σ were multiplied by for the
	// spatial correlation of its pixels (≥ 1).
	Inflation float64
}

// Tile holds the accumulated evidence of one gas over Size×Size cells. Cell
// (col, row) of the tile, col east and row north, is at index row·Size+col.
type Tile struct {
	Key  TileKey
	Size int
	// SumWC is Σλw·ĉ, SumW is Σλw and SumW2 is Σλ²w over the passes that
	// covered each cell (w = 1/σ², λ the forgetting factor, 1 without).
	SumWC, SumW, SumW2 []float64
	// Passes counts the passes that covered each cell, Seen those whose
	// own cell z reached the grid's SeenZ.
	Passes, Seen []uint16
	// LastPass and LastSeen are Unix seconds (0: never).
	LastPass, LastSeen []int64
	// History lists the passes that covered the tile, in the order added.
	History []PassRecord
}

// NewTile returns an empty tile.
func NewTile(key TileKey, size int) *Tile {
	n := size * size
	return &Tile{
		Key: key, Size: size,
		SumWC: make([]float64, n), SumW: make([]float64, n), SumW2: make([]float64, n),
		Passes: make([]uint16, n), Seen: make([]uint16, n),
		LastPass: make([]int64, n), LastSeen: make([]int64, n),
	}
}

// hasPass reports whether the pass ID is in the tile's history.
func (t *Tile) hasPass(id string) bool {
	for _, p := range t.History {
		if p.ID == id {
			return true
		}
	}
	return false
}

// Clone returns a deep copy.
func (t *Tile) Clone() *Tile {
	c := *t
	c.SumWC = append([]float64(nil), t.SumWC...)
	c.SumW = append([]float64(nil), t.SumW...)
	c.SumW2 = append([]float64(nil), t.SumW2...)
	c.Passes = append([]uint16(nil), t.Passes...)
	c.Seen = append([]uint16(nil), t.Seen...)
	c.LastPass = append([]int64(nil), t.LastPass...)
	c.LastSeen = append([]int64(nil), t.LastSeen...)
	c.History = append([]PassRecord(nil), t.History...)
	return &c
}

// tileMagic starts an encoded tile; the last byte is the format version.
var tileMagic = [4]byte{'A', 'T', 'T', 1}

// MarshalBinary encodes the tile (little-endian, versioned) for a store
// that keeps tiles as blobs.
func (t *Tile) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) } // bytes.Buffer writes never fail
	ws := func(s string) { w(uint32(len(s))); b.WriteString(s) }
	b.Write(tileMagic[:])
	ws(t.Key.Gas)
	w(t.Key.TX)
	w(t.Key.TY)
	w(uint32(t.Size))
	w(uint32(len(t.History)))
	for _, p := range t.History {
		ws(p.ID)
		w(p.Time.UnixNano())
		w(p.Inflation)
	}
	w(t.SumWC)
	w(t.SumW)
	w(t.SumW2)
	w(t.Passes)
	w(t.Seen)
	w(t.LastPass)
	w(t.LastSeen)
	return b.Bytes(), nil
}

// maxTileSize bounds the decoded tile side (4096² cells, 600 MiB decoded).
const maxTileSize = 4096

// UnmarshalBinary decodes MarshalBinary's encoding.
func (t *Tile) UnmarshalBinary(data []byte) error {
	r := bytes.NewReader(data)
	fail := func(what string, err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: %s: %w", ErrTileFormat, what, err)
	}
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || magic != tileMagic {
		return fmt.Errorf("%w: magic %q, want %q", ErrTileFormat, magic[:], tileMagic[:])
	}
	rd := func(v any) error { return binary.Read(r, binary.LittleEndian, v) }
	rs := func() (string, error) {
		var n uint32
		if err := rd(&n); err != nil {
			return "", err
		}
		if int64(n) > int64(r.Len()) {
			return "", fmt.Errorf("string of %d bytes with %d left", n, r.Len())
		}
		s := make([]byte, n)
		_, err := io.ReadFull(r, s)
		return string(s), err
	}
	var out Tile
	var err error
	if out.Key.Gas, err = rs(); err != nil {
		return fail("gas", err)
	}
	if err := rd(&out.Key.TX); err != nil {
		return fail("tx", err)
	}
	if err := rd(&out.Key.TY); err != nil {
		return fail("ty", err)
	}
	var size, nh uint32
	if err := rd(&size); err != nil {
		return fail("size", err)
	}
	if size == 0 || size > maxTileSize {
		return fmt.Errorf("%w: size %d, want 1-%d", ErrTileFormat, size, maxTileSize)
	}
	if err := rd(&nh); err != nil {
		return fail("history length", err)
	}
	if int64(nh)*16 > int64(r.Len()) {
		return fmt.Errorf("%w: history of %d passes with %d bytes left", ErrTileFormat, nh, r.Len())
	}
	for range nh {
		var p PassRecord
		var ns int64
		if p.ID, err = rs(); err != nil {
			return fail("pass id", err)
		}
		if err := rd(&ns); err != nil {
			return fail("pass time", err)
		}
		if err := rd(&p.Inflation); err != nil {
			return fail("pass inflation", err)
		}
		p.Time = time.Unix(0, ns).UTC()
		out.History = append(out.History, p)
	}
	n := int(size) * int(size)
	if int64(n)*(3*8+2*2+2*8) != int64(r.Len()) {
		return fmt.Errorf("%w: %d bytes of cells, want %d for %d² cells", ErrTileFormat, r.Len(), n*(3*8+2*2+2*8), size)
	}
	t2 := NewTile(out.Key, int(size))
	t2.History = out.History
	for _, v := range []any{t2.SumWC, t2.SumW, t2.SumW2, t2.Passes, t2.Seen, t2.LastPass, t2.LastSeen} {
		if err := rd(v); err != nil {
			return fail("cells", err)
		}
	}
	for i, w := range t2.SumW {
		if math.IsNaN(w) || w < 0 || math.IsNaN(t2.SumWC[i]) || math.IsNaN(t2.SumW2[i]) {
			return fmt.Errorf("%w: cell %d: weight %g, weighted sum %g", ErrTileFormat, i, w, t2.SumWC[i])
		}
	}
	*t = *t2
	return nil
}

// MemTileStore is a TileStore in memory, safe for concurrent use; it keeps
// copies, as a database would.
type MemTileStore struct {
	mu    sync.Mutex
	tiles map[TileKey]*Tile
}

// NewMemTileStore returns an empty store.
func NewMemTileStore() *MemTileStore { return &MemTileStore{tiles: map[TileKey]*Tile{}} }

// LoadTile implements TileStore.
func (s *MemTileStore) LoadTile(_ context.Context, key TileKey) (*Tile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tiles[key]
	if !ok {
		return nil, fmt.Errorf("tile %s: %w", key, ErrNotFound)
	}
	return t.Clone(), nil
}

// SaveTile implements TileStore.
func (s *MemTileStore) SaveTile(_ context.Context, t *Tile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tiles[t.Key] = t.Clone()
	return nil
}

// Tiles implements TileStore.
func (s *MemTileStore) Tiles(_ context.Context, gas string) ([]TileKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TileKey
	for k := range s.tiles {
		if k.Gas == gas {
			out = append(out, k)
		}
	}
	return out, nil
}
