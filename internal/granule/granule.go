package granule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/detect"
	"github.com/atalaya-project/atalaya/internal/plume"
	"github.com/atalaya-project/atalaya/internal/spectra"
)

// ErrConfig is wrapped by errors about what was asked for, as opposed to
// what is in the cube.
var ErrConfig = errors.New("granule: bad configuration")

// Method names, as the command line takes them.
const (
	MethodMF  = "mf"
	MethodACE = "ace"
	MethodRX  = "rx"
	MethodCEM = "cem"
)

// HeaderKeyAirTemp is the ENVI header key from which the plume temperature
// is read when the configuration does not give it (the simulator writes it).
const HeaderKeyAirTemp = "atalaya air temperature k"

// Bar reports the progress of one stage of work.
type Bar interface {
	Add(n int64)
	Done()
}

// Config says what to detect in which cube, and where to write it.
type Config struct {
	Cube    string   // ENVI header (or data file) path
	OutDir  string   // where score cubes and detections go
	Methods []string // of mf, ace, rx, cem
	Gases   []string // library names; needed by mf, ace and cem
	// FARPerKm2 is the false-alarm rate per km² surveyed for the whole run.
	FARPerKm2 float64
	// PixelSizeM overrides the pixel size from the header's map info (m); it
	// is required when the cube has no map info.
	PixelSizeM float64
	// PlumeTempK is the plume (air) temperature for thermal targets; 0 reads
	// the header key HeaderKeyAirTemp.
	PlumeTempK float64
	// Transmittance between plume and sensor, 0 < τ ≤ 1; 0 means 1.
	Transmittance float64
	// Background is "global" (default), "columns" (per cross-track column
	// group, for pushbroom sensors) or "clusters" (k-means classes).
	Background string
	// ColumnWidth groups columns for the "columns" background (default 1).
	ColumnWidth int
	// Clusters is k for the "clusters" background (default 6).
	Clusters int
	// Passes is 1, or 2 (default) to estimate the background again without
	// the plume pixels the first pass found.
	Passes int
	// ExcludeZ is the matched-filter z-score above which a pixel is left out
	// of the second pass's statistics (default 4).
	ExcludeZ float64
	// BlockLines is the number of lines read at a time (default: enough for
	// about 32 MiB of float32 pixels).
	BlockLines int
	// StatsStride subsamples the background statistics (default: every
	// pixel up to 2·10⁵ pixels, sparser beyond).
	StatsStride int
	Library     *spectra.Library
	// Wind during the pass, for grouping a plume's puffs and quantifying
	// plumes (emission rate, origin); nil reads the header's pass
	// metadata (cube.PassMeta), and without a wind there neither, plumes
	// are not quantified.
	Wind *plume.Wind
	// UEff is the effective-wind calibration of the rate (default
	// plume.DefaultUEff).
	UEff *plume.UEff
	Log  *slog.Logger
	// NewBar starts a progress report of total units; nil: none.
	NewBar func(label string, total int64) Bar
}

// Output is one score or retrieval cube written.
type Output struct {
	Kind   string `json:"kind"` // score, ppmm, ppmm-sigma
	Method string `json:"method"`
	Gas    string `json:"gas,omitempty"`
	Path   string `json:"path"`
}

// Test is one detection test: a method (and gas) thresholded for its share
// of the false-alarm rate.
type Test struct {
	Method    string  `json:"method"`
	Gas       string  `json:"gas,omitempty"`
	FARPerKm2 float64 `json:"far_per_km2"`
	PixelProb float64 `json:"pixel_probability"`
	Threshold float64 `json:"threshold"`
	LowThresh float64 `json:"low_threshold"`
	TailXi    float64 `json:"tail_xi"`
	// Asymmetry is how many times more background pixels lie in the upper
	// tail than in the mirrored lower one (matched filter; ≥ 1).
	Asymmetry float64 `json:"tail_asymmetry"`
	// Unexplained counts the pixels above the threshold that were left out
	// as unexplained anomalies (their residual dwarfs their gas signal).
	Unexplained int `json:"unexplained_pixels"`
	Detections  int `json:"detections"`
	// SigmaPPMm is the median 1σ of the ppm·m retrieval (matched filter only),
	// and MDCppmm the minimum detectable column at this test's threshold.
	SigmaPPMm float64 `json:"sigma_ppmm,omitempty"`
	MDCppmm   float64 `json:"min_detectable_ppmm,omitempty"`
}

