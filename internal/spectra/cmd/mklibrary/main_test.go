package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The committed default library is what the generator makes from the
// shared spectra now: if this fails, run go generate ./internal/spectra.
func TestDefaultLibraryIsUpToDate(t *testing.T) {
	in := filepath.Join("..", "..", "..", "..", "..", "shared", "data", "spectra", "ir")
	if _, err := os.Stat(in); err != nil {
		t.Fatalf("shared data missing: %v", err)
	}
	out := filepath.Join(t.TempDir(), "lib.json.gz")
	if err := run(in, out, io.Discard); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "library", "default.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzip(t, got), unzip(t, want)) {
		t.Fatal("library/default.json.gz is stale: run go generate ./internal/spectra")
	}
}

func unzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
