package cube

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodHeader = `ENVI
samples = 4
lines = 3
bands = 2
header offset = 0
data type = 2
interleave = bil
byte order = 0
`

// with returns goodHeader with key set to val (or removed if val is "").
func with(key, val string) string {
	var b strings.Builder
	found := false
	for _, l := range strings.Split(goodHeader, "\n") {
		if k, _, ok := strings.Cut(l, " = "); ok && k == key {
			found = true
			if val != "" {
				b.WriteString(key + " = " + val + "\n")
			}
			continue
		}
		if l != "" {
			b.WriteString(l + "\n")
		}
	}
	if !found {
		b.WriteString(key + " = " + val + "\n")
	}
	return b.String()
}

// TestHostileHeaders checks that every lie a header can tell is refused with
// an error that wraps ErrFormat and names the key and the value.
func TestHostileHeaders(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       []string
	}{
		{"unknown data type", with("data type", "7"), []string{"data type = 7"}},
		{"data type out of range", with("data type", "99"), []string{"data type = 99"}},
		{"negative samples", with("samples", "-4"), []string{"samples = -4"}},
		{"zero lines", with("lines", "0"), []string{"lines = 0"}},
		{"absurd bands", with("bands", "1000000"), []string{"bands = 1000000"}},
		{"absurd samples", with("samples", "99999999999"), []string{"samples = 99999999999"}},
		{"not a number", with("lines", "many"), []string{"lines", "many"}},
		{"size overflows int64", with("samples", "2147483648") + "lines = 2147483648\nbands = 65536\n", []string{"overflows", "samples = 2147483648", "bands = 65536"}},
		{"missing samples", with("samples", ""), []string{`"samples"`, "missing"}},
		{"missing lines", with("lines", ""), []string{`"lines"`, "missing"}},
		{"missing bands", with("bands", ""), []string{`"bands"`, "missing"}},
		{"missing data type", with("data type", ""), []string{`"data type"`, "missing"}},
		{"wavelength count", goodHeader + "wavelength = {1, 2, 3}\n", []string{"wavelength", "3 values for 2 bands"}},
		{"fwhm count", goodHeader + "fwhm = {1}\n", []string{"fwhm", "1 values for 2 bands"}},
		{"bbl count", goodHeader + "bbl = {1, 1, 0}\n", []string{"bbl", "3 values for 2 bands"}},
		{"band names count", goodHeader + "band names = {a}\n", []string{"band names", "1 entries for 2 bands"}},
		{"bad wavelength", goodHeader + "wavelength = {1, x}\n", []string{"wavelength", `"x"`}},
		{"unclosed brace", goodHeader + "wavelength = {1,\n 2\n", []string{`"wavelength"`, "never closed"}},
		{"negative header offset", with("header offset", "-5"), []string{"header offset", "-5"}},
		{"bad interleave", with("interleave", "bxl"), []string{"interleave", "bxl"}},
		{"bad byte order", with("byte order", "2"), []string{"byte order", `"2"`}},
		{"bad scale factor", goodHeader + "reflectance scale factor = -1\n", []string{"reflectance scale factor", "-1"}},
		{"no magic", strings.TrimPrefix(goodHeader, "ENVI\n"), []string{"ENVI"}},
		{"bad map info", goodHeader + "map info = {UTM, 1, 1, 0, 0, 30, 30, 61, North}\n", []string{"zone", "61"}},
		{"map info rotation NaN", goodHeader + "map info = {UTM, 1, 1, 0, 0, 30, 30, 10, North, WGS-84, rotation=NaN}\n", []string{"rotation", "NaN"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeHeader(strings.NewReader(c.text))
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func writePair(t *testing.T, hdr string, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "x.hdr")
	if err := os.WriteFile(p, []byte(hdr), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.img"), data, 0o666); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenRefuses(t *testing.T) {
	// 4 samples × 3 lines × 2 bands × 2 bytes = 48 bytes.
	for _, c := range []struct {
		name, hdr string
		size      int
		is        error
		want      []string
	}{
		{"file too short", goodHeader, 47, ErrFormat, []string{"holds 47 bytes", "needs 48", "samples 4 × lines 3 × bands 2 × 2 bytes"}},
		{"offset makes it short", with("header offset", "10"), 50, ErrFormat, []string{"holds 50 bytes", "header offset 10", "needs 58"}},
		{"header offset beyond file", with("header offset", "100"), 48, ErrFormat, []string{"header offset = 100", "beyond the end", "48 bytes"}},
		{"complex64", with("data type", "6"), 1000, ErrUnsupported, []string{"data type = 6", "complex64"}},
		{"complex128", with("data type", "9"), 1000, ErrUnsupported, []string{"data type = 9", "complex128"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(writePair(t, c.hdr, make([]byte, c.size)))
			if !errors.Is(err, c.is) {
				t.Fatalf("error %v does not wrap %v", err, c.is)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	f, err := Open(writePair(t, goodHeader, make([]byte, 48)))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestTruncatedAfterOpen checks a file that shrinks after Open gives an
// error naming the line, not a panic or silent zeros.
func TestTruncatedAfterOpen(t *testing.T) {
	p := writePair(t, goodHeader, make([]byte, 48))
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Truncate(strings.TrimSuffix(p, ".hdr")+".img", 20); err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadAll()
	if err == nil || !strings.Contains(err.Error(), "line") {
		t.Errorf("read of a truncated file: %v", err)
	}
}
