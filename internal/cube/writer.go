package cube

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Writer writes an ENVI raster: the header at once, then the data in whole
// lines, in the header's interleave, data type and byte order.
//
// Values are converted from float32 as follows: Float32 is stored as is,
// Float64 exactly (float64(v)); integer types round to the nearest integer,
// halves away from zero (math.Round), and clamp to the type's range, so 300
// becomes 255 in Uint8 and −1 becomes 0; NaN becomes 0. No scale factor is
// applied: scale the cube first (see Scale) if the file should hold scaled
// integers.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	Header   *Header
	HdrPath  string
	DataPath string
	f        *os.File
	next     int // the next line to write
	buf      []byte
	closed   bool
}

// Create writes the header h to hdrPath (which should end in .hdr) and
// creates the data file beside it, named by replacing the extension with
// .img. The data file is sized to hold the whole cube at once (after
// h.HeaderOffset zero bytes), so lines not yet written read as zero.
//
// h must describe a cube this package can write: positive sizes, a real
// (not complex) data type and an interleave of bsq, bil or bip.
func Create(hdrPath string, h *Header) (*Writer, error) {
	if err := h.checkWritable(); err != nil {
		return nil, fmt.Errorf("create %s: %w", hdrPath, err)
	}
	dataPath := strings.TrimSuffix(hdrPath, filepath.Ext(hdrPath)) + ".img"
	if dataPath == hdrPath {
		return nil, fmt.Errorf("create %s: %w: header path must not end in .img", hdrPath, ErrFormat)
	}
	hf, err := os.Create(hdrPath)
	if err != nil {
		return nil, fmt.Errorf("create header: %w", err)
	}
	if err := EncodeHeader(hf, h); err != nil {
		hf.Close()
		return nil, fmt.Errorf("write %s: %w", hdrPath, err)
	}
	if err := hf.Sync(); err != nil {
		hf.Close()
		return nil, fmt.Errorf("sync %s: %w", hdrPath, err)
	}
	if err := hf.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", hdrPath, err)
	}
	f, err := os.OpenFile(dataPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("create data file: %w", err)
	}
	if err := f.Truncate(h.HeaderOffset + h.DataSize()); err != nil {
		f.Close()
		return nil, fmt.Errorf("size %s: %w", dataPath, err)
	}
	return &Writer{Header: h, HdrPath: hdrPath, DataPath: dataPath, f: f}, nil
}

// checkWritable validates the fields Create relies on.
func (h *Header) checkWritable() error {
	switch {
	case h.Samples < 1 || h.Samples > maxDim:
		return fmt.Errorf("%w: samples = %d is outside [1, %d]", ErrFormat, h.Samples, maxDim)
	case h.Lines < 1 || h.Lines > maxDim:
		return fmt.Errorf("%w: lines = %d is outside [1, %d]", ErrFormat, h.Lines, maxDim)
	case h.Bands < 1 || h.Bands > maxBands:
		return fmt.Errorf("%w: bands = %d is outside [1, %d]", ErrFormat, h.Bands, maxBands)
	case h.HeaderOffset < 0:
		return fmt.Errorf("%w: header offset = %d is negative", ErrFormat, h.HeaderOffset)
	case h.DataType == Complex64 || h.DataType == Complex128:
		return fmt.Errorf("%w: data type = %d (%s): complex cubes are not written", ErrUnsupported, int(h.DataType), h.DataType)
	case h.DataType.Size() == 0:
		return fmt.Errorf("%w: data type = %d is not an ENVI data type", ErrFormat, int(h.DataType))
	}
	switch h.Interleave {
	case BSQ, BIL, BIP:
	default:
		return fmt.Errorf("%w: interleave = %q is not bsq, bil or bip", ErrFormat, string(h.Interleave))
	}
	lineBytes := int64(h.Samples) * int64(h.Bands) * int64(h.DataType.Size())
	if int64(h.Lines) > (math.MaxInt64-h.HeaderOffset)/lineBytes {
		return fmt.Errorf("%w: samples = %d × lines = %d × bands = %d × %d bytes overflows a file size", ErrFormat, h.Samples, h.Lines, h.Bands, h.DataType.Size())
	}
	for _, l := range []struct {
		key string
		n   int
	}{{"wavelength", len(h.Wavelength)}, {"fwhm", len(h.FWHM)}, {"bbl", len(h.BBL)}, {"band names", len(h.BandNames)}} {
		if l.n != 0 && l.n != h.Bands {
			return fmt.Errorf("%w: %s has %d values for %d bands", ErrFormat, l.key, l.n, h.Bands)
		}
	}
	return nil
}

