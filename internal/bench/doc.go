// Package bench measures Atalaya's detectors end to end on a synthetic cube
// and compares them with Spectral Python on the same cube, for
// `atalaya bench` and BENCHMARKS.md.
//
// # What it does
//
// Generate writes a deterministic (seeded) long-wave infrared radiance cube
// as ENVI float32: Samples × Lines pixels of Bands bands between 7.6 and
// 13.4 µm, in W/(m²·sr·µm). Each pixel mixes four ground endmembers
// (emissivity spectra with smooth features, at 290–320 K) with abundances
// from smooth spatial fields, has its own temperature jitter (a thermal
// direction in the covariance), and carries spectrally correlated noise
// (AR(1) across bands, ρ = 0.95) plus a small white part. The covariance is
// therefore full rank and ill-conditioned, as that of real data is (the real
// scenes in shared/data have condition numbers 3·10⁶–4·10⁸).
//
// Run then streams the cube in blocks of lines, as `atalaya detect` does,
// and times: reading alone, background statistics (every pixel, unshrunk
// like Spectral Python's calc_stats), RX, the matched filter (retrieving ĉ,
// Spectral Python's output), ACE and CEM, and sums each detector's scores to
// compare them with Spectral Python's. Each stage is one pass over the file; the
// time inside the detector calls and the wall time including the reads are
// both reported. It measures the machine's memory read bandwidth with a
// two-goroutine read loop over a 256 MiB array in the same run, and, unless
// told not to, runs scripts/spy_bench.py (Spectral Python, Debian's
// /usr/bin/python3) on the same cube.
//
// # Units and counts
//
// Throughput is in Mpix/s (10⁶ pixels per second). GFLOP/s counts
// multiply-adds as two flops with K kept bands per pixel: RX 2K² + 2K
// (whitening GEMM, ‖y‖²), ACE 2K² + 4K (GEMM, ‖y‖², ŝ·y), matched filter and
// CEM 2K (one dot product), statistics K(K+1) (the upper triangle of the
// scatter matrix). Centring (K subtractions) is not counted. Peak is the
// float32 FMA peak of DESIGN.md, 116.5 GFLOP/s per core (233 on the 2-core
// machine), times the cores used. GB/s counts cube bytes (B·4 per pixel)
// per second.
package bench
