// Package kernel holds the float32 arithmetic kernels that the detectors spend
// their time in: a row-major matrix product (GEMM) used to whiten blocks of
// pixels, and dot products used by the matched filter.
//
// # API
//
//   - Sgemm(m, n, k, a, lda, b, ldb, c, ldc, accumulate): C = A·B or C += A·B,
//     row-major, A m×k, B k×n, C m×n, strides in elements.
//   - SgemmSumSq(..., sumsq): Sgemm, then sumsq[i] = Σ_j C[i,j]² for each row
//     (RX needs ‖y‖² of every whitened pixel y, ACE its denominator); the fast
//     path sums each row while it is still in cache.
//   - Workspace, with methods Sgemm and SgemmSumSq: the same with
//     caller-owned scratch memory (see below).
//   - Dot(x, y): Σ x[i]·y[i] over len(x).
//   - Sub(dst, x, y): dst = x − y (the detectors centre pixels with it).
//   - MinMax(x): smallest and largest element and whether any is NaN (the
//     detectors screen runs of pixels for masked values with it).
//
// # Invariants
//
// Kernels are pure functions over caller-supplied buffers: no I/O, no logging,
// and they panic only on a shape mismatch (programmer error). Elements of C
// outside the m×n block (the gaps of ldc > n) are never written; with
// accumulate false C is never read (it may hold NaN). A call runs on the
// calling goroutine (use the two cores by whitening two pixel blocks at once).
//
// Memory: the fast GEMM packs B into scratch memory (≤ 512 KiB). The
// package-level functions take it from a sync.Pool, so in steady state they do
// not allocate; a pool entry can still be dropped by the GC or be too small
// for a new shape, and then one call allocates. A worker that wants a hard
// guarantee keeps a Workspace (zero value ready; grows to the largest block
// seen; one goroutine at a time) and calls its methods: a warm Workspace never
// allocates (TestWorkspace checks it).
//
// # Precision
//
// Data and accumulation are float32. Blocking and SIMD change the summation
// order from a sequential loop, not the error bound: each element of C obeys
// |C − C_exact| ≤ γ_{k+1}·(|C₀| + Σ_p |A_ip||B_pj|), γ_j = j·u/(1−j·u),
// u = 2⁻²⁴ (Higham, Accuracy and Stability of Numerical Algorithms, §3.1), and
// Dot obeys the same with γ_n. For B ≤ 300 bands that is a relative error
// ≤ 2·10⁻⁵ of Σ|a||b|, far below sensor noise. The tests check exactly this
// bound against a float64 reference.
//
// # Implementations
//
// On amd64 with AVX2 and FMA (golang.org/x/sys/cpu, which includes the OS
// check of the YMM state) the functions run Go assembly (kernel_amd64.s);
// everywhere else, and with the build tag noasm, they run pure Go (generic.go).
// The tests run both paths on amd64; `go test -tags noasm` runs the pure-Go
// path alone.
//
// Assembly GEMM, after BLIS/GotoBLAS: a 6×16 register tile (12 YMM
// accumulators; each k step loads two YMM of B, broadcasts six elements of A
// and issues 12 FMAs, so the two FMA pipes of a Zen 4 core stay busy and loads
// stay under 3 per cycle). Loops, outer to inner: n blocks, then k blocks
// (equal sizes: k blocks ≤ 512, which is one block for every band count the
// detectors use, so C is written once; n blocks of whole 16-column slivers
// with kc×nc ≤ 128 Ki floats), for each of which the kc×nc block of B is
// packed once into zero-padded 16-column slivers (≤ 512 KiB, kept in the 1 MiB
// L2); then 6-row strips of A, read in place (a strip, ≤ 6×512×4 B, stays in
// L1 while it meets every sliver; whitening has m ≫ n, k, so packing A would
// only add memory traffic); then the slivers, one micro-kernel call each. With
// fewer than 64 rows of A, packing B does not pay for itself, and the micro-
// kernel reads the full slivers of B in place (it takes a B stride). Edge
// tiles: the last m mod 6 rows of A are copied into a zero-padded strip, a
// last sliver narrower than 16 columns is always packed (zero-padded), and
// edge tiles are computed into a scratch tile and copied or added into C.
// Assembly Sub: 32 floats per iteration, then 8, then a Go tail. Assembly
// MinMax: two sets of VMINPS/VMAXPS accumulators (their 3-cycle latency),
// with NaN tracked by an unordered compare (VMINPS/VMAXPS return one operand
// of a NaN pair, not the NaN), 16 floats per iteration; Sub and MinMax are
// exact, so both paths give identical results (BenchmarkSubMinMax: 11–12 ns
// for a 128-band pixel, 73–76 GB/s on a 128 KiB run).
// Assembly Dot: eight 8-wide accumulators (64 floats per iteration; 2 FMA
// pipes × 4-cycle latency need 8 independent chains), then an 8-wide loop and
// a scalar tail.
//
// Pure-Go GEMM: for each 256-column block, two rows of C at a time are
// updated from four rows of B at a time (4 loads of B, 2 loads and 2 stores
// of C per 8 multiply-adds, all in registers, no bounds checks in the inner
// loop); GOAMD64=v3 lets the compiler fuse them into FMAs. Pure-Go Dot keeps
// four partial sums.
//
// # Measured performance
//
// One core of the 2-core AMD Zen 4 KVM machine (float32 FMA peak 116
// GFLOP/s, one-core read bandwidth ≈ 27 GB/s), `go test -bench .
// -benchtime=0.5s -count=2`, Go 1.26, other engineers' builds running now and
// then (the numbers drop and scatter under load, by up to 3×; these are from
// quiet stretches). GFLOP/s counts 2·m·n·k.
//
//	Sgemm m×n×k     asm      pure Go (v1)  pure Go (v3)  gonum v0.17 (2 cores)
//	24×200×200      94–97     7.0          13.3          19
//	256×128×128     99–107    8.6          12.7          26
//	4096×128×128    103–111   10.0         12.6          27
//	256×200×200     96–101    10.6         12.6          23
//	4096×200×200    95–105    10.7         12.6          24
//	4096×300×300    100–103   10.4         12.7          26
//
// The gonum column is gonum.org/v1/gonum/blas/gonum Sgemm, which splits the
// work over both cores, measured in a scratch module (gonum is not a
// dependency of this module). SgemmSumSq runs within the noise of Sgemm
// (0–5% slower).
//
//	Dot n                 asm                     pure Go
//	128                   7.6–8.7 ns (≈125 GB/s)  41 ns (25 GB/s)
//	4096 (L1)             165–170 ns (195 GB/s)   1.2 µs (27 GB/s)
//	1M (8 MiB, L3)        90 µs (92 GB/s)         0.30 ms (27 GB/s)
//	16M (128 MiB, DRAM)   5.3 ms (25 GB/s)        7.5 ms (18 GB/s)
//
// GB/s counts both vectors read (8 bytes per element). From DRAM the assembly Dot reaches the machine's
// one-core read bandwidth.
package kernel
