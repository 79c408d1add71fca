package granule

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/detect"
	"github.com/atalaya-project/atalaya/internal/plume"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// lowFactor makes the hysteresis low threshold the score at lowFactor times
// the per-pixel false-alarm probability of the high threshold (capped at
// 1%): it lets a plume grow into its faint edges, while isolated noise above
// it never starts a detection on its own.
const lowFactor = 100

// Detection is one connected group of pixels above a test's threshold.
type Detection struct {
	ID     string `json:"id"`
	Method string `json:"method"`
	Gas    string `json:"gas,omitempty"`
	Pixels int    `json:"pixels"`
	// AreaM2 is the area of the pixels.
	AreaM2 float64 `json:"area_m2"`
	// PeakScore is the highest score, and PValue its probability under the
	// background (the fitted tail).
	PeakScore float64 `json:"peak_score"`
	PValue    float64 `json:"p_value"`
	// Pixel coordinates of the score-weighted centroid and of the peak.
	CentroidX float64 `json:"centroid_x"`
	CentroidY float64 `json:"centroid_y"`
	PeakX     int     `json:"peak_x"`
	PeakY     int     `json:"peak_y"`
	// Latitude and longitude (WGS-84) of the centroid, when the cube is
	// georeferenced.
	Lat float64 `json:"lat,omitempty"`
	Lon float64 `json:"lon,omitempty"`
	// Matched-filter retrieval (ppm·m): at the peak, mean over the pixels,
	// median 1σ, and the integrated mass enhancement (kg) of the gas.
	PeakPPMm  float64 `json:"peak_ppmm,omitempty"`
	MeanPPMm  float64 `json:"mean_ppmm,omitempty"`
	SigmaPPMm float64 `json:"sigma_ppmm,omitempty"`
	IMEkg     float64 `json:"ime_kg,omitempty"`
	// With the pass's wind (Config.Wind or the header's): the emission
	// rate Q = U_eff·IME/L and its 1σ (kg/h), and the plume's origin — the
	// upwind end, where the source is — in pixel coordinates and WGS-84,
	// with its 1σ radius (m). See plume.Quantify.
	RateKgH      float64 `json:"rate_kg_h,omitempty"`
	SigmaRateKgH float64 `json:"sigma_rate_kg_h,omitempty"`
	OriginX      float64 `json:"origin_x,omitempty"`
	OriginY      float64 `json:"origin_y,omitempty"`
	OriginLat    float64 `json:"origin_lat,omitempty"`
	OriginLon    float64 `json:"origin_lon,omitempty"`
	SigmaOriginM float64 `json:"sigma_origin_m,omitempty"`
	// Components is the number of connected components merged into this
	// plume (its puffs), 1 without a wind.
	Components int `json:"components,omitempty"`
	// Outline is the convex hull of the pixels in pixel coordinates.
	Outline []plume.Point `json:"-"`
	// Evidence for the analyst (matched filter only; evidence.go): the
	// measured spectrum against the library signature, and the plume
	// image.
	// PlumeCrop is the part of the ppm·m map PlumePNG shows (see
	// PlumeScale).
	Spectrum  *Spectrum       `json:"-"`
	PlumePNG  []byte          `json:"-"`
	PlumeCrop image.Rectangle `json:"-"`
}

func (r *run) finish(dets []*detector) error {
	t0 := time.Now()
	ntests := 0
	for _, d := range dets {
		if d.test {
			ntests++
		}
	}
	farEach := r.cfg.FARPerKm2 / float64(ntests)
	pix := detect.PixelProbability(farEach, r.area)
	if len(r.residualSamples) > 0 {
		var err error
		if r.residualLimit, err = ResidualLimit(r.residualSamples); err != nil {
			return err
		}
	}
	for _, d := range dets {
		if !d.test {
			continue
		}
		tail, asym, err := r.fitTail(d)
		if err != nil {
			return fmt.Errorf("false-alarm fit for %s: %w", d.name(), err)
		}
		t := Test{Method: d.method, Gas: gasName(d.gas), FARPerKm2: farEach, PixelProb: pix, TailXi: tail.Xi, Asymmetry: asym}
		t.Threshold, t.LowThresh = Thresholds(tail, asym, pix)
		if d.mf {
			t.SigmaPPMm = median(d.sigmaSamples)
			t.MDCppmm = t.Threshold * t.SigmaPPMm
		}
		found, err := r.segment(d, tail, &t)
		if err != nil {
			return err
		}
		t.Detections = len(found)
		r.res.Tests = append(r.res.Tests, t)
		r.res.Detections = append(r.res.Detections, found...)
		d.samples, d.sigmaSamples = nil, nil
	}
	slices.SortStableFunc(r.res.Detections, func(a, b Detection) int {
		switch {
		case a.PValue < b.PValue:
			return -1
		case a.PValue > b.PValue:
			return 1
		}
		return 0
	})
	r.res.GeoJSON = filepath.Join(r.cfg.OutDir, "detections.geojson")
	if err := r.writeGeoJSON(r.res.GeoJSON); err != nil {
		return err
	}
	r.stage("detections", t0)
	return nil
}

