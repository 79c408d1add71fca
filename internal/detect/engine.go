package detect

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/kernel"
)

// chunk is the number of pixels whitened per GEMM call: 256 rows × 128–200
// bands × 4 bytes = 128–200 KiB for X and for Y, which stay in the 1 MiB L2
// next to the packed W (≤ 160 KiB).
const chunk = 256

// minPerWorker is the fewest pixels worth a goroutine (below it the
// start-up cost is comparable to the work).
const minPerWorker = 512

// span is the most pixels a worker labels and groups at a time (the
// labelled path), so its scratch is bounded whatever the block size.
const span = 8192

// workspace is one worker's scratch, reused from the engine's free list
// (not a sync.Pool, which the GC empties: blocks would then allocate).
type workspace struct {
	kw    kernel.Workspace // the GEMM's packing scratch
	lab   []int32          // label of each pixel of the span, -1 if masked
	count []int32          // per label (then start offsets)
	order []int32          // pixel indices grouped by label
	idx   []int32          // block indices of the rows of X (global path)
	X, Y  []float32        // chunk × K centred rows and their whitened images
	ss    []float32        // Σ y² of each row of Y (RX, ACE)
}

// blockFunc scores rows of ws.X (n centred pixels of label l, whose block
// indices are idx) into out.
type blockFunc interface {
	block(ws *workspace, l, n int, idx []int32, out [][]float32)
}

// bandRun is a run of consecutive cube bands b0…b0+n−1 that land in
// consecutive slots j0…j0+n−1 of a gathered row.
type bandRun struct{ b0, j0, n int }

// runsOf splits ascending band indices into runs of consecutive bands.
func runsOf(bands []int) []bandRun {
	var rs []bandRun
	for j, b := range bands {
		if n := len(rs); n > 0 && rs[n-1].b0+rs[n-1].n == b {
			rs[n-1].n++
			continue
		}
		rs = append(rs, bandRun{b0: b, j0: j, n: 1})
	}
	return rs
}

// engine runs a detector over a block: masking, labelling, grouping by
// label, centring and band selection, then the detector's blockFunc on
// chunks of rows, in parallel over pixel ranges.
//
// Masking is screened: kernel.MinMax over a pixel's candidate bands (or over
// a whole run of pixels when every band is a candidate) proves a pixel clean
// when there is no NaN, lo and hi are finite and below saturation, and the
// data ignore value lies outside [lo, hi]; only pixels the screen cannot
// clear go through the exact per-band test (pixelMask.test), so results and
// mask counts are exactly those of the exact test.
type engine struct {
	bg    *Background
	K     int
	needY bool
	fn    blockFunc
	keep  []bandRun // kept bands as runs (centring)
	cand  []bandRun // candidate bands as runs (screening)
	all   bool      // every band is a candidate: screen runs of pixels at once
	// global: one background for every pixel (Global labeler with
	// statistics): no labelling, no grouping.
	global bool
	mu     sync.Mutex
	free   []*workspace
}

func newEngine(bg *Background, needY bool, fn blockFunc) *engine {
	e := &engine{bg: bg, K: len(bg.Bands), needY: needY, fn: fn,
		keep: runsOf(bg.Bands), cand: runsOf(bg.pm.bands), all: bg.pm.all}
	switch bg.Labeler.(type) {
	case Global, *Global:
		e.global = len(bg.Stats) == 1 && bg.Stats[0] != nil
	}
	return e
}

func (e *engine) get() *workspace {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(e.free); n > 0 {
		ws := e.free[n-1]
		e.free = e.free[:n-1]
		return ws
	}
	ws := &workspace{X: make([]float32, chunk*e.K), idx: make([]int32, chunk), ss: make([]float32, chunk)}
	if !e.global {
		ws.count = make([]int32, e.bg.Labeler.NumLabels()+1)
		ws.lab, ws.order = make([]int32, span), make([]int32, span)
	}
	if e.needY {
		ws.Y = make([]float32, chunk*e.K)
	}
	return ws
}

func (e *engine) put(ws *workspace) {
	e.mu.Lock()
	e.free = append(e.free, ws)
	e.mu.Unlock()
}

func (e *engine) run(blk *cube.Cube, out [][]float32) MaskCounts {
	if blk.Bands != e.bg.NBands {
		panic(fmt.Sprintf("detect: block of %d bands scored against a background of %d", blk.Bands, e.bg.NBands))
	}
	N := blk.Pixels()
	for _, o := range out {
		if o != nil && len(o) < N {
			panic(fmt.Sprintf("detect: output of %d values for a block of %d pixels", len(o), N))
		}
	}
	if N == 0 {
		return MaskCounts{}
	}
	P := min(runtime.GOMAXPROCS(0), (N+minPerWorker-1)/minPerWorker)
	if P <= 1 {
		return e.rangeRun(blk, 0, N, out)
	}
	// Equal ranges, rounded to whole chunks so that no worker ends with a
	// short GEMM; the calling goroutine takes the last range.
	var wg sync.WaitGroup
	cs := make([]MaskCounts, P)
	bound := func(p int) int { return min(N, (p*N/P+chunk/2)/chunk*chunk) }
	for p := 0; p < P-1; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs[p] = e.rangeRun(blk, bound(p), bound(p+1), out)
		}()
	}
	cs[P-1] = e.rangeRun(blk, bound(P-1), N, out)
	wg.Wait()
	var c MaskCounts
	for _, m := range cs {
		c.Add(m)
	}
	return c
}

