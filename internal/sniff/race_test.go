//go:build race

package sniff

// raceEnabled is true under the race detector, which slows the estimator's
// inner loops about twentyfold: the statistical tests then run a reduced
// set (see TestLocaliseNeutral).
const raceEnabled = true
