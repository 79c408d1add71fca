package store

import "time"

// NewID returns a new record id as the store makes them: 32 hex digits,
// the first 12 the time in milliseconds (so ids sort by creation), the rest
// random.
func NewID(now time.Time) string { return newID(now) }
