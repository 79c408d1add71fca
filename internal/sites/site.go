package sites

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/sniff"
)

// Kind says where a detection comes from.
type Kind string

// Detection kinds.
const (
	KindImaging Kind = "imaging" // one pass of an imaging spectrometer
	KindPoint   Kind = "point"   // a point-sensor source estimate
	KindGrid    Kind = "grid"    // the multi-pass evidence grid
)

// Detection is any sensor's report of gas at a place, as sites takes it.
type Detection struct {
	ID   string
	Kind Kind
	Gas  string
	// Lat, Lon (WGS-84) and SigmaM, the 1σ location error per axis, m.
	Lat, Lon, SigmaM float64
	// Z is the evidence as a one-sided z-score; if 0, PValue (the chance
	// that background scores as high) is converted to one.
	Z, PValue float64
	// PPMm and SigmaPPMm: retrieved concentration-pathlength and its 1σ
	// (imaging and grid); 0 if not retrieved.
	PPMm, SigmaPPMm float64
	// EmissionKgH is the source's estimated emission rate, 0 if unknown.
	EmissionKgH float64
	// Probability is the producer's own probability that the detection is
	// real, if it has one (kept for display; the site's evidence is Z).
	Probability float64
	Time        time.Time
	PassID      string
}

// z returns the detection's z-score.
func (d *Detection) z() float64 {
	if d.Z != 0 || !(d.PValue > 0 && d.PValue < 1) {
		return d.Z
	}
	return -math.Sqrt2 * math.Erfinv(2*d.PValue-1) // Φ⁻¹(1 − p)
}

// FromGrid turns a grid detection into a Detection; t is the time of the
// grid's latest pass. Its z is the calibrated one (from its p-value under
// the grid's fitted background), not the raw combined z.
func FromGrid(d GridDetection, t time.Time) Detection {
	return Detection{
		ID: d.ID, Kind: KindGrid, Gas: d.Gas, Lat: d.Lat, Lon: d.Lon, SigmaM: d.SigmaM,
		Z: zFromP(d.PValue, d.PeakZ), PValue: d.PValue, PPMm: d.PeakPPMm, SigmaPPMm: d.PeakSigmaPPMm, Time: t,
		EmissionKgH: max(0, d.RateKgH),
	}
}

// GasEvidence is a site's evidence for one gas.
type GasEvidence struct {
	// Z combines the independent lines of evidence (Stouffer): the grid's
	// (or, without one, the single passes'), and the point sensors'.
	Z     float64 `json:"z"`
	LogBF float64 `json:"log_bf"`
	// PPMm and SigmaPPMm are the combined retrieval at the site.
	PPMm      float64 `json:"ppmm"`
	SigmaPPMm float64 `json:"sigma_ppmm"`
	// EmissionKgH is the mean of the detections' emission estimates.
	EmissionKgH float64 `json:"emission_kg_h,omitempty"`
	// Detected: a detection of this gas was associated with the site (else
	// the evidence is the grid's at the site's cell).
	Detected bool `json:"detected"`
}

// Site is a candidate site.
type Site struct {
	ID string `json:"id"`
	// Position, inverse-variance weighted, and its 1σ per axis, m.
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	East   float64 `json:"east_m"`
	North  float64 `json:"north_m"`
	SigmaM float64 `json:"sigma_m"`
	// Gases holds the evidence per gas looked for.
	Gases     map[string]*GasEvidence `json:"gases"`
	FirstSeen time.Time               `json:"first_seen"`
	LastSeen  time.Time               `json:"last_seen"`
	// PassesSurveyed covered the site; PassesSeen saw gas there.
	PassesSurveyed int       `json:"passes_surveyed"`
	PassesSeen     int       `json:"passes_seen"`
	LastSurveyed   time.Time `json:"last_surveyed,omitzero"`
	// LogBF is the site's evidence: the log Bayes factor of "an emitting
	// site of some type" against background (Profiles.Classify).
	LogBF float64 `json:"log_bf"`
	// Probability is the calibrated probability that the site is real.
	Probability float64 `json:"probability"`
	// Types are the site-type posteriors, most probable first, and
	// LabProbability the sum over laboratory types.
	Types          []TypeScore `json:"types"`
	LabProbability float64     `json:"lab_probability"`
	Detections     []Detection `json:"detections"`
}

// Type returns the most probable site type.
func (s *Site) Type() string {
	if len(s.Types) == 0 {
		return ""
	}
	return s.Types[0].Type
}

