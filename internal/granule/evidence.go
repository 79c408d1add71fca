package granule

import (
	"bytes"
	"cmp"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/detect"
	"github.com/atalaya-project/atalaya/internal/plume"
)

// Spectrum is a detection's measured spectrum against the library
// signature, over the bands the matched filter kept.
type Spectrum struct {
	Gas          string    `json:"gas"`
	WavelengthUM []float64 `json:"wavelength_um"`
	// Measured is the mean radiance of the plume's strongest pixels minus
	// the mean of the background annulus around the plume (the cube's
	// radiance units), less Baseline.
	Measured []float64 `json:"measured"`
	// Baseline is the part of that difference the surface explains,
	// fitted together with the signature: c₀ + c₁·(λ − λ̄) plus the
	// annulus's clutterComponents principal components. The surface under
	// the plume is never exactly the annulus's mean (a warmer patch, another
	// material), and the matched filter, whitened by the background's
	// covariance, discounts exactly those directions too.
	Baseline []float64 `json:"baseline"`
	// Library is the change the library says a column of PPMm makes: the
	// matched filter's target signature per ppm·m, made with the annulus's
	// mean as the radiance below the plume, times PPMm (run.expected).
	Library []float64 `json:"library"`
	// PPMm is the mean retrieved column of the strongest pixels, and
	// SigmaPPMm the median per-pixel 1σ of the retrieval there. FitPPMm is
	// the column the measured spectrum itself says: its least-squares
	// scale onto Library, times PPMm.
	PPMm      float64 `json:"ppmm"`
	SigmaPPMm float64 `json:"sigma_ppmm"`
	FitPPMm   float64 `json:"fit_ppmm"`
	// Others are the mean columns (ppm·m) of the other gases the joint
	// matched filter retrieved in the same pixels; their expected change
	// has been taken out of Measured.
	Others map[string]float64 `json:"others,omitempty"`
	// Pixels and BackgroundPixels are how many pixels each mean is over.
	Pixels           int `json:"pixels"`
	BackgroundPixels int `json:"background_pixels"`
}

// Evidence geometry: how many of the plume's strongest pixels the
// spectrum averages, the annulus (pixels at least annulusGap and at most
// annulusGap+annulusWidth pixels outside the plume's bounding box), and the
// plume image (map at most imageMapSide px, then the colour bar: ≤ 256 px).
const (
	strongPixels  = 25
	annulusGap    = 2
	annulusWidth  = 6
	imageMapSide  = 224 // the map's side at most; the colour bar goes below
	imageCropMax  = 96  // cube pixels across the crop at most
	imageBarH     = 10
	imageBarGap   = 3
	imageMarginPx = 4
)

// evidence adds the spectrum and the plume image to a matched-filter
// detection made of pixels (indices into the ppm·m map).
func (r *run) evidence(det *Detection, d *detector, pixels []int, ppmm, sigma []float32) error {
	if r.sig == nil || len(pixels) == 0 {
		return nil
	}
	w, h := r.h.Samples, r.h.Lines
	box := pixelBox(pixels, w)
	// Evidence is for the analyst: a plume whose spectrum cannot be formed
	// (no background around it with every band) is still a detection.
	sp, err := r.spectrum(d, box, pixels, ppmm, sigma)
	if err != nil {
		r.cfg.Log.Warn("no spectrum for the detection", "detection", det.ID, "err", err)
	}
	det.Spectrum = sp
	det.PlumeCrop = PlumeCrop(w, h, box)
	if det.PlumePNG, err = PlumeImage(ppmm, w, det.PlumeCrop, det.Outline); err != nil {
		r.cfg.Log.Warn("no plume image for the detection", "detection", det.ID, "err", err)
		det.PlumeCrop = image.Rectangle{}
	}
	return nil
}

// PlumeCrop is the part of a w×h map a plume image shows: a square about
// the plume's bounding box with a margin, at most imageCropMax pixels a
// side, clipped to the map.
func PlumeCrop(w, h int, box image.Rectangle) image.Rectangle {
	side := max(box.Dx(), box.Dy()) + 2*imageMarginPx
	side = min(side, imageCropMax)
	cx, cy := (box.Min.X+box.Max.X)/2, (box.Min.Y+box.Max.Y)/2
	return image.Rect(cx-side/2, cy-side/2, cx-side/2+side, cy-side/2+side).Intersect(image.Rect(0, 0, w, h))
}

