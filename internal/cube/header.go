package cube

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ErrFormat is wrapped by every error about a malformed header or data file.
var ErrFormat = errors.New("cube: bad ENVI file")

// ErrUnsupported is wrapped by errors about valid ENVI files that this package
// does not read (complex data).
var ErrUnsupported = errors.New("cube: unsupported ENVI feature")

// DataType is an ENVI data type code.
type DataType int

// The ENVI data types.
const (
	Uint8      DataType = 1
	Int16      DataType = 2
	Int32      DataType = 3
	Float32    DataType = 4
	Float64    DataType = 5
	Complex64  DataType = 6
	Complex128 DataType = 9
	Uint16     DataType = 12
	Uint32     DataType = 13
	Int64      DataType = 14
	Uint64     DataType = 15
)

// Size returns the number of bytes of one value, or 0 for an unknown type.
func (t DataType) Size() int {
	switch t {
	case Uint8:
		return 1
	case Int16, Uint16:
		return 2
	case Int32, Uint32, Float32:
		return 4
	case Int64, Uint64, Float64, Complex64:
		return 8
	case Complex128:
		return 16
	}
	return 0
}

func (t DataType) String() string {
	switch t {
	case Uint8:
		return "uint8"
	case Int16:
		return "int16"
	case Int32:
		return "int32"
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	case Complex64:
		return "complex64"
	case Complex128:
		return "complex128"
	case Uint16:
		return "uint16"
	case Uint32:
		return "uint32"
	case Int64:
		return "int64"
	case Uint64:
		return "uint64"
	}
	return fmt.Sprintf("DataType(%d)", int(t))
}

// Interleave is the order of values in an ENVI data file.
type Interleave string

// The ENVI interleaves.
const (
	BSQ Interleave = "bsq" // band sequential: all of band 0, then band 1, …
	BIL Interleave = "bil" // band interleaved by line: line 0 band 0, line 0 band 1, …
	BIP Interleave = "bip" // band interleaved by pixel: the spectrum of each pixel in turn
)

// Limits that reject absurd headers before anything is allocated. A real
// imaging spectrometer has at most a few thousand bands; 2^31 lines or samples
// is beyond any flight line.
const (
	maxDim   = 1 << 31
	maxBands = 1 << 16
)

// Header is a parsed ENVI header. Fields hold the keys this package
// understands; Fields holds every key as written (lower case, single spaces),
// with its raw value, so that nothing in a header is lost on a round trip.
type Header struct {
	Samples, Lines, Bands int
	HeaderOffset          int64
	FileType              string
	DataType              DataType
	Interleave            Interleave
	// BigEndian is true for "byte order = 1".
	BigEndian bool
	// Wavelength holds the band centres in WavelengthUnits (nil if absent).
	Wavelength      []float64
	WavelengthUnits string
	// FWHM holds the band widths in WavelengthUnits (nil if absent).
	FWHM []float64
	// BBL is the bad-band list: BBL[b] is false for a bad band (nil if absent).
	BBL []bool
	// DataIgnoreValue marks pixels with no data (NaN if absent).
	DataIgnoreValue        float64
	HasDataIgnoreValue     bool
	ReflectanceScaleFactor float64 // 0 if absent
	MapInfo                *MapInfo
	CoordinateSystemString string
	Description            string
	BandNames              []string

	// Keys lists every key in the order it appeared; Fields maps each to its
	// raw value (braces removed).
	Keys   []string
	Fields map[string]string
}

// MapInfo is the parsed "map info" of an ENVI header.
type MapInfo struct {
	Projection string // e.g. "UTM", "Geographic Lat/Lon"
	// RefX, RefY is the reference pixel in ENVI's 1-based file coordinates:
	// (1, 1) is the upper-left corner of the upper-left pixel.
	RefX, RefY float64
	// Easting, Northing are the map coordinates of the reference pixel (for
	// geographic projections, longitude and latitude in degrees).
	Easting, Northing float64
	// PixelX, PixelY are the pixel sizes in map units.
	PixelX, PixelY float64
	Zone           int  // UTM zone, 0 if not UTM
	North          bool // UTM hemisphere
	Datum          string
	Units          string
	Rotation       float64 // degrees, counter-clockwise
}

// DecodeHeader parses an ENVI header. It reads the text only; it never
// allocates pixels. Errors wrap ErrFormat and name the key and value.
func DecodeHeader(r io.Reader) (*Header, error) {
	keys, fields, err := scanHeader(r)
	if err != nil {
		return nil, err
	}
	h := &Header{Keys: keys, Fields: fields, DataIgnoreValue: math.NaN()}
	if err := h.parse(); err != nil {
		return nil, err
	}
	return h, nil
}

