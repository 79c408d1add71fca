package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// gemmBenchSizes are whitening shapes: an N-pixel block (m) of B bands (k)
// times a B×B matrix (n = k), from a small block to a real cube block.
var gemmBenchSizes = []struct{ m, n, k int }{
	{24, 200, 200},
	{256, 128, 128},
	{4096, 128, 128},
	{256, 200, 200},
	{4096, 200, 200},
	{4096, 300, 300},
}

func benchSgemm(b *testing.B, asm bool, m, n, k int, sumsq bool) {
	r := rand.New(rand.NewPCG(1, 1))
	a, bm, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	var ss []float32
	if sumsq {
		ss = make([]float32, m)
	}
	// One warm-up call sizes the pooled workspace: the timed loop shows the
	// steady state, which allocates nothing.
	sgemm(asm, nil, m, n, k, a, k, bm, n, c, n, false, ss)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sgemm(asm, nil, m, n, k, a, k, bm, n, c, n, false, ss)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm measures the exported Sgemm (the path this machine picks);
// BenchmarkSgemmGeneric the pure-Go path on any machine.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range gemmBenchSizes {
		b.Run(fmt.Sprintf("m=%d,n=%d,k=%d", s.m, s.n, s.k), func(b *testing.B) {
			benchSgemm(b, useAsm, s.m, s.n, s.k, false)
		})
	}
}

func BenchmarkSgemmSumSq(b *testing.B) {
	for _, s := range gemmBenchSizes {
		b.Run(fmt.Sprintf("m=%d,n=%d,k=%d", s.m, s.n, s.k), func(b *testing.B) {
			benchSgemm(b, useAsm, s.m, s.n, s.k, true)
		})
	}
}

func BenchmarkSgemmGeneric(b *testing.B) {
	for _, s := range gemmBenchSizes {
		b.Run(fmt.Sprintf("m=%d,n=%d,k=%d", s.m, s.n, s.k), func(b *testing.B) {
			benchSgemm(b, false, s.m, s.n, s.k, false)
		})
	}
}

func benchDot(b *testing.B, asm bool) {
	// 128 bands (one pixel), 4096 (L1-resident), 1M (8 MiB: L3-resident on
	// this machine), 16M (128 MiB: DRAM).
	for _, n := range []int{128, 4096, 1 << 20, 1 << 24} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(2, 2))
			x, y := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i], y[i] = r.Float32(), r.Float32()
			}
			var s float32
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				s += dot(asm, x, y)
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(8*float64(n)*float64(b.N)/sec/1e9, "GB/s")
			b.ReportMetric(2*float64(n)*float64(b.N)/sec/1e9, "GFLOP/s")
			_ = s
		})
	}
}

// BenchmarkDot measures the exported Dot; GB/s counts both vectors read.
func BenchmarkDot(b *testing.B) { benchDot(b, useAsm) }

func BenchmarkDotGeneric(b *testing.B) { benchDot(b, false) }

// BenchmarkSubMinMax measures the centring and screening kernels on one
// 128-band pixel and on a 256-pixel run (128 KiB, L2); GB/s counts bytes read.
func BenchmarkSubMinMax(b *testing.B) {
	for _, n := range []int{128, 256 * 128} {
		x, y, d := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(i%97), float32(i%13)
		}
		b.Run(fmt.Sprintf("Sub/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Sub(d, x, y)
			}
			b.ReportMetric(8*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
		b.Run(fmt.Sprintf("MinMax/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var s float32
			for b.Loop() {
				lo, hi, _ := MinMax(x)
				s += lo + hi
			}
			b.ReportMetric(4*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			_ = s
		})
	}
}