// PlumeScale is how many image pixels a side each map pixel of crop
// takes in its plume image.
func PlumeScale(crop image.Rectangle) int {
	return max(1, imageMapSide/max(1, crop.Dx(), crop.Dy()))
}

func pixelBox(pixels []int, w int) image.Rectangle {
	b := image.Rectangle{Min: image.Pt(math.MaxInt, math.MaxInt), Max: image.Pt(math.MinInt, math.MinInt)}
	for _, p := range pixels {
		x, y := p%w, p/w
		b.Min.X, b.Min.Y = min(b.Min.X, x), min(b.Min.Y, y)
		b.Max.X, b.Max.Y = max(b.Max.X, x+1), max(b.Max.Y, y+1)
	}
	return b
}

func (r *run) spectrum(d *detector, box image.Rectangle, pixels []int, ppmm, sigma []float32) (*Spectrum, error) {
	w := r.h.Samples
	bounds := image.Rect(0, 0, w, r.h.Lines)
	outer := box.Inset(-(annulusGap + annulusWidth)).Intersect(bounds)
	inner := box.Inset(-annulusGap)
	strong := slices.Clone(pixels)
	slices.SortFunc(strong, func(a, b int) int { return cmp.Compare(ppmm[b], ppmm[a]) })
	strong = strong[:min(len(strong), strongPixels)]

	c := cube.New(image.Rect(0, outer.Min.Y, w, outer.Max.Y), r.h.Bands)
	if err := r.f.ReadLines(c); err != nil {
		return nil, err
	}
	nb := len(r.keep)
	sum := func(dst []float64, x, y int) bool {
		v := c.At(x, y)
		for _, b := range r.keep {
			if math.IsNaN(float64(v[b])) {
				return false
			}
		}
		for i, b := range r.keep {
			dst[i] += float64(v[b])
		}
		return true
	}
	plumeSum, bgSum := make([]float64, nb), make([]float64, nb)
	var bgPix []float64 // the annulus's spectra, nbg × nb
	var np, nbg int
	var col float64
	var sigs []float32
	for _, p := range strong {
		if sum(plumeSum, p%w, p/w) {
			np++
			col += float64(ppmm[p])
			sigs = append(sigs, sigma[p])
		}
	}
	for y := outer.Min.Y; y < outer.Max.Y; y++ {
		for x := outer.Min.X; x < outer.Max.X; x++ {
			p := y*w + x
			if image.Pt(x, y).In(inner) || !(float64(ppmm[p]) < 2*float64(sigma[p])) {
				continue // the plume, or gas the segmentation left out
			}
			if sum(bgSum, x, y) {
				nbg++
				v := c.At(x, y)
				for _, b := range r.keep {
					bgPix = append(bgPix, float64(v[b]))
				}
			}
		}
	}
	if np == 0 || nbg == 0 {
		return nil, fmt.Errorf("%d plume and %d background pixels with every kept band", np, nbg)
	}
	sp := &Spectrum{Gas: d.gas.name, PPMm: col / float64(np), SigmaPPMm: median(sigs),
		Pixels: np, BackgroundPixels: nbg}
	mu := make([]float64, nb)
	for i, b := range r.keep {
		mu[i] = bgSum[i] / float64(nbg)
		sp.WavelengthUM = append(sp.WavelengthUM, r.wl[b])
		sp.Measured = append(sp.Measured, plumeSum[i]/float64(np)-mu[i])
	}
	var err error
	if sp.Library, err = r.expected(d.gas, mu, sp.PPMm); err != nil {
		return nil, err
	}
	// The joint matched filter retrieves every gas in every pixel: what the
	// other gases it found there explain is taken out of the measurement,
	// so that what is left is compared with this gas's signature.
	for gi := range r.gases {
		g := &r.gases[gi]
		if g == d.gas {
			continue
		}
		other, err := r.ppmmOf(g.name)
		if err != nil {
			return nil, err
		}
		var c float64
		for _, p := range strong {
			c += float64(other[p]) / float64(len(strong))
		}
		if !(c > 0) {
			continue
		}
		lib, err := r.expected(g, mu, c)
		if err != nil {
			return nil, err
		}
		for i := range sp.Measured {
			sp.Measured[i] -= lib[i]
		}
		if sp.Others == nil {
			sp.Others = map[string]float64{}
		}
		sp.Others[g.name] = c
	}
	a, base, err := fitBaseline(sp.Measured, sp.Library, sp.WavelengthUM, clutterBasis(bgPix, nbg, nb))
	if err != nil {
		return nil, err
	}
	sp.FitPPMm, sp.Baseline = a*sp.PPMm, base
	for i := range sp.Measured {
		sp.Measured[i] -= base[i]
	}
	return sp, nil
}

