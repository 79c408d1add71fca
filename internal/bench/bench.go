package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/detect"
	"github.com/atalaya-project/atalaya/internal/kernel"
)

// PeakGFLOPsPerCore is the float32 FMA peak of one core of the reference
// machine (DESIGN.md, "Performance facts": 116 GFLOP/s on 1 core, 233 on 2).
const PeakGFLOPsPerCore = 116.5

// Bar reports progress; *progress.Bar satisfies it.
type Bar interface {
	Add(n int64)
	Done()
}

// Config configures Run.
type Config struct {
	Scene Scene
	// Dir is where the cube is written; "" means a new temporary directory,
	// removed afterwards unless Keep.
	Dir  string
	Keep bool
	// BlockLines is the lines per block (default: about 32 MiB, as
	// `atalaya detect`).
	BlockLines int
	// Python runs the Spectral Python reference (Script on the same cube);
	// Python == "" skips it.
	Python, Script string
	Log            *slog.Logger
	NewBar         func(label string, total int64) Bar
}

// Stage is the timing of one pass over the cube.
type Stage struct {
	Name string `json:"name"`
	// Seconds is the time inside the detector (or accumulator) calls;
	// SecondsIO the wall time of the pass including the reads.
	Seconds   float64 `json:"seconds"`
	SecondsIO float64 `json:"seconds_with_io"`
	Mpix      float64 `json:"mpix_per_s"`
	MpixIO    float64 `json:"mpix_per_s_with_io"`
	// FlopsPerPixel and its formula (K kept bands); 0 for reading.
	FlopsPerPixel float64 `json:"flops_per_pixel"`
	Flops         string  `json:"flop_count,omitempty"`
	GFLOPs        float64 `json:"gflop_per_s"`
	PctPeak       float64 `json:"pct_peak"`
	GBs           float64 `json:"gb_per_s"`
	PctReadBW     float64 `json:"pct_read_bandwidth"`
	// SPyMpix is Spectral Python's throughput on the same cube (0: not run
	// or no equivalent) and Speedup Mpix / SPyMpix.
	SPyMpix float64 `json:"spy_mpix_per_s,omitempty"`
	Speedup float64 `json:"speedup,omitempty"`
	// Checksum is the sum of the scores over the cube (NaN left out; RX,
	// ACE, CEM scores, the matched filter's ĉ) and SPyChecksum Spectral
	// Python's, which it equals up to rounding for RX, MF and ACE (same
	// unshrunk statistics, t = target − μ).
	Checksum    float64 `json:"checksum,omitempty"`
	SPyChecksum float64 `json:"spy_checksum,omitempty"`
}