// Result summarises a run.
type Result struct {
	Cube       string            `json:"cube"`
	Samples    int               `json:"samples"`
	Lines      int               `json:"lines"`
	Bands      int               `json:"bands"`
	KeptBands  int               `json:"kept_bands"`
	PixelSizeM [2]float64        `json:"pixel_size_m"`
	AreaKm2    float64           `json:"area_km2"`
	PlumeTempK float64           `json:"plume_temp_k,omitempty"`
	Masked     detect.MaskReport `json:"masked"`
	Excluded   int               `json:"second_pass_excluded_pixels"`
	Outputs    []Output          `json:"outputs"`
	Tests      []Test            `json:"tests"`
	Detections []Detection       `json:"-"`
	GeoJSON    string            `json:"detections_geojson"`
	// Wind is the pass's wind the plumes were quantified with, if known.
	Wind         *plume.Wind        `json:"wind,omitempty"`
	Seconds      float64            `json:"seconds"`
	StageSeconds map[string]float64 `json:"stage_seconds"`
}

func (c *Config) defaults() error {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.NewBar == nil {
		c.NewBar = func(string, int64) Bar { return nopBar{} }
	}
	if len(c.Methods) == 0 {
		c.Methods = []string{MethodMF}
	}
	seen := map[string]bool{}
	for i, m := range c.Methods {
		m = strings.ToLower(strings.TrimSpace(m))
		c.Methods[i] = m
		switch m {
		case MethodMF, MethodACE, MethodCEM, MethodRX:
		default:
			return fmt.Errorf("%w: method %q: want mf, ace, rx or cem", ErrConfig, m)
		}
		if seen[m] {
			return fmt.Errorf("%w: method %q given twice", ErrConfig, m)
		}
		seen[m] = true
	}
	needGas := seen[MethodMF] || seen[MethodACE] || seen[MethodCEM]
	if needGas && len(c.Gases) == 0 {
		return fmt.Errorf("%w: methods mf, ace and cem need --gas (see `atalaya library list`)", ErrConfig)
	}
	if c.FARPerKm2 <= 0 || math.IsNaN(c.FARPerKm2) || math.IsInf(c.FARPerKm2, 0) {
		return fmt.Errorf("%w: false-alarm rate %g per km² must be positive", ErrConfig, c.FARPerKm2)
	}
	if c.PixelSizeM < 0 {
		return fmt.Errorf("%w: pixel size %g m is negative", ErrConfig, c.PixelSizeM)
	}
	if c.Transmittance == 0 {
		c.Transmittance = 1
	}
	if c.Transmittance < 0 || c.Transmittance > 1 {
		return fmt.Errorf("%w: transmittance %g is not in (0, 1]", ErrConfig, c.Transmittance)
	}
	if c.Passes == 0 {
		c.Passes = 2
	}
	if c.Passes != 1 && c.Passes != 2 {
		return fmt.Errorf("%w: passes %d: want 1 or 2", ErrConfig, c.Passes)
	}
	if c.ExcludeZ == 0 {
		c.ExcludeZ = 4
	}
	switch c.Background {
	case "":
		c.Background = "global"
	case "global", "columns", "clusters":
	default:
		return fmt.Errorf("%w: background %q: want global, columns or clusters", ErrConfig, c.Background)
	}
	if c.ColumnWidth <= 0 {
		c.ColumnWidth = 1
	}
	if c.Clusters <= 0 {
		c.Clusters = 6
	}
	if c.Library == nil && needGas {
		lib, err := spectra.Default()
		if err != nil {
			return err
		}
		c.Library = lib
	}
	if c.OutDir == "" {
		return fmt.Errorf("%w: no output directory", ErrConfig)
	}
	return nil
}

