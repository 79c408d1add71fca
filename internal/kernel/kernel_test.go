package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// impl is one implementation under test: the pure-Go path or the assembly
// path, the latter with B packed or read in place as the driver chooses, or
// forced either way.
type impl struct {
	name     string
	asm      bool
	packMinM int // rows of A from which B is packed; -1: the driver's default
}

// impls lists the implementations available in this build. Every test runs
// on each.
func impls() []impl {
	l := []impl{{"generic", false, -1}}
	if haveAsm {
		l = append(l, impl{"asm", true, -1}, impl{"asm-packB", true, 0}, impl{"asm-inplaceB", true, math.MaxInt})
	}
	return l
}

func (im impl) sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool, sumsq []float32) {
	if im.packMinM >= 0 {
		defer setPackMinM(im.packMinM)()
	}
	sgemm(im.asm, nil, m, n, k, a, lda, b, ldb, c, ldc, accumulate, sumsq)
}

// unitRoundoff is u = 2⁻²⁴, the unit roundoff of float32 round-to-nearest.
const unitRoundoff = 1.0 / (1 << 24)

// gamma is γ_j = j·u/(1−j·u), the standard bound on the relative error of a
// j-term float32 sum of products in any order, FMA or not (Higham, Accuracy
// and Stability of Numerical Algorithms, 2nd ed., §3.1): |fl(Σxy) − Σxy| ≤
// γ_j·Σ|x||y|.
func gamma(j int) float64 {
	ju := float64(j) * unitRoundoff
	return ju / (1 - ju)
}

// sentinel fills memory that a kernel must not write (the stride gaps and a
// guard after C); NaN makes a stray read of it poison the result too.
var sentinel = float32(math.Float32frombits(0x7fc0beef))

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

type gemmCase struct {
	m, n, k, lda, ldb, ldc int
	accumulate             bool
}

func (g gemmCase) String() string {
	return fmt.Sprintf("m=%d,n=%d,k=%d,lda=%d,ldb=%d,ldc=%d,acc=%v", g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.accumulate)
}

const guard = 64 // sentinel elements after the last row of C

// checkGemmCase runs one Sgemm (with sumsq) on random data and compares it
// with a float64 reference. Each element of C must satisfy
//
//	|C − C_ref| ≤ γ_{k+1}·(|C₀| + Σ_p |A_ip||B_pj|) + tiny
//
// (k products plus the add to C₀, blocked in any order; tiny = 2⁻¹²⁶ covers
// subnormal results). Elements outside the m×n block must keep their bits.
// sumsq[i] must be within γ_{n+1}·Σ_j C_ij² of the float64 sum of the
// computed C row.
func checkGemmCase(t testing.TB, im impl, g gemmCase, r *rand.Rand) {
	t.Helper()
	m, n, k := g.m, g.n, g.k
	lenA := max(0, (m-1)*g.lda+k)
	lenB := max(0, (k-1)*g.ldb+n)
	lenC := max(0, (m-1)*g.ldc+n)
	a := randSlice(r, lenA)
	b := randSlice(r, lenB)
	cbuf := make([]float32, lenC+guard)
	for i := range cbuf {
		cbuf[i] = sentinel
	}
	c0 := make([]float32, len(cbuf))
	copy(c0, cbuf)
	for i := range m {
		for j := range n {
			if g.accumulate {
				c0[i*g.ldc+j] = float32(r.NormFloat64())
			} else {
				c0[i*g.ldc+j] = float32(math.NaN()) // must not be read
			}
		}
	}
	copy(cbuf, c0)
	c := cbuf[:lenC]
	sumsq := make([]float32, m+1)
	sumsq[m] = sentinel
	im.sgemm(m, n, k, a, g.lda, b, g.ldb, c, g.ldc, g.accumulate, sumsq[:m])

	tol := gamma(k + 1)
	for i := range m {
		var ss, ssAbs float64
		for j := range n {
			var ref, bound float64
			if g.accumulate {
				ref = float64(c0[i*g.ldc+j])
				bound = math.Abs(ref)
			}
			for p := range k {
				prod := float64(a[i*g.lda+p]) * float64(b[p*g.ldb+j])
				ref += prod
				bound += math.Abs(prod)
			}
			got := float64(c[i*g.ldc+j])
			if err := math.Abs(got - ref); !(err <= tol*bound+0x1p-126) {
				t.Fatalf("%s %v: C[%d,%d] = %g, want %g (err %g > bound %g)", im.name, g, i, j, got, ref, err, tol*bound)
			}
			ss += got * got
			ssAbs += got * got
		}
		if err := math.Abs(float64(sumsq[i]) - ss); !(err <= gamma(n+1)*ssAbs+0x1p-126) {
			t.Fatalf("%s %v: sumsq[%d] = %g, want %g", im.name, g, i, sumsq[i], ss)
		}
	}
	if math.Float32bits(sumsq[m]) != math.Float32bits(sentinel) {
		t.Fatalf("%s %v: sumsq[m] written", im.name, g)
	}
	for idx := range cbuf {
		i, j := idx/max(g.ldc, 1), idx%max(g.ldc, 1)
		if i < m && j < n && idx < lenC {
			continue
		}
		if math.Float32bits(cbuf[idx]) != math.Float32bits(c0[idx]) {
			t.Fatalf("%s %v: C element %d (row %d, col %d) outside the block was written: %g", im.name, g, idx, i, j, cbuf[idx])
		}
	}
}

