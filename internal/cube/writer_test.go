package cube

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var realTypes = []DataType{Uint8, Int16, Int32, Float32, Float64, Uint16, Uint32, Int64, Uint64}

// testCube returns a cube whose values are exactly representable in t.
func testCube(r image.Rectangle, bands int, t DataType) *Cube {
	c := New(r, bands)
	for i := range c.Pix {
		v := float32((i*7919)%251) - 100 // −100…150
		switch t {
		case Uint8, Uint16, Uint32, Uint64:
			v = float32((i * 7919) % 251)
		case Float32, Float64:
			v = float32(i)*0.37 - 1e3
		}
		c.Pix[i] = v
	}
	return c
}

func writeCube(t testing.TB, path string, h *Header, c *Cube, blockLines int) {
	t.Helper()
	w, err := Create(path, h)
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < h.Lines; y += blockLines {
		if err := w.WriteLines(c.SubCube(image.Rect(0, y, h.Samples, min(y+blockLines, h.Lines)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	const S, L, B = 7, 5, 19 // B > bandGroup to cover a partial group
	for _, dt := range realTypes {
		for _, il := range []Interleave{BSQ, BIL, BIP} {
			for _, be := range []bool{false, true} {
				name := fmt.Sprintf("%s_%s_be%v", dt, il, be)
				t.Run(name, func(t *testing.T) {
					h := &Header{Samples: S, Lines: L, Bands: B, DataType: dt, Interleave: il, BigEndian: be, HeaderOffset: 3}
					want := testCube(image.Rect(0, 0, S, L), B, dt)
					path := filepath.Join(dir, name+".hdr")
					writeCube(t, path, h, want, 2)
					f, err := Open(path)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					got, err := f.ReadAll()
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got.Pix, want.Pix) {
						t.Fatalf("read back differs")
					}
					// Blocks of every size give the same values.
					for n := 1; n <= L+1; n++ {
						y := 0
						for blk, err := range f.Blocks(n) {
							if err != nil {
								t.Fatal(err)
							}
							if blk.Rect.Min.Y != y {
								t.Fatalf("block starts at %d, want %d", blk.Rect.Min.Y, y)
							}
							for yy := blk.Rect.Min.Y; yy < blk.Rect.Max.Y; yy++ {
								for x := 0; x < S; x++ {
									if !reflect.DeepEqual(blk.At(x, yy), want.At(x, yy)) {
										t.Fatalf("Blocks(%d): pixel (%d, %d) differs", n, x, yy)
									}
								}
							}
							y = blk.Rect.Max.Y
						}
						if y != L {
							t.Fatalf("Blocks(%d) ended at line %d", n, y)
						}
					}
				})
			}
		}
	}
}

func TestWriteConversion(t *testing.T) {
	in := []float32{-1.5, -0.5, 0.4, 0.5, 1.5, 2.49, 300, -40000, 70000, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e30, -1e30}
	want := map[DataType][]float32{
		// math.Round: halves away from zero; clamp to the range; NaN → 0.
		Uint8:  {0, 0, 0, 1, 2, 2, 255, 0, 255, 0, 255, 0, 255, 0},
		Int16:  {-2, -1, 0, 1, 2, 2, 300, -32768, 32767, 0, 32767, -32768, 32767, -32768},
		Uint16: {0, 0, 0, 1, 2, 2, 300, 0, 65535, 0, 65535, 0, 65535, 0},
		Int32:  {-2, -1, 0, 1, 2, 2, 300, -40000, 70000, 0, math.MaxInt32, math.MinInt32, math.MaxInt32, math.MinInt32},
		Uint32: {0, 0, 0, 1, 2, 2, 300, 0, 70000, 0, math.MaxUint32, 0, math.MaxUint32, 0},
		Int64:  {-2, -1, 0, 1, 2, 2, 300, -40000, 70000, 0, math.MaxInt64, math.MinInt64, math.MaxInt64, math.MinInt64},
		Uint64: {0, 0, 0, 1, 2, 2, 300, 0, 70000, 0, math.MaxUint64, 0, math.MaxUint64, 0},
	}
	dir := t.TempDir()
	for dt, w := range want {
		h := &Header{Samples: len(in), Lines: 1, Bands: 1, DataType: dt, Interleave: BIP}
		c := New(image.Rect(0, 0, len(in), 1), 1)
		copy(c.Pix, in)
		path := filepath.Join(dir, dt.String()+".hdr")
		writeCube(t, path, h, c, 1)
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Pix, w) {
			t.Errorf("%s: wrote %v, read %v, want %v", dt, in, got.Pix, w)
		}
	}
}

func TestWriterErrors(t *testing.T) {
	dir := t.TempDir()
	h := &Header{Samples: 3, Lines: 4, Bands: 2, DataType: Int16, Interleave: BSQ}
	w, err := Create(filepath.Join(dir, "a.hdr"), h)
	if err != nil {
		t.Fatal(err)
	}
	c := New(image.Rect(0, 0, 3, 4), 2)
	if err := w.WriteLines(c.SubCube(image.Rect(0, 1, 3, 2))); err == nil {
		t.Error("writing line 1 first: no error")
	}
	if err := w.WriteLines(c.SubCube(image.Rect(0, 0, 3, 1))); err != nil {
		t.Fatal(err)
	}
	err = w.Close()
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "3 missing") {
		t.Errorf("Close with 3 lines missing: %v", err)
	}
	for _, bad := range []*Header{
		{Samples: 0, Lines: 1, Bands: 1, DataType: Uint8, Interleave: BSQ},
		{Samples: 1, Lines: 1, Bands: 1, DataType: Complex64, Interleave: BSQ},
		{Samples: 1, Lines: 1, Bands: 1, DataType: 7, Interleave: BSQ},
		{Samples: 1, Lines: 1, Bands: 1, DataType: Uint8, Interleave: "xyz"},
		{Samples: 1, Lines: 1, Bands: 2, DataType: Uint8, Interleave: BSQ, Wavelength: []float64{1}},
	} {
		if _, err := Create(filepath.Join(dir, "b.hdr"), bad); err == nil {
			t.Errorf("Create(%+v): no error", bad)
		}
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	text := `ENVI
description = {
  a test, with a comma}
samples = 2
lines = 3
bands = 3
header offset = 0
file type = ENVI Standard
data type = 4
interleave = bil
sensor type = Unknown
byte order = 1
default bands = {2,1,0}
wavelength units = Micrometers
reflectance scale factor = 10000
data ignore value = -9999
map info = {UTM, 1.5, 2.5, 500000.25, 4100000.75, 1.25, 1.5, 11, North, WGS-84, units=Meters, rotation=12.5}
coordinate system string = {PROJCS["WGS_1984_UTM_Zone_11N"]}
band names = {a, b, c}
wavelength = {0.5, 1.25, 2.125}
fwhm = {0.01, 0.02, 0.03}
bbl = {1, 0, 1}
my key = {x,
 y}
plain key = hello
`
	h, err := DecodeHeader(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := EncodeHeader(&buf, h); err != nil {
		t.Fatal(err)
	}
	h2, err := DecodeHeader(&buf)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	for _, k := range h.Keys {
		if _, ok := h2.Fields[k]; !ok {
			t.Errorf("key %q lost", k)
		}
	}
	if len(h2.Keys) != len(h.Keys) {
		t.Errorf("keys %q became %q", h.Keys, h2.Keys)
	}
	h.Keys, h.Fields, h2.Keys, h2.Fields = nil, nil, nil, nil
	if !reflect.DeepEqual(h, h2) {
		t.Errorf("round trip changed the header:\n%+v\n%+v\n%+v\n%+v", h, h2, h.MapInfo, h2.MapInfo)
	}
}

func TestEncodeHeaderRefusesUnwritable(t *testing.T) {
	h := &Header{Samples: 1, Lines: 1, Bands: 1, DataType: Uint8, Keys: []string{"k"}, Fields: map[string]string{"k": "a}b"}}
	if err := EncodeHeader(&bytes.Buffer{}, h); err == nil {
		t.Error("value with '}': no error")
	}
}

func TestCreateTruncates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.hdr")
	if err := os.WriteFile(filepath.Join(dir, "c.img"), make([]byte, 1000), 0o666); err != nil {
		t.Fatal(err)
	}
	h := &Header{Samples: 2, Lines: 1, Bands: 1, DataType: Uint8, Interleave: BSQ}
	writeCube(t, path, h, New(image.Rect(0, 0, 2, 1), 1), 1)
	st, err := os.Stat(filepath.Join(dir, "c.img"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 2 {
		t.Errorf("data file is %d bytes, want 2", st.Size())
	}
}