// fitTail fits the distribution of a test's background scores. The
// matched-filter z-score of a pixel without gas is symmetric about zero,
// while gas only ever raises it: the negative half is pure background even
// where plumes cover a large part of the scene, so the upper tail is
// estimated from the mirrored lower tail. (The upper tail itself would hold
// the plumes, and a threshold fitted to it would hide them.) RX scores
// anomalies, whatever they are, so its tail is its own.
//
// Two corrections keep that honest on real clutter. The mirrored tail is
// never taken lighter than exponential (Tail.NotLighterThanExponential).
// And clutter need not be symmetric: a material whose emissivity feature
// overlaps the gas's bands (quartz soils at 8–9 µm against acetone) pushes
// more pixels up than down. So the upper tail is measured directly where it
// is still populated — at the levels where the mirrored tail holds
// asymmetryLevels scores — and the mirrored tail is scaled by the largest
// ratio R of the two counts there: the threshold is the mirrored tail's for
// p/R. R is never below 1, and plume pixels can only raise it, so the
// correction errs towards fewer false alarms (a strong plume raises its own
// threshold a little and stays far above it).
func (r *run) fitTail(d *detector) (*detect.Tail, float64, error) {
	if !d.mf {
		t, err := detect.FitTail(d.samples, 0)
		return t, 1, err
	}
	// Unexplained anomalies are no evidence of gas either way: leave them
	// out of both tails.
	kept := d.samples[:0:0]
	for i, v := range d.samples {
		if !Unexplained(v, r.residualSamples[i], r.residualLimit) {
			kept = append(kept, v)
		}
	}
	d.samples = kept
	return MatchedFilterTail(d.samples)
}

// MatchedFilterTail fits the background distribution of matched-filter
// z-scores as Process does (see fitTail): the mirrored negative tail, never
// lighter than exponential, and the largest asymmetry of the two tails at
// asymmetryLevels. NaN scores are left out. Thresholds turns the result into
// hysteresis thresholds.
func MatchedFilterTail(z []float32) (*detect.Tail, float64, error) {
	s := make([]float32, 0, len(z))
	for _, v := range z {
		if v == v {
			s = append(s, -v)
		}
	}
	t, err := detect.FitTail(s, 0)
	if err != nil {
		return nil, 1, err
	}
	t = t.NotLighterThanExponential()
	ratio := 1.0
	for _, level := range asymmetryLevels {
		if level > float64(len(s))/10 {
			continue
		}
		u := float32(t.Threshold(level / float64(len(s))))
		up, low := 0, 0
		for _, v := range z {
			if v > u {
				up++
			} else if v < -u {
				low++
			}
		}
		ratio = max(ratio, float64(up+1)/float64(low+1))
	}
	return t, ratio, nil
}

// Thresholds returns the hysteresis thresholds of a test for a per-pixel
// false-alarm probability p: high at p (scaled by the tails' asymmetry),
// low at lowFactor·p (at most 1%).
func Thresholds(t *detect.Tail, asym, p float64) (high, low float64) {
	return t.Threshold(p / asym), t.Threshold(math.Min(0.01, p*lowFactor/asym))
}

// ResidualLimit returns the residual (residual.hdr) above which a pixel is
// an unexplained anomaly: the background's top unexplainedP.
func ResidualLimit(residual []float32) (float32, error) {
	rt, err := detect.FitTail(residual, 0)
	if err != nil {
		return 0, fmt.Errorf("residual fit: %w", err)
	}
	return float32(rt.Threshold(unexplainedP)), nil
}

