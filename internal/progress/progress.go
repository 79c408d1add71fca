// Package progress draws progress bars for long work on a terminal, and
// prints sparse progress lines when the output is not a terminal (a log file,
// CI), so long commands always show that they are alive and how far they are.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar reports progress of a task of Total units. It is safe for concurrent
// use. The zero value is not usable; call New.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	total    int64
	done     int64
	start    time.Time
	last     time.Time
	lastPct  int
	terminal bool
	finished bool
	now      func() time.Time
}

// New returns a bar writing to w. When w is a terminal the bar redraws in
// place at most 10 times a second; otherwise it prints a line at every 10%.
func New(w io.Writer, label string, total int64) *Bar {
	term := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			term = true
		}
	}
	b := &Bar{w: w, label: label, total: total, terminal: term, lastPct: -1, now: time.Now}
	b.start = b.now()
	return b
}

// Add records n more units done.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.draw(false)
}

// Done marks the task complete and ends the bar's line.
func (b *Bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.done = b.total
	b.draw(true)
	b.finished = true
}

func (b *Bar) draw(final bool) {
	if b.finished || b.total <= 0 {
		return
	}
	now := b.now()
	pct := int(100 * b.done / b.total)
	elapsed := now.Sub(b.start)
	if !b.terminal {
		if (final && b.lastPct < 100) || pct/10 > b.lastPct/10 {
			b.lastPct = pct
			fmt.Fprintf(b.w, "%s: %3d%% (%s)\n", b.label, pct, elapsed.Round(time.Millisecond))
		}
		return
	}
	if !final && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	const width = 30
	fill := int(width * b.done / b.total)
	eta := ""
	if b.done > 0 && !final {
		rem := time.Duration(float64(elapsed) * float64(b.total-b.done) / float64(b.done))
		eta = " eta " + rem.Round(time.Second).String()
	}
	fmt.Fprintf(b.w, "\r%s [%s%s] %3d%% %s%s\x1b[K", b.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), pct, elapsed.Round(100*time.Millisecond), eta)
	if final {
		fmt.Fprintln(b.w)
	}
}
