package detect

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/atalaya-project/atalaya/internal/cube"
)

// chunk is the number of pixels whitened per Sgemm call: 256 rows × 200
// bands × 4 bytes = 200 KB for X and for Y, which stay in L2.
const chunk = 256

// minPerWorker is the fewest pixels worth a goroutine (below it the
// start-up cost is comparable to the work).
const minPerWorker = 512

// span is the most pixels a worker labels and groups at a time, so its
// scratch is bounded whatever the block size.
const span = 8192

// workspace is one worker's scratch, reused from the engine's free list
// (not a sync.Pool, which the GC empties: blocks would then allocate).
type workspace struct {
	lab   []int32   // label of each pixel of the range, -1 if masked
	count []int32   // per label (then start offsets)
	order []int32   // pixel indices grouped by label
	X, Y  []float32 // chunk × K centred rows and their whitened images
}

// blockFunc scores rows of ws.X (n centred pixels of label l, whose block
// indices are idx) into out.
type blockFunc interface {
	block(ws *workspace, l, n int, idx []int32, out *[3][]float32)
}

// engine runs a detector over a block: masking, labelling, grouping by
// label, centring and band selection, then the detector's blockFunc on
// chunks of rows, in parallel over pixel ranges.
type engine struct {
	bg    *Background
	K     int
	needY bool
	fn    blockFunc
	mu    sync.Mutex
	free  []*workspace
}

func (e *engine) get() *workspace {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(e.free); n > 0 {
		ws := e.free[n-1]
		e.free = e.free[:n-1]
		return ws
	}
	ws := &workspace{count: make([]int32, e.bg.Labeler.NumLabels()+1), X: make([]float32, chunk*e.K),
		lab: make([]int32, span), order: make([]int32, span)}
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

func newEngine(bg *Background, needY bool, fn blockFunc) *engine {
	return &engine{bg: bg, K: len(bg.Bands), needY: needY, fn: fn}
}

func (e *engine) run(blk *cube.Cube, out [3][]float32) MaskCounts {
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
		return e.rangeRun(blk, 0, N, &out)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var c MaskCounts
	for p := 0; p < P; p++ {
		i0, i1 := p*N/P, (p+1)*N/P
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := e.rangeRun(blk, i0, i1, &out)
			mu.Lock()
			c.Add(m)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return c
}

var nan32 = float32(math.NaN())

// rangeRun scores pixels i0 ≤ i < i1 (row-major over blk.Rect).
func (e *engine) rangeRun(blk *cube.Cube, i0, i1 int, out *[3][]float32) MaskCounts {
	ws := e.get()
	defer e.put(ws)
	var mc MaskCounts
	for j := i0; j < i1; j += span {
		e.spanRun(ws, blk, j, min(i1, j+span), out, &mc)
	}
	return mc
}

// spanRun scores pixels i0 ≤ i < i1, at most span of them.
func (e *engine) spanRun(ws *workspace, blk *cube.Cube, i0, i1 int, out *[3][]float32, mc *MaskCounts) {
	bg := e.bg
	w, B, K := blk.Rect.Dx(), blk.Bands, e.K
	n := i1 - i0
	lab, order := ws.lab[:n], ws.order[:n]
	cnt := ws.count
	clear(cnt)
	for i := i0; i < i1; i++ {
		y, x := i/w, i%w
		px := blk.Pix[y*blk.Stride+x*B : y*blk.Stride+x*B+B]
		r := bg.pm.test(px)
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
			for _, o := range out {
				if o != nil {
					o[i] = nan32
				}
			}
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
		st := bg.Stats[l]
		for len(idx) > 0 {
			m := min(len(idx), chunk)
			X := ws.X[:m*K]
			for r, i := range idx[:m] {
				y, x := int(i)/w, int(i)%w
				px := blk.Pix[y*blk.Stride+x*B : y*blk.Stride+x*B+B]
				row := X[r*K : r*K+K]
				for j, b := range bg.Bands {
					row[j] = px[b] - st.Mean32[j]
				}
			}
			e.fn.block(ws, l, m, idx[:m], out)
			idx = idx[m:]
		}
	}
}
