package fusion

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/atalaya-project/atalaya/internal/sites"
	"github.com/atalaya-project/atalaya/internal/store"
)

// txTiles keeps one UTM zone's evidence tiles in a store transaction: the
// store's tile key is "<kind>utm<zone><N|S>/<tx>/<ty>" (kind "" for the
// cell grid, sourcePrefix for the source grid). It remembers the version
// of every tile it loaded, so a save made from a stale read fails with
// store.ErrConflict (and the transaction is tried again). After
// limitToTouched, Tiles lists only the stored tiles within one tile of
// those saved, so that the grid tests the neighbourhood of a pass rather
// than every tile ever stored.
type txTiles struct {
	tx       store.Tx
	prefix   string
	versions map[sites.TileKey]int64
	touched  map[sites.TileKey]bool
	limit    bool
}

func newTxTiles(tx store.Tx, kind string, zone int, north bool) *txTiles {
	h := "S"
	if north {
		h = "N"
	}
	return &txTiles{tx: tx, prefix: kind + "utm" + strconv.Itoa(zone) + h + "/",
		versions: map[sites.TileKey]int64{}, touched: map[sites.TileKey]bool{}}
}

func (s *txTiles) key(k sites.TileKey) string {
	return s.prefix + strconv.Itoa(int(k.TX)) + "/" + strconv.Itoa(int(k.TY))
}

// LoadTile implements sites.TileStore.
func (s *txTiles) LoadTile(ctx context.Context, k sites.TileKey) (*sites.Tile, error) {
	rec, err := s.tx.Tile(ctx, k.Gas, s.key(k))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("tile %s: %w", s.key(k), sites.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	t := &sites.Tile{}
	if err := t.UnmarshalBinary(rec.Data); err != nil {
		return nil, fmt.Errorf("tile %s %s: %w", k.Gas, s.key(k), err)
	}
	if t.Key != k {
		return nil, fmt.Errorf("tile %s %s holds %v: %w", k.Gas, s.key(k), t.Key, sites.ErrTileFormat)
	}
	s.versions[k] = rec.Version
	return t, nil
}

// SaveTile implements sites.TileStore.
func (s *txTiles) SaveTile(ctx context.Context, t *sites.Tile) error {
	b, err := t.MarshalBinary()
	if err != nil {
		return err
	}
	out, err := s.tx.PutTile(ctx, store.Tile{Gas: t.Key.Gas, Key: s.key(t.Key), Data: b, Version: s.versions[t.Key]})
	if err != nil {
		return err
	}
	s.versions[t.Key] = out.Version
	s.touched[t.Key] = true
	return nil
}

// Tiles implements sites.TileStore.
func (s *txTiles) Tiles(ctx context.Context, gas string) ([]sites.TileKey, error) {
	keys, err := s.tx.TileKeys(ctx, gas)
	if err != nil {
		return nil, err
	}
	var out []sites.TileKey
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, s.prefix)
		if !ok {
			continue // another zone
		}
		a, b, ok := strings.Cut(rest, "/")
		if !ok {
			return nil, fmt.Errorf("evidence tile key %q: %w", k, sites.ErrTileFormat)
		}
		tx, err1 := strconv.ParseInt(a, 10, 32)
		ty, err2 := strconv.ParseInt(b, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("evidence tile key %q: %w", k, sites.ErrTileFormat)
		}
		tk := sites.TileKey{Gas: gas, TX: int32(tx), TY: int32(ty)}
		if s.limit && !s.near(tk) {
			continue
		}
		out = append(out, tk)
	}
	return out, nil
}

func (s *txTiles) limitToTouched() { s.limit = true }

// near: within one tile of a tile this pass saved (of any gas: the gases
// of one pass cover the same ground).
func (s *txTiles) near(k sites.TileKey) bool {
	for t := range s.touched {
		if abs(t.TX-k.TX) <= 1 && abs(t.TY-k.TY) <= 1 {
			return true
		}
	}
	return false
}

func abs(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}
