package feed

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// newAlertID returns a 32-hex-digit id: 48 bits of Unix milliseconds then
// 80 random bits (the store's id scheme), so alert ids sort roughly by
// creation time.
func newAlertID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}
