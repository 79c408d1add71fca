package cube

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sharedData is the project's shared data folder (see shared/data/SOURCES.md):
// the repository is always checked out beside shared/.
const sharedData = "../../../shared/data"

// spyGolden is testdata/spy_golden.json, written by testdata/spy_golden.py
// with Debian's python3-spectral 0.22.4 (Spectral Python): the independent
// reader these tests compare against.
type spyGolden struct {
	SpectralVersion string `json:"spectral_version"`
	Cubes           []struct {
		Path             string      `json:"path"`
		Lines            int         `json:"lines"`
		Samples          int         `json:"samples"`
		Bands            int         `json:"bands"`
		Interleave       string      `json:"interleave"`
		ByteOrder        int         `json:"byte_order"`
		DataType         int         `json:"data_type"`
		Offset           int64       `json:"offset"`
		ScaleFactor      float64     `json:"scale_factor"`
		SHA256           string      `json:"sha256_f32le_bip"`
		Values           [][]float64 `json:"values"`
		Wavelength, FWHM []float64
		WavelengthUnits  *string `json:"wavelength_units"`
		BBL              []int   `json:"bbl"`
		DefaultBands     []int   `json:"default_bands"`
		Keys             []string
	} `json:"cubes"`
}

func loadSPyGolden(t *testing.T) spyGolden {
	t.Helper()
	b, err := os.ReadFile("testdata/spy_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g spyGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cubes) == 0 {
		t.Fatal("testdata/spy_golden.json lists no cubes")
	}
	return g
}

func requireSharedData(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sharedData); err != nil {
		t.Fatalf("shared data missing (%v): these tests need the repository checked out beside shared/ (see shared/data/SOURCES.md)", err)
	}
}

// digest hashes float32 values as little-endian bytes.
type digest struct{ buf []byte }