// maxHeaderBytes bounds the header text: even a 4000-band header with
// wavelength, fwhm, bbl and band names fits in well under 4 MiB.
const maxHeaderBytes = 16 << 20

func scanHeader(r io.Reader) ([]string, map[string]string, error) {
	br := bufio.NewReader(io.LimitReader(r, maxHeaderBytes+1))
	var text strings.Builder
	n, err := io.Copy(&text, br)
	if err != nil {
		return nil, nil, fmt.Errorf("read header: %w", err)
	}
	if n > maxHeaderBytes {
		return nil, nil, fmt.Errorf("%w: header longer than %d bytes", ErrFormat, maxHeaderBytes)
	}
	s := text.String()
	s = strings.TrimPrefix(s, "\ufeff")
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	i := 0
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	if i == len(lines) || strings.TrimSpace(lines[i]) != "ENVI" {
		return nil, nil, fmt.Errorf("%w: header does not start with the word ENVI", ErrFormat)
	}
	i++
	fields := make(map[string]string)
	var keys []string
	for ; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			return nil, nil, fmt.Errorf("%w: header line %d %q has no '='", ErrFormat, i+1, truncate(line))
		}
		key := strings.ToLower(strings.Join(strings.Fields(line[:eq]), " "))
		if key == "" {
			return nil, nil, fmt.Errorf("%w: header line %d has an empty key", ErrFormat, i+1)
		}
		val := strings.TrimSpace(line[eq+1:])
		if strings.HasPrefix(val, "{") {
			start := i + 1
			var b strings.Builder
			b.WriteString(val[1:])
			for !strings.Contains(val, "}") {
				i++
				if i >= len(lines) {
					return nil, nil, fmt.Errorf("%w: value of %q opened with '{' on line %d is never closed", ErrFormat, key, start)
				}
				val = lines[i]
				b.WriteByte('\n')
				b.WriteString(val)
			}
			v := b.String()
			v = v[:strings.LastIndexByte(v, '}')]
			val = strings.TrimSpace(v)
		}
		if _, dup := fields[key]; !dup {
			keys = append(keys, key)
		}
		fields[key] = val
	}
	return keys, fields, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func (h *Header) parse() error {
	var err error
	if h.Samples, err = h.requiredInt("samples", 1, maxDim); err != nil {
		return err
	}
	if h.Lines, err = h.requiredInt("lines", 1, maxDim); err != nil {
		return err
	}
	if h.Bands, err = h.requiredInt("bands", 1, maxBands); err != nil {
		return err
	}
	dt, err := h.requiredInt("data type", 1, 15)
	if err != nil {
		return err
	}
	h.DataType = DataType(dt)
	if h.DataType.Size() == 0 {
		return fmt.Errorf("%w: data type = %d is not an ENVI data type (1-6, 9, 12-15)", ErrFormat, dt)
	}
	if v, ok := h.Fields["header offset"]; ok {
		off, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || off < 0 {
			return fmt.Errorf("%w: header offset = %q is not a non-negative integer", ErrFormat, v)
		}
		h.HeaderOffset = off
	}
	// The data size must fit an int64 file offset, and one line of all bands
	// an int (the unit of a read); S ≤ 2^31, B ≤ 2^16 and size ≤ 16 keep each
	// partial product below 2^63, so these checks cannot themselves overflow.
	size := int64(h.DataType.Size())
	lineBytes := int64(h.Samples) * int64(h.Bands) * size
	if lineBytes > math.MaxInt || int64(h.Lines) > (math.MaxInt64-h.HeaderOffset)/lineBytes {
		return fmt.Errorf("%w: samples = %d × lines = %d × bands = %d × %d bytes (data type = %d) + header offset = %d overflows a file size",
			ErrFormat, h.Samples, h.Lines, h.Bands, size, dt, h.HeaderOffset)
	}
	h.Interleave = BSQ // ENVI's default
	if v, ok := h.Fields["interleave"]; ok {
		switch Interleave(strings.ToLower(strings.TrimSpace(v))) {
		case BSQ:
			h.Interleave = BSQ
		case BIL:
			h.Interleave = BIL
		case BIP:
			h.Interleave = BIP
		default:
			return fmt.Errorf("%w: interleave = %q is not bsq, bil or bip", ErrFormat, v)
		}
	}
	if v, ok := h.Fields["byte order"]; ok {
		switch strings.TrimSpace(v) {
		case "0":
		case "1":
			h.BigEndian = true
		default:
			return fmt.Errorf("%w: byte order = %q is not 0 or 1", ErrFormat, v)
		}
	}
	h.FileType = h.Fields["file type"]
	h.Description = h.Fields["description"]
	h.WavelengthUnits = strings.TrimSpace(h.Fields["wavelength units"])
	h.CoordinateSystemString = h.Fields["coordinate system string"]
	if h.Wavelength, err = h.floatList("wavelength"); err != nil {
		return err
	}
	if h.FWHM, err = h.floatList("fwhm"); err != nil {
		return err
	}
	bbl, err := h.floatList("bbl")
	if err != nil {
		return err
	}
	if bbl != nil {
		h.BBL = make([]bool, len(bbl))
		for i, v := range bbl {
			h.BBL[i] = v != 0
		}
	}
	if v, ok := h.Fields["band names"]; ok {
		for _, s := range strings.Split(v, ",") {
			h.BandNames = append(h.BandNames, strings.TrimSpace(s))
		}
		if len(h.BandNames) != h.Bands {
			return fmt.Errorf("%w: band names has %d entries for %d bands", ErrFormat, len(h.BandNames), h.Bands)
		}
	}
	if v, ok := h.Fields["data ignore value"]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("%w: data ignore value = %q is not a number", ErrFormat, v)
		}
		h.DataIgnoreValue, h.HasDataIgnoreValue = f, true
	}
	if v, ok := h.Fields["reflectance scale factor"]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) {
			return fmt.Errorf("%w: reflectance scale factor = %q is not a positive number", ErrFormat, v)
		}
		h.ReflectanceScaleFactor = f
	}
	if v, ok := h.Fields["map info"]; ok {
		mi, err := parseMapInfo(v)
		if err != nil {
			return err
		}
		h.MapInfo = mi
	}
	return nil
}

