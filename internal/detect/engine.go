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

// workspace is one worker's scratch, reused through a sync.Pool.
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
	pool  sync.Pool
	fn    blockFunc
}

func newEngine(bg *Background, needY bool, fn blockFunc) *engine {
	e := &engine{bg: bg, K: len(bg.Bands), needY: needY, fn: fn}
	L := bg.Labeler.NumLabels()
	e.pool.New = func() any {
		ws := &workspace{count: make([]int32, L+1), X: make([]float32, chunk*e.K)}
		if needY {
			ws.Y = make([]float32, chunk*e.K)
		}
		return ws
	}
	return e
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
	counts := make([]MaskCounts, P)
	for p := 0; p < P; p++ {
		i0, i1 := p*N/P, (p+1)*N/P
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[p] = e.rangeRun(blk, i0, i1, &out)
		}()
	}
	wg.Wait()
	var c MaskCounts
	for _, v := range counts {
		c.Add(v)
	}
	return c
}

var nan32 = float32(math.NaN())

// rangeRun scores pixels i0 ≤ i < i1 (row-major over blk.Rect).
func (e *engine) rangeRun(blk *cube.Cube, i0, i1 int, out *[3][]float32) MaskCounts {
	ws := e.pool.Get().(*workspace)
	defer e.pool.Put(ws)
	var mc MaskCounts
	bg := e.bg
	w, B, K := blk.Rect.Dx(), blk.Bands, e.K
	n := i1 - i0
	if cap(ws.lab) < n {
		ws.lab = make([]int32, n)
		ws.order = make([]int32, n)
	}
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
	return mc
}