type nopBar struct{}

func (nopBar) Add(int64) {}
func (nopBar) Done()     {}

// run holds the state of one Process call.
type run struct {
	cfg    Config
	f      *cube.File
	h      *cube.Header
	res    *Result
	block  int
	wl, fw []float64 // band centres and FWHM, µm
	geo    *cube.Georef
	area   float64 // pixel area, m²
	wind   *plume.Wind
	gases  []gasTarget
	// The residual cube and its subsample (aligned with every detector's
	// samples), and the level above which a pixel is an unexplained anomaly.
	residualPath    string
	residualSamples []float32
	residualLimit   float32
	// What the matched filter was built from (evidence.go).
	sig      *signatures
	keep     []int
	ppmmMaps map[string][]float32 // by gas, read for the evidence
}

type gasTarget struct {
	name  string
	entry *spectra.Entry
	k     []float64 // per band, natural log per ppm·m
}

// Process runs detection on one cube. It returns the summary, also written
// as DIR/summary.json.
func Process(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	f, err := cube.Open(cfg.Cube)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &run{cfg: cfg, f: f, h: f.Header, res: &Result{Cube: f.HdrPath, StageSeconds: map[string]float64{}}}
	h := r.h
	r.res.Samples, r.res.Lines, r.res.Bands = h.Samples, h.Lines, h.Bands
	if err := r.geometry(); err != nil {
		return nil, err
	}
	if err := r.bands(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	r.block = cfg.BlockLines
	if r.block <= 0 {
		r.block = max(1, (32<<20)/(4*h.Samples*h.Bands))
	}
	if err := r.detectAll(ctx); err != nil {
		return nil, err
	}
	r.res.Seconds = time.Since(start).Seconds()
	if err := writeJSON(filepath.Join(cfg.OutDir, "summary.json"), r.res); err != nil {
		return nil, err
	}
	return r.res, nil
}

// geometry sets the pixel size and area from map info or the configuration.
func (r *run) geometry() error {
	h := r.h
	geo, err := h.Georef()
	switch {
	case err == nil:
		r.geo = geo
	case errors.Is(err, cube.ErrNoGeoref):
	default:
		r.cfg.Log.Warn("map info not usable; detections will have pixel coordinates only", "err", err)
	}
	dx, dy := r.cfg.PixelSizeM, r.cfg.PixelSizeM
	if dx == 0 {
		if r.geo == nil {
			return fmt.Errorf("%w: %s has no usable map info, so the false-alarm rate per km² needs --pixel-size (metres)", ErrConfig, r.f.HdrPath)
		}
		dx, dy = r.geo.PixelSizeMeters()
	}
	r.res.PixelSizeM = [2]float64{dx, dy}
	r.area = dx * dy
	if r.cfg.Wind != nil {
		w := *r.cfg.Wind
		r.wind = &w
	} else {
		meta, err := h.PassMeta()
		if err != nil {
			return err
		}
		if meta.HasWind() {
			r.wind = &plume.Wind{SpeedMS: meta.WindSpeedMS, FromDeg: meta.WindFromDeg}
		}
	}
	if r.wind != nil {
		if r.wind.SigmaMS == 0 {
			r.wind.SigmaMS = defaultWindSigma(r.wind.SpeedMS)
		}
		if r.wind.SigmaDirDeg == 0 {
			r.wind.SigmaDirDeg = defaultWindDirSigmaDeg
		}
		r.res.Wind = r.wind
	}
	r.res.AreaKm2 = r.area * float64(h.Samples) * float64(h.Lines) / 1e6
	return nil
}

// bands reads the band centres and widths in µm.
func (r *run) bands() error {
	h := r.h
	if len(h.Wavelength) == 0 {
		for _, m := range r.cfg.Methods {
			if m != MethodRX {
				return fmt.Errorf("%w: %s has no wavelength in its header: gas detection needs the bands' wavelengths (only --method rx works without)", cube.ErrFormat, r.f.HdrPath)
			}
		}
		return nil
	}
	scale, recip, err := wavelengthUnits(h.WavelengthUnits, h.Wavelength)
	if err != nil {
		return fmt.Errorf("%s: %w", r.f.HdrPath, err)
	}
	r.wl = make([]float64, h.Bands)
	r.fw = make([]float64, h.Bands)
	for b, w := range h.Wavelength {
		if recip {
			r.wl[b] = 1e4 / w
		} else {
			r.wl[b] = w * scale
		}
	}
	for b := range r.fw {
		switch {
		case len(h.FWHM) == h.Bands && recip:
			// A width in cm⁻¹ at ν is a width of 10⁴·Δν/ν² in µm.
			r.fw[b] = 1e4 * h.FWHM[b] / (h.Wavelength[b] * h.Wavelength[b])
		case len(h.FWHM) == h.Bands:
			r.fw[b] = h.FWHM[b] * scale
		default:
			r.fw[b] = bandSpacing(r.wl, b)
		}
		if !(r.fw[b] > 0) {
			return fmt.Errorf("%w: %s: band %d has width %g µm", cube.ErrFormat, r.f.HdrPath, b, r.fw[b])
		}
	}
	return nil
}

// wavelengthUnits returns the factor to µm, or recip for wavenumbers (cm⁻¹).
func wavelengthUnits(units string, wl []float64) (scale float64, recip bool, err error) {
	u := strings.ToLower(strings.TrimSpace(units))
	switch u {
	case "micrometers", "micrometer", "microns", "micron", "um", "µm", "μm":
		return 1, false, nil
	case "nanometers", "nanometer", "nm":
		return 1e-3, false, nil
	case "millimeters", "mm":
		return 1e3, false, nil
	case "wavenumber", "cm-1", "1/cm":
		return 0, true, nil
	case "", "unknown":
		// ENVI leaves units out often; imaging spectrometers from 0.35 to
		// 15 µm make the guess safe: nanometre values are above 300.
		if slices.Max(wl) > 100 {
			return 1e-3, false, nil
		}
		return 1, false, nil
	}
	return 0, false, fmt.Errorf("%w: wavelength units = %q: want Micrometers, Nanometers or Wavenumber", cube.ErrFormat, units)
}

func bandSpacing(wl []float64, b int) float64 {
	switch {
	case len(wl) < 2:
		return 0
	case b == 0:
		return math.Abs(wl[1] - wl[0])
	case b == len(wl)-1:
		return math.Abs(wl[b] - wl[b-1])
	}
	return math.Abs(wl[b+1]-wl[b-1]) / 2
}

// plumeTemp returns the plume temperature for thermal targets.
func (r *run) plumeTemp() (float64, error) {
	if r.cfg.PlumeTempK > 0 {
		return r.cfg.PlumeTempK, nil
	}
	if v, ok := r.h.Fields[HeaderKeyAirTemp]; ok {
		t, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || t < 150 || t > 400 {
			return 0, fmt.Errorf("%w: header %s = %q is not a temperature in kelvin", cube.ErrFormat, HeaderKeyAirTemp, v)
		}
		return t, nil
	}
	return 0, fmt.Errorf("%w: the thermal target needs the plume (air) temperature: give --plume-temp in kelvin (from the flight's weather)", ErrConfig)
}

func (r *run) stage(name string, t0 time.Time) {
	d := time.Since(t0).Seconds()
	r.res.StageSeconds[name] += d
	r.cfg.Log.Debug("stage done", "stage", name, "seconds", d)
}