// CatalogConfig sets association and evidence.
type CatalogConfig struct {
	// Zone and North: the UTM zone distances are measured in.
	Zone  int
	North bool
	// GateChi2 is the gate on the squared Mahalanobis distance between a
	// detection and a site (default 9.21, the 99% point of χ² with 2
	// degrees of freedom).
	GateChi2 float64
	// MinSigmaM floors a site's and a detection's location 1σ (default 5
	// m): a site is a building, not a point, and many fixes of one plume
	// share its offset from the source.
	MinSigmaM float64
	// TypicalPPMm is the typical signal (ppm·m) a present gas gives where
	// σ is known: the scale of the Bayes factor's prior (default 20).
	TypicalPPMm float64
	// TypicalKgH is the same scale for a source grid's rates (default 1
	// kg/h: a small laboratory's solvent loss, docs/evidence.md).
	TypicalKgH float64
	// TypicalZ is that scale in σ units where σ is not known (default 3).
	TypicalZ   float64
	Profiles   *Profiles
	Calibrator *Calibrator
	// NewID names a new site (default "site-1", "site-2", … in the order
	// they are made, unique within the catalog only).
	NewID func() string
}

// Catalog holds the candidate sites of a region.
type Catalog struct {
	cfg   CatalogConfig
	sites []*Site
	next  int
}

// NewCatalog returns an empty catalog.
func NewCatalog(cfg CatalogConfig) (*Catalog, error) {
	if cfg.Zone < 1 || cfg.Zone > 60 {
		return nil, fmt.Errorf("%w: zone %d, want 1-60", ErrConfig, cfg.Zone)
	}
	if cfg.GateChi2 == 0 {
		cfg.GateChi2 = 9.21
	}
	if cfg.MinSigmaM == 0 {
		cfg.MinSigmaM = 5
	}
	if cfg.TypicalPPMm == 0 {
		cfg.TypicalPPMm = 20
	}
	if cfg.TypicalKgH == 0 {
		cfg.TypicalKgH = 1
	}
	if cfg.TypicalZ == 0 {
		cfg.TypicalZ = 3
	}
	if cfg.Profiles == nil {
		p, err := DefaultProfiles()
		if err != nil {
			return nil, err
		}
		cfg.Profiles = p
	}
	if cfg.Calibrator == nil {
		cfg.Calibrator = NewCalibrator(CalibratorConfig{})
	}
	return &Catalog{cfg: cfg}, nil
}

// Sites returns copies of the sites, most probable first.
func (c *Catalog) Sites() []Site {
	out := make([]Site, 0, len(c.sites))
	for _, s := range c.sites {
		cp := *s
		cp.Gases = map[string]*GasEvidence{}
		for g, e := range s.Gases {
			ec := *e
			cp.Gases[g] = &ec
		}
		cp.Types = slices.Clone(s.Types)
		cp.Detections = slices.Clone(s.Detections)
		out = append(out, cp)
	}
	slices.SortStableFunc(out, func(a, b Site) int {
		switch {
		case a.Probability > b.Probability:
			return -1
		case a.Probability < b.Probability:
			return 1
		}
		return 0
	})
	return out
}

// Add associates a detection with the site it fits best within the gate,
// or starts a new site; it returns the site's ID and whether it is new.
func (c *Catalog) Add(d Detection) (string, bool) {
	e, n := cube.LatLonToUTM(d.Lat, d.Lon, c.cfg.Zone, c.cfg.North)
	sd := math.Max(d.SigmaM, c.cfg.MinSigmaM)
	var best *Site
	bestD2 := math.Inf(1)
	for _, s := range c.sites {
		d2 := ((e-s.East)*(e-s.East) + (n-s.North)*(n-s.North)) / (sd*sd + s.SigmaM*s.SigmaM)
		if d2 <= c.cfg.GateChi2 && d2 < bestD2 {
			best, bestD2 = s, d2
		}
	}
	isNew := best == nil
	if isNew {
		c.next++
		id := fmt.Sprintf("site-%d", c.next)
		if c.cfg.NewID != nil {
			id = c.cfg.NewID()
		}
		best = &Site{ID: id, Gases: map[string]*GasEvidence{}, FirstSeen: d.Time, LastSeen: d.Time}
		c.sites = append(c.sites, best)
	}
	best.Detections = append(best.Detections, d)
	c.refresh(best)
	return best.ID, isNew
}

