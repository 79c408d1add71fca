package bench

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// Scene describes the synthetic cube Generate writes.
type Scene struct {
	Samples, Lines, Bands int
	Seed                  uint64
}

// Wavelengths returns the band centres in µm: Bands evenly from 7.6 to
// 13.4 µm (the long-wave window of thermal imaging spectrometers).
func (s Scene) Wavelengths() []float64 {
	wl := make([]float64, s.Bands)
	for b := range wl {
		wl[b] = 7.6 + (13.4-7.6)*float64(b)/float64(max(1, s.Bands-1))
	}
	return wl
}

// Constants of the synthetic scene.
const (
	nEnd      = 4    // ground endmembers
	noiseRho  = 0.95 // band-to-band correlation of the AR(1) noise
	noiseSig  = 0.03 // its standard deviation, W/(m²·sr·µm) (a NESR of a few 0.01)
	whiteSig  = 0.003
	tJitterK  = 0.5 // per-pixel temperature jitter, K
	fieldAmp  = 1.2 // amplitude of the abundance fields (log-weights)
	pixJitter = 0.3 // per-pixel jitter of the log-weights
)

// model holds the per-band spectra the pixels are built from.
type model struct {
	L     [nEnd][]float32 // endmember radiance
	dBdT  []float32       // ∂B/∂T at 300 K: the direction of temperature jitter
	phase [nEnd][3][3]float64
	B     int
}

func newModel(s Scene) *model {
	rng := rand.New(rand.NewPCG(s.Seed, 0x6174616c617961))
	wl := s.Wavelengths()
	m := &model{B: s.Bands, dBdT: make([]float32, s.Bands)}
	temps := [nEnd]float64{290, 300, 310, 320}
	for e := range nEnd {
		// Emissivity: 0.93 plus three smooth features of ±0.04.
		var cen, wid, amp [3]float64
		for k := range 3 {
			cen[k] = 7.6 + 5.8*rng.Float64()
			wid[k] = 0.2 + 0.8*rng.Float64()
			amp[k] = 0.04 * (2*rng.Float64() - 1)
		}
		m.L[e] = make([]float32, s.Bands)
		for b, w := range wl {
			eps := 0.93
			for k := range 3 {
				d := (w - cen[k]) / wid[k]
				eps += amp[k] * math.Exp(-d*d/2)
			}
			m.L[e][b] = float32(eps * spectra.PlanckWavelength(w, temps[e]))
		}
		for k := range 3 {
			// Spatial frequency (cycles per 1000 pixels) and phase.
			m.phase[e][k] = [3]float64{(rng.Float64() - 0.5) * 0.03, (rng.Float64() - 0.5) * 0.03, 2 * math.Pi * rng.Float64()}
		}
	}
	for b, w := range wl {
		m.dBdT[b] = float32((spectra.PlanckWavelength(w, 300.5) - spectra.PlanckWavelength(w, 299.5)) * 0.93)
	}
	return m
}

// gauss returns an approximately standard normal value from one 64-bit
// random number: the sum of four 16-bit uniforms (Irwin–Hall, variance
// 4/12 before scaling), ample for synthetic noise and 5× cheaper than an
// exact normal.
func gauss(u uint64) float32 {
	s := float32(u&0xffff) + float32(u>>16&0xffff) + float32(u>>32&0xffff) + float32(u>>48)
	const mean, scale = 2 * 65535, 1 / (65536 * 0.5773502691896258) // σ = 65536·√(4/12)
	return (s - mean) * scale
}

