package spectra

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData is the project's shared data folder (shared/data/SOURCES.md),
// checked out beside the repository. Tests that use it fail, not skip, when
// it is missing.
func sharedData(t testing.TB, parts ...string) string {
	t.Helper()
	dir := filepath.Join(append([]string{"..", "..", "..", "shared", "data"}, parts...)...)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("shared data missing (the repository is checked out beside shared/): %v", err)
	}
	return dir
}

func readFile(t testing.TB, path string) ([]Spectrum, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ReadJCAMP(f)
}

func mustRead(t testing.TB, path string) []Spectrum {
	t.Helper()
	s, err := readFile(t, path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// The JCAMP-DX test suite (Lancashire; SOURCES.md): every XYDATA, XYPOINTS
// and PEAK TABLE file reads; the NTUPLES files are refused naming the
// record; xyinc2.jdx is refused for its point count, because a stretch of
// another file's SQZ data is spliced into the middle of its XY pairs (line
// 35: "28B2407B2394..." after "2810 0.976").
func TestJCAMPTestSuite(t *testing.T) {
	dir := sharedData(t, "spectra", "jcamp-testsuite")
	files, _ := filepath.Glob(filepath.Join(dir, "*.jdx"))
	if len(files) != 41 {
		t.Fatalf("%d files in %s, SOURCES.md's copy has 41", len(files), dir)
	}
	refused := map[string]string{
		"o06.jdx": "##NTUPLES", "o07.jdx": "##NTUPLES", "o08.jdx": "##NTUPLES", "o09.jdx": "##NTUPLES", "o10.jdx": "##NTUPLES",
		"ofid1.jdx": "##NTUPLES=NMR FID", "ofid2.jdx": "##NTUPLES=NMR FID", "ofid3.jdx": "##NTUPLES=NMR FID", "ofid4.jdx": "##NTUPLES=NMR FID",
		"xyinc2.jdx": "##NPOINTS=298",
	}
	blocks := map[string]int{"compound.jdx": 5, "blckpac1.jdx": 5, "blckpkt1.jdx": 6}
	read := 0
	for _, f := range files {
		base := filepath.Base(f)
		s, err := readFile(t, f)
		if want, ok := refused[base]; ok {
			if err == nil || !errors.Is(err, ErrJCAMP) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v, want one naming %s", base, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		read++
		want := 1
		if n, ok := blocks[base]; ok {
			want = n
		}
		if len(s) != want {
			t.Errorf("%s: %d blocks, want %d", base, len(s), want)
		}
		for _, b := range s {
			if len(b.X) != len(b.Y) || len(b.X) == 0 {
				t.Errorf("%s %q: %d x, %d y", base, b.Title, len(b.X), len(b.Y))
			}
		}
	}
	if read != 31 {
		t.Errorf("read %d files, want 31", read)
	}
}

// The same NMR spectrum in five encodings: o01 AFFN, o02 DIF+DUP, o03 PAC,
// o04 SQZ, o05 DIF+DUP (another writer). All must decode to identical
// arrays.
func TestJCAMPCompressionsAgree(t *testing.T) {
	dir := sharedData(t, "spectra", "jcamp-testsuite")
	ref := mustRead(t, filepath.Join(dir, "o01.jdx"))[0]
	if len(ref.Y) != 8192 {
		t.Fatalf("o01: %d points", len(ref.Y))
	}
	for _, f := range []string{"o02.jdx", "o03.jdx", "o04.jdx", "o05.jdx"} {
		s := mustRead(t, filepath.Join(dir, f))[0]
		if len(s.Y) != len(ref.Y) {
			t.Fatalf("%s: %d points, o01 has %d", f, len(s.Y), len(ref.Y))
		}
		for i := range s.Y {
			if s.Y[i] != ref.Y[i] || s.X[i] != ref.X[i] {
				t.Fatalf("%s point %d: (%g, %g), o01 has (%g, %g)", f, i, s.X[i], s.Y[i], ref.X[i], ref.Y[i])
			}
		}
	}

	// jtpolys.jdx (FIX) and jtpolysd.jdx (DIFDUP) hold the same integers,
	// but jtpolysd's ##YFACTOR has a typo (2.3884185791e-09 for
	// 2.384185791e-09 = 2^-29·1.28): the decoded values must differ by
	// exactly that ratio.
	a := mustRead(t, filepath.Join(dir, "jtpolys.jdx"))[0]
	b := mustRead(t, filepath.Join(dir, "jtpolysd.jdx"))[0]
	if len(a.Y) != 1844 || len(b.Y) != 1844 {
		t.Fatalf("jtpolys %d, jtpolysd %d points, want 1844", len(a.Y), len(b.Y))
	}
	ratio := 2.3884185791e-09 / 2.384185791e-09
	for i := range a.Y {
		if math.Abs(b.Y[i]-a.Y[i]*ratio) > 1e-12*math.Abs(a.Y[i]) || math.Abs(a.X[i]-b.X[i]) > 1e-3 {
			t.Fatalf("point %d: jtpolys (%g, %g), jtpolysd (%g, %g)", i, a.X[i], a.Y[i], b.X[i], b.Y[i])
		}
	}
}

// Files that encode a known function: fixinc3 and fixdec3 are sin(x°)
// ascending and descending; fixinc4 is exp(−x²) on [−2, 2]; fixinc2
// (absorbance, FIX) and xyinc1 (transmittance, XY pairs) are the same
// indene spectrum, so A = −log10 T.
func TestJCAMPKnownFunctions(t *testing.T) {
	dir := sharedData(t, "spectra", "jcamp-testsuite")
	// YFACTOR 9.3132E-10 on 2^30-scaled integers: values good to ~1e-9,
	// the YFACTOR itself to 5 digits (9.3132e-10 vs 2^-30 = 9.31323e-10).
	const tol = 5e-6
	for _, f := range []string{"fixinc3.jdx", "fixdec3.jdx"} {
		s := mustRead(t, filepath.Join(dir, f))[0]
		if len(s.Y) != 360 {
			t.Fatalf("%s: %d points", f, len(s.Y))
		}
		for i := range s.Y {
			if want := math.Sin(s.X[i] * math.Pi / 180); math.Abs(s.Y[i]-want) > tol {
				t.Fatalf("%s: y(%g) = %g, sin = %g", f, s.X[i], s.Y[i], want)
			}
		}
	}
	s := mustRead(t, filepath.Join(dir, "fixinc4.jdx"))[0]
	for i := range s.Y {
		if want := math.Exp(-s.X[i] * s.X[i]); math.Abs(s.Y[i]-want) > tol {
			t.Fatalf("fixinc4: y(%g) = %g, exp(-x²) = %g", s.X[i], s.Y[i], want)
		}
	}
	ab := mustRead(t, filepath.Join(dir, "fixinc2.jdx"))[0]
	tr := mustRead(t, filepath.Join(dir, "xyinc1.jdx"))[0]
	if len(ab.Y) != 3601 || len(tr.Y) != 3601 {
		t.Fatalf("fixinc2 %d, xyinc1 %d points, want 3601", len(ab.Y), len(tr.Y))
	}
	for i := range ab.Y {
		if ab.X[i] != tr.X[i] {
			t.Fatalf("point %d: x %g vs %g", i, ab.X[i], tr.X[i])
		}
		// Both are rounded to 1e-4: |dA| ≤ 0.5e-4 + log10(e)·0.5e-4/T.
		// The absorbance file is capped at A = 3 (T < 0.001 near 718 cm⁻¹).
		tol := 0.5e-4 + math.Log10E*0.5e-4/tr.Y[i] + 1e-9
		if want := math.Min(3, -math.Log10(tr.Y[i])); math.Abs(ab.Y[i]-want) > tol {
			t.Fatalf("x=%g: A = %g, -log10(T=%g) = %g", ab.X[i], ab.Y[i], tr.Y[i], want)
		}
	}
}

// Values read by hand from the files.
func TestJCAMPHandValues(t *testing.T) {
	dir := sharedData(t, "spectra")
	// acetone.jdx, NIST, PAC with a negative value as its own separator:
	// "574.93 90078 477740 1023064 138264-105172 167636", YFACTOR=4.5474E-13,
	// FIRSTX=574.928, LASTX=3975.077, NPOINTS=14106.
	s := mustRead(t, filepath.Join(dir, "ir", "acetone.jdx"))[0]
	want := []float64{90078, 477740, 1023064, 138264, -105172, 167636}
	for i, w := range want {
		if got := s.Y[i]; math.Abs(got-w*4.5474e-13) > 1e-25 {
			t.Errorf("acetone y[%d] = %g, want %g", i, got, w*4.5474e-13)
		}
	}
	if len(s.X) != 14106 || s.X[0] != 574.928 || s.X[len(s.X)-1] != 3975.077 {
		t.Errorf("acetone x: %d points %g..%g", len(s.X), s.X[0], s.X[len(s.X)-1])
	}
	if dx := s.X[1] - s.X[0]; math.Abs(dx-(3975.077-574.928)/14105) > 1e-9 {
		t.Errorf("acetone dx = %g", dx)
	}
	if got := s.Label("cas registry no"); got != "67-64-1" {
		t.Errorf("acetone CAS = %q", got)
	}
	// ammonia.jdx, Coblentz, AFFN: "453.094000 0.8990 0.8990 0.8990 0.9000 0.9000".
	s = mustRead(t, filepath.Join(dir, "ir", "ammonia.jdx"))[0]
	if s.Y[0] != 0.899 || s.Y[3] != 0.9 || s.X[0] != 453.094 {
		t.Errorf("ammonia: (%g, %g), y[3] = %g", s.X[0], s.Y[0], s.Y[3])
	}
	if s.Label("PARTIAL_PRESSURE") != "50 mmHg" || s.Label("path length") != "5 CM" {
		t.Errorf("ammonia labels: %q %q", s.Label("PARTIAL_PRESSURE"), s.Label("path length"))
	}
	// dupinc1.jdx, DIFDUP: "2500A1663l68k60m89..." with XFACTOR .1, YFACTOR
	// .0001: x0 = 250 nm, y0 = 1.1663, y1 = 1.1663 − 0.0368, y2 = y1 − 0.0260.
	s = mustRead(t, filepath.Join(dir, "jcamp-testsuite", "dupinc1.jdx"))[0]
	for i, w := range []float64{1.1663, 1.1295, 1.1035, 1.0546} {
		if math.Abs(s.Y[i]-w) > 1e-12 {
			t.Errorf("dupinc1 y[%d] = %.6f, want %.4f", i, s.Y[i], w)
		}
	}
	if s.X[0] != 250 || s.X[439] != 469.5 {
		t.Errorf("dupinc1 x %g..%g", s.X[0], s.X[439])
	}
	// pktab1.jdx: "##PEAK TABLE= (XY..XY)" starting "0,0 41,520 43,1000".
	s = mustRead(t, filepath.Join(dir, "jcamp-testsuite", "pktab1.jdx"))[0]
	if s.Table != "PEAKTABLE" || s.X[1] != 41 || s.Y[1] != 520 || s.Y[2] != 1000 {
		t.Errorf("pktab1: %s (%g, %g) %g", s.Table, s.X[1], s.Y[1], s.Y[2])
	}
}

// Every file of the ir collection reads: 68 files, 69 blocks (the compound
// example holds two).
func TestJCAMPReadsIRCollection(t *testing.T) {
	dir := sharedData(t, "spectra", "ir")
	files, _ := filepath.Glob(filepath.Join(dir, "*.jdx"))
	if len(files) != 68 {
		t.Fatalf("%d files, SOURCES.md says 68", len(files))
	}
	n := 0
	for _, f := range files {
		s, err := readFile(t, f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
		n += len(s)
	}
	if n != 69 {
		t.Errorf("%d blocks, want 69", n)
	}
}

func TestJCAMPErrors(t *testing.T) {
	hdr := "##TITLE=t\n##JCAMP-DX=4.24\n##XUNITS=1/CM\n##YUNITS=ABSORBANCE\n##FIRSTX=1\n##LASTX=8\n##XFACTOR=1\n##YFACTOR=1\n"
	cases := []struct{ name, in, want string }{
		{"npoints", hdr + "##NPOINTS=9\n##XYDATA=(X++(Y..Y))\n1 1 2 3 4\n5 5 6 7 8\n##END=\n", "##NPOINTS=9"},
		{"ycheck", hdr + "##NPOINTS=8\n##XYDATA=(X++(Y..Y))\n1A1JJJ\n4D5JJJJ\n##END=\n", "Y-check"},
		{"xcheck", hdr + "##NPOINTS=8\n##XYDATA=(X++(Y..Y))\n1 1 2 3 4\n50 5 6 7 8\n##END=\n", "X-check"},
		{"ntuples", "##TITLE=t\n##NTUPLES=NMR FID\n##PAGE=N=1\n##DATA TABLE=(X++(R..R)), XYDATA\n1 2 3\n##END=\n", "##NTUPLES=NMR FID"},
		{"link", "##TITLE=l\n##DATA TYPE=LINK\n##BLOCKS=1\n##END=\n", "LINK"},
		{"nodata", "##TITLE=t\n##XUNITS=1/CM\n##END=\n", "no ##XYDATA"},
		{"form", hdr + "##XYDATA=(X++(I..I))\n1 1\n##END=\n", "(X++(I..I))"},
		{"char", hdr + "##XYDATA=(X++(Y..Y))\n1 1 2 ! 4\n##END=\n", "unexpected character"},
		{"factor", "##TITLE=t\n##YFACTOR=abc\n##XYDATA=(X++(Y..Y))\n1 1 2\n##END=\n", `##YFACTOR="abc"`},
		{"dup", hdr + "##XYDATA=(X++(Y..Y))\n1 S9999\n##END=\n", "DUP"},
		{"pairs", "##TITLE=t\n##XYPOINTS=(XY..XY)\n1,2 3\n##END=\n", "not (X,Y) pairs"},
		{"empty", "", "no labelled data records"},
	}
	for _, c := range cases {
		_, err := ReadJCAMP(strings.NewReader(c.in))
		if err == nil || !errors.Is(err, ErrJCAMP) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// DIF, DUP, the Y-check and SQZ on hand-made lines, worked out by hand:
// "1A1JJJ" is 11, then +1 +1 +1: 11 12 13 14. The line ended in DIF form,
// so "4A4J%" starts with the Y-check 14 (dropped), then +1, +0: 15 15.
// "6A5e5T" starts with the check 15, then SQZ −55, and T duplicates it.
// The lines' abscissae (1, 4, 6) label the first value each holds,
// counting the check value.
func TestJCAMPASDFByHand(t *testing.T) {
	in := "##TITLE=t\n##FIRSTX=1\n##LASTX=8\n##NPOINTS=8\n##XYDATA=(X++(Y..Y))\n1A1JJJ\n4A4J%\n6A5e5T\n##END=\n"
	s, err := ReadJCAMP(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{11, 12, 13, 14, 15, 15, -55, -55}
	got := s[0]
	if len(got.Y) != len(want) {
		t.Fatalf("y = %v, want %v", got.Y, want)
	}
	for i := range want {
		if got.Y[i] != want[i] || got.X[i] != float64(i+1) {
			t.Fatalf("got x %v y %v, want y %v", got.X, got.Y, want)
		}
	}
	// A real exponent in AFFN is not SQZ: "1 1.5E-3 2" is two values.
	in = "##TITLE=t\n##FIRSTX=1\n##LASTX=2\n##NPOINTS=2\n##XYDATA=(X++(Y..Y))\n1 1.5E-3 2\n##END=\n"
	s, err = ReadJCAMP(strings.NewReader(in))
	if err != nil || s[0].Y[0] != 1.5e-3 || s[0].Y[1] != 2 {
		t.Fatalf("exponent: %v %v", s, err)
	}
}

func TestNormLabel(t *testing.T) {
	for in, want := range map[string]string{
		"PATH LENGTH": "PATHLENGTH", "Partial_Pressure": "PARTIALPRESSURE", "JCAMP-DX": "JCAMPDX",
		"SPECTROMETER/DATA SYSTEM": "SPECTROMETERDATASYSTEM", " data type ": "DATATYPE", "$URL": "$URL",
	} {
		if got := NormLabel(in); got != want {
			t.Errorf("NormLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzJCAMP(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.jdx"))
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata/")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("##TITLE=t\n##XYDATA=(X++(Y..Y))\n1A1JJJ\n4D5JJJJ\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadJCAMP(strings.NewReader(string(data)))
		if err != nil {
			if !errors.Is(err, ErrJCAMP) {
				t.Fatalf("error does not wrap ErrJCAMP: %v", err)
			}
			return
		}
		for _, b := range s {
			if len(b.X) != len(b.Y) || len(b.X) == 0 {
				t.Fatalf("block %q: %d x, %d y", b.Title, len(b.X), len(b.Y))
			}
		}
	})
}