// unexplainedP is the share of background pixels whose residual (whitened
// energy the gases do not explain) is called an unexplained anomaly: the
// top 1%: hot roofs, odd materials, mixed pixels at their edges, sensor
// artefacts.
const unexplainedP = 1e-2

// Unexplained reports whether a pixel with gas z-score z and residual res
// is an anomaly the gases do not explain: a residual above limit (the
// background's top unexplainedP, ResidualLimit) that is larger than what the
// gas accounts for (z²). A pixel
// whose gas signal dominates its anomaly (a strong plume, even with the
// residual a thick plume leaves) is not.
func Unexplained(z, res, limit float32) bool {
	return limit > 0 && res > limit && z*z < res
}

// asymmetryLevels are the numbers of scores in the mirrored tail at the
// levels where the two tails of a matched-filter score are compared. Clutter
// that mimics a gas makes the upper tail heavier the further out one looks
// (on the simulated clean scenes the ratio grows from 1.7 at 1500 scores to
// 150 at a few), so the largest ratio measured is used, down to 30 scores
// (counts good to about ±25%, with one added to each against empty tails).
var asymmetryLevels = []float64{300, 100, 30}

// segment reads a test's score map back and groups the pixels above the
// thresholds into detections.
func (r *run) segment(d *detector, tail *detect.Tail, t *Test) ([]Detection, error) {
	score, err := readBand(d.scorePath)
	if err != nil {
		return nil, err
	}
	w, h := r.h.Samples, r.h.Lines
	if err := r.writePValues(d, tail, t.Asymmetry, score); err != nil {
		return nil, err
	}
	if d.mf && r.residualPath != "" {
		res, err := readBand(r.residualPath)
		if err != nil {
			return nil, err
		}
		for i, z := range score {
			if Unexplained(z, res[i], r.residualLimit) {
				if float64(z) >= t.Threshold {
					t.Unexplained++
				}
				score[i] = float32(math.NaN())
			}
		}
	}
	comps := plume.Segment(score, w, h, float32(t.Threshold), float32(t.LowThresh))
	ncomp := make([]int, len(comps))
	for i := range ncomp {
		ncomp[i] = 1
	}
	if d.mf && r.wind != nil && len(comps) > 1 {
		// The puffs of one intermittent plume fall apart at the threshold:
		// with a wind to say which way the plume goes, they are one plume
		// to quantify and one source to place.
		groups := plume.Group(comps, w, h, r.groupGapPx())
		groups = coneMerge(groups, w, *r.wind, math.Sqrt(r.area))
		comps, ncomp = mergeGroups(comps, groups, score, w)
	}
	var ppmm, sigma []float32
	if d.mf && len(comps) > 0 {
		if ppmm, err = readBand(d.ppmmPath); err != nil {
			return nil, err
		}
		if sigma, err = readBand(d.sigmaPath); err != nil {
			return nil, err
		}
	}
	out := make([]Detection, 0, len(comps))
	for i := range comps {
		c := &comps[i]
		det := Detection{
			ID:     fmt.Sprintf("%s-%d", d.name(), i+1),
			Method: d.method, Gas: gasName(d.gas),
			Pixels: len(c.Pixels), AreaM2: float64(len(c.Pixels)) * r.area,
			PeakScore: float64(c.PeakScore), PValue: math.Min(1, t.Asymmetry*tail.Survival(float64(c.PeakScore))),
			PeakX: c.Peak % w, PeakY: c.Peak / w,
			Outline: c.Hull(w),
		}
		weight := score
		if ppmm != nil {
			weight = ppmm
		}
		ct := c.Centroid(w, weight)
		det.CentroidX, det.CentroidY = ct.X, ct.Y
		if r.geo != nil {
			det.Lat, det.Lon = r.geo.LatLon(ct.X, ct.Y)
		}
		if ppmm != nil {
			det.PeakPPMm = float64(ppmm[c.Peak])
			sum := 0.0
			sig := make([]float32, 0, len(c.Pixels))
			for _, p := range c.Pixels {
				sum += float64(ppmm[p])
				sig = append(sig, sigma[p])
			}
			det.MeanPPMm = sum / float64(len(c.Pixels))
			det.SigmaPPMm = median(sig)
			cond := spectra.Conditions{PressurePa: spectra.StandardAtmospherePa, TemperatureK: r.res.PlumeTempK}
			if cond.TemperatureK == 0 {
				cond = spectra.StandardConditions
			}
			det.IMEkg = spectra.PPMmToKgPerM2(sum, d.gas.entry.MolarMass, cond) * r.area
			if r.wind != nil {
				ueff := plume.DefaultUEff
				if r.cfg.UEff != nil {
					ueff = *r.cfg.UEff
				}
				q, err := plume.Quantify(plume.Column{W: w, H: h, Pixels: c.Pixels, PPMm: ppmm, Sigma: sigma,
					PixelSizeM: math.Sqrt(r.area), MolarMass: d.gas.entry.MolarMass, Cond: cond}, *r.wind, ueff)
				if err == nil {
					det.RateKgH, det.SigmaRateKgH = q.RateKgH, q.SigmaRateKgH
					det.OriginX, det.OriginY, det.SigmaOriginM = q.OriginX, q.OriginY, q.SigmaOriginM
					if r.geo != nil {
						det.OriginLat, det.OriginLon = r.geo.LatLon(q.OriginX, q.OriginY)
					}
				} else {
					r.cfg.Log.Debug("plume not quantified", "detection", det.ID, "err", err)
				}
			}
		}
		det.Components = ncomp[i]
		if ppmm != nil {
			if err := r.evidence(&det, d, c.Pixels, ppmm, sigma); err != nil {
				return nil, fmt.Errorf("evidence of %s: %w", det.ID, err)
			}
		}
		out = append(out, det)
	}
	return out, nil
}

