package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestBarNonTerminalPrintsEveryTenPercent(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "detect", 100)
	for i := 0; i < 100; i++ {
		b.Add(1)
	}
	b.Done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// 10%, 20%, … 100% from Add; Done adds nothing at 100%.
	if len(lines) != 10 {
		t.Fatalf("got %d lines, want 10:\n%s", len(lines), buf.String())
	}
	if !strings.HasPrefix(lines[0], "detect:  10%") || !strings.HasPrefix(lines[9], "detect: 100%") {
		t.Errorf("unexpected lines:\n%s", buf.String())
	}
	b.Done() // idempotent
	if n := strings.Count(buf.String(), "\n"); n != 10 {
		t.Errorf("second Done printed again: %d lines", n)
	}
}

func TestBarDoneEarlyPrintsFinalLine(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "read", 1000)
	b.Add(5)
	b.Done()
	if got := buf.String(); !strings.HasPrefix(got, "read: 100%") || strings.Count(got, "\n") != 1 {
		t.Errorf("got %q, want one final 100%% line", got)
	}
}
