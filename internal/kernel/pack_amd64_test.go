//go:build !noasm

package kernel

// setPackMinM sets packMinM and returns a function that restores it.
func setPackMinM(v int) (restore func()) {
	old := packMinM
	packMinM = v
	return func() { packMinM = old }
}