// Wind uncertainty assumed when the pass's wind comes without one: a wind
// estimated from a drone's flight log or a nearby station is good to about
// 1 m/s or 25% in speed, whichever is larger, and 20° in direction (stated
// choices; a pass's own figures replace them through Config.Wind).
const defaultWindDirSigmaDeg = 20

func defaultWindSigma(speed float64) float64 { return math.Max(1, 0.25*speed) }

// plumeGapM is the gap (m) across which a plume's puffs are merged: the
// simulator's turbulence has a 10 m coherence length (sim.DefaultTurbulence)
// and internal/eval merges puffs within 5 pixels of 1 m; real plumes break
// at a few metres too.
const plumeGapM = 5.0

func (r *run) groupGapPx() int {
	return max(1, int(math.Round(plumeGapM/math.Sqrt(r.area))))
}

// Puffs further downwind: an intermittent plume breaks into puffs that
// drift downwind of its source for as long as they stay above the
// threshold, often further apart than plumeGapM. A group whose upwind end
// lies downwind of another's, within puffConeDeg of the wind's direction
// and puffTravelS of travel at the wind's speed (at least puffMinM), is a
// puff of that plume. The cone's half-angle covers the wind direction's
// error (2σ of defaultWindDirSigmaDeg) and the plume's own spread; two
// sources within that cone of each other along the wind are reported as
// one plume, at the upwind one — a stated limitation (docs/detect-outputs.md).
const (
	puffConeDeg = 40
	puffTravelS = 120
	puffMinM    = 100
)

