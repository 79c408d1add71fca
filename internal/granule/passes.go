package granule

import (
	"context"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/detect"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// statsPixels is the number of pixels the global background statistics are
// estimated from when the cube has more: with B ≤ 300 bands that is over
// five samples per covariance parameter (B(B+1)/2 ≈ 45 000), enough for
// Ledoit–Wolf shrinkage to be small.
const statsPixels = 250_000

// scoreSamples bounds the background scores kept per test for the tail fit
// (4 million float32s, 16 MB per test); beyond, scores are subsampled evenly.
const scoreSamples = 4_000_000

// screenLines is about how many lines the band screen looks at.
const screenLines = 2048

// forBlocks reads the blocks of lines starting at y = 0, block·every,
// 2·block·every, … and calls fn with each; every > 1 subsamples blocks. The
// next block is read while fn works on the current one (two buffers), so
// reading and scoring overlap; fn must not keep the block.
func (r *run) forBlocks(ctx context.Context, label string, every int, fn func(blk *cube.Cube) error) error {
	h := r.h
	var starts []int
	total := int64(0)
	for y := 0; y < h.Lines; y += r.block * every {
		starts = append(starts, y)
		total += int64(min(r.block, h.Lines-y))
	}
	bar := r.cfg.NewBar(label, total)
	defer bar.Done()

	type read struct {
		blk *cube.Cube
		err error
	}
	free := make(chan *cube.Cube, 2)
	for range 2 {
		free <- cube.New(image.Rect(0, 0, h.Samples, min(r.block, h.Lines)), h.Bands)
	}
	ready := make(chan read, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ready)
		for _, y := range starts {
			var buf *cube.Cube
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			blk := &cube.Cube{Pix: buf.Pix, Stride: buf.Stride, Bands: buf.Bands, Rect: image.Rect(0, y, h.Samples, min(y+r.block, h.Lines))}
			blk.Pix = blk.Pix[:blk.Rect.Dy()*blk.Stride]
			err := r.f.ReadLines(blk)
			select {
			case ready <- read{blk, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for rd := range ready {
		if rd.err != nil {
			return rd.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(rd.blk); err != nil {
			return err
		}
		bar.Add(int64(rd.blk.Rect.Dy()))
		free <- rd.blk
	}
	return ctx.Err()
}

func (r *run) needGas() bool {
	for _, m := range r.cfg.Methods {
		if m != MethodRX {
			return true
		}
	}
	return false
}

func (r *run) has(method string) bool {
	for _, m := range r.cfg.Methods {
		if m == method {
			return true
		}
	}
	return false
}

func (r *run) detectAll(ctx context.Context) error {
	h := r.h
	mask := detect.MaskFromHeader(h)

	// 1. Band screen on a subsample of lines.
	t0 := time.Now()
	screen := detect.NewBandScreen(h.Bands, mask)
	every := max(1, h.Lines/screenLines)
	if err := r.forBlocks(ctx, "screen bands", every, func(b *cube.Cube) error { screen.Add(b); return nil }); err != nil {
		return err
	}
	keep, _ := screen.Bands()
	if len(keep) < 2 {
		return fmt.Errorf("%w: %s: only %d usable bands after the bad-band list and the noise screen", cube.ErrFormat, r.f.HdrPath, len(keep))
	}
	r.res.KeptBands = len(keep)
	r.stage("screen", t0)

	// Gas signatures, resampled to the bands that are kept.
	if r.needGas() {
		if err := r.loadGases(keep); err != nil {
			return err
		}
	}

	// 2. Background statistics.
	labeler, err := r.labeler(ctx, keep, mask)
	if err != nil {
		return err
	}
	n := h.Samples * h.Lines
	stride := r.cfg.StatsStride
	if stride <= 0 {
		stride = 1
		if r.cfg.Background == "global" {
			stride = max(1, n/statsPixels)
		}
	}
	opts := detect.StatsOptions{Bands: keep, Mask: mask, Labeler: labeler, Stride: stride}
	bg, err := r.accumulate(ctx, "background", opts, nil)
	if err != nil {
		return err
	}

	// 3. The second pass: statistics again without the plume pixels.
	if r.cfg.Passes == 2 && r.needGas() {
		exclude, nx, err := r.markPlumes(ctx, bg)
		if err != nil {
			return err
		}
		r.res.Excluded = nx
		r.cfg.Log.Info("second pass", "excluded_pixels", nx, "z_above", r.cfg.ExcludeZ)
		if nx > 0 {
			if bg, err = r.accumulate(ctx, "background (2nd pass)", opts, exclude); err != nil {
				return err
			}
		}
	}
	r.res.Masked = bg.Report

	// 4. Scoring.
	dets, jf, err := r.detectors(bg)
	if err != nil {
		return err
	}
	if err := r.score(ctx, dets, jf, bg); err != nil {
		return err
	}

	// 5. Thresholds and detections.
	return r.finish(dets)
}

func (r *run) loadGases(keep []int) error {
	for _, g := range r.cfg.Gases {
		e, err := r.cfg.Library.Get(g)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		k, rerr := e.Resample(r.wl, r.fw)
		if k == nil {
			return fmt.Errorf("resample %s to %s: %w", e.Name, r.f.HdrPath, rerr)
		}
		var missing []int
		for _, b := range keep {
			if math.IsNaN(k[b]) {
				missing = append(missing, b)
			}
		}
		if len(missing) > 0 {
			lo, hi := e.CoverageCM()
			return fmt.Errorf("%w: the library's %s spectrum covers %.0f-%.0f cm⁻¹ (%.2f-%.2f µm) and does not reach %d of the cube's bands (first: band %d at %.3f µm); use a library entry that covers the sensor",
				ErrConfig, e.Name, lo, hi, 1e4/hi, 1e4/lo, len(missing), missing[0], r.wl[missing[0]])
		}
		r.gases = append(r.gases, gasTarget{name: e.Name, entry: e, k: k})
	}
	return nil
}

func (r *run) labeler(ctx context.Context, keep []int, mask detect.MaskOptions) (detect.Labeler, error) {
	switch r.cfg.Background {
	case "columns":
		return detect.Columns{Samples: r.h.Samples, Width: r.cfg.ColumnWidth}, nil
	case "clusters":
		// Cluster on a sample of lines gathered into one cube.
		t0 := time.Now()
		h := r.h
		want := min(h.Lines, max(64, 200_000/h.Samples))
		step := max(1, h.Lines/want)
		sample := cube.New(image.Rect(0, 0, h.Samples, (h.Lines+step-1)/step), h.Bands)
		line := cube.New(image.Rect(0, 0, h.Samples, 1), h.Bands)
		for i, y := 0, 0; y < h.Lines; i, y = i+1, y+step {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			line.Rect = image.Rect(0, y, h.Samples, y+1)
			if err := r.f.ReadLines(line); err != nil {
				return nil, err
			}
			copy(sample.Pix[i*sample.Stride:], line.Pix)
		}
		var target []float64
		if len(r.gases) > 0 {
			// Leave the absorption bands of every gas out of the clustering, so
			// that a plume does not make a class of its own.
			target = make([]float64, h.Bands)
			for _, g := range r.gases {
				for b, v := range g.k {
					if !math.IsNaN(v) {
						target[b] = max(target[b], v)
					}
				}
			}
		}
		cl, err := detect.FitClusters(sample, detect.ClusterOptions{K: r.cfg.Clusters, Target: target, Bands: keep, Mask: mask, Seed: 1})
		if err != nil {
			return nil, err
		}
		r.stage("clusters", t0)
		return cl, nil
	}
	return detect.Global{}, nil
}

func (r *run) accumulate(ctx context.Context, label string, o detect.StatsOptions, exclude []bool) (*detect.Background, error) {
	t0 := time.Now()
	acc := detect.NewAccumulator(r.h.Bands, o)
	err := r.forBlocks(ctx, label, 1, func(b *cube.Cube) error {
		var ex []bool
		if exclude != nil {
			o := b.Rect.Min.Y * r.h.Samples
			ex = exclude[o : o+b.Pixels()]
		}
		acc.Add(b, ex)
		return nil
	})
	if err != nil {
		return nil, err
	}
	bg, err := acc.Finish()
	if err != nil {
		return nil, fmt.Errorf("%s: background statistics: %w", r.f.HdrPath, err)
	}
	r.stage("background", t0)
	return bg, nil
}

// signatures holds what the targets of every gas are made from.
type signatures struct {
	thermal     bool
	tau, planck []float64 // per band, thermal only
	mu          []float64 // background mean, every band
	targets     [][]float64
}

// targets returns each gas's signature per ppm·m for the background: thermal
// τ(B(T_p) − μ)⊙k beyond 3 µm, reflective −μ⊙k below.
func (r *run) targets(bg *detect.Background) (*signatures, error) {
	s := &signatures{mu: bg.MeanSpectrum(), thermal: r.wl[bg.Bands[0]] > 3}
	if s.thermal {
		tp, err := r.plumeTemp()
		if err != nil {
			return nil, err
		}
		r.res.PlumeTempK = tp
		s.planck = make([]float64, r.h.Bands)
		s.tau = make([]float64, r.h.Bands)
		for b, w := range r.wl {
			s.planck[b] = spectra.PlanckWavelength(w, tp)
			s.tau[b] = r.cfg.Transmittance
		}
	}
	for _, g := range r.gases {
		var t []float64
		var err error
		if s.thermal {
			t, err = detect.ThermalTarget(s.tau, s.planck, s.mu, g.k)
		} else {
			t, err = detect.ReflectiveTarget(s.mu, g.k)
		}
		if err != nil {
			return nil, err
		}
		s.targets = append(s.targets, t)
	}
	return s, nil
}

// jointFilter returns the matched filter of all the gases together (so that
// co-emitted gases do not read into each other's columns): in the thermal
// infrared the one whose retrieval follows each pixel's own contrast.
func (r *run) jointFilter(bg *detect.Background, s *signatures) (*detect.JointMatchedFilter, error) {
	if s.thermal {
		ks := make([][]float64, len(r.gases))
		for i, g := range r.gases {
			ks[i] = g.k
		}
		return detect.NewThermalJointMatchedFilter(bg, s.tau, s.planck, ks)
	}
	return detect.NewJointMatchedFilter(bg, s.targets)
}

// perGas returns one slice of n float32 per gas.
func perGas(g, n int) [][]float32 {
	out := make([][]float32, g)
	for i := range out {
		out[i] = make([]float32, n)
	}
	return out
}

// prefix returns the first n values of each slice.
func prefix(s [][]float32, n int) [][]float32 {
	out := make([][]float32, len(s))
	for i, v := range s {
		out[i] = v[:n]
	}
	return out
}

// markPlumes scores the matched filter of every gas and marks the pixels
// whose z-score exceeds ExcludeZ for any gas.
func (r *run) markPlumes(ctx context.Context, bg *detect.Background) ([]bool, int, error) {
	t0 := time.Now()
	sg, err := r.targets(bg)
	if err != nil {
		return nil, 0, err
	}
	jf, err := r.jointFilter(bg, sg)
	if err != nil {
		return nil, 0, fmt.Errorf("matched filter: %w", err)
	}
	exclude := make([]bool, r.h.Samples*r.h.Lines)
	nx := 0
	z := perGas(len(r.gases), r.block*r.h.Samples)
	thr := float32(r.cfg.ExcludeZ)
	err = r.forBlocks(ctx, "find plumes (1st pass)", 1, func(b *cube.Cube) error {
		o := b.Rect.Min.Y * r.h.Samples
		zz := prefix(z, b.Pixels())
		jf.Retrieve(nil, nil, zz, b)
		for _, zg := range zz {
			for i, v := range zg {
				if v > thr && !exclude[o+i] {
					exclude[o+i] = true
					nx++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	// A plume's faint fringe lies next to its core: leave out the pixels
	// within excludeDilate of an excluded one too, so the fringe does not
	// stay in the background and pull the retrieval low.
	exclude, nx = dilate(exclude, r.h.Samples, r.h.Lines, excludeDilate)
	r.stage("first pass", t0)
	return exclude, nx, nil
}

// excludeDilate is the radius (pixels, square) by which the plume pixels
// found in the first pass are grown before the second pass.
const excludeDilate = 2

// dilate grows the true pixels of m by radius pixels in each direction (a
// square structuring element, done as two separable passes) and returns the
// new mask and its count.
func dilate(m []bool, w, h, radius int) ([]bool, int) {
	tmp := make([]bool, len(m))
	for y := 0; y < h; y++ {
		row := m[y*w : (y+1)*w]
		last := -radius - 1 // the last true pixel seen
		for x := 0; x < w; x++ {
			if row[x] {
				last = x
			}
			// The next true pixel within radius to the right counts too.
			if x-last <= radius {
				tmp[y*w+x] = true
			}
		}
		next := w + radius + 1
		for x := w - 1; x >= 0; x-- {
			if row[x] {
				next = x
			}
			if next-x <= radius {
				tmp[y*w+x] = true
			}
		}
	}
	out := make([]bool, len(m))
	n := 0
	for x := 0; x < w; x++ {
		last := -radius - 1
		for y := 0; y < h; y++ {
			if tmp[y*w+x] {
				last = y
			}
			if y-last <= radius {
				out[y*w+x] = true
			}
		}
		next := h + radius + 1
		for y := h - 1; y >= 0; y-- {
			if tmp[y*w+x] {
				next = y
			}
			if next-y <= radius && !out[y*w+x] {
				out[y*w+x] = true
			}
		}
	}
	for _, v := range out {
		if v {
			n++
		}
	}
	return out, n
}

// detector is one thing scored in the scoring pass.
type detector struct {
	method string
	gas    *gasTarget
	gi     int  // the gas's index in the joint matched filter
	mf     bool // the matched filter: scores come from the joint retrieval
	det    detect.Detector
	// outputs: score, and for the matched filter ppm·m and σ.
	score, ppmm, sigma *cube.Writer
	scorePath          string
	ppmmPath           string
	sigmaPath          string
	samples            []float32 // subsampled scores for the tail fit
	sigmaSamples       []float32
	test               bool // a detection test (thresholded)
}

// detectors builds every detector. The matched filter of each gas is always
// among them: its z-score is the gas detection test (ACE and CEM write score
// cubes, and ACE's value joins each detection's evidence).
func (r *run) detectors(bg *detect.Background) ([]*detector, *detect.JointMatchedFilter, error) {
	var out []*detector
	var sg *signatures
	var jf *detect.JointMatchedFilter
	if r.needGas() {
		var err error
		if sg, err = r.targets(bg); err != nil {
			return nil, nil, err
		}
		if jf, err = r.jointFilter(bg, sg); err != nil {
			return nil, nil, fmt.Errorf("matched filter: %w", err)
		}
		r.sig, r.keep = sg, bg.Bands
		if !r.has(MethodMF) {
			r.cfg.Methods = append([]string{MethodMF}, r.cfg.Methods...)
		}
	}
	for _, m := range r.cfg.Methods {
		if m == MethodRX {
			out = append(out, &detector{method: m, det: detect.NewRX(bg), test: true})
			continue
		}
		for i := range r.gases {
			g := &r.gases[i]
			d := &detector{method: m, gas: g, gi: i, test: m == MethodMF, mf: m == MethodMF}
			var err error
			switch m {
			case MethodACE:
				d.det, err = detect.NewACE(bg, sg.targets[i])
			case MethodCEM:
				d.det, err = detect.NewCEM(bg, sg.targets[i])
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%s for %s: %w", m, g.name, err)
			}
			out = append(out, d)
		}
	}
	return out, jf, nil
}

func (d *detector) name() string {
	if d.gas == nil {
		return d.method
	}
	return d.method + "-" + d.gas.name
}

// create opens the output cubes of every detector.
// oneBand creates DIR/<name>.hdr, a float32 one-band cube over the input's
// pixels with its map info.
func (r *run) oneBand(name, desc string) (*cube.Writer, string, error) {
	p := filepath.Join(r.cfg.OutDir, name+".hdr")
	h := &cube.Header{
		Samples: r.h.Samples, Lines: r.h.Lines, Bands: 1,
		DataType: cube.Float32, Interleave: cube.BSQ,
		MapInfo: r.h.MapInfo, CoordinateSystemString: r.h.CoordinateSystemString,
		Description: desc + " of " + filepath.Base(r.f.HdrPath) + " (Atalaya); NaN = masked",
		BandNames:   []string{name},
	}
	w, err := cube.Create(p, h)
	return w, p, err
}

func (r *run) create(dets []*detector) error {
	mk := r.oneBand
	for _, d := range dets {
		var err error
		switch d.method {
		case MethodMF:
			if d.score, d.scorePath, err = mk(d.name(), "matched-filter z-score (ppm*m / sigma) for "+d.gas.name); err != nil {
				return err
			}
			if d.ppmm, d.ppmmPath, err = mk("ppmm-"+d.gas.name, "matched-filter concentration-pathlength of "+d.gas.name+", ppm*m"); err != nil {
				return err
			}
			if d.sigma, d.sigmaPath, err = mk("ppmm-sigma-"+d.gas.name, "1-sigma of the concentration-pathlength of "+d.gas.name+", ppm*m"); err != nil {
				return err
			}
		case MethodRX:
			if d.score, d.scorePath, err = mk(d.name(), "RX squared Mahalanobis distance"); err != nil {
				return err
			}
		case MethodACE:
			if d.score, d.scorePath, err = mk(d.name(), "ACE squared cosine for "+d.gas.name); err != nil {
				return err
			}
		case MethodCEM:
			if d.score, d.scorePath, err = mk(d.name(), "CEM score (1 at the target) for "+d.gas.name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *run) score(ctx context.Context, dets []*detector, jf *detect.JointMatchedFilter, bg *detect.Background) error {
	t0 := time.Now()
	if err := r.create(dets); err != nil {
		return err
	}
	// The residual: the whitened energy of each pixel that the gases do not
	// explain, RX − Σ z². A hot metal roof scores a few σ for a gas whose
	// bands its emissivity slope touches, but its residual is enormous; a
	// gas pixel's residual is that of the background. finish uses it to
	// tell the two apart.
	// RX is computed once per block for the residual and, when asked for,
	// its own score cube.
	var rxDet *detect.RX
	var resW *cube.Writer
	var rxb, resb []float32
	if jf != nil {
		for _, d := range dets {
			if d.method == MethodRX {
				rxDet = d.det.(*detect.RX)
			}
		}
		if rxDet == nil {
			rxDet = detect.NewRX(bg)
		}
		rxb = make([]float32, r.block*r.h.Samples)
		resb = make([]float32, r.block*r.h.Samples)
		var err error
		if resW, r.residualPath, err = r.oneBand("residual", "whitened energy not explained by the gases (RX minus the sum of squared z-scores)"); err != nil {
			return err
		}
	}
	h := r.h
	n := h.Samples * h.Lines
	sampleEvery := max(1, (n+scoreSamples-1)/scoreSamples)
	buf := make([]float32, r.block*h.Samples)
	G := len(r.gases)
	jc, js, jz := perGas(G, r.block*h.Samples), perGas(G, r.block*h.Samples), perGas(G, r.block*h.Samples)
	one := func(pix []float32, rect image.Rectangle) *cube.Cube {
		return &cube.Cube{Pix: pix, Stride: h.Samples, Bands: 1, Rect: rect}
	}
	err := r.forBlocks(ctx, "detect", 1, func(b *cube.Cube) error {
		np := b.Pixels()
		first := b.Rect.Min.Y * h.Samples
		if jf != nil {
			jf.Retrieve(prefix(jc, np), prefix(js, np), prefix(jz, np), b)
			rx, res := rxb[:np], resb[:np]
			rxDet.Score(rx, b)
			for i := range res {
				e := rx[i]
				for g := 0; g < G; g++ {
					e -= jz[g][i] * jz[g][i]
				}
				res[i] = max(e, 0)
			}
			if err := resW.WriteLines(one(res, b.Rect)); err != nil {
				return err
			}
			for i := (sampleEvery - first%sampleEvery) % sampleEvery; i < np; i += sampleEvery {
				r.residualSamples = append(r.residualSamples, res[i])
			}
		}
		for _, d := range dets {
			s := buf[:np]
			var c, sg []float32
			if d.mf {
				s, c, sg = jz[d.gi][:np], jc[d.gi][:np], js[d.gi][:np]
				if err := d.ppmm.WriteLines(one(c, b.Rect)); err != nil {
					return err
				}
				if err := d.sigma.WriteLines(one(sg, b.Rect)); err != nil {
					return err
				}
			} else if d.method == MethodRX && rxb != nil {
				s = rxb[:np] // scored above, for the residual
			} else {
				d.det.Score(s, b)
			}
			if err := d.score.WriteLines(one(s, b.Rect)); err != nil {
				return err
			}
			for i := (sampleEvery - first%sampleEvery) % sampleEvery; i < np; i += sampleEvery {
				d.samples = append(d.samples, s[i])
				if d.mf {
					d.sigmaSamples = append(d.sigmaSamples, sg[i])
				}
			}
		}
		return nil
	})
	for _, d := range dets {
		for _, w := range []*cube.Writer{d.score, d.ppmm, d.sigma} {
			if w == nil {
				continue
			}
			if cerr := w.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}
	if resW != nil {
		if cerr := resW.Close(); cerr != nil && err == nil {
			err = cerr
		}
		r.res.Outputs = append(r.res.Outputs, Output{Kind: "residual", Path: r.residualPath})
	}
	if err != nil {
		return err
	}
	for _, d := range dets {
		r.res.Outputs = append(r.res.Outputs, Output{Kind: "score", Method: d.method, Gas: gasName(d.gas), Path: d.scorePath})
		if d.mf {
			r.res.Outputs = append(r.res.Outputs,
				Output{Kind: "ppmm", Method: d.method, Gas: d.gas.name, Path: d.ppmmPath},
				Output{Kind: "ppmm-sigma", Method: d.method, Gas: d.gas.name, Path: d.sigmaPath})
		}
	}
	r.stage("detect", t0)
	return nil
}

func gasName(g *gasTarget) string {
	if g == nil {
		return ""
	}
	return g.name
}