func TestSgemmShapes(t *testing.T) {
	ms := []int{0, 1, 2, 5, 6, 7, 12, 13, 31}
	ns := []int{0, 1, 3, 8, 15, 16, 17, 32, 33, 50}
	ks := []int{0, 1, 2, 3, 4, 5, 7, 16, 33, 129}
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			for _, m := range ms {
				for _, n := range ns {
					for _, k := range ks {
						for _, pad := range []int{0, 3} {
							for _, acc := range []bool{false, true} {
								g := gemmCase{m, n, k, k + pad, n + 2*pad, n + pad, acc}
								checkGemmCase(t, im, g, r)
							}
						}
					}
				}
			}
		})
	}
}

// TestSgemmBlocks covers shapes that cross the cache blocks of the assembly
// path (k > kcMax = 512; n blocks when kc·n > bBlockMax = 128 Ki floats) and
// real detector block sizes.
func TestSgemmBlocks(t *testing.T) {
	cases := []gemmCase{
		{37, 530, 300, 301, 531, 540, false},
		{37, 530, 300, 300, 530, 530, true},
		{13, 1030, 3, 3, 1030, 1031, true},
		{7, 20, 600, 600, 20, 21, false},
		{256, 200, 200, 200, 200, 200, false},
		{100, 128, 128, 130, 128, 129, true},
		{6, 16, 513, 513, 16, 16, true},
		{9, 1030, 600, 600, 1030, 1033, true},  // 2 k blocks × 3 n blocks
		{14, 260, 1100, 1101, 261, 262, false}, // 3 k blocks × 2 n blocks
	}
	for _, im := range impls() {
		r := rand.New(rand.NewPCG(3, 4))
		for _, g := range cases {
			t.Run(im.name+"/"+g.String(), func(t *testing.T) {
				checkGemmCase(t, im, g, r)
			})
		}
	}
}

// TestSgemmExact checks a product whose every partial sum is exact in float32
// (small integers), so both paths must agree with the reference bit for bit.
func TestSgemmExact(t *testing.T) {
	const m, n, k = 19, 37, 45
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	for i := range a {
		a[i] = float32(i%7 - 3)
	}
	for i := range b {
		b[i] = float32(i%5 - 2)
	}
	for _, im := range impls() {
		c := make([]float32, m*n)
		im.sgemm(m, n, k, a, k, b, n, c, n, false, nil)
		for i := range m {
			for j := range n {
				var want float32
				for p := range k {
					want += a[i*k+p] * b[p*n+j]
				}
				if c[i*n+j] != want {
					t.Fatalf("%s: C[%d,%d] = %v, want %v", im.name, i, j, c[i*n+j], want)
				}
			}
		}
	}
}

