// Package kernel holds the float32 arithmetic kernels that the detectors spend
// their time in: a row-major matrix product (GEMM) used to whiten blocks of
// pixels, and dot products used by the matched filter.
//
// Kernels are pure functions over caller-supplied buffers: they do no I/O, no
// logging and no allocation, and they panic only on a shape mismatch
// (programmer error). Data are float32; accumulation inside a kernel is float32
// (the callers keep dimensions small enough, B ≤ a few hundred bands, that the
// rounding error stays far below sensor noise).
package kernel