// current returns the detections a site's position and evidence use: the
// latest grid detection of each gas (the grid is cumulative: earlier ones
// are the same data), the point-sensor detections, and the single-pass
// imaging detections of gases the grid has not detected (the grid holds
// those passes too).
func current(s *Site) []Detection {
	latestGrid := map[string]int{}
	for i, d := range s.Detections {
		if d.Kind == KindGrid {
			if j, ok := latestGrid[d.Gas]; !ok || !d.Time.Before(s.Detections[j].Time) {
				latestGrid[d.Gas] = i
			}
		}
	}
	var out []Detection
	for i, d := range s.Detections {
		switch d.Kind {
		case KindGrid:
			if latestGrid[d.Gas] == i {
				out = append(out, d)
			}
		case KindImaging:
			if _, ok := latestGrid[d.Gas]; !ok {
				out = append(out, d)
			}
		default:
			out = append(out, d)
		}
	}
	return out
}

// refresh recomputes a site's position, times and detected-gas evidence:
// per gas, the Stouffer combination of the independent lines (the grid's
// latest detection, or else the single passes' best z per pass; the point
// sensors').
func (c *Catalog) refresh(s *Site) {
	cur := current(s)
	var sw, se, sn float64
	for _, d := range cur {
		e, n := cube.LatLonToUTM(d.Lat, d.Lon, c.cfg.Zone, c.cfg.North)
		sd := math.Max(d.SigmaM, c.cfg.MinSigmaM)
		w := 1 / (sd * sd)
		sw += w
		se += w * e
		sn += w * n
	}
	s.East, s.North = se/sw, sn/sw
	s.SigmaM = math.Max(1/math.Sqrt(sw), c.cfg.MinSigmaM)
	s.Lat, s.Lon = cube.UTMToLatLon(c.cfg.Zone, c.cfg.North, s.East, s.North)
	passes := map[string]bool{}
	for _, d := range s.Detections {
		if d.Time.Before(s.FirstSeen) || s.FirstSeen.IsZero() {
			s.FirstSeen = d.Time
		}
		if d.Time.After(s.LastSeen) {
			s.LastSeen = d.Time
		}
		if d.Kind == KindImaging && d.PassID != "" {
			passes[d.PassID] = true
		}
	}
	s.PassesSeen = max(s.PassesSeen, len(passes))
	// Detected gases: Stouffer over independent lines.
	type lines struct {
		grid             *Detection
		img              map[string]float64 // best z per pass
		pt               []float64
		ppmm, sig, q, nq float64
	}
	by := map[string]*lines{}
	for i := range cur {
		d := &cur[i]
		l := by[d.Gas]
		if l == nil {
			l = &lines{}
			by[d.Gas] = l
		}
		switch d.Kind {
		case KindGrid:
			l.grid = d
		case KindImaging:
			// Fragments of one plume in one pass are one measurement.
			if l.img == nil {
				l.img = map[string]float64{}
			}
			key := d.PassID
			if key == "" {
				key = d.ID
			}
			if z, ok := l.img[key]; !ok || d.z() > z {
				l.img[key] = d.z()
			}
		default:
			l.pt = append(l.pt, d.z())
		}
		if d.SigmaPPMm > 0 {
			w := 1 / (d.SigmaPPMm * d.SigmaPPMm)
			l.ppmm += w * d.PPMm
			l.sig += w
		}
		if d.EmissionKgH > 0 {
			l.q += d.EmissionKgH
			l.nq++
		}
	}
	for gas, l := range by {
		var zs []float64
		if l.grid != nil {
			zs = append(zs, l.grid.z())
		} else if len(l.img) > 0 {
			var zi []float64
			for _, z := range l.img {
				zi = append(zi, z)
			}
			slices.Sort(zi)
			zs = append(zs, stouffer(zi))
		}
		if len(l.pt) > 0 {
			zs = append(zs, stouffer(l.pt))
		}
		ge := &GasEvidence{Z: stouffer(zs), Detected: true}
		tau := c.cfg.TypicalZ
		if l.sig > 0 {
			ge.PPMm, ge.SigmaPPMm = l.ppmm/l.sig, 1/math.Sqrt(l.sig)
			tau = c.cfg.TypicalPPMm / ge.SigmaPPMm
		}
		if l.nq > 0 {
			ge.EmissionKgH = l.q / l.nq
		}
		ge.LogBF = GasLogBF(ge.Z, tau)
		s.Gases[gas] = ge
	}
	c.score(s)
}

func stouffer(z []float64) float64 {
	if len(z) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range z {
		s += v
	}
	return s / math.Sqrt(float64(len(z)))
}

// score classifies a site and sets its evidence and probability.
func (c *Catalog) score(s *Site) {
	lbf := map[string]float64{}
	for g, e := range s.Gases {
		lbf[g] = e.LogBF
	}
	s.Types, s.LogBF = c.cfg.Profiles.Classify(lbf)
	s.LabProbability = 0
	for _, t := range s.Types {
		if t.Lab {
			s.LabProbability += t.Probability
		}
	}
	s.Probability = c.cfg.Calibrator.Probability(s.LogBF)
}

