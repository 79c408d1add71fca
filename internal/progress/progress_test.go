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
	// 10%, 20%, … 100% from Add, and one more from Done.
	if len(lines) != 11 {
		t.Fatalf("got %d lines, want 11:\n%s", len(lines), buf.String())
	}
	if !strings.HasPrefix(lines[0], "detect:  10%") || !strings.HasPrefix(lines[10], "detect: 100%") {
		t.Errorf("unexpected lines:\n%s", buf.String())
	}
	b.Done() // idempotent
	if n := strings.Count(buf.String(), "\n"); n != 11 {
		t.Errorf("second Done printed again: %d lines", n)
	}
}
