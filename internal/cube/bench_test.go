package cube

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"testing"
)

// benchFile writes a ≥ 256 MiB int16 cube (1024 lines × 1024 samples × 128
// bands = 256 MiB) in the given interleave to dir by streaming through Writer.
func benchFile(b *testing.B, dir string, il Interleave) string {
	const S, L, B = 1024, 1024, 128
	path := filepath.Join(dir, string(il)+".hdr")
	h := &Header{Samples: S, Lines: L, Bands: B, DataType: Int16, Interleave: il}
	w, err := Create(path, h)
	if err != nil {
		b.Fatal(err)
	}
	blk := New(image.Rect(0, 0, S, 64), B)
	for i := range blk.Pix {
		blk.Pix[i] = float32(i % 4001)
	}
	for y := 0; y < L; y += 64 {
		blk.Rect = image.Rect(0, y, S, y+64)
		if err := w.WriteLines(blk); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkBlocks reads a 256 MiB int16 cube in blocks of 64 lines for each
// interleave; MB/s counts stored bytes. The file was just written, so this
// measures the page cache, the conversion to float32 and the transposition
// to BIP, not a disk.
func BenchmarkBlocks(b *testing.B) {
	dir := b.TempDir()
	for _, il := range []Interleave{BIP, BIL, BSQ} {
		path := benchFile(b, dir, il)
		b.Run(fmt.Sprintf("%s/int16/64lines", il), func(b *testing.B) {
			f, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			b.SetBytes(f.Header.DataSize())
			b.ReportAllocs()
			for b.Loop() {
				for _, err := range f.Blocks(64) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		os.Remove(path)
		os.Remove(path[:len(path)-4] + ".img")
	}
}
