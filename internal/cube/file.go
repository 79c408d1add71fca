package cube

import (
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unsafe"
)

// File is an open ENVI raster: its header and its data file.
type File struct {
	Header   *Header
	HdrPath  string
	DataPath string
	// Scaled makes ReadLines, ReadAll and Blocks divide every value by the
	// header's reflectance scale factor (see Header.Scale), as Spectral
	// Python's load() does by default. It is false after Open: Atalaya reads
	// stored values unless asked.
	Scaled bool
	f      *os.File
	buf    []byte
}

// Open reads the ENVI header at path (a .hdr file, or the data file beside
// which a .hdr lies) and opens its data file, checking that it holds at least
// as many bytes as the header promises.
func Open(path string) (*File, error) {
	hdrPath, dataPath, err := findPair(path)
	if err != nil {
		return nil, err
	}
	hf, err := os.Open(hdrPath)
	if err != nil {
		return nil, fmt.Errorf("open header: %w", err)
	}
	h, err := DecodeHeader(hf)
	hf.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hdrPath, err)
	}
	if h.DataType == Complex64 || h.DataType == Complex128 {
		return nil, fmt.Errorf("%s: %w: data type = %d (%s): complex cubes are not read; convert to magnitude first", hdrPath, ErrUnsupported, int(h.DataType), h.DataType)
	}
	f, err := os.Open(dataPath)
	if err != nil {
		return nil, fmt.Errorf("open data file of %s: %w", hdrPath, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", dataPath, err)
	}
	if h.HeaderOffset > st.Size() {
		f.Close()
		return nil, fmt.Errorf("%w: header offset = %d is beyond the end of %s (%d bytes)", ErrFormat, h.HeaderOffset, dataPath, st.Size())
	}
	if want := h.HeaderOffset + h.DataSize(); st.Size() < want {
		f.Close()
		return nil, fmt.Errorf("%w: %s holds %d bytes but the header (samples %d × lines %d × bands %d × %d bytes + header offset %d) needs %d: the file is truncated or the header is wrong",
			ErrFormat, dataPath, st.Size(), h.Samples, h.Lines, h.Bands, h.DataType.Size(), h.HeaderOffset, want)
	}
	return &File{Header: h, HdrPath: hdrPath, DataPath: dataPath, f: f}, nil
}

// findPair resolves the header and data file names from either of them.
func findPair(path string) (hdr, data string, err error) {
	ext := filepath.Ext(path)
	if strings.EqualFold(ext, ".hdr") {
		base := strings.TrimSuffix(path, ext)
		for _, e := range []string{"", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip", ".IMG", ".DAT", ".RAW"} {
			if st, err := os.Stat(base + e); err == nil && st.Mode().IsRegular() {
				return path, base + e, nil
			}
		}
		if _, err := os.Stat(path); err != nil {
			return "", "", fmt.Errorf("open cube: %w", err)
		}
		return "", "", fmt.Errorf("%w: no data file beside %s (looked for %s, %s.img, .dat, .raw, .bsq, .bil, .bip)", ErrFormat, path, base, base)
	}
	for _, h := range []string{path + ".hdr", strings.TrimSuffix(path, ext) + ".hdr"} {
		if _, err := os.Stat(h); err == nil {
			return h, path, nil
		}
	}
	return "", "", fmt.Errorf("%w: no ENVI header for %s (looked for %s.hdr)", ErrFormat, path, path)
}

// Close closes the data file.
func (f *File) Close() error { return f.f.Close() }

// Bounds returns the rectangle of the whole cube.
func (f *File) Bounds() image.Rectangle {
	return image.Rect(0, 0, f.Header.Samples, f.Header.Lines)
}

// ReadAll reads the whole cube into memory.
func (f *File) ReadAll() (*Cube, error) {
	c := New(f.Bounds(), f.Header.Bands)
	if err := f.ReadLines(c); err != nil {
		return nil, err
	}
	return c, nil
}

// maxRead bounds the bytes of one ReadAt (and so the raw buffer a File
// keeps): 32 MiB is far beyond where a larger read stops paying on local disks
// and page cache, and small next to the float32 block it decodes into.
const maxRead = 32 << 20

// bandGroup is how many bands of a BSQ file are read (one ReadAt each) before
// they are interleaved into the BIP destination: 16 float32 values are one
// 64-byte cache line, so each destination line is written whole.
const bandGroup = 16

// tilePixels is how many pixels are transposed at a time from BSQ or BIL runs
// into BIP: a tile of 256 pixels × bandGroup values stays in L1.
const tilePixels = 256

