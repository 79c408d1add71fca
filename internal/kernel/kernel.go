package kernel

import "sync"

// Sgemm computes C = A·B, or C += A·B when accumulate is true, for row-major
// float32 matrices: A is m×k with row stride lda, B is k×n with row stride ldb,
// C is m×n with row stride ldc.
//
// Elements of C outside the m×n block (the gaps left by ldc > n) are never
// written. When accumulate is false, C is not read, so it may hold anything
// (NaN included) on entry. Sgemm runs on the calling goroutine; it is safe to
// call concurrently on disjoint C.
func Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	checkGemm(m, n, k, a, lda, b, ldb, c, ldc)
	sgemm(useAsm, nil, m, n, k, a, lda, b, ldb, c, ldc, accumulate, nil)
}

// SgemmSumSq is Sgemm followed by sumsq[i] = Σ_j C[i,j]² for each of the m rows
// of the updated C (float32 sums). It is for the detectors that need the
// squared norm of every whitened pixel (RX: ‖y‖², ACE: the denominator): the
// fast path computes each row's sum while that row is still in cache, which
// saves a second pass over C. sumsq must have length ≥ m; its first m
// elements are overwritten, the rest are untouched.
func SgemmSumSq(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool, sumsq []float32) {
	checkGemm(m, n, k, a, lda, b, ldb, c, ldc)
	if len(sumsq) < m {
		panic("kernel: SgemmSumSq sumsq too short")
	}
	sgemm(useAsm, nil, m, n, k, a, lda, b, ldb, c, ldc, accumulate, sumsq[:m])
}

// A Workspace holds the scratch memory of the fast GEMM path: the packed
// block of B (≤ 128 Ki floats, 512 KiB) and two small tiles (13 KiB). The zero
// value is ready to use; a Workspace grows to the largest block it has seen
// and then never allocates again. It must not be used by two goroutines at
// once. The package-level Sgemm and SgemmSumSq take workspaces from an
// internal sync.Pool, which allocates only when a goroutine meets a larger
// problem or a pool entry was dropped by the GC; a worker that wants a hard
// no-allocation guarantee keeps its own Workspace and calls its methods.
type Workspace struct {
	scratch // per architecture: empty without assembly kernels
}

var workspaces = sync.Pool{New: func() any { return new(Workspace) }}

// Sgemm is the package-level Sgemm with w's scratch memory.
func (w *Workspace) Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	checkGemm(m, n, k, a, lda, b, ldb, c, ldc)
	sgemm(useAsm, w, m, n, k, a, lda, b, ldb, c, ldc, accumulate, nil)
}

// SgemmSumSq is the package-level SgemmSumSq with w's scratch memory.
func (w *Workspace) SgemmSumSq(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool, sumsq []float32) {
	checkGemm(m, n, k, a, lda, b, ldb, c, ldc)
	if len(sumsq) < m {
		panic("kernel: SgemmSumSq sumsq too short")
	}
	sgemm(useAsm, w, m, n, k, a, lda, b, ldb, c, ldc, accumulate, sumsq[:m])
}

// Dot returns Σ x[i]·y[i] over len(x) elements; y must be at least as long.
// The summation order is unspecified (the fast path keeps several partial
// sums), so results may differ from a sequential loop in the last bits.
func Dot(x, y []float32) float32 {
	if len(y) < len(x) {
		panic("kernel: Dot length mismatch")
	}
	return dot(useAsm, x, y)
}

// Sub sets dst[i] = x[i] − y[i] for every i < len(dst); x and y must be at
// least as long. The detectors centre pixels with it (x − μ).
func Sub(dst, x, y []float32) {
	if len(x) < len(dst) || len(y) < len(dst) {
		panic("kernel: Sub length mismatch")
	}
	if useAsm {
		subAsm(dst, x, y)
		return
	}
	subGeneric(dst, x, y)
}

// MinMax returns the smallest and largest element of x and whether x holds a
// NaN (then lo and hi are unspecified). For an empty x it returns +Inf, −Inf,
// false. ±Inf are ordinary values here: a caller testing for finite data
// checks lo and hi as well. The detectors screen whole runs of pixels with it
// (no NaN, lo and hi inside the valid range: no pixel of the run is masked).
func MinMax(x []float32) (lo, hi float32, nan bool) {
	if useAsm {
		return minMaxAsm(x)
	}
	return minMaxGeneric(x)
}

// sgemm runs Sgemm (and the row sums of squares when sumsq, of length m, is
// not nil) on checked shapes, with the assembly kernels when asm is true and
// scratch memory w (nil: one from the pool). The tests call it with both
// values of asm.
func sgemm(asm bool, w *Workspace, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool, sumsq []float32) {
	switch {
	case m == 0:
		return
	case n == 0 || k == 0:
		if !accumulate {
			zeroBlock(m, n, c, ldc)
		}
	case asm:
		if w == nil {
			w = workspaces.Get().(*Workspace)
			defer workspaces.Put(w)
		}
		sgemmAsm(w, m, n, k, a, lda, b, ldb, c, ldc, accumulate, sumsq)
		return
	default:
		sgemmGeneric(m, n, k, a, lda, b, ldb, c, ldc, accumulate)
	}
	for i := range sumsq {
		row := c[i*ldc : i*ldc+n]
		sumsq[i] = dot(asm, row, row)
	}
}

// dot is Dot without the length check, with the assembly kernel when asm is
// true.
func dot(asm bool, x, y []float32) float32 {
	if asm {
		return dotAsm(x, y)
	}
	return dotGeneric(x, y)
}

func checkGemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 || lda < k || ldb < n || ldc < n {
		panic("kernel: bad Sgemm shape")
	}
	if m > 0 && k > 0 && len(a) < (m-1)*lda+k {
		panic("kernel: Sgemm A too short")
	}
	if k > 0 && n > 0 && len(b) < (k-1)*ldb+n {
		panic("kernel: Sgemm B too short")
	}
	if m > 0 && n > 0 && len(c) < (m-1)*ldc+n {
		panic("kernel: Sgemm C too short")
	}
}

func zeroBlock(m, n int, c []float32, ldc int) {
	for i := range m {
		clear(c[i*ldc : i*ldc+n])
	}
}