// coneMerge merges groups of pixels (indices y·w+x) that are puffs of a
// plume further upwind (see puffConeDeg).
func coneMerge(groups [][]int, w int, wind plume.Wind, pixelM float64) [][]int {
	if len(groups) < 2 || !(wind.SpeedMS > 0) {
		return groups
	}
	h := (wind.FromDeg + 180) * math.Pi / 180
	dx, dy := math.Sin(h), -math.Cos(h) // downwind, image axes (x east, y south)
	maxPx := math.Max(puffMinM, wind.SpeedMS*puffTravelS) / pixelM
	cosCone := math.Cos(puffConeDeg * math.Pi / 180)
	type head struct{ x, y, s float64 }
	heads := make([]head, len(groups))
	for i, g := range groups {
		hd := head{s: math.Inf(1)}
		for _, p := range g {
			x, y := float64(p%w)+0.5, float64(p/w)+0.5
			if s := x*dx + y*dy; s < hd.s {
				hd = head{x, y, s}
			}
		}
		heads[i] = hd
	}
	// Most upwind first: each group joins the first group upwind of it
	// whose cone holds its head, and that group's root.
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpFloat(heads[a].s, heads[b].s) })
	root := make([]int, len(groups))
	for i := range root {
		root[i] = i
	}
	for k, b := range order {
		for _, a := range order[:k] {
			ex, ey := heads[b].x-heads[a].x, heads[b].y-heads[a].y
			d := math.Hypot(ex, ey)
			if d == 0 || d > maxPx {
				continue
			}
			if (ex*dx+ey*dy)/d >= cosCone {
				root[b] = root[a]
				break
			}
		}
	}
	idx := map[int]int{}
	var out [][]int
	for i, g := range groups { // keeps the order of the strongest
		r := root[i]
		k, ok := idx[r]
		if !ok {
			k = len(out)
			idx[r] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], g...)
	}
	for _, g := range out {
		slices.Sort(g)
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mergeGroups turns groups of component pixels (plume.Group) into merged
// components, each with its peak and bounds, and counts the components in
// each.
func mergeGroups(comps []plume.Component, groups [][]int, score []float32, w int) ([]plume.Component, []int) {
	owner := map[int]int{}
	for i, c := range comps {
		for _, p := range c.Pixels {
			owner[p] = i
		}
	}
	out := make([]plume.Component, len(groups))
	n := make([]int, len(groups))
	for g, px := range groups {
		c := plume.Component{Pixels: px, Peak: -1, MinX: w, MinY: math.MaxInt}
		seen := map[int]bool{}
		for _, p := range px {
			seen[owner[p]] = true
			if v := score[p]; c.Peak < 0 || v > c.PeakScore {
				c.Peak, c.PeakScore = p, v
			}
			x, y := p%w, p/w
			c.MinX, c.MinY = min(c.MinX, x), min(c.MinY, y)
			c.MaxX, c.MaxY = max(c.MaxX, x+1), max(c.MaxY, y+1)
		}
		out[g], n[g] = c, len(seen)
	}
	return out, n
}

// writePValues writes DIR/pvalue-<test>.hdr: per pixel, the probability
// that a background pixel scores at least as high (the fitted tail, scaled
// by the tails' asymmetry for the matched filter, at most 1); NaN where the
// score is NaN. A pixel's p-value is what its score means whatever the
// false-alarm rate asked for.
func (r *run) writePValues(d *detector, tail *detect.Tail, asym float64, score []float32) error {
	pv := make([]float32, len(score))
	for i, s := range score {
		pv[i] = float32(math.Min(1, asym*tail.Survival(float64(s))))
	}
	w, path, err := r.oneBand("pvalue-"+d.name(), "p-value of the "+d.name()+" score")
	if err != nil {
		return err
	}
	c := &cube.Cube{Pix: pv, Stride: r.h.Samples, Bands: 1, Rect: image.Rect(0, 0, r.h.Samples, r.h.Lines)}
	if err := w.WriteLines(c); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	r.res.Outputs = append(r.res.Outputs, Output{Kind: "pvalue", Method: d.method, Gas: gasName(d.gas), Path: path})
	return nil
}

func readBand(path string) ([]float32, error) {
	c, err := cube.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return c.Pix, nil
}

func median(v []float32) float64 {
	s := make([]float64, 0, len(v))
	for _, x := range v {
		if !math.IsNaN(float64(x)) {
			s = append(s, float64(x))
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeGeoJSON writes the detections as a FeatureCollection: the outline
// polygon in WGS-84 when the cube is georeferenced (no geometry otherwise),
// and every figure as a property.
func (r *run) writeGeoJSON(path string) error {
	fc := geojson.NewFeatureCollection()
	for _, d := range r.res.Detections {
		var g orb.Geometry
		if r.geo != nil {
			ring := make(orb.Ring, 0, len(d.Outline))
			for _, p := range d.Outline {
				lat, lon := r.geo.LatLon(p.X, p.Y)
				ring = append(ring, orb.Point{lon, lat})
			}
			// GeoJSON (RFC 7946 §3.1.6) wants exterior rings counter-clockwise.
			if ring.Orientation() == orb.CW {
				ring.Reverse()
			}
			g = orb.Polygon{ring}
		}
		f := geojson.NewFeature(g)
		f.ID = d.ID
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		props := map[string]any{}
		if err := json.Unmarshal(b, &props); err != nil {
			return err
		}
		f.Properties = props
		fc.Append(f)
	}
	b, err := fc.MarshalJSON()
	if err != nil {
		return err
	}
	return writeFile(path, b)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

// writeFile writes through a temporary file and a rename, so a reader never
// sees half a file.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