func (h *Header) requiredInt(key string, lo, hi int64) (int, error) {
	v, ok := h.Fields[key]
	if !ok {
		return 0, fmt.Errorf("%w: required key %q is missing", ErrFormat, key)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s = %q is not an integer", ErrFormat, key, v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s = %d is outside [%d, %d]", ErrFormat, key, n, lo, hi)
	}
	return int(n), nil
}

// floatList parses a per-band list; its length must equal Bands.
func (h *Header) floatList(key string) ([]float64, error) {
	v, ok := h.Fields[key]
	if !ok {
		return nil, nil
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' })
	if len(parts) != h.Bands {
		return nil, fmt.Errorf("%w: %s has %d values for %d bands", ErrFormat, key, len(parts), h.Bands)
	}
	out := make([]float64, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %s value %d = %q is not a number", ErrFormat, key, i+1, p)
		}
		out[i] = f
	}
	return out, nil
}

func parseMapInfo(v string) (*MapInfo, error) {
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if len(parts) < 7 {
		return nil, fmt.Errorf("%w: map info = {%s} has %d fields, want at least 7", ErrFormat, truncate(v), len(parts))
	}
	mi := &MapInfo{Projection: parts[0]}
	nums := []*float64{&mi.RefX, &mi.RefY, &mi.Easting, &mi.Northing, &mi.PixelX, &mi.PixelY}
	for i, p := range nums {
		f, err := strconv.ParseFloat(parts[i+1], 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: map info field %d = %q is not a number", ErrFormat, i+2, parts[i+1])
		}
		*p = f
	}
	if mi.PixelX <= 0 || mi.PixelY <= 0 {
		return nil, fmt.Errorf("%w: map info pixel size %g × %g is not positive", ErrFormat, mi.PixelX, mi.PixelY)
	}
	rest := parts[7:]
	if strings.EqualFold(mi.Projection, "UTM") {
		if len(rest) < 2 {
			return nil, fmt.Errorf("%w: map info for UTM needs zone and North/South", ErrFormat)
		}
		z, err := strconv.Atoi(rest[0])
		if err != nil || z < 1 || z > 60 {
			return nil, fmt.Errorf("%w: map info UTM zone = %q is not 1-60", ErrFormat, rest[0])
		}
		mi.Zone = z
		switch strings.ToLower(rest[1]) {
		case "north":
			mi.North = true
		case "south":
		default:
			return nil, fmt.Errorf("%w: map info UTM hemisphere = %q is not North or South", ErrFormat, rest[1])
		}
		rest = rest[2:]
	}
	for _, p := range rest {
		k, val, found := strings.Cut(p, "=")
		if !found {
			if mi.Datum == "" {
				mi.Datum = p
			}
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "units":
			mi.Units = strings.TrimSpace(val)
		case "rotation":
			f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%w: map info rotation = %q is not a number", ErrFormat, val)
			}
			mi.Rotation = f
		}
	}
	return mi, nil
}

// DataSize returns the number of bytes of pixel data the header describes
// (header offset excluded).
func (h *Header) DataSize() int64 {
	return int64(h.Samples) * int64(h.Lines) * int64(h.Bands) * int64(h.DataType.Size())
}