// Bounds returns the rectangle of the whole cube.
func (w *Writer) Bounds() image.Rectangle {
	return image.Rect(0, 0, w.Header.Samples, w.Header.Lines)
}

// WriteLines writes the lines of c, which must be the next lines of the file
// (c.Rect.Min.Y equal to the number of lines written so far), span every
// sample and have the header's bands. BIL and BIP lines are written with one
// WriteAt per group of lines; BSQ with one WriteAt per band for c's lines.
func (w *Writer) WriteLines(c *Cube) error {
	if w.closed {
		return fmt.Errorf("cube: WriteLines on closed writer for %s", w.DataPath)
	}
	h := w.Header
	r := c.Rect
	S, B := h.Samples, h.Bands
	if r.Min.X != 0 || r.Max.X != S || c.Bands != B || r.Min.Y != w.next || r.Max.Y > h.Lines || r.Max.Y < r.Min.Y {
		return fmt.Errorf("cube: WriteLines of %v with %d bands: want lines from %d to at most %d spanning samples [0, %d) with %d bands", r, c.Bands, w.next, h.Lines, S, B)
	}
	L := r.Dy()
	if L == 0 {
		return nil
	}
	if c.Stride < S*B || len(c.Pix) < (L-1)*c.Stride+S*B {
		return fmt.Errorf("cube: WriteLines of %v: stride %d and %d values too small for %d samples × %d bands", r, c.Stride, len(c.Pix), S, B)
	}
	t := h.DataType
	size := t.Size()
	switch h.Interleave {
	case BIP, BIL:
		lineBytes := S * B * size
		per := max(1, maxRead/lineBytes)
		for y := r.Min.Y; y < r.Max.Y; {
			n := min(per, r.Max.Y-y)
			b := w.grow(n * lineBytes)
			for i := 0; i < n; i++ {
				row := c.Pix[(y-r.Min.Y+i)*c.Stride:]
				lb := b[i*lineBytes : (i+1)*lineBytes]
				if h.Interleave == BIP {
					encodeLE(lb, row, 1, t, S*B)
					continue
				}
				for band := 0; band < B; band++ {
					encodeLE(lb[band*S*size:], row[band:], B, t, S)
				}
			}
			if err := w.writeAt(b, h.HeaderOffset+int64(y)*int64(lineBytes), y, -1); err != nil {
				return err
			}
			y += n
		}
	case BSQ:
		runBytes := S * size
		per := max(1, maxRead/runBytes)
		for y := r.Min.Y; y < r.Max.Y; {
			n := min(per, r.Max.Y-y)
			b := w.grow(n * runBytes)
			for band := 0; band < B; band++ {
				for i := 0; i < n; i++ {
					encodeLE(b[i*runBytes:], c.Pix[(y-r.Min.Y+i)*c.Stride+band:], B, t, S)
				}
				off := h.HeaderOffset + (int64(band)*int64(h.Lines)+int64(y))*int64(runBytes)
				if err := w.writeAt(b, off, y, band); err != nil {
					return err
				}
			}
			y += n
		}
	}
	w.next = r.Max.Y
	return nil
}

func (w *Writer) grow(n int) []byte {
	if cap(w.buf) < n {
		w.buf = make([]byte, n)
	}
	return w.buf[:n]
}

// writeAt swaps b to the file's byte order and writes it at off.
func (w *Writer) writeAt(b []byte, off int64, line, band int) error {
	if w.Header.BigEndian {
		swapBytes(b, w.Header.DataType.Size())
	}
	if _, err := w.f.WriteAt(b, off); err != nil {
		where := fmt.Sprintf("line %d", line)
		if band >= 0 {
			where += fmt.Sprintf(" band %d", band)
		}
		return fmt.Errorf("write %s: %s at byte %d: %w", w.DataPath, where, off, err)
	}
	return nil
}

// Close syncs and closes the data file. It fails, naming how many lines are
// missing, if fewer lines were written than the header declares (the file is
// still closed, and its missing lines read as zero).
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	if w.next < w.Header.Lines {
		errs = append(errs, fmt.Errorf("%w: %s: %d of %d lines written, %d missing", ErrFormat, w.DataPath, w.next, w.Header.Lines, w.Header.Lines-w.next))
	}
	if err := w.f.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("sync %s: %w", w.DataPath, err))
	}
	if err := w.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close %s: %w", w.DataPath, err))
	}
	return errors.Join(errs...)
}

