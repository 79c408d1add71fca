//go:build !race

package sites

// raceEnabled is true in tests built with -race.
const raceEnabled = false