// line fills row (Samples × Bands, BIP) with line y of the scene.
func (m *model) line(s Scene, y int, row []float32) {
	B := m.B
	rng := rand.New(rand.NewPCG(s.Seed^0x9e3779b97f4a7c15, uint64(y)))
	var w [nEnd]float32
	for x := range s.Samples {
		var sum float32
		for e := range nEnd {
			f := 0.0
			for _, p := range m.phase[e] {
				f += math.Sin(p[0]*float64(x) + p[1]*float64(y) + p[2])
			}
			v := math.Exp(fieldAmp*f/math.Sqrt(3) + pixJitter*float64(gauss(rng.Uint64())))
			w[e] = float32(v)
			sum += w[e]
		}
		for e := range w {
			w[e] /= sum
		}
		dT := tJitterK * gauss(rng.Uint64())
		px := row[x*B : x*B+B]
		var n float32
		c := float32(math.Sqrt(1 - noiseRho*noiseRho))
		for b := range px {
			n = noiseRho*n + c*gauss(rng.Uint64())
			v := w[0]*m.L[0][b] + w[1]*m.L[1][b] + w[2]*m.L[2][b] + w[3]*m.L[3][b]
			px[b] = v + dT*m.dBdT[b] + noiseSig*n + whiteSig*gauss(rng.Uint64())
		}
	}
}

// Target returns the target spectrum the bench scores against (all bands):
// endmember 0 seen through a gas with two absorption bands (at 9.2 and
// 11.0 µm, 10% deep), the kind of signature the matched filter looks for.
func (s Scene) Target() []float64 {
	m := newModel(s)
	wl := s.Wavelengths()
	t := make([]float64, s.Bands)
	for b, w := range wl {
		d1, d2 := (w-9.2)/0.25, (w-11.0)/0.2
		a := 0.1 * (math.Exp(-d1*d1/2) + 0.6*math.Exp(-d2*d2/2))
		t[b] = float64(m.L[0][b]) * (1 - a)
	}
	return t
}

// Header returns the ENVI header of the scene: float32 BIP, wavelengths in
// micrometres, FWHM 1.2 band spacings.
func (s Scene) Header() *cube.Header {
	wl := s.Wavelengths()
	fw := make([]float64, s.Bands)
	for b := range fw {
		fw[b] = 1.2 * (13.4 - 7.6) / float64(max(1, s.Bands-1))
	}
	return &cube.Header{
		Samples: s.Samples, Lines: s.Lines, Bands: s.Bands,
		DataType: cube.Float32, Interleave: cube.BIP, FileType: "ENVI Standard",
		Wavelength: wl, WavelengthUnits: "Micrometers", FWHM: fw,
		Description: "atalaya bench synthetic LWIR radiance, W/(m2 sr um), seed " + strconv.FormatUint(s.Seed, 10),
	}
}

// Generate writes the scene to hdrPath (and the .img beside it), calling
// progress with the number of lines done after each block.
func Generate(hdrPath string, s Scene, progress func(lines int)) error {
	if s.Samples < 1 || s.Lines < 1 || s.Bands < 2 {
		return fmt.Errorf("bench: scene %d×%d×%d: want at least 1×1 pixels and 2 bands", s.Samples, s.Lines, s.Bands)
	}
	m := newModel(s)
	w, err := cube.Create(hdrPath, s.Header())
	if err != nil {
		return err
	}
	// Blocks of about 16 MiB; their lines are generated in parallel (each
	// line has its own random stream, so the result does not depend on the
	// number of workers).
	bl := max(1, (16<<20)/(s.Samples*s.Bands*4))
	buf := cube.New(image.Rect(0, 0, s.Samples, min(bl, s.Lines)), s.Bands)
	P := runtime.GOMAXPROCS(0)
	for y0 := 0; y0 < s.Lines; y0 += bl {
		n := min(bl, s.Lines-y0)
		blk := &cube.Cube{Pix: buf.Pix[:n*buf.Stride], Stride: buf.Stride, Bands: s.Bands, Rect: image.Rect(0, y0, s.Samples, y0+n)}
		var wg sync.WaitGroup
		for p := range min(P, n) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for y := p; y < n; y += P {
					m.line(s, y0+y, blk.Pix[y*blk.Stride:(y+1)*blk.Stride])
				}
			}()
		}
		wg.Wait()
		if err := w.WriteLines(blk); err != nil {
			w.Close()
			return err
		}
		if progress != nil {
			progress(n)
		}
	}
	return w.Close()
}