// encodeLE converts n values src[0], src[stride], … to little-endian t in b.
func encodeLE(b []byte, src []float32, stride int, t DataType, n int) {
	if n == 0 {
		return
	}
	_ = src[(n-1)*stride]
	le := binary.LittleEndian
	switch t {
	case Uint8:
		b = b[:n]
		for i := range b {
			b[i] = uint8(clampRound(src[i*stride], 0, math.MaxUint8))
		}
	case Int16:
		b = b[:2*n]
		for i := 0; i < n; i++ {
			le.PutUint16(b[2*i:], uint16(int16(clampRound(src[i*stride], math.MinInt16, math.MaxInt16))))
		}
	case Uint16:
		b = b[:2*n]
		for i := 0; i < n; i++ {
			le.PutUint16(b[2*i:], uint16(clampRound(src[i*stride], 0, math.MaxUint16)))
		}
	case Int32:
		b = b[:4*n]
		for i := 0; i < n; i++ {
			le.PutUint32(b[4*i:], uint32(int32(clampRound(src[i*stride], math.MinInt32, math.MaxInt32))))
		}
	case Uint32:
		b = b[:4*n]
		for i := 0; i < n; i++ {
			le.PutUint32(b[4*i:], uint32(clampRound(src[i*stride], 0, math.MaxUint32)))
		}
	case Float32:
		b = b[:4*n]
		for i := 0; i < n; i++ {
			le.PutUint32(b[4*i:], math.Float32bits(src[i*stride]))
		}
	case Float64:
		b = b[:8*n]
		for i := 0; i < n; i++ {
			le.PutUint64(b[8*i:], math.Float64bits(float64(src[i*stride])))
		}
	case Int64:
		b = b[:8*n]
		for i := 0; i < n; i++ {
			le.PutUint64(b[8*i:], uint64(toInt64(src[i*stride])))
		}
	case Uint64:
		b = b[:8*n]
		for i := 0; i < n; i++ {
			le.PutUint64(b[8*i:], toUint64(src[i*stride]))
		}
	default:
		panic("cube: encode of unsupported data type " + t.String())
	}
}

// clampRound rounds v half away from zero and clamps it to [lo, hi]; NaN is
// 0. Every bound used is exactly representable in float64, and the result is
// an integer within the range of int64, so the caller's conversion is exact.
func clampRound(v float32, lo, hi float64) int64 {
	f := math.Round(float64(v))
	switch {
	case f != f:
		return 0
	case f < lo:
		return int64(lo)
	case f > hi:
		return int64(hi)
	}
	return int64(f)
}

// toInt64 is clampRound for int64, whose upper bound 2^63−1 float64 cannot
// hold: any float ≥ 2^63 saturates.
func toInt64(v float32) int64 {
	f := math.Round(float64(v))
	switch {
	case f != f:
		return 0
	case f >= 1<<63:
		return math.MaxInt64
	case f < -(1 << 63):
		return math.MinInt64
	}
	return int64(f)
}

// toUint64 is clampRound for uint64 (2^64−1 is not a float64 either).
func toUint64(v float32) uint64 {
	f := math.Round(float64(v))
	switch {
	case f != f || f <= 0:
		return 0
	case f >= 1<<64:
		return math.MaxUint64
	}
	return uint64(f)
}

// knownKeys are the keys EncodeHeader writes from Header's typed fields, in
// the order it writes them.
var knownKeys = []string{
	"description", "samples", "lines", "bands", "header offset", "file type", "data type",
	"interleave", "byte order", "wavelength units", "reflectance scale factor",
	"data ignore value", "map info", "coordinate system string", "band names",
	"wavelength", "fwhm", "bbl",
}

// listKeys are keys whose values ENVI writes in braces even when they hold a
// single item.
var listKeys = map[string]bool{
	"description": true, "band names": true, "wavelength": true, "fwhm": true, "bbl": true,
	"map info": true, "coordinate system string": true, "default bands": true,
	"spectra names": true, "data gain values": true, "data offset values": true,
	"class names": true, "class lookup": true, "projection info": true,
}

