package kernel

import "math"

// The pure-Go kernels. They are the only path on architectures other than
// amd64, with the noasm build tag, and on amd64 CPUs without AVX2+FMA; the
// tests run them on every machine.

// genericNC is the column block of the pure-Go GEMM: one row segment of C and
// the four rows of B it is updated from (5 × 256 × 4 B = 5 KiB) stay in L1.
const genericNC = 256

// sgemmGeneric is the pure-Go GEMM, for k ≥ 1 and m, n ≥ 1 (Sgemm handles the
// empty cases). It updates two rows of C at a time from four rows of B at a
// time: per column that is 4 loads of B, 2 loads and 2 stores of C for 8
// multiply-adds, all in scalar registers (fused into FMAs with GOAMD64=v3).
func sgemmGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	for jc := 0; jc < n; jc += genericNC {
		nc := min(genericNC, n-jc)
		i := 0
		for ; i+2 <= m; i += 2 {
			c0 := c[i*ldc+jc : i*ldc+jc+nc]
			c1 := c[(i+1)*ldc+jc : (i+1)*ldc+jc+nc]
			if !accumulate {
				clear(c0)
				clear(c1)
			}
			a0 := a[i*lda : i*lda+k]
			a1 := a[(i+1)*lda : (i+1)*lda+k]
			p := 0
			for ; p+4 <= k; p += 4 {
				b0 := b[p*ldb+jc : p*ldb+jc+nc]
				b1 := b[(p+1)*ldb+jc : (p+1)*ldb+jc+nc]
				b2 := b[(p+2)*ldb+jc : (p+2)*ldb+jc+nc]
				b3 := b[(p+3)*ldb+jc : (p+3)*ldb+jc+nc]
				rank4x2(c0, c1, b0, b1, b2, b3,
					a0[p], a0[p+1], a0[p+2], a0[p+3],
					a1[p], a1[p+1], a1[p+2], a1[p+3])
			}
			for ; p < k; p++ {
				bp := b[p*ldb+jc : p*ldb+jc+nc]
				axpy(c0, bp, a0[p])
				axpy(c1, bp, a1[p])
			}
		}
		if i < m {
			c0 := c[i*ldc+jc : i*ldc+jc+nc]
			if !accumulate {
				clear(c0)
			}
			a0 := a[i*lda : i*lda+k]
			p := 0
			for ; p+4 <= k; p += 4 {
				b0 := b[p*ldb+jc : p*ldb+jc+nc]
				b1 := b[(p+1)*ldb+jc : (p+1)*ldb+jc+nc]
				b2 := b[(p+2)*ldb+jc : (p+2)*ldb+jc+nc]
				b3 := b[(p+3)*ldb+jc : (p+3)*ldb+jc+nc]
				rank4x1(c0, b0, b1, b2, b3, a0[p], a0[p+1], a0[p+2], a0[p+3])
			}
			for ; p < k; p++ {
				axpy(c0, b[p*ldb+jc:p*ldb+jc+nc], a0[p])
			}
		}
	}
}

// rank4x2 does c0 += Σ_q a0q·bq and c1 += Σ_q a1q·bq over q = 0..3.
// All slices have the length of c0 (the caller guarantees it); the reslicing
// lets the compiler drop the bounds checks in the loop.
func rank4x2(c0, c1, b0, b1, b2, b3 []float32, a00, a01, a02, a03, a10, a11, a12, a13 float32) {
	n := len(c0)
	c1, b0, b1, b2, b3 = c1[:n], b0[:n], b1[:n], b2[:n], b3[:n]
	for j := range c0 {
		x0, x1, x2, x3 := b0[j], b1[j], b2[j], b3[j]
		c0[j] += a00*x0 + a01*x1 + a02*x2 + a03*x3
		c1[j] += a10*x0 + a11*x1 + a12*x2 + a13*x3
	}
}

// rank4x1 does c0 += Σ_q aq·bq over q = 0..3.
func rank4x1(c0, b0, b1, b2, b3 []float32, a0, a1, a2, a3 float32) {
	n := len(c0)
	b0, b1, b2, b3 = b0[:n], b1[:n], b2[:n], b3[:n]
	for j := range c0 {
		c0[j] += a0*b0[j] + a1*b1[j] + a2*b2[j] + a3*b3[j]
	}
}

// axpy does c += alpha·x, len(x) ≥ len(c).
func axpy(c, x []float32, alpha float32) {
	x = x[:len(c)]
	for j := range c {
		c[j] += alpha * x[j]
	}
}

// dotGeneric is the pure-Go dot product with four partial sums (four
// independent FMA chains instead of one 4-cycle-latency chain).
func dotGeneric(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// subGeneric sets dst[i] = x[i] − y[i] over len(dst).
func subGeneric(dst, x, y []float32) {
	x, y = x[:len(dst)], y[:len(dst)]
	for i := range dst {
		dst[i] = x[i] - y[i]
	}
}

// minMaxGeneric returns the smallest and largest of x (+Inf and −Inf when x
// is empty; unspecified when nan) and whether any element is NaN.
func minMaxGeneric(x []float32) (lo, hi float32, nan bool) {
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
		if v != v {
			nan = true
		}
	}
	return lo, hi, nan
}
