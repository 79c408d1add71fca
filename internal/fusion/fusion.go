package fusion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/detect"
	"github.com/atalaya-project/atalaya/internal/feed"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/sites"
	"github.com/atalaya-project/atalaya/internal/spectra"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Config configures fusion.
type Config struct {
	// Gases are the gases granules are searched for: each has an evidence
	// grid, and a site's profile holds the evidence of every one of them.
	Gases []string
	// FARPerKm2 is the evidence grid's false-alarm rate per km² (default
	// 0.1), shared among the gases.
	FARPerKm2 float64
	// Grid sets the evidence grid of passes without a wind (zone and
	// hemisphere are taken from each granule); zero fields take the sites
	// package's defaults.
	Grid sites.GridConfig
	// SourceGrid sets the evidence grid of passes whose header gives the
	// wind: a source grid (sites.SourceConfig; nil Source takes its
	// defaults), each pass's retrieval fitted as the emission rate of a
	// source in every cell along that pass's wind — the grid that finds
	// sources no single pass can (docs/evidence.md). Its tiles are kept
	// apart from the cell grid's.
	SourceGrid sites.GridConfig
	// CellGridOnly puts every pass on the cell grid, wind or not.
	CellGridOnly bool
	// GridMinSeen is how many passes must each have seen gas at a grid
	// detection's peak cell (that pass's own z ≥ the grid's SeenZ) for it
	// to make or join a site (default 2). The grid is for what persists:
	// one pass's puff far down a plume, strong enough to carry the
	// combined z alone, is not a source, and a single pass's finding is
	// the granule's to make.
	GridMinSeen int
	// Catalog sets association and scoring (zone, hemisphere and NewID
	// are set here).
	Catalog sites.CatalogConfig
	// Retries of a transaction that lost a race for a tile or a site
	// (PostgreSQL with several workers; default 8).
	Retries int
	// Owners returns the jurisdiction (the owning agency of a point,
	// access.Service.Owners), for the owner in alerts; nil: alerts name
	// no owner (sinks then show the site to nobody outside the store).
	Owners func(context.Context) (func(lat, lon float64) string, error)
	// Library gives the gases' molar masses for coverage (default: the
	// built-in library).
	Library *spectra.Library
	Log     *slog.Logger
}

// Store is what fusion needs of the store: transactions.
type Store interface {
	InTx(ctx context.Context, fn func(store.Tx) error) error
}

// Fuser commits processed granules with what follows from them.
type Fuser struct {
	cfg Config
	db  Store
	log *slog.Logger
}

