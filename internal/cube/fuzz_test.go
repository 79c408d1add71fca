package cube

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

// headerSeeds returns every .hdr in shared/data and testdata.
func headerSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, pat := range []string{filepath.Join(sharedData, "*", "*.hdr"), filepath.Join("testdata", "*.hdr")} {
		paths, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) < 8 {
		t.Fatalf("found %d seed headers: shared/data missing? (see shared/data/SOURCES.md)", len(out))
	}
	return out
}

// sameHeader compares the typed fields of two headers (NaN equal to NaN).
func sameHeader(a, b *Header) bool {
	a2, b2 := *a, *b
	a2.Keys, a2.Fields, b2.Keys, b2.Fields = nil, nil, nil, nil
	if a2.FileType == "" { // EncodeHeader's documented default
		a2.FileType = "ENVI Standard"
	}
	if math.IsNaN(a2.DataIgnoreValue) && math.IsNaN(b2.DataIgnoreValue) {
		a2.DataIgnoreValue, b2.DataIgnoreValue = 0, 0
	}
	return reflect.DeepEqual(a2, b2)
}

// FuzzDecodeHeader: DecodeHeader never panics, and a header it accepts and
// EncodeHeader writes reads back with the same typed fields and keys.
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range headerSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		h, err := DecodeHeader(bytes.NewReader(text))
		if err != nil {
			return
		}
		if h.Samples < 1 || h.Lines < 1 || h.Bands < 1 || h.DataSize() <= 0 || h.DataType.Size() == 0 {
			t.Fatalf("accepted sizes %d×%d×%d %s", h.Samples, h.Lines, h.Bands, h.DataType)
		}
		if h.MapInfo != nil {
			if g, err := h.Georef(); err == nil {
				g.LatLon(0, 0)
				g.PixelSizeMeters()
			}
		}
		var buf bytes.Buffer
		if err := EncodeHeader(&buf, h); err != nil {
			return
		}
		h2, err := DecodeHeader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("re-read of encoded header: %v\n%s", err, buf.Bytes())
		}
		if !sameHeader(h, h2) {
			t.Fatalf("round trip changed the header:\n%#v\n%#v\n%s", h, h2, buf.Bytes())
		}
		for _, k := range h.Keys {
			if _, ok := h2.Fields[k]; !ok {
				t.Fatalf("round trip lost key %q:\n%s", k, buf.Bytes())
			}
		}
	})
}

// FuzzRead writes a header and a data file from the fuzz input and reads them
// with ReadAll and Blocks: never a panic, both give the same values, and
// nothing allocates more than a small multiple of the data actually present
// (the header's promise is checked against the file size before anything is
// allocated).
func FuzzRead(f *testing.F) {
	for _, dt := range realTypes {
		for _, il := range []Interleave{BSQ, BIL, BIP} {
			hdr := fmt.Sprintf("ENVI\nsamples = 3\nlines = 2\nbands = 17\nheader offset = 1\ndata type = %d\ninterleave = %s\nbyte order = %d\n", int(dt), il, int(dt)%2)
			f.Add([]byte(hdr), bytes.Repeat([]byte{1, 2, 3, 250, 0x7f, 0x80, 0xff}, 3*2*17*dt.Size()/7+1), uint8(1))
		}
	}
	for _, s := range headerSeeds(f) {
		f.Add(s, []byte{0, 1, 2, 3}, uint8(3))
	}
	f.Fuzz(func(t *testing.T, hdr, data []byte, blockLines uint8) {
		dir := t.TempDir()
		p := filepath.Join(dir, "f.hdr")
		if err := os.WriteFile(p, hdr, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "f.img"), data, 0o666); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		file, err := Open(p)
		if err != nil {
			return
		}
		defer file.Close()
		all, err := file.ReadAll()
		if err != nil {
			t.Fatalf("ReadAll after a successful Open: %v", err)
		}
		n := 0
		for blk, err := range file.Blocks(int(blockLines%8) + 1) {
			if err != nil {
				t.Fatalf("Blocks: %v", err)
			}
			for y := blk.Rect.Min.Y; y < blk.Rect.Max.Y; y++ {
				for x := 0; x < blk.Rect.Max.X; x++ {
					a, b := all.At(x, y), blk.At(x, y)
					for i := range a {
						if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
							t.Fatalf("pixel (%d, %d) band %d: ReadAll %v, Blocks %v", x, y, i, a[i], b[i])
						}
					}
				}
			}
			n += blk.Rect.Dy()
		}
		if n != file.Header.Lines {
			t.Fatalf("Blocks covered %d of %d lines", n, file.Header.Lines)
		}
		runtime.ReadMemStats(&after)
		// ReadAll: 4 bytes of float32 per stored byte at most (uint8), raw
		// buffer ≤ data; Blocks the same again; plus header text and slack.
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(10*len(data)+4*len(hdr)+1<<20); got > limit {
			t.Fatalf("allocated %d bytes for %d bytes of data", got, len(data))
		}
	})
}
