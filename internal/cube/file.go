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
)

// File is an open ENVI raster: its header and its data file.
type File struct {
	Header   *Header
	HdrPath  string
	DataPath string
	f        *os.File
	buf      []byte
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

// ReadLines fills dst with the lines dst.Rect.Min.Y ≤ y < dst.Rect.Max.Y. The
// rectangle must span every sample and dst.Bands must equal the header's
// bands. Memory used besides dst is one line of one band (BSQ) or one line of
// all bands (BIL, BIP).
func (f *File) ReadLines(dst *Cube) error {
	h := f.Header
	r := dst.Rect
	if r.Min.X != 0 || r.Max.X != h.Samples || r.Min.Y < 0 || r.Max.Y > h.Lines || dst.Bands != h.Bands {
		return fmt.Errorf("cube: ReadLines into %v with %d bands: want lines within [0, %d) spanning samples [0, %d) with %d bands", r, dst.Bands, h.Lines, h.Samples, h.Bands)
	}
	size := h.DataType.Size()
	S, B := h.Samples, h.Bands
	order := binary.ByteOrder(binary.LittleEndian)
	if h.BigEndian {
		order = binary.BigEndian
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := dst.Pix[(y-r.Min.Y)*dst.Stride:]
		switch h.Interleave {
		case BIP:
			off := h.HeaderOffset + int64(y)*int64(S*B*size)
			b, err := f.read(off, S*B*size, y, -1)
			if err != nil {
				return err
			}
			decode(row[:S*B], b, h.DataType, order)
		case BIL:
			off := h.HeaderOffset + int64(y)*int64(S*B*size)
			b, err := f.read(off, S*B*size, y, -1)
			if err != nil {
				return err
			}
			for band := 0; band < B; band++ {
				decodeStrided(row[band:], B, b[band*S*size:(band+1)*S*size], h.DataType, order, S)
			}
		case BSQ:
			for band := 0; band < B; band++ {
				off := h.HeaderOffset + (int64(band)*int64(h.Lines)+int64(y))*int64(S*size)
				b, err := f.read(off, S*size, y, band)
				if err != nil {
					return err
				}
				decodeStrided(row[band:], B, b, h.DataType, order, S)
			}
		}
	}
	return nil
}

func (f *File) read(off int64, n, line, band int) ([]byte, error) {
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	b := f.buf[:n]
	if _, err := f.f.ReadAt(b, off); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		where := fmt.Sprintf("line %d", line)
		if band >= 0 {
			where += fmt.Sprintf(" band %d", band)
		}
		return nil, fmt.Errorf("read %s: %s at byte %d: %w", f.DataPath, where, off, err)
	}
	return b, nil
}

// decode converts len(dst) consecutive values.
func decode(dst []float32, b []byte, t DataType, order binary.ByteOrder) {
	decodeStrided(dst, 1, b, t, order, len(dst))
}

// decodeStrided converts n values from b into dst[0], dst[stride], ….
func decodeStrided(dst []float32, stride int, b []byte, t DataType, order binary.ByteOrder, n int) {
	switch t {
	case Uint8:
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(b[i])
		}
	case Int16:
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(int16(order.Uint16(b[2*i:])))
		}
	case Uint16:
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(order.Uint16(b[2*i:]))
		}
	case Int32:
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(int32(order.Uint32(b[4*i:])))
		}
	case Uint32:
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(order.Uint32(b[4*i:]))
		}
	case Float32:
		for i := 0; i < n; i++ {
			dst[i*stride] = math.Float32frombits(order.Uint32(b[4*i:]))
		}
	case Float64:
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(math.Float64frombits(order.Uint64(b[8*i:])))
		}
	case Int64:
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(int64(order.Uint64(b[8*i:])))
		}
	case Uint64:
		for i := 0; i < n; i++ {
			dst[i*stride] = float32(order.Uint64(b[8*i:]))
		}
	default:
		panic("cube: decode of unsupported data type " + t.String())
	}
}
