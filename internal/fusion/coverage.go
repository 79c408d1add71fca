package fusion

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/atalaya-project/atalaya/internal/coverage"
	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Coverage lives in the store beside the evidence grid: one coverage index
// per gas, its S2 tiles (coverage.Index.EncodeTile) in the evidence-tile
// table under the name CoverageTiles(gas), updated in the granule's
// transaction with optimistic versions like the grid's tiles.

// CoverageTiles is the evidence-tile "gas" under which a gas's coverage
// tiles are stored.
func CoverageTiles(gas string) string { return "coverage/" + gas }

// DefaultCoverageWindMS is the wind speed that turns a pass's column noise
// into emission noise when the pass has no wind of its own: 3 m/s, a
// typical surface wind for survey flying (a pass flown in stronger wind is
// less sensitive than this says; MDL scales with the wind speed).
const DefaultCoverageWindMS = 3.0

// CoverageIndex returns a gas's coverage index reading its tiles from r as
// queries touch them (read-only: nothing is written back).
func CoverageIndex(ctx context.Context, r store.EvidenceReader, gas string) (*coverage.Index, error) {
	ix, err := coverage.New(coverage.Options{})
	if err != nil {
		return nil, err
	}
	ix.SetTileLoader(func(key string) ([]byte, bool, error) {
		t, err := r.Tile(ctx, CoverageTiles(gas), key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		return t.Data, true, nil
	})
	return ix, nil
}

// addCoverage records the pass in each searched gas's coverage index.
func (f *Fuser) addCoverage(ctx context.Context, tx store.Tx, p *pass, rep *Report) error {
	for _, gas := range p.searchGases {
		e, err := f.cfg.Library.Get(gas)
		if err != nil {
			return err
		}
		thr := 0.0
		for _, t := range p.res.Tests {
			if t.Method == granule.MethodMF && t.Gas == gas {
				thr = t.Threshold
			}
		}
		if !(thr > 0) {
			continue // the gas was not tested in this pass
		}
		sig, geo, err := readGeoMap(filepath.Join(p.dir, "ppmm-sigma-"+gas+".hdr"))
		if err != nil {
			return fmt.Errorf("coverage of %s: %w", gas, err)
		}
		pl := coverage.Plume{WindMS: p.meta.WindSpeedMS, Stability: p.meta.Stability, MolarMass: e.MolarMass}
		if !p.meta.HasWind() {
			pl.WindMS = DefaultCoverageWindMS
		}
		ras, err := coverage.NewRaster(geo, sig.Rect.Dx(), sig.Rect.Dy(), sig.Pix, pl)
		if err != nil {
			return fmt.Errorf("coverage of %s: %w", gas, err)
		}
		ix, err := coverage.New(coverage.Options{})
		if err != nil {
			return err
		}
		name := CoverageTiles(gas)
		versions := map[string]int64{}
		ix.SetTileLoader(func(key string) ([]byte, bool, error) {
			t, err := tx.Tile(ctx, name, key)
			if errors.Is(err, store.ErrNotFound) {
				return nil, false, nil
			}
			if err != nil {
				return nil, false, err
			}
			versions[key] = t.Version
			return t.Data, true, nil
		})
		n, err := ix.AddRaster(coverage.Pass{Granule: p.g.ID, Sensor: "imaging", Time: p.time, Threshold: thr}, ras)
		if err != nil {
			return fmt.Errorf("coverage of %s: %w", gas, err)
		}
		if err := ix.Err(); err != nil {
			return err
		}
		for _, key := range ix.Dirty() {
			b, err := ix.EncodeTile(key)
			if err != nil {
				return err
			}
			if _, err := tx.PutTile(ctx, store.Tile{Gas: name, Key: key, Data: b, Version: versions[key]}); err != nil {
				return err
			}
		}
		rep.CoverageCells += n
	}
	return nil
}

// readGeoMap reads a one-band map and its georeference.
func readGeoMap(path string) (*cube.Cube, *cube.Georef, error) {
	f, err := cube.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	geo, err := f.Header.Georef()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	c, err := f.ReadAll()
	return c, geo, err
}