// TestExported runs the exported functions (whichever path this machine
// picks) once.
func TestExported(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const m, n, k = 9, 21, 11
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	c1, c2 := make([]float32, m*n), make([]float32, m*n)
	ss := make([]float32, m)
	Sgemm(m, n, k, a, k, b, n, c1, n, false)
	SgemmSumSq(m, n, k, a, k, b, n, c2, n, false, ss)
	for i := range c1 {
		if c1[i] != c2[i] {
			t.Fatalf("Sgemm and SgemmSumSq differ at %d: %v %v", i, c1[i], c2[i])
		}
	}
	for i := range m {
		row := c1[i*n : i*n+n]
		if d := math.Abs(float64(ss[i] - Dot(row, row))); d > 1e-5*float64(ss[i]) {
			t.Fatalf("sumsq[%d] = %v, Dot = %v", i, ss[i], Dot(row, row))
		}
	}
}

func TestPanics(t *testing.T) {
	z := make([]float32, 100)
	cases := map[string]func(){
		"negative m":      func() { Sgemm(-1, 1, 1, z, 1, z, 1, z, 1, false) },
		"lda < k":         func() { Sgemm(2, 2, 3, z, 2, z, 2, z, 2, false) },
		"ldb < n":         func() { Sgemm(2, 3, 2, z, 2, z, 2, z, 3, false) },
		"ldc < n":         func() { Sgemm(2, 3, 2, z, 2, z, 3, z, 2, false) },
		"A short":         func() { Sgemm(20, 2, 10, z, 10, z, 2, z, 2, false) },
		"B short":         func() { Sgemm(2, 10, 20, z, 20, z, 10, z, 10, false) },
		"C short":         func() { Sgemm(20, 10, 2, z, 2, z, 10, z, 10, false) },
		"sumsq short":     func() { SgemmSumSq(3, 2, 2, z, 2, z, 2, z, 2, false, z[:2]) },
		"Dot y too short": func() { Dot(z[:3], z[:2]) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			f()
		})
	}
}

func TestDot(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var lens []int
	for n := range 200 {
		lens = append(lens, n)
	}
	lens = append(lens, 255, 256, 257, 1000, 4096, 4099, 100003)
	for _, im := range impls() {
		for _, n := range lens {
			x := randSlice(r, n)
			y := randSlice(r, n+3) // y may be longer than x
			var ref, bound float64
			for i := range n {
				p := float64(x[i]) * float64(y[i])
				ref += p
				bound += math.Abs(p)
			}
			got := float64(dot(im.asm, x, y))
			if err := math.Abs(got - ref); !(err <= gamma(n)*bound) {
				t.Fatalf("%s n=%d: Dot = %g, want %g (err %g > %g)", im.name, n, got, ref, err, gamma(n)*bound)
			}
		}
	}
}

// FuzzSgemm checks random shapes, strides and flags against the float64
// reference on every implementation.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(7), uint8(17), uint8(5), uint8(0), uint8(0), uint8(0), false, uint64(1))
	f.Add(uint8(13), uint8(33), uint8(200), uint8(3), uint8(1), uint8(2), true, uint64(2))
	f.Add(uint8(0), uint8(1), uint8(0), uint8(0), uint8(0), uint8(0), true, uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, padA, padB, padC uint8, acc bool, seed uint64) {
		// k up to 637 crosses kcMax = 512; n ≤ 255 stays in one n block.
		g := gemmCase{int(m % 40), int(n), int(k) * 5 / 2, 0, 0, 0, acc}
		g.lda = g.k + int(padA%8)
		g.ldb = g.n + int(padB%8)
		g.ldc = g.n + int(padC%8)
		for _, im := range impls() {
			checkGemmCase(t, im, g, rand.New(rand.NewPCG(seed, 9)))
		}
	})
}