func pixDigest(h interface{ Write([]byte) (int, error) }, d *digest, pix []float32) {
	if cap(d.buf) < 4*len(pix) {
		d.buf = make([]byte, 4*len(pix))
	}
	b := d.buf[:4*len(pix)]
	for i, v := range pix {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	h.Write(b)
}

// TestAgainstSpectralPython reads every cube in shared/data with ReadAll and
// with Blocks, applying the scale factor as SPy does, and compares every value
// (through a SHA-256 of the float32 BIP array) and the header fields with what
// Spectral Python read (testdata/spy_golden.json).
func TestAgainstSpectralPython(t *testing.T) {
	requireSharedData(t)
	g := loadSPyGolden(t)
	hdrs, err := filepath.Glob(filepath.Join(sharedData, "*", "*.hdr"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range g.Cubes {
		names = append(names, c.Path)
	}
	for _, h := range hdrs {
		rel, _ := filepath.Rel(sharedData, h)
		if !slices.Contains(names, filepath.ToSlash(rel)) {
			t.Errorf("%s has no golden: rerun testdata/spy_golden.py", rel)
		}
	}
	for _, want := range g.Cubes {
		t.Run(want.Path, func(t *testing.T) {
			f, err := Open(filepath.Join(sharedData, want.Path))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h := f.Header
			if h.Lines != want.Lines || h.Samples != want.Samples || h.Bands != want.Bands {
				t.Errorf("shape %d×%d×%d, SPy %d×%d×%d", h.Lines, h.Samples, h.Bands, want.Lines, want.Samples, want.Bands)
			}
			if string(h.Interleave) != want.Interleave || int(h.DataType) != want.DataType || h.BigEndian != (want.ByteOrder == 1) || h.HeaderOffset != want.Offset {
				t.Errorf("interleave %s, data type %d, big-endian %v, offset %d; SPy %s, %d, byte order %d, %d",
					h.Interleave, h.DataType, h.BigEndian, h.HeaderOffset, want.Interleave, want.DataType, want.ByteOrder, want.Offset)
			}
			if h.ScaleFactor() != want.ScaleFactor {
				t.Errorf("scale factor %g, SPy %g", h.ScaleFactor(), want.ScaleFactor)
			}
			if !slices.Equal(h.Wavelength, want.Wavelength) || !slices.Equal(h.FWHM, want.FWHM) {
				t.Errorf("wavelength or fwhm differ from SPy's")
			}
			if want.WavelengthUnits != nil && h.WavelengthUnits != *want.WavelengthUnits {
				t.Errorf("wavelength units %q, SPy %q", h.WavelengthUnits, *want.WavelengthUnits)
			}
			var bbl []int
			for _, ok := range h.BBL {
				bbl = append(bbl, map[bool]int{false: 0, true: 1}[ok])
			}
			if !slices.Equal(bbl, want.BBL) {
				t.Errorf("bbl %v, SPy %v", bbl, want.BBL)
			}
			if !slices.Equal(h.Keys, want.Keys) {
				t.Errorf("keys %q, SPy %q", h.Keys, want.Keys)
			}

			f.Scaled = true
			c, err := f.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.New()
			pixDigest(sum, &digest{}, c.Pix)
			if got := hex.EncodeToString(sum.Sum(nil)); got != want.SHA256 {
				t.Errorf("ReadAll: SHA-256 of the float32 BIP pixels %s, SPy %s", got, want.SHA256)
			}
			for _, v := range want.Values {
				y, x, b := int(v[0]), int(v[1]), int(v[2])
				if got := c.At(x, y)[b]; got != float32(v[3]) {
					t.Errorf("line %d sample %d band %d = %g, SPy %g", y, x, b, got, v[3])
				}
			}
			sum.Reset()
			var d digest
			for blk, err := range f.Blocks(7) {
				if err != nil {
					t.Fatal(err)
				}
				pixDigest(sum, &d, blk.Pix[:blk.Rect.Dy()*blk.Stride])
			}
			if got := hex.EncodeToString(sum.Sum(nil)); got != want.SHA256 {
				t.Errorf("Blocks(7): SHA-256 %s, SPy %s", got, want.SHA256)
			}
		})
	}
}

// TestJasperHeader checks the header ENVI itself wrote (shared/data/envi,
// see SOURCES.md) parses as written.
func TestJasperHeader(t *testing.T) {
	requireSharedData(t)
	path := filepath.Join(sharedData, "envi", "jasperRidge2_R198.hdr")
	hf, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	h, err := DecodeHeader(hf)
	if err != nil {
		t.Fatal(err)
	}
	if h.Samples != 100 || h.Lines != 100 || h.Bands != 198 || h.DataType != Int16 || h.Interleave != BIL || h.BigEndian || h.HeaderOffset != 0 {
		t.Errorf("got %d×%d×%d %s %s big-endian %v offset %d", h.Samples, h.Lines, h.Bands, h.DataType, h.Interleave, h.BigEndian, h.HeaderOffset)
	}
	if h.FileType != "ENVI Standard" || h.WavelengthUnits != "Nanometers" || h.ReflectanceScaleFactor != 10000 {
		t.Errorf("file type %q, wavelength units %q, reflectance scale factor %g", h.FileType, h.WavelengthUnits, h.ReflectanceScaleFactor)
	}
	if h.Fields["default bands"] != "32,17,4" || h.Fields["sensor type"] != "Unknown" {
		t.Errorf("default bands %q, sensor type %q", h.Fields["default bands"], h.Fields["sensor type"])
	}
	if !strings.HasPrefix(h.Description, "File Resize Result, x resize factor: 1.000000") || !strings.HasSuffix(h.Description, "[Thu Aug 30 08:58:47 2012]") {
		t.Errorf("description %q", h.Description)
	}
	// Values as printed in the header: first, last, and the two places where
	// the AVIRIS spectrometers overlap (wavelength falls from 675.62 to 664.14
	// at band 30, and from 1269.06 to 1254.32 at band 94).
	for _, c := range []struct {
		i    int
		w, f float64
	}{{0, 399.369995, 9.53}, {28, 675.619995, 9.27}, {29, 664.140015, 8.3}, {92, 1269.060059, 8.54}, {93, 1254.319946, 10.86}, {197, 2457.23999, 10.12}} {
		if h.Wavelength[c.i] != c.w || h.FWHM[c.i] != c.f {
			t.Errorf("band %d: wavelength %v fwhm %v, want %v %v", c.i+1, h.Wavelength[c.i], h.FWHM[c.i], c.w, c.f)
		}
	}
	if len(h.BBL) != 198 || slices.Contains(h.BBL, false) {
		t.Errorf("bbl: %d entries, want 198 all good", len(h.BBL))
	}
	if h.MapInfo != nil || h.HasDataIgnoreValue {
		t.Errorf("map info %v, data ignore value %v: the header has neither", h.MapInfo, h.HasDataIgnoreValue)
	}
	wantKeys := "description samples lines bands header offset file type data type interleave sensor type byte order default bands wavelength units reflectance scale factor wavelength fwhm bbl"
	if got := strings.Join(h.Keys, " "); got != wantKeys {
		t.Errorf("keys %q", got)
	}
}