// ReadLines fills dst with the lines dst.Rect.Min.Y ≤ y < dst.Rect.Max.Y. The
// rectangle must span every sample and dst.Bands must equal the header's
// bands.
//
// Reads are large: BIL and BIP read many whole lines per ReadAt; BSQ reads each
// band's run of dst's lines (contiguous in the file) in one ReadAt. The raw
// buffer the File keeps between calls is at most maxRead bytes or one line of
// all bands, whichever is larger (BIL, BIP), or bandGroup bands of one line
// (BSQ), never more than the data dst holds in float32 times two.
//
// A File is not safe for concurrent use: ReadLines reuses one buffer.
func (f *File) ReadLines(dst *Cube) error {
	h := f.Header
	r := dst.Rect
	S, B := h.Samples, h.Bands
	if r.Min.X != 0 || r.Max.X != S || r.Min.Y < 0 || r.Max.Y > h.Lines || r.Min.Y > r.Max.Y || dst.Bands != B {
		return fmt.Errorf("cube: ReadLines into %v with %d bands: want lines within [0, %d) spanning samples [0, %d) with %d bands", r, dst.Bands, h.Lines, S, B)
	}
	L := r.Dy()
	if L == 0 {
		return nil
	}
	if dst.Stride < S*B || len(dst.Pix) < (L-1)*dst.Stride+S*B {
		return fmt.Errorf("cube: ReadLines into %v: stride %d and %d values too small for %d samples × %d bands", r, dst.Stride, len(dst.Pix), S, B)
	}
	t := h.DataType
	size := t.Size()
	switch h.Interleave {
	case BIP, BIL:
		lineBytes := S * B * size
		per := max(1, maxRead/lineBytes)
		for y := r.Min.Y; y < r.Max.Y; {
			n := min(per, r.Max.Y-y)
			off := h.HeaderOffset + int64(y)*int64(lineBytes)
			b, err := f.read(off, n*lineBytes, y, -1)
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				row := dst.Pix[(y-r.Min.Y+i)*dst.Stride:]
				lb := b[i*lineBytes : (i+1)*lineBytes]
				if h.Interleave == BIP {
					decodeLE(row[:S*B], 1, lb, t, S*B)
					continue
				}
				for x0 := 0; x0 < S; x0 += tilePixels {
					w := min(tilePixels, S-x0)
					for band := 0; band < B; band++ {
						decodeLE(row[x0*B+band:], B, lb[(band*S+x0)*size:], t, w)
					}
				}
			}
			y += n
		}
	case BSQ:
		runBytes := S * size // one line of one band
		k := min(B, bandGroup)
		per := max(1, maxRead/(k*runBytes))
		for y := r.Min.Y; y < r.Max.Y; {
			n := min(per, r.Max.Y-y)
			for b0 := 0; b0 < B; b0 += k {
				g := min(k, B-b0)
				if cap(f.buf) < g*n*runBytes {
					f.buf = make([]byte, g*n*runBytes)
				}
				raw := f.buf[:g*n*runBytes]
				for j := 0; j < g; j++ {
					off := h.HeaderOffset + (int64(b0+j)*int64(h.Lines)+int64(y))*int64(runBytes)
					if err := f.readInto(raw[j*n*runBytes:(j+1)*n*runBytes], off, y, b0+j); err != nil {
						return err
					}
				}
				for i := 0; i < n; i++ {
					row := dst.Pix[(y-r.Min.Y+i)*dst.Stride:]
					for x0 := 0; x0 < S; x0 += tilePixels {
						w := min(tilePixels, S-x0)
						for j := 0; j < g; j++ {
							decodeLE(row[x0*B+b0+j:], B, raw[j*n*runBytes+(i*S+x0)*size:], t, w)
						}
					}
				}
			}
			y += n
		}
	}
	if f.Scaled {
		h.Scale(dst)
	}
	return nil
}

// read reads n bytes at off into the File's buffer, swapped to little-endian.
func (f *File) read(off int64, n, line, band int) ([]byte, error) {
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	b := f.buf[:n]
	return b, f.readInto(b, off, line, band)
}

// readInto fills b from off and swaps its values to little-endian.
func (f *File) readInto(b []byte, off int64, line, band int) error {
	if _, err := f.f.ReadAt(b, off); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		where := fmt.Sprintf("line %d", line)
		if band >= 0 {
			where += fmt.Sprintf(" band %d", band)
		}
		return fmt.Errorf("read %s: %s at byte %d: %w", f.DataPath, where, off, err)
	}
	if f.Header.BigEndian {
		swapBytes(b, f.Header.DataType.Size())
	}
	return nil
}

// swapBytes reverses the bytes of each size-byte value in b in place.
func swapBytes(b []byte, size int) {
	switch size {
	case 2:
		for i := 0; i+1 < len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i+3 < len(b); i += 4 {
			binary.LittleEndian.PutUint32(b[i:], binary.BigEndian.Uint32(b[i:]))
		}
	case 8:
		for i := 0; i+7 < len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.BigEndian.Uint64(b[i:]))
		}
	}
}

// decodeLE converts n little-endian values from b into dst[0], dst[stride], ….
func decodeLE(dst []float32, stride int, b []byte, t DataType, n int) {
	if n == 0 {
		return
	}
	_ = dst[(n-1)*stride]
	le := binary.LittleEndian
	switch t {
	case Uint8:
		b = b[:n]
		for i, v := range b {
			dst[i*stride] = float32(v)
		}
	case Int16:
		b = b[:2*n]
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(int16(le.Uint16(b[2*i:])))
		}
	case Uint16:
		b = b[:2*n]
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(le.Uint16(b[2*i:]))
		}
	case Int32:
		b = b[:4*n]
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(int32(le.Uint32(b[4*i:])))
		}
	case Uint32:
		b = b[:4*n]
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(le.Uint32(b[4*i:]))
		}
	case Float32:
		b = b[:4*n]
		if stride == 1 && nativeLittleEndian && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%4 == 0 {
			// Stored as the machine holds float32: a plain copy, which runs at
			// memory speed where the loop below does about 1 ns a value.
			copy(dst[:n], unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n))
			return
		}
		for i := 0; i < n; i++ {
			dst[i*stride] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case Float64:
		b = b[:8*n]
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	case Int64:
		b = b[:8*n]
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(int64(le.Uint64(b[8*i:])))
		}
	case Uint64:
		b = b[:8*n]
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(le.Uint64(b[8*i:]))
		}
	default:
		panic("cube: decode of unsupported data type " + t.String())
	}
}

// nativeLittleEndian is true on little-endian machines, where float32 data
// in ENVI byte order 0 can be copied without conversion.
var nativeLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// ReadFile reads the whole ENVI cube at path (a header or its data file)
// into memory.
func ReadFile(path string) (*Cube, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadAll()
}