// expected is the change of radiance (kept bands) a column of c ppm·m of
// gas g makes over a surface of mean radiance mu (kept bands): the
// matched filter's target per ppm·m, t (thermal τ(B(T_p) − μ)⊙k,
// reflective −μ⊙k), times c — the thin-plume form the filter retrieves
// with.
func (r *run) expected(g *gasTarget, mu []float64, c float64) ([]float64, error) {
	nb := len(r.keep)
	k := make([]float64, nb)
	for i, b := range r.keep {
		k[i] = g.k[b]
	}
	var t []float64
	var err error
	if r.sig.thermal {
		tau, planck := make([]float64, nb), make([]float64, nb)
		for i, b := range r.keep {
			tau[i], planck[i] = r.sig.tau[b], r.sig.planck[b]
		}
		t, err = detect.ThermalTarget(tau, planck, mu, k)
	} else {
		t, err = detect.ReflectiveTarget(mu, k)
	}
	if err != nil {
		return nil, err
	}
	out := make([]float64, nb)
	for i, v := range t {
		out[i] = v * c
	}
	return out, nil
}

// ppmmOf returns the ppm·m map of a gas, read once.
func (r *run) ppmmOf(gas string) ([]float32, error) {
	if m, ok := r.ppmmMaps[gas]; ok {
		return m, nil
	}
	for _, o := range r.res.Outputs {
		if o.Kind == "ppmm" && o.Gas == gas {
			m, err := readBand(o.Path)
			if err != nil {
				return nil, err
			}
			if r.ppmmMaps == nil {
				r.ppmmMaps = map[string][]float32{}
			}
			r.ppmmMaps[gas] = m
			return m, nil
		}
	}
	return nil, fmt.Errorf("no ppm·m map of %s", gas)
}

// clutterComponents is how many principal components of the annulus's
// spectra the baseline may use: few against the bands (a handful of
// materials and their temperature), so that the signature keeps most of
// its degrees of freedom.
const clutterComponents = 4

// clutterBasis returns the leading principal components (each nb long) of
// n spectra of nb bands (row-major), at most clutterComponents and fewer
// than n.
func clutterBasis(spectra []float64, n, nb int) [][]float64 {
	k := min(clutterComponents, n-1, nb-4)
	if k <= 0 {
		return nil
	}
	var cov mat.SymDense
	stat.CovarianceMatrix(&cov, mat.NewDense(n, nb, spectra), nil)
	var eig mat.EigenSym
	if !eig.Factorize(&cov, true) {
		return nil
	}
	var vec mat.Dense
	eig.VectorsTo(&vec)
	out := make([][]float64, k)
	for j := range k { // ascending eigenvalues: the largest are last
		out[j] = mat.Col(nil, nb-1-j, &vec)
	}
	return out
}

// fitBaseline fits m = a·t + c₀ + c₁·(λ − λ̄) + Σ βⱼ·basisⱼ by least
// squares and returns a and the baseline (everything but a·t) per band.
func fitBaseline(m, t, wl []float64, basis [][]float64) (float64, []float64, error) {
	n := len(m)
	cols := 3 + len(basis)
	if n < cols+1 {
		return 0, nil, fmt.Errorf("%d bands: too few to fit a signature and a %d-term baseline", n, cols-1)
	}
	var mean float64
	for _, v := range wl {
		mean += v / float64(n)
	}
	x := mat.NewDense(n, cols, nil)
	for i := range n {
		x.Set(i, 0, t[i])
		x.Set(i, 1, 1)
		x.Set(i, 2, wl[i]-mean)
		for j, b := range basis {
			x.Set(i, 3+j, b[i])
		}
	}
	var beta mat.VecDense
	if err := beta.SolveVec(x, mat.NewVecDense(n, slices.Clone(m))); err != nil {
		return 0, nil, fmt.Errorf("signature and baseline fit: %w", err)
	}
	base := make([]float64, n)
	for i := range n {
		base[i] = beta.AtVec(1) + beta.AtVec(2)*(wl[i]-mean)
		for j, b := range basis {
			base[i] += beta.AtVec(3+j) * b[i]
		}
	}
	return beta.AtVec(0), base, nil
}