// EncodeHeader writes h as ENVI header text. The typed fields are the truth
// for the keys they cover (samples, lines, bands, header offset, file type,
// data type, interleave, byte order, wavelength units, reflectance scale
// factor, data ignore value, map info, coordinate system string, description,
// band names, wavelength, fwhm, bbl): each is written when set or when its
// key is in h.Fields (so an empty description survives) (the sizes,
// data type, interleave, header offset and byte order always; file type
// defaults to "ENVI Standard"), whatever h.Fields says. Every other key in
// h.Keys is written after them, in order, with its raw value from h.Fields, so
// keys this package does not understand survive a read-write round trip.
//
// Values holding a comma or a line break, and values of list keys (such as
// default bands), are written in braces. A key or value that cannot be
// written so that it reads back the same (a key with '=' or a line break, a
// value with '}' or, unbraced, a line break) is an error.
func EncodeHeader(w io.Writer, h *Header) error {
	var b strings.Builder
	b.WriteString("ENVI\n")
	put := func(key, val string) {
		b.WriteString(key)
		b.WriteString(" = ")
		if listKeys[key] || strings.ContainsAny(val, ",\n{") {
			b.WriteString("{")
			b.WriteString(val)
			b.WriteString("}")
		} else {
			b.WriteString(val)
		}
		b.WriteByte('\n')
	}
	ff := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	floats := func(vs []float64) string {
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = ff(v)
		}
		return wrapList(parts)
	}
	if _, ok := h.Fields["description"]; ok || h.Description != "" {
		put("description", h.Description)
	}
	put("samples", strconv.Itoa(h.Samples))
	put("lines", strconv.Itoa(h.Lines))
	put("bands", strconv.Itoa(h.Bands))
	put("header offset", strconv.FormatInt(h.HeaderOffset, 10))
	ft := h.FileType
	if ft == "" {
		ft = "ENVI Standard"
	}
	put("file type", ft)
	put("data type", strconv.Itoa(int(h.DataType)))
	il := h.Interleave
	if il == "" {
		il = BSQ
	}
	put("interleave", string(il))
	if h.BigEndian {
		put("byte order", "1")
	} else {
		put("byte order", "0")
	}
	if _, ok := h.Fields["wavelength units"]; ok || h.WavelengthUnits != "" {
		put("wavelength units", h.WavelengthUnits)
	}
	if h.ReflectanceScaleFactor != 0 {
		put("reflectance scale factor", ff(h.ReflectanceScaleFactor))
	}
	if h.HasDataIgnoreValue {
		put("data ignore value", ff(h.DataIgnoreValue))
	}
	if h.MapInfo != nil {
		put("map info", h.MapInfo.String())
	}
	if _, ok := h.Fields["coordinate system string"]; ok || h.CoordinateSystemString != "" {
		put("coordinate system string", h.CoordinateSystemString)
	}
	if h.BandNames != nil {
		for i, n := range h.BandNames {
			if strings.ContainsAny(n, ",}\n") {
				return fmt.Errorf("%w: band name %d = %q holds ',', '}' or a line break and cannot be written", ErrFormat, i+1, n)
			}
		}
		put("band names", wrapList(h.BandNames))
	}
	if h.Wavelength != nil {
		put("wavelength", floats(h.Wavelength))
	}
	if h.FWHM != nil {
		put("fwhm", floats(h.FWHM))
	}
	if h.BBL != nil {
		parts := make([]string, len(h.BBL))
		for i, ok := range h.BBL {
			parts[i] = "0"
			if ok {
				parts[i] = "1"
			}
		}
		put("bbl", wrapList(parts))
	}
	known := make(map[string]bool, len(knownKeys))
	for _, k := range knownKeys {
		known[k] = true
	}
	for _, k := range h.Keys {
		if known[k] {
			continue
		}
		v, ok := h.Fields[k]
		if !ok {
			continue
		}
		if k == "" || strings.ContainsAny(k, "=\n\r{}") || strings.TrimSpace(k) != k {
			return fmt.Errorf("%w: header key %q cannot be written", ErrFormat, k)
		}
		if strings.Contains(v, "}") {
			return fmt.Errorf("%w: value of header key %q holds '}' and cannot be written", ErrFormat, k)
		}
		put(k, v)
	}
	for _, v := range []string{h.Description, h.CoordinateSystemString, h.WavelengthUnits, h.FileType} {
		if strings.Contains(v, "}") {
			return fmt.Errorf("%w: header value %q holds '}' and cannot be written", ErrFormat, truncate(v))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrapList joins items with ", ", breaking lines about every 80 characters
// as ENVI does.
func wrapList(items []string) string {
	var b strings.Builder
	col := 0
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
			if col+len(it) > 76 {
				b.WriteString("\n ")
				col = 1
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(it)
		col += len(it) + 1
	}
	return b.String()
}

// String formats the map info as ENVI writes it (without braces).
func (m *MapInfo) String() string {
	ff := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	parts := []string{m.Projection, ff(m.RefX), ff(m.RefY), ff(m.Easting), ff(m.Northing), ff(m.PixelX), ff(m.PixelY)}
	if strings.EqualFold(m.Projection, "UTM") {
		hemi := "South"
		if m.North {
			hemi = "North"
		}
		parts = append(parts, strconv.Itoa(m.Zone), hemi)
	}
	if m.Datum != "" {
		parts = append(parts, m.Datum)
	}
	if m.Units != "" {
		parts = append(parts, "units="+m.Units)
	}
	if m.Rotation != 0 {
		parts = append(parts, "rotation="+ff(m.Rotation))
	}
	return strings.Join(parts, ", ")
}
