//go:build !race

package eval

// raceEnabled is true in tests built with -race.
const raceEnabled = false
