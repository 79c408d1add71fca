//go:build !noasm

package kernel

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// haveAsm reports whether this CPU and OS run the AVX2+FMA kernels
// (cpu.X86.HasAVX2 and HasFMA include the OS's YMM state check, XGETBV).
var haveAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useAsm selects the assembly path in the exported functions. It is haveAsm;
// tests call the implementations directly rather than flip it.
var useAsm = haveAsm

// sgemmKernel6x16 is the register-tile micro-kernel (kernel_amd64.s):
// C[0:6,0:16] (=|+=) A[0:6,0:kc]·B[0:kc,0:16], all row-major with strides
// lda, ldb, ldc in elements (ldb = 16 for a packed sliver); C is read only
// when acc != 0. kc ≥ 0.
//
//go:noescape
func sgemmKernel6x16(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc int)

// dotAVX is Σ x[i]·y[i] over len(x) elements; len(y) ≥ len(x) is checked by
// the caller.
//
//go:noescape
func dotAVX(x, y []float32) float32

func dotAsm(x, y []float32) float32 { return dotAVX(x, y) }

// subAVX sets dst[i] = x[i] − y[i] for i < 8·n8, n8 ≥ 1 (lengths checked by
// the caller).
//
//go:noescape
func subAVX(dst, x, y *float32, n8 int)

// minMaxAVX returns the smallest and largest of x[0:8·n8], n8 ≥ 1, and
// whether any of them is NaN (then lo and hi are unspecified).
//
//go:noescape
func minMaxAVX(x *float32, n8 int) (lo, hi float32, nan bool)

func subAsm(dst, x, y []float32) {
	n8 := len(dst) / 8
	if n8 > 0 {
		subAVX(&dst[0], &x[0], &y[0], n8)
	}
	subGeneric(dst[n8*8:], x[n8*8:], y[n8*8:])
}

func minMaxAsm(x []float32) (lo, hi float32, nan bool) {
	n8 := len(x) / 8
	if n8 == 0 {
		return minMaxGeneric(x)
	}
	lo, hi, nan = minMaxAVX(&x[0], n8)
	if t := x[n8*8:]; len(t) > 0 {
		l, h, n := minMaxGeneric(t)
		lo, hi, nan = min(lo, l), max(hi, h), nan || n
	}
	return lo, hi, nan
}

// Register tile and cache blocks of the assembly GEMM (see doc.go).
const (
	mr = 6  // rows of the register tile: 6×2 YMM accumulators
	nr = 16 // columns of the register tile: two YMM of 8 floats
	// kcMax bounds the k block. The 6×kc strip of A that meets every sliver
	// of the packed B block stays in the 32 KiB L1D (12 KiB at 512), and
	// k ≤ 512 (every detector band count) needs a single k block, so C is
	// written once.
	kcMax = 512
	// bBlockMax bounds the packed B block (kc×nc floats, 512 KiB) so that it
	// stays in the 1 MiB L2 while the strips of A stream past it.
	bBlockMax = 128 << 10
)

// scratch is the memory of a Workspace on this architecture.
type scratch struct {
	bp []float32           // packed B block: ceil(nc/16) slivers of kc×16, zero padded
	ap [mr * kcMax]float32 // the last m%6 rows of A, zero padded to 6 rows
	ct [mr * nr]float32    // a C tile for edge tiles
}

// packMinM is the fewest rows of A for which the B block is packed. Packing
// costs a copy of B per call, which the micro-kernel repays only over many
// strips of A; below it the kernel reads full slivers of B in place (rows of
// 64 bytes at stride ldb, still L2-resident). Measured on Zen 4, n = k = 200:
// in place is 2.5× faster at m ≤ 24, even at m = 96–384, and 5–15% slower at
// m = 4096 (up to 20% at n = k = 300, where B rows are 1200 bytes apart). The
// tests lower and raise it to run both ways.
var packMinM = 64

// alignedFloats returns a slice of n float32s starting on a 64-byte (cache
// line) boundary.
func alignedFloats(n int) []float32 {
	const align = 64 / 4
	s := make([]float32, n+align)
	off := int(uintptr(unsafe.Pointer(&s[0])) / 4 % align)
	if off != 0 {
		off = align - off
	}
	return s[off : off+n : off+n]
}