// New returns a Fuser writing to db.
func New(db Store, cfg Config) (*Fuser, error) {
	if len(cfg.Gases) == 0 {
		return nil, errors.New("fusion: no gases")
	}
	if cfg.FARPerKm2 == 0 {
		cfg.FARPerKm2 = 0.1
	}
	if !(cfg.FARPerKm2 > 0) || math.IsInf(cfg.FARPerKm2, 0) {
		return nil, fmt.Errorf("fusion: false-alarm rate %g per km², want > 0", cfg.FARPerKm2)
	}
	if cfg.Retries == 0 {
		cfg.Retries = 8
	}
	if cfg.GridMinSeen == 0 {
		cfg.GridMinSeen = 2
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Library == nil {
		lib, err := spectra.Default()
		if err != nil {
			return nil, err
		}
		cfg.Library = lib
	}
	return &Fuser{cfg: cfg, db: db, log: cfg.Log}, nil
}

// Report says what committing one granule did.
type Report struct {
	Detections     int      // detections stored (imaging and grid)
	GridDetections int      // of which from the evidence grid
	Created        []string // new sites
	Updated        []string // sites whose record changed
	Alerts         int      // alerts queued
	Attempts       int      // transactions tried
	// CoverageCells counts the coverage cells the pass updated (over its
	// gases).
	CoverageCells int
	// GridUntested: the ground surveyed near the pass was too small to
	// calibrate the grid's threshold, so the grid made no detections.
	GridUntested bool
}

// Commit stores a processed granule's detections, marks it done, adds its
// retrieval to the evidence grid, associates its detections (and the
// grid's) with candidate sites, and queues an alert for every site made or
// changed — all in one transaction, so that a granule is fused exactly
// once: a crash anywhere leaves nothing, and a granule already done changes
// nothing. A transaction that loses a race for a tile or a site (another
// worker fused an overlapping granule first) is retried from the start.
//
// res is the granule run (its output directory holds the ppm·m maps);
// ds are its detections as store records (internal/pipeline makes them).
func (f *Fuser) Commit(ctx context.Context, g store.Granule, res *granule.Result, ds []store.Detection) (Report, error) {
	var rep Report
	p, err := f.pass(g, res)
	if err != nil {
		return rep, err
	}
	for attempt := 1; ; attempt++ {
		rep = Report{Attempts: attempt}
		err := f.db.InTx(ctx, func(tx store.Tx) error {
			return f.commit(ctx, tx, p, ds, &rep)
		})
		if err == nil || !errors.Is(err, store.ErrConflict) || attempt >= f.cfg.Retries {
			if err != nil {
				return rep, fmt.Errorf("fuse granule %s (attempt %d): %w", g.ID, attempt, err)
			}
			return rep, nil
		}
		f.log.Debug("fusion lost a race: retry", "granule", g.ID, "attempt", attempt, "err", err)
		d := time.Duration(rand.Int64N(int64(20*time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(d):
		}
	}
}

// pass is what fusion knows of a granule's pass.
type pass struct {
	g           store.Granule
	res         *granule.Result
	dir         string // the run's output directory
	meta        cube.PassMeta
	zone        int
	north       bool
	time        time.Time
	bbox        store.BBox
	searchGases []string // gases with ppm·m maps in dir
}

func (f *Fuser) pass(g store.Granule, res *granule.Result) (*pass, error) {
	if res == nil {
		// A point-sensor granule: detections only, placed in the UTM zone
		// of its track.
		lat, lon := (g.Footprint.MinLat+g.Footprint.MaxLat)/2, (g.Footprint.MinLon+g.Footprint.MaxLon)/2
		p := &pass{g: g, bbox: g.Footprint, time: g.Acquired, zone: utmZone(lat, lon), north: lat >= 0}
		if p.time.Unix() <= 0 {
			p.time = time.Now().UTC()
		}
		return p, nil
	}
	h, err := readHeader(res.Cube)
	if err != nil {
		return nil, err
	}
	meta, err := h.PassMeta()
	if err != nil {
		return nil, fmt.Errorf("granule %s: %w", g.ID, err)
	}
	p := &pass{g: g, res: res, meta: meta, bbox: g.Footprint, time: g.Acquired}
	if !meta.Acquired.IsZero() {
		p.time = meta.Acquired
	}
	if p.time.Unix() <= 0 { // not known: when it is processed
		p.time = time.Now().UTC()
	}
	geo, err := h.Georef()
	if err != nil {
		return nil, fmt.Errorf("granule %s: fusion needs a georeferenced cube: %w", g.ID, err)
	}
	if mi := geo.MapInfo; mi.Zone > 0 {
		p.zone, p.north = mi.Zone, mi.North
	} else {
		lat, lon := geo.LatLon(float64(h.Samples)/2, float64(h.Lines)/2)
		p.zone, p.north = utmZone(lat, lon), lat >= 0
	}
	for _, o := range res.Outputs {
		if o.Kind == "ppmm" && p.dir == "" {
			p.dir = filepath.Dir(o.Path)
		}
	}
	for _, gas := range f.cfg.Gases {
		if p.dir != "" && exists(filepath.Join(p.dir, "ppmm-"+gas+".hdr")) && exists(filepath.Join(p.dir, "ppmm-sigma-"+gas+".hdr")) {
			p.searchGases = append(p.searchGases, gas)
		}
	}
	return p, nil
}

func (f *Fuser) commit(ctx context.Context, tx store.Tx, p *pass, ds []store.Detection, rep *Report) error {
	// Already done (a redelivered job whose first commit landed): nothing
	// to do, and nothing may be added twice.
	cur, err := tx.Granule(ctx, p.g.ID)
	if err != nil {
		return err
	}
	if cur.Status == store.GranuleDone {
		return nil
	}
	// The sites this pass surveyed or may associate with, as stored, read
	// once: their detections are known plumes for the grid's null, and
	// the sites are restored for association.
	near, err := nearbySites(ctx, tx, p)
	if err != nil {
		return err
	}
	gridCfg, prefix := f.cfg.Grid, ""
	source := p.meta.HasWind() && !f.cfg.CellGridOnly
	if source {
		gridCfg, prefix = f.cfg.SourceGrid, sourcePrefix
		if gridCfg.Source == nil {
			gridCfg.Source = &sites.SourceConfig{Library: f.cfg.Library}
		}
	}
	tiles := newTxTiles(tx, prefix, p.zone, p.north)
	gridCfg.Zone, gridCfg.North = p.zone, p.north
	grid, err := sites.NewGrid(gridCfg, tiles)
	if err != nil {
		return err
	}
	var gres *sites.GridResult
	if len(p.searchGases) > 0 {
		gp := sites.GranulePass{Dir: p.dir, ID: p.g.ID, Time: p.time, Gases: p.searchGases}
		if p.meta.HasWind() {
			gp.Wind = &sites.Wind{FromDeg: p.meta.WindFromDeg, SpeedMS: p.meta.WindSpeedMS, Stability: p.meta.Stability}
			if gp.Wind.Stability == "" {
				gp.Wind.Stability = defaultStability
			}
		}
		if _, err := grid.AddGranule(ctx, gp); err != nil && !errors.Is(err, sites.ErrDuplicatePass) {
			return fmt.Errorf("evidence grid: %w", err)
		}
		var known []sites.KnownPlume
		if source {
			known = knownPlumes(near, ds)
		}
		// Test the neighbourhood of what this pass touched.
		tiles.limitToTouched()
		gres, err = grid.Detect(ctx, sites.DetectConfig{FARPerKm2: f.cfg.FARPerKm2, Gases: p.searchGases, Plumes: known})
		switch {
		case errors.Is(err, detect.ErrTail):
			// Too little ground surveyed yet near this pass to calibrate
			// the grid's threshold: the evidence is kept, and tested when
			// more passes have come in.
			f.log.Info("evidence grid: too few cells to test yet", "granule", p.g.ID, "err", err)
			rep.GridUntested = true
			gres = nil
		case err != nil:
			return fmt.Errorf("evidence grid: %w", err)
		}
	}
	if p.res == nil {
		ds, err := annotate(ds, p.time)
		if err != nil {
			return err
		}
		stored, err := tx.CompleteGranule(ctx, p.g.ID, ds)
		if err != nil {
			return err
		}
		rep.Detections = len(stored)
		return f.sites(ctx, tx, p, near, grid, nil, stored, rep)
	}
	if err := f.addCoverage(ctx, tx, p, rep); err != nil {
		return err
	}
	all := slices.Clone(ds)
	if gres != nil {
		for _, gd := range gres.Detections {
			if !tiles.touched[grid.TileOf(gd.Gas, gd.PeakI, gd.PeakJ)] {
				continue // another pass's finding, reported then
			}
			if gd.NearKnown {
				continue // a single pass's plume: its site has it
			}
			if gd.Seen < f.cfg.GridMinSeen {
				continue // one pass's gas, not a persistent source
			}
			all = append(all, gridDetection(gd, gres, source))
			rep.GridDetections++
		}
	}
	all, err = annotate(all, p.time)
	if err != nil {
		return err
	}
	stored, err := tx.CompleteGranule(ctx, p.g.ID, all)
	if err != nil {
		return err
	}
	rep.Detections = len(stored)
	return f.sites(ctx, tx, p, near, grid, gres, stored, rep)
}

// sourcePrefix keeps the source grid's tiles apart from the cell grid's.
const sourcePrefix = "src/"

// defaultStability is the Pasquill class a source grid assumes for a pass
// whose header gives the wind but not the stability (neutral: the class
// of overcast or windy hours, and the middle of the widths).
const defaultStability = "D"

// nearSite is a stored site near a pass and its linked detections.
type nearSite struct {
	site store.Site
	dets []store.Detection
}

// nearbySites reads the sites within siteMargin of the pass and their
// detections.
func nearbySites(ctx context.Context, tx store.Tx, p *pass) ([]nearSite, error) {
	old, err := tx.SitesInBBox(ctx, grow(p.bbox, siteMargin), 0)
	if err != nil {
		return nil, err
	}
	out := make([]nearSite, 0, len(old))
	for _, s := range old {
		h, err := tx.SiteHistory(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, nearSite{s, h.Detections})
	}
	return out, nil
}

// knownPlumes are the places single passes found gas near the pass: this
// granule's imaging detections and those linked to the sites around it.
// The source grid leaves their lobes out of its null (sites.DetectConfig).
func knownPlumes(near []nearSite, ds []store.Detection) []sites.KnownPlume {
	var out []sites.KnownPlume
	add := func(d store.Detection) {
		if d.Method == MethodGrid || d.Method == MethodSniff {
			return // the grid's own, or a point sensor's (no plume image)
		}
		rings := outerRings(d.OutlineJSON)
		if len(rings) == 0 {
			out = append(out, sites.KnownPlume{Gas: d.Gas, Lat: d.Lat, Lon: d.Lon})
		}
		for _, r := range rings {
			out = append(out, sites.KnownPlume{Gas: d.Gas, Lat: d.Lat, Lon: d.Lon, Outline: r})
		}
	}
	for _, d := range ds {
		add(d)
	}
	for _, n := range near {
		for _, d := range n.dets {
			add(d)
		}
	}
	return out
}

// outerRings returns the outer rings of a detection's outline (a GeoJSON
// Polygon or MultiPolygon), none for anything else.
func outerRings(outline string) [][][2]float64 {
	if outline == "" {
		return nil
	}
	g, err := geojson.UnmarshalGeometry([]byte(outline))
	if err != nil {
		return nil
	}
	var polys orb.MultiPolygon
	switch v := g.Geometry().(type) {
	case orb.Polygon:
		polys = orb.MultiPolygon{v}
	case orb.MultiPolygon:
		polys = v
	}
	var out [][][2]float64
	for _, p := range polys {
		if len(p) == 0 || len(p[0]) < 3 {
			continue
		}
		r := make([][2]float64, len(p[0]))
		for i, pt := range p[0] {
			r[i] = [2]float64{pt[0], pt[1]}
		}
		out = append(out, r)
	}
	return out
}

// gridDetection is a grid detection as a store record.
func gridDetection(gd sites.GridDetection, res *sites.GridResult, source bool) store.Detection {
	grid := "cell"
	if source {
		grid = "source" // the combined emission rate of a source at the peak
	}
	props, _ := json.Marshal(map[string]any{
		"kind": string(sites.KindGrid), "grid": grid, "z": res.CalibratedZ(gd.Gas, gd.PeakZ), "raw_z": gd.PeakZ,
		"cells": gd.Cells, "area_m2": gd.AreaM2, "passes": gd.Passes, "seen": gd.Seen,
	})
	return store.Detection{
		Gas: gd.Gas, Method: MethodGrid, Score: finite(gd.PeakZ), PValue: finite(gd.PValue),
		Lat: gd.Lat, Lon: gd.Lon, UncertaintyM: finite(gd.SigmaM),
		PeakPPMM: finite(gd.PeakPPMm), SigmaPPMM: finite(gd.PeakSigmaPPMm),
		RateKgH: finite(gd.RateKgH), RateSigmaKgH: finite(gd.SigmaKgH), Properties: string(props),
	}
}

// MethodGrid is the method of detections made by the evidence grid.
const MethodGrid = "grid"

// siteMargin widens a granule's box when loading the sites it may touch:
// a detection associates with a site up to a few location σ away.
const siteMargin = 300.0 // m

func (f *Fuser) sites(ctx context.Context, tx store.Tx, p *pass, near []nearSite, grid *sites.Grid, gres *sites.GridResult, stored []store.Detection, rep *Report) error {
	ccfg := f.cfg.Catalog
	ccfg.Zone, ccfg.North = p.zone, p.north
	if ccfg.Calibrator == nil {
		cal, _, err := calibrator(ctx, tx, sites.CalibratorConfig{})
		if err != nil {
			return err
		}
		ccfg.Calibrator = cal
	}
	now := time.Now()
	ccfg.NewID = func() string { return store.NewID(now) }
	cat, err := sites.NewCatalog(ccfg)
	if err != nil {
		return err
	}
	before := map[string]store.Site{}
	for _, n := range near {
		rs, err := fromStore(n.site, n.dets)
		if err != nil {
			return err
		}
		cat.Restore(rs)
		before[n.site.ID] = n.site
	}
	var owner func(lat, lon float64) string
	links := map[string][]string{}
	for _, d := range stored {
		sd, ok, err := toSites(d)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		id, _ := cat.Add(sd)
		links[id] = append(links[id], d.ID)
	}
	if gres != nil {
		if err := cat.UpdateFromGrid(ctx, grid, gres, p.searchGases); err != nil {
			return err
		}
	}
	for _, s := range cat.Sites() {
		rec, err := toStore(s)
		if err != nil {
			return err
		}
		prev, existed := before[s.ID]
		kind := ""
		switch {
		case !existed:
			if len(links[s.ID]) == 0 {
				continue // cannot happen: a new site comes from a detection
			}
			rec.Status = store.SiteCandidate
			out, err := tx.CreateSite(ctx, rec)
			if err != nil {
				return err
			}
			rec, kind = out, "site.created"
			rep.Created = append(rep.Created, s.ID)
		default:
			rec.ID, rec.Status, rec.Version, rec.Created = prev.ID, prev.Status, prev.Version, prev.Created
			if !changed(prev, rec) && len(links[s.ID]) == 0 {
				continue
			}
			out, err := tx.UpdateSite(ctx, rec)
			if err != nil {
				return err
			}
			rep.Updated = append(rep.Updated, s.ID)
			if len(links[s.ID]) > 0 || math.Abs(out.Probability-prev.Probability) >= 0.01 {
				kind = "site.updated"
			}
			rec = out
		}
		if ids := links[s.ID]; len(ids) > 0 {
			if err := tx.LinkDetections(ctx, s.ID, ids...); err != nil {
				return err
			}
		}
		if kind == "" {
			continue
		}
		if owner == nil {
			if owner, err = f.owners(ctx); err != nil {
				return err
			}
		}
		if err := f.enqueue(ctx, tx, owner, rec, kind); err != nil {
			return err
		}
		rep.Alerts++
	}
	return nil
}

// changed reports whether a site's record differs in what users see.
func changed(a, b store.Site) bool {
	const eps = 1e-9
	return math.Abs(a.Lat-b.Lat) > eps || math.Abs(a.Lon-b.Lon) > eps ||
		math.Abs(a.UncertaintyM-b.UncertaintyM) > 1e-3 || a.GasProfile != b.GasProfile ||
		!a.FirstSeen.Equal(b.FirstSeen) || !a.LastSeen.Equal(b.LastSeen) ||
		a.PassesSeen != b.PassesSeen || a.PassesSurvey != b.PassesSurvey ||
		math.Abs(a.Evidence-b.Evidence) > 1e-6 || math.Abs(a.Probability-b.Probability) > 1e-6 ||
		a.TypeGuess != b.TypeGuess
}

// enqueue writes the alert of a site change as the feed's event (the HTTP
// API's Site JSON with its owner and the agencies it was released to, so
// every sink can filter by releasability without reading the site back),
// with the stable id <site>/v<version>.
func (f *Fuser) enqueue(ctx context.Context, tx store.Tx, owner func(lat, lon float64) string, s store.Site, kind string) error {
	rel, err := tx.ReleasedTo(ctx, []string{s.ID})
	if err != nil {
		return err
	}
	o := ""
	if owner != nil {
		o = owner(s.Lat, s.Lon)
	}
	_, err = feed.Enqueue(ctx, tx, feed.Event{
		ID: s.ID + "/v" + strconv.FormatInt(s.Version, 10), Kind: kind, Time: s.Updated,
		Site: feed.NewSite(s, o, rel[s.ID]),
	})
	return err
}

// owners is the jurisdiction of the moment (Config.Owners), nil without.
func (f *Fuser) owners(ctx context.Context) (func(lat, lon float64) string, error) {
	if f.cfg.Owners == nil {
		return nil, nil
	}
	return f.cfg.Owners(ctx)
}

func grow(b store.BBox, m float64) store.BBox {
	dlat := m / (store.EarthRadiusM * math.Pi / 180)
	c := math.Cos(math.Max(math.Abs(b.MinLat), math.Abs(b.MaxLat)) * math.Pi / 180)
	dlon := dlat / math.Max(c, 1e-6)
	return store.BBox{
		MinLat: math.Max(-90, b.MinLat-dlat), MaxLat: math.Min(90, b.MaxLat+dlat),
		MinLon: math.Max(-180, b.MinLon-dlon), MaxLon: math.Min(180, b.MaxLon+dlon),
	}
}

func utmZone(lat, lon float64) int {
	z := int(math.Floor((lon+180)/6)) + 1
	return min(max(z, 1), 60)
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func readHeader(path string) (*cube.Header, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return cube.DecodeHeader(fh)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