var nan32 = float32(math.NaN())

// test returns the reason px (all bands) is masked, or -1.
func (e *engine) test(px []float32) MaskReason {
	if e.all {
		if e.bg.pm.clean(px) {
			return -1
		}
	} else {
		ok := true
		for _, r := range e.cand {
			if !e.bg.pm.clean(px[r.b0 : r.b0+r.n]) {
				ok = false
				break
			}
		}
		if ok {
			return -1
		}
	}
	return e.bg.pm.test(px)
}

// centre writes the kept bands of px minus the mean into row.
func (e *engine) centre(row, px, mean []float32) {
	for _, r := range e.keep {
		kernel.Sub(row[r.j0:r.j0+r.n], px[r.b0:r.b0+r.n], mean[r.j0:r.j0+r.n])
	}
}

// maskOut writes NaN to every output at pixel i.
func maskOut(out [][]float32, i int) {
	for _, o := range out {
		if o != nil {
			o[i] = nan32
		}
	}
}

// rangeRun scores pixels i0 ≤ i < i1 (row-major over blk.Rect).
func (e *engine) rangeRun(blk *cube.Cube, i0, i1 int, out [][]float32) MaskCounts {
	ws := e.get()
	defer e.put(ws)
	var mc MaskCounts
	if e.global {
		e.globalRun(ws, blk, i0, i1, out, &mc)
		return mc
	}
	for j := i0; j < i1; j += span {
		e.spanRun(ws, blk, j, min(i1, j+span), out, &mc)
	}
	return mc
}

// globalRun scores pixels i0 ≤ i < i1 against the one background: runs of
// pixels along a line are screened together, clean pixels are centred
// straight into X, and every full X goes to the detector.
func (e *engine) globalRun(ws *workspace, blk *cube.Cube, i0, i1 int, out [][]float32, mc *MaskCounts) {
	w, B, K := blk.Rect.Dx(), blk.Bands, e.K
	mean := e.bg.Stats[0].Mean32
	X, idx := ws.X, ws.idx
	m := 0
	flush := func() {
		if m > 0 {
			e.fn.block(ws, 0, m, idx[:m], out)
			m = 0
		}
	}
	for i := i0; i < i1; {
		y, x := i/w, i%w
		// A run: the rest of line y within the range, at most what fits in X.
		n := min(i1-i, w-x, chunk-m)
		off := y*blk.Stride + x*B
		run := blk.Pix[off : off+n*B]
		if e.all && e.bg.pm.clean(run) {
			for p := range n {
				e.centre(X[(m+p)*K:(m+p)*K+K], run[p*B:p*B+B], mean)
				idx[m+p] = int32(i + p)
			}
			m += n
		} else {
			for p := range n {
				px := run[p*B : p*B+B]
				if r := e.test(px); r >= 0 {
					mc[r]++
					maskOut(out, i+p)
					continue
				}
				e.centre(X[m*K:m*K+K], px, mean)
				idx[m] = int32(i + p)
				m++
			}
		}
		i += n
		if m == chunk {
			flush()
		}
	}
	flush()
}

// spanRun scores pixels i0 ≤ i < i1, at most span of them, with a labeler:
// label each clean pixel, group the span's pixels by label (counting sort),
// then centre and score each label's pixels in chunks.
func (e *engine) spanRun(ws *workspace, blk *cube.Cube, i0, i1 int, out [][]float32, mc *MaskCounts) {
	bg := e.bg
	w, B, K := blk.Rect.Dx(), blk.Bands, e.K
	n := i1 - i0
	lab, order := ws.lab[:n], ws.order[:n]
	cnt := ws.count
	clear(cnt)
	for i := i0; i < i1; i++ {
		y, x := i/w, i%w
		px := blk.Pix[y*blk.Stride+x*B : y*blk.Stride+x*B+B]
		r := e.test(px)
		l := -1
		if r < 0 {
			l = bg.Labeler.Label(blk.Rect.Min.X+x, blk.Rect.Min.Y+y, px)
			if bg.Stats[l] == nil {
				r = NoStats
				l = -1
			}
		}
		if l < 0 {
			mc[r]++
			maskOut(out, i)
		} else {
			cnt[l+1]++
		}
		lab[i-i0] = int32(l)
	}
	// Counting sort by label: cnt[l] becomes the start of label l.
	for l := 1; l < len(cnt); l++ {
		cnt[l] += cnt[l-1]
	}
	for j, l := range lab {
		if l >= 0 {
			order[cnt[l]] = int32(i0 + j)
			cnt[l]++
		}
	}
	// Now cnt[l] is the end of label l.
	start := int32(0)
	for l := 0; l < len(cnt)-1; l++ {
		end := cnt[l]
		idx := order[start:end]
		start = end
		if len(idx) == 0 {
			continue
		}
		mean := bg.Stats[l].Mean32
		for len(idx) > 0 {
			m := min(len(idx), chunk)
			X := ws.X[:m*K]
			for r, i := range idx[:m] {
				y, x := int(i)/w, int(i)%w
				e.centre(X[r*K:r*K+K], blk.Pix[y*blk.Stride+x*B:y*blk.Stride+x*B+B], mean)
			}
			e.fn.block(ws, l, m, idx[:m], out)
			idx = idx[m:]
		}
	}
}