// packB copies the kc×nc block of B at b (row stride ldb) into w.bp as
// ceil(nc/16) slivers, sliver s holding columns 16s..16s+15 row after row
// (bp[s·kc·16 + p·16 + j]); columns past nc are zero.
func (w *Workspace) packB(b []float32, ldb, kc, nc int) []float32 {
	ns := (nc + nr - 1) / nr
	size := ns * kc * nr
	if cap(w.bp) < size {
		w.bp = alignedFloats(max(size, kcMax*nr))
	}
	bp := w.bp[:size]
	full := nc / nr
	for p := range kc {
		row := b[p*ldb : p*ldb+nc]
		for s := range full {
			copy(bp[(s*kc+p)*nr:(s*kc+p)*nr+nr], row[s*nr:s*nr+nr])
		}
		if full < ns {
			dst := bp[(full*kc+p)*nr : (full*kc+p)*nr+nr]
			n := copy(dst, row[full*nr:])
			clear(dst[n:])
		}
	}
	return bp
}

// sgemmAsm is the blocked GEMM around sgemmKernel6x16, for m, n, k ≥ 1 and
// checked shapes, with scratch memory w. If sumsq is not nil (len m) it also sets sumsq[i] = Σ_j C[i,j]².
//
// Loops, outer to inner: n blocks (B block ≤ bBlockMax); k blocks of ≤ kcMax
// (B block packed once per pair); 6-row strips of A, read in place (the strip
// stays in L1); 16-column slivers of the packed B block (streamed from L2).
func sgemmAsm(w *Workspace, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool, sumsq []float32) {
	clear(sumsq)

	// Equal k blocks of ≤ kcMax, then equal n blocks of whole slivers with
	// kb×nb ≤ bBlockMax, so that no block is tiny.
	nkb := (k + kcMax - 1) / kcMax
	kb := (k + nkb - 1) / nkb
	ncMax := max(nr, bBlockMax/kb/nr*nr)
	njb := (n + ncMax - 1) / ncMax
	nb := ((n+njb-1)/njb + nr - 1) / nr * nr
	for jc := 0; jc < n; jc += nb {
		nc := min(nb, n-jc)
		ns := (nc + nr - 1) / nr
		for pc := 0; pc < k; pc += kb {
			kc := min(kb, k-pc)
			// Full slivers are packed (ldbs = 16) or read in place (ldbs =
			// ldb, sliver s at b[pc*ldb+jc+16s:]; only a partial last
			// sliver is packed, as sliver 0 of bp).
			pack := m >= packMinM
			var bp []float32
			ldbs, full := nr, nc/nr
			if pack {
				bp = w.packB(b[pc*ldb+jc:], ldb, kc, nc)
			} else {
				ldbs = ldb
				if full < ns {
					bp = w.packB(b[pc*ldb+jc+full*nr:], ldb, kc, nc-full*nr)
				}
			}
			acc := 0
			if accumulate || pc > 0 {
				acc = 1
			}
			last := pc+kc == k
			for i := 0; i < m; i += mr {
				mm := min(mr, m-i)
				ap, ldap := &a[i*lda+pc], lda
				if mm < mr {
					for r := range mr {
						dst := w.ap[r*kc : r*kc+kc]
						if r < mm {
							copy(dst, a[(i+r)*lda+pc:])
						} else {
							clear(dst)
						}
					}
					ap, ldap = &w.ap[0], kc
				}
				for s := range ns {
					j := s * nr
					nn := min(nr, nc-j)
					var bs *float32
					ldb1 := ldbs
					switch {
					case pack:
						bs = &bp[s*kc*nr]
					case s < full:
						bs = &b[pc*ldb+jc+j]
					default:
						bs, ldb1 = &bp[0], nr
					}
					if mm == mr && nn == nr {
						sgemmKernel6x16(kc, ap, ldap, bs, ldb1, &c[i*ldc+jc+j], ldc, acc)
						continue
					}
					sgemmKernel6x16(kc, ap, ldap, bs, ldb1, &w.ct[0], nr, 0)
					for r := range mm {
						dst := c[(i+r)*ldc+jc+j : (i+r)*ldc+jc+j+nn]
						src := w.ct[r*nr : r*nr+nn]
						if acc != 0 {
							for x, v := range src {
								dst[x] += v
							}
						} else {
							copy(dst, src)
						}
					}
				}
				if sumsq != nil && last {
					for r := range mm {
						row := c[(i+r)*ldc+jc : (i+r)*ldc+jc+nc]
						sumsq[i+r] += dotAVX(row, row)
					}
				}
			}
		}
	}
}
