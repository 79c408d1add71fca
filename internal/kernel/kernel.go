package kernel

// Sgemm computes C = A·B, or C += A·B when accumulate is true, for row-major
// float32 matrices: A is m×k with row stride lda, B is k×n with row stride ldb,
// C is m×n with row stride ldc.
func Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	checkGemm(m, n, k, a, lda, b, ldb, c, ldc)
	sgemmGeneric(m, n, k, a, lda, b, ldb, c, ldc, accumulate)
}

// Dot returns Σ x[i]·y[i] over len(x) elements; y must be at least as long.
func Dot(x, y []float32) float32 {
	if len(y) < len(x) {
		panic("kernel: Dot length mismatch")
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

func sgemmGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		if !accumulate {
			clear(ci)
		}
		ai := a[i*lda : i*lda+k]
		for p, av := range ai {
			bp := b[p*ldb : p*ldb+n]
			for j, bv := range bp {
				ci[j] += av * bv
			}
		}
	}
}

func dotGeneric(x, y []float32) float32 {
	var s float32
	for i, v := range x {
		s += v * y[i]
	}
	return s
}