// PlumeImage draws crop of the ppm·m map (w samples a line) as a PNG,
// each map pixel PlumeScale(crop) image pixels a side: a colour scale from 0 (black) to the largest column in the crop
// (pale yellow) with its bar below the map, and the plume's outline (pixel
// coordinates) in cyan. The image is at most imageMaxSide pixels a side and
// its bytes depend only on the inputs.
func PlumeImage(ppmm []float32, w int, crop image.Rectangle, outline []plume.Point) ([]byte, error) {
	if crop.Empty() || crop.Min.X < 0 || crop.Min.Y < 0 || crop.Max.X > w || crop.Max.Y*w > len(ppmm) {
		return nil, fmt.Errorf("plume crop %v outside the %d-sample map of %d values", crop, w, len(ppmm))
	}
	scale := PlumeScale(crop)
	mw, mh := crop.Dx()*scale, crop.Dy()*scale
	img := image.NewNRGBA(image.Rect(0, 0, mw, mh+imageBarGap+imageBarH))
	vmax := float32(0)
	for y := crop.Min.Y; y < crop.Max.Y; y++ {
		for x := crop.Min.X; x < crop.Max.X; x++ {
			if v := ppmm[y*w+x]; v > vmax {
				vmax = v
			}
		}
	}
	for y := 0; y < mh; y++ {
		for x := 0; x < mw; x++ {
			v := ppmm[(crop.Min.Y+y/scale)*w+crop.Min.X+x/scale]
			c := color.NRGBA{40, 40, 40, 255} // masked
			if !math.IsNaN(float64(v)) {
				f := 0.0
				if vmax > 0 {
					f = float64(v / vmax)
				}
				c = ramp(f)
			}
			img.SetNRGBA(x, y, c)
		}
	}
	for x := 0; x < mw; x++ {
		c := ramp(float64(x) / float64(max(1, mw-1)))
		for y := mh + imageBarGap; y < mh+imageBarGap+imageBarH; y++ {
			img.SetNRGBA(x, y, c)
		}
	}
	line := color.NRGBA{0, 200, 255, 255}
	for i := range outline {
		a, b := outline[i], outline[(i+1)%len(outline)]
		ax, ay := (a.X-float64(crop.Min.X))*float64(scale), (a.Y-float64(crop.Min.Y))*float64(scale)
		bx, by := (b.X-float64(crop.Min.X))*float64(scale), (b.Y-float64(crop.Min.Y))*float64(scale)
		n := int(math.Ceil(math.Max(math.Abs(bx-ax), math.Abs(by-ay)))) + 1
		for j := 0; j <= n; j++ {
			f := float64(j) / float64(n)
			x, y := int(math.Round(ax+f*(bx-ax))), int(math.Round(ay+f*(by-ay)))
			x, y = min(max(x, 0), mw-1), min(max(y, 0), mh-1)
			img.SetNRGBA(x, y, line)
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// rampStops is the colour scale, dark to bright (black, purple, red,
// orange, pale yellow: monotonic in lightness, as inferno is).
var rampStops = [...]color.NRGBA{
	{0, 0, 4, 255}, {87, 16, 110, 255}, {188, 55, 84, 255}, {249, 142, 9, 255}, {252, 255, 164, 255},
}

// ramp maps f in [0, 1] (clamped) to the colour scale.
func ramp(f float64) color.NRGBA {
	f = min(max(f, 0), 1) * float64(len(rampStops)-1)
	i := min(int(f), len(rampStops)-2)
	t := f - float64(i)
	a, b := rampStops[i], rampStops[i+1]
	mix := func(p, q uint8) uint8 { return uint8(math.Round(float64(p) + t*(float64(q)-float64(p)))) }
	return color.NRGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}