// TestWorkspace checks the Workspace methods against the package-level
// functions and that a warm Workspace allocates nothing.
func TestWorkspace(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const m, n, k = 50, 70, 90
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	c1, c2 := make([]float32, m*n), make([]float32, m*n)
	ss1, ss2 := make([]float32, m), make([]float32, m)
	var w Workspace
	SgemmSumSq(m, n, k, a, k, b, n, c1, n, false, ss1)
	w.SgemmSumSq(m, n, k, a, k, b, n, c2, n, false, ss2)
	for i := range c1 {
		if c1[i] != c2[i] {
			t.Fatalf("C[%d]: %v with pool, %v with Workspace", i, c1[i], c2[i])
		}
	}
	for i := range ss1 {
		if ss1[i] != ss2[i] {
			t.Fatalf("sumsq[%d]: %v with pool, %v with Workspace", i, ss1[i], ss2[i])
		}
	}
	w.Sgemm(m, n, k, a, k, b, n, c2, n, true)
	if allocs := testing.AllocsPerRun(10, func() { w.Sgemm(m, n, k, a, k, b, n, c2, n, true) }); allocs != 0 {
		t.Errorf("warm Workspace.Sgemm allocates %v times per call", allocs)
	}
}

// TestConcurrent runs Sgemm from several goroutines at once on disjoint C
// (for the race detector and the workspace pool).
func TestConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const m, n, k, workers = 40, 33, 65, 4
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := make([]float32, m*n)
	Sgemm(m, n, k, a, k, b, n, want, n, false)
	got := make([][]float32, workers)
	done := make(chan int)
	for g := range workers {
		got[g] = make([]float32, m*n)
		go func() {
			for range 20 {
				Sgemm(m, n, k, a, k, b, n, got[g], n, false)
			}
			done <- g
		}()
	}
	for range workers {
		g := <-done
		for i := range want {
			if got[g][i] != want[i] {
				t.Fatalf("worker %d: C[%d] = %v, want %v", g, i, got[g][i], want[i])
			}
		}
	}
}

// TestSubMinMax checks Sub and MinMax on every implementation and length
// against a scalar loop, with NaN and ±Inf planted at every position class.
func TestSubMinMax(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, im := range impls() {
		sub, minMax := subGeneric, minMaxGeneric
		if im.asm {
			sub, minMax = subAsm, minMaxAsm
		}
		for n := range 150 {
			x, y := randSlice(r, n+2), randSlice(r, n+1)
			dst := make([]float32, n+1)
			dst[n] = 42
			sub(dst[:n], x, y)
			for i := range n {
				if dst[i] != x[i]-y[i] {
					t.Fatalf("%s Sub n=%d: dst[%d] = %g, want %g", im.name, n, i, dst[i], x[i]-y[i])
				}
			}
			if dst[n] != 42 {
				t.Fatalf("%s Sub n=%d wrote past len(dst)", im.name, n)
			}
			lo, hi, nan := minMax(x[:n])
			wlo, whi, _ := minMaxGeneric(x[:n])
			if nan || lo != wlo || hi != whi || (n > 0 && (lo != slices.Min(x[:n]) || hi != slices.Max(x[:n]))) {
				t.Fatalf("%s MinMax n=%d = %g, %g, %v; want %g, %g, false", im.name, n, lo, hi, nan, wlo, whi)
			}
			for i := 0; i < n; i += 1 + i/8 {
				for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
					old := x[i]
					x[i] = v
					lo, hi, nan := minMax(x[:n])
					switch {
					case v != v && !nan:
						t.Fatalf("%s MinMax n=%d: NaN at %d not reported", im.name, n, i)
					case v > 0 && (nan || hi != v), v < 0 && (nan || lo != v):
						t.Fatalf("%s MinMax n=%d: %g at %d gave %g, %g, %v", im.name, n, v, i, lo, hi, nan)
					}
					x[i] = old
				}
			}
		}
	}
}