// Result is what Run measured.
type Result struct {
	CPU        string  `json:"cpu"`
	Cores      int     `json:"cores"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	GoVersion  string  `json:"go_version"`
	PeakGFLOPs float64 `json:"peak_gflop_per_s"`
	ReadBWGBs  float64 `json:"read_bandwidth_gb_per_s"`
	Cube       string  `json:"cube"`
	Samples    int     `json:"samples"`
	Lines      int     `json:"lines"`
	Bands      int     `json:"bands"`
	KeptBands  int     `json:"kept_bands"`
	CubeBytes  int64   `json:"cube_bytes"`
	BlockLines int     `json:"block_lines"`
	GenSeconds float64 `json:"generate_seconds"`
	Stages     []Stage `json:"stages"`
	// Reference is Spectral Python's JSON (scripts/spy_bench.py), nil if
	// not run; ReferenceNote says why not, or how it went.
	Reference     map[string]any `json:"spy,omitempty"`
	ReferenceNote string         `json:"spy_note,omitempty"`
}

// Run generates the cube, times every stage and runs the reference.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.NewBar == nil {
		cfg.NewBar = func(string, int64) Bar { return nopBar{} }
	}
	s := cfg.Scene
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "atalaya-bench-")
		if err != nil {
			return nil, err
		}
		dir = d
		if !cfg.Keep {
			defer os.RemoveAll(d)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	hdr := filepath.Join(dir, fmt.Sprintf("bench-%dx%dx%d.hdr", s.Samples, s.Lines, s.Bands))
	res := &Result{CPU: cpuModel(), Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), Cube: hdr, Samples: s.Samples, Lines: s.Lines, Bands: s.Bands,
		CubeBytes: int64(s.Samples) * int64(s.Lines) * int64(s.Bands) * 4}
	res.PeakGFLOPs = PeakGFLOPsPerCore * float64(min(res.Cores, res.GOMAXPROCS))

	t0 := time.Now()
	bar := cfg.NewBar("generate cube", int64(s.Lines))
	err := Generate(hdr, s, func(n int) { bar.Add(int64(n)) })
	bar.Done()
	if err != nil {
		return nil, err
	}
	if !cfg.Keep {
		defer os.Remove(hdr)
		defer os.Remove(strings.TrimSuffix(hdr, ".hdr") + ".img")
	}
	res.GenSeconds = time.Since(t0).Seconds()
	cfg.Log.Info("generated cube", "path", hdr, "bytes", res.CubeBytes, "seconds", res.GenSeconds)

	res.ReadBWGBs = ReadBandwidth(256 << 20)
	cfg.Log.Info("memory read bandwidth", "GB/s", res.ReadBWGBs)

	f, err := cube.Open(hdr)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bl := cfg.BlockLines
	if bl <= 0 {
		bl = max(1, (32<<20)/(s.Samples*s.Bands*4))
	}
	bl = min(bl, s.Lines)
	res.BlockLines = bl
	st := &streamer{f: f, block: bl, ctx: ctx, newBar: cfg.NewBar}

	// Reading alone.
	rd, err := st.pass("read", func(*cube.Cube) {})
	if err != nil {
		return nil, err
	}
	res.add(rd, 0, "")

	// Background statistics over every pixel, unshrunk (N−1) as Spectral
	// Python's calc_stats, so that the scores can be compared.
	acc := detect.NewAccumulator(s.Bands, detect.StatsOptions{Shrink: detect.ShrinkNone})
	sp, err := st.pass("statistics", func(b *cube.Cube) { acc.Add(b, nil) })
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	bg, err := acc.Finish()
	if err != nil {
		return nil, err
	}
	fin := time.Since(t1).Seconds()
	sp.Seconds += fin
	sp.SecondsIO += fin
	K := len(bg.Bands)
	res.KeptBands = K
	kf := float64(K)
	res.add(sp, kf*(kf+1), "K(K+1)")

	target := s.Target()
	mu := bg.MeanSpectrum()
	tc := make([]float64, len(target)) // target − μ, as Spectral Python forms it
	for b := range tc {
		tc[b] = target[b] - mu[b]
	}
	mf, err := detect.NewMatchedFilter(bg, tc)
	if err != nil {
		return nil, err
	}
	ace, err := detect.NewACE(bg, tc)
	if err != nil {
		return nil, err
	}
	cem, err := detect.NewCEM(bg, target)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, bl*s.Samples)
	// The matched filter is timed retrieving ĉ (Spectral Python's output;
	// Score's z-score costs the same).
	mfc := retrieveC{mf}
	for _, d := range []struct {
		name  string
		det   detect.Detector
		flops float64
		form  string
	}{
		{"RX", detect.NewRX(bg), 2*kf*kf + 2*kf, "2K²+2K"},
		{"MF", mfc, 2 * kf, "2K"},
		{"ACE", ace, 2*kf*kf + 4*kf, "2K²+4K"},
		{"CEM", cem, 2 * kf, "2K"},
	} {
		sum := 0.0
		ds, err := st.pass(d.name, func(b *cube.Cube) {
			out := dst[:b.Pixels()]
			d.det.Score(out, b)
			for _, v := range out {
				if v == v {
					sum += float64(v)
				}
			}
		})
		if err != nil {
			return nil, err
		}
		ds.Checksum = sum
		res.add(ds, d.flops, d.form)
	}

	if cfg.Python != "" {
		cfg.Log.Info("running Spectral Python", "python", cfg.Python, "script", cfg.Script)
		res.Reference, res.ReferenceNote = runReference(ctx, cfg, hdr, target, dir)
		res.compare()
	} else {
		res.ReferenceNote = "not run (--no-reference)"
	}
	return res, nil
}

// retrieveC scores with the matched filter's ĉ.
type retrieveC struct{ mf *detect.MatchedFilter }

func (r retrieveC) Score(dst []float32, blk *cube.Cube) detect.MaskCounts {
	return r.mf.Retrieve(dst, nil, nil, blk)
}

type nopBar struct{}

func (nopBar) Add(int64) {}
func (nopBar) Done()     {}

// streamer reads the cube in blocks, as `atalaya detect` does.
type streamer struct {
	f      *cube.File
	block  int
	ctx    context.Context
	newBar func(string, int64) Bar
	buf    *cube.Cube
}

// pass reads every block and calls fn on it, timing fn alone and the whole.
func (s *streamer) pass(name string, fn func(*cube.Cube)) (Stage, error) {
	h := s.f.Header
	if s.buf == nil {
		s.buf = cube.New(image.Rect(0, 0, h.Samples, s.block), h.Bands)
	}
	bar := s.newBar(name, int64(h.Lines))
	defer bar.Done()
	var in time.Duration
	t0 := time.Now()
	for y := 0; y < h.Lines; y += s.block {
		if err := s.ctx.Err(); err != nil {
			return Stage{}, err
		}
		blk := &cube.Cube{Pix: s.buf.Pix, Stride: s.buf.Stride, Bands: h.Bands, Rect: image.Rect(0, y, h.Samples, min(y+s.block, h.Lines))}
		blk.Pix = blk.Pix[:blk.Rect.Dy()*blk.Stride]
		if err := s.f.ReadLines(blk); err != nil {
			return Stage{}, fmt.Errorf("%s: %w", name, err)
		}
		t := time.Now()
		fn(blk)
		in += time.Since(t)
		bar.Add(int64(blk.Rect.Dy()))
	}
	st := Stage{Name: name, Seconds: in.Seconds(), SecondsIO: time.Since(t0).Seconds()}
	if name == "read" {
		st.Seconds = st.SecondsIO // reading is the work
	}
	return st, nil
}

// add fills in the derived figures of st and appends it.
func (r *Result) add(st Stage, flopsPerPixel float64, form string) {
	px := float64(r.Samples) * float64(r.Lines)
	st.Mpix = px / st.Seconds / 1e6
	st.MpixIO = px / st.SecondsIO / 1e6
	st.FlopsPerPixel, st.Flops = flopsPerPixel, form
	st.GFLOPs = px * flopsPerPixel / st.Seconds / 1e9
	st.PctPeak = 100 * st.GFLOPs / r.PeakGFLOPs
	st.GBs = float64(r.CubeBytes) / st.Seconds / 1e9
	st.PctReadBW = 100 * st.GBs / r.ReadBWGBs
	r.Stages = append(r.Stages, st)
}

// compare fills in Spectral Python's throughput and the speed-ups.
func (r *Result) compare() {
	if r.Reference == nil {
		return
	}
	px, _ := r.Reference["pixels"].(float64)
	for i := range r.Stages {
		st := &r.Stages[i]
		key := map[string]string{"statistics": "stats_s", "RX": "rx_s", "MF": "mf_s", "ACE": "ace_s", "read": "load_s"}[st.Name]
		if sec, ok := r.Reference[key].(float64); ok && sec > 0 && px > 0 {
			st.SPyMpix = px / sec / 1e6
			st.Speedup = st.Mpix / st.SPyMpix
		}
		if key != "" && st.Checksum != 0 {
			st.SPyChecksum, _ = r.Reference[strings.TrimSuffix(key, "_s")+"_checksum"].(float64)
		}
	}
}

// runReference runs Spectral Python on the cube; on failure it returns nil
// and a note that says what to do.
func runReference(ctx context.Context, cfg Config, hdr string, target []float64, dir string) (map[string]any, string) {
	if _, err := os.Stat(cfg.Script); err != nil {
		return nil, fmt.Sprintf("not run: script %s: %v (run from the repository root, or give --spy-script)", cfg.Script, err)
	}
	check := exec.CommandContext(ctx, cfg.Python, "-c", "import spectral, numpy")
	if out, err := check.CombinedOutput(); err != nil {
		return nil, fmt.Sprintf("not run: %s cannot import spectral (%v: %s); install it with `apt-get install python3-spectral`",
			cfg.Python, err, strings.TrimSpace(string(out)))
	}
	tp := filepath.Join(dir, "bench-target.txt")
	var tb strings.Builder
	for _, v := range target {
		tb.WriteString(strconv.FormatFloat(v, 'g', -1, 64) + "\n")
	}
	if err := os.WriteFile(tp, []byte(tb.String()), 0o644); err != nil {
		return nil, "not run: " + err.Error()
	}
	defer os.Remove(tp)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, cfg.Python, cfg.Script, hdr, tp)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Sprintf("failed: %v: %s", err, tail(stderr.String(), 400))
	}
	var ref map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &ref); err != nil {
		return nil, fmt.Sprintf("failed: output is not JSON (%v): %s", err, tail(stdout.String(), 400))
	}
	return ref, fmt.Sprintf("Spectral Python %v, numpy %v, BLAS %v", ref["spectral_version"], ref["numpy_version"], ref["blas"])
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// ReadBandwidth measures the memory read bandwidth in GB/s: GOMAXPROCS
// goroutines each sum their share of an array of size bytes (kernel.Dot of
// a slice with itself reads each byte once), best of five.
func ReadBandwidth(size int) float64 {
	x := make([]float32, size/4)
	for i := range x {
		x[i] = 1
	}
	P := runtime.GOMAXPROCS(0)
	best := 0.0
	for range 5 {
		var wg sync.WaitGroup
		t0 := time.Now()
		for p := range P {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := x[p*len(x)/P : (p+1)*len(x)/P]
				if kernel.Dot(s, s) < 0 {
					panic("bench: negative sum of squares")
				}
			}()
		}
		wg.Wait()
		best = math.Max(best, float64(size)/time.Since(t0).Seconds()/1e9)
	}
	return best
}

// cpuModel returns the "model name" of /proc/cpuinfo, or GOARCH.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// WriteTable prints the result as a table.
func (r *Result) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "cube %d×%d×%d float32 BIP (%.2f GB), %d kept bands, blocks of %d lines; %s, %d cores, GOMAXPROCS %d, %s\n",
		r.Samples, r.Lines, r.Bands, float64(r.CubeBytes)/1e9, r.KeptBands, r.BlockLines, r.CPU, r.Cores, r.GOMAXPROCS, r.GoVersion)
	fmt.Fprintf(w, "peak %.0f GFLOP/s (float32 FMA, DESIGN.md); memory read bandwidth %.1f GB/s (measured now)\n", r.PeakGFLOPs, r.ReadBWGBs)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "METHOD\tGo Mpix/s\twith I/O\tFLOP/px\tGFLOP/s\t% PEAK\tGB/s\t% READ BW\tSPy Mpix/s\tSPEED-UP\t")
	for _, s := range r.Stages {
		flop, gf, pk := "-", "-", "-"
		if s.FlopsPerPixel > 0 {
			flop, gf, pk = s.Flops, fmt.Sprintf("%.1f", s.GFLOPs), fmt.Sprintf("%.0f%%", s.PctPeak)
		}
		spy, up := "-", "-"
		if s.SPyMpix > 0 {
			spy, up = fmt.Sprintf("%.3g", s.SPyMpix), fmt.Sprintf("%.1f×", s.Speedup)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%s\t%s\t%s\t%.1f\t%.0f%%\t%s\t%s\t\n",
			s.Name, s.Mpix, s.MpixIO, flop, gf, pk, s.GBs, s.PctReadBW, spy, up)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "K = %d kept bands; 'Go Mpix/s' times the detector calls alone, 'with I/O' the whole pass with block reads (page cache).\n", r.KeptBands)
	if r.ReferenceNote != "" {
		fmt.Fprintf(w, "reference: %s\n", r.ReferenceNote)
	}
	var cs []string
	for _, s := range r.Stages {
		if s.SPyChecksum != 0 {
			cs = append(cs, fmt.Sprintf("%s %.7g vs %.7g", s.Name, s.Checksum, s.SPyChecksum))
		}
	}
	if len(cs) > 0 {
		fmt.Fprintf(w, "sum of scores, Go vs Spectral Python (MF: ĉ, whose sum is 0 up to rounding): %s\n", strings.Join(cs, "; "))
	}
	return nil
}

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ErrNoScript is returned by FindScript when spy_bench.py is not found.
var ErrNoScript = errors.New("bench: scripts/spy_bench.py not found")

// FindScript looks for scripts/spy_bench.py in dir and its parents (the
// repository root when run from inside the repository).
func FindScript(dir string) (string, error) {
	for d := dir; ; {
		p := filepath.Join(d, "scripts", "spy_bench.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", ErrNoScript
		}
		d = parent
	}
}
