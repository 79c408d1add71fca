//go:build noasm || !amd64

package kernel

// setPackMinM does nothing: there is no assembly GEMM in this build.
func setPackMinM(int) (restore func()) { return func() {} }
