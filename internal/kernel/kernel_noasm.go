//go:build noasm || !amd64

package kernel

// Without assembly (the noasm build tag or an architecture other than amd64)
// the exported functions run the pure-Go kernels in generic.go.

const (
	haveAsm = false
	useAsm  = false
)

// scratch is the memory of a Workspace: the pure-Go kernels need none.
type scratch struct{}

func sgemmAsm(w *Workspace, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool, sumsq []float32) {
	_ = w.scratch
	panic("kernel: no assembly kernels in this build")
}

func dotAsm(x, y []float32) float32 {
	panic("kernel: no assembly kernels in this build")
}

func subAsm(dst, x, y []float32) {
	panic("kernel: no assembly kernels in this build")
}

func minMaxAsm(x []float32) (lo, hi float32, nan bool) {
	panic("kernel: no assembly kernels in this build")
}
