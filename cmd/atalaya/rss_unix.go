//go:build unix

package main

import (
	"fmt"
	"runtime"
	"syscall"
)

// peakRSS reports the process's peak resident memory.
func peakRSS() string {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return "unknown"
	}
	kib := float64(ru.Maxrss)
	if runtime.GOOS == "darwin" {
		kib /= 1024 // macOS reports bytes
	}
	return fmt.Sprintf("%.0f MiB", kib/1024)
}