// UpdateFromGrid fills in, for every site, the grid's evidence of each gas
// looked for at the site's cell (gases without a detection at the site:
// a gas looked for and not found counts against the types that expect it),
// and the site's pass history: passes that covered the cell and passes
// that saw gas there (the most over the gases). Passes that surveyed the
// site and saw nothing already lower its grid z (their ĉ ≈ 0 enters the
// inverse-variance mean); they are reported, not counted twice.
//
// The grid's z at a cell is calibrated by res (the grid's latest Detect:
// its fitted background tails), so clutter-heavy gases count for less.
func (c *Catalog) UpdateFromGrid(ctx context.Context, g *Grid, res *GridResult, gases []string) error {
	for _, s := range c.sites {
		e, n := cube.LatLonToUTM(s.Lat, s.Lon, g.cfg.Zone, g.cfg.North)
		i, j := g.CellAt(e, n)
		for _, gas := range gases {
			ev, ok, err := g.Evidence(ctx, gas, i, j)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			s.PassesSurveyed = max(s.PassesSurveyed, ev.Passes)
			s.PassesSeen = max(s.PassesSeen, ev.Seen)
			if ev.LastPass.After(s.LastSurveyed) {
				s.LastSurveyed = ev.LastPass
			}
			if ge := s.Gases[gas]; ge != nil && ge.Detected {
				continue
			}
			z := ev.Z
			if res != nil {
				z = res.CalibratedZ(gas, z)
			}
			if g.cfg.Source != nil {
				s.Gases[gas] = &GasEvidence{
					Z: z, EmissionKgH: max(0, ev.RateKgH),
					LogBF: GasLogBF(z, c.cfg.TypicalKgH/ev.SigmaKgH),
				}
				continue
			}
			s.Gases[gas] = &GasEvidence{
				Z: z, PPMm: ev.PPMm, SigmaPPMm: ev.SigmaPPMm,
				LogBF: GasLogBF(z, c.cfg.TypicalPPMm/ev.SigmaPPMm),
			}
		}
		c.score(s)
	}
	return nil
}

// Rescore recomputes every site's probability (after the calibrator has
// been refitted).
func (c *Catalog) Rescore() {
	for _, s := range c.sites {
		c.score(s)
	}
}

var cubeLatLonToUTM = cube.LatLonToUTM

// FromGranule turns one pass's detection by internal/granule into a
// Detection, its z calibrated from its p-value (the granule's fitted
// tail). Its location error is taken as the radius of a disc of the
// detection's area (a plume's centroid lies downwind of its source by
// about its size), at least 5 m.
func FromGranule(d granule.Detection, passID string, t time.Time) Detection {
	return Detection{
		ID: passID + "/" + d.ID, Kind: KindImaging, Gas: d.Gas, Lat: d.Lat, Lon: d.Lon,
		SigmaM: math.Max(5, math.Sqrt(d.AreaM2/math.Pi)),
		Z:      zFromP(d.PValue, d.PeakScore), PValue: d.PValue, PPMm: d.PeakPPMm, SigmaPPMm: d.SigmaPPMm,
		Time: t, PassID: passID,
	}
}

// FromPoint turns a point-sensor source estimate (internal/sniff) into a
// Detection. Its location error per axis is the square root of the larger
// eigenvalue of the position covariance (the long axis of the error
// ellipse, so the association gate is never too tight), and its evidence
// the z-score equivalent of the Bayes factor against no source: for a
// Gaussian likelihood ln BF = z²/2, so z = √(2 ln BF) (0 when the data
// favour no source). The trace must have positions in latitude and
// longitude.
func FromPoint(d sniff.Detection, id, passID string, t time.Time) (Detection, error) {
	if math.IsNaN(d.Lat) || math.IsNaN(d.Lon) {
		return Detection{}, fmt.Errorf("%w: point detection %s has no latitude and longitude (the trace had none)", ErrConfig, id)
	}
	a, b, c := d.Cov[0][0], d.Cov[0][1], d.Cov[1][1]
	lmax := (a+c)/2 + math.Sqrt((a-c)*(a-c)/4+b*b)
	z := 0.0
	if d.LogBayesFactor > 0 {
		z = math.Sqrt(2 * d.LogBayesFactor)
	}
	return Detection{
		ID: id, Kind: KindPoint, Gas: d.Gas, Lat: d.Lat, Lon: d.Lon,
		SigmaM: math.Max(1, math.Sqrt(lmax)), Z: z,
		EmissionKgH: d.RateKgH, Probability: d.Probability, Time: t, PassID: passID,
	}, nil
}
