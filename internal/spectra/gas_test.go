package spectra

import (
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The gases that matter for drug laboratories must be in the default
// library under the names the command line uses.
func TestDefaultLibraryHasDrugLabGases(t *testing.T) {
	lib, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // name → quality expected from the files
		"ammonia": QualityDigitised, "acetone": QualityQuantitative, "toluene": QualityDigitised,
		"methanol": QualityDigitised, "ethanol": QualityDigitised, "isopropyl alcohol": QualityQuantitative,
		"2-butanone": QualityQuantitative, "ethyl acetate": QualityQuantitative, "chloroform": QualityQuantitative,
		"dichloromethane": QualityQuantitative, "methane": QualityDigitised,
	}
	for name, q := range want {
		e, err := lib.Get(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if e.Quality != q || e.Source == "" || e.CAS == "" || e.MolarMass == 0 {
			t.Errorf("%s: quality %q source %q CAS %q M %g", name, e.Quality, e.Source, e.CAS, e.MolarMass)
		}
		lo, hi := e.CoverageCM()
		// The whole LWIR window, 7.5-13.5 µm = 741-1333 cm⁻¹, is covered.
		if lo > 741 || hi < 1333 {
			t.Errorf("%s: covers %g-%g cm-1", name, lo, hi)
		}
		if _, err := e.Resample([]float64{8, 9, 10, 11, 12, 13}, []float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1}); err != nil {
			t.Errorf("%s: resample to LWIR: %v", name, err)
		}
	}
	if n := len(lib.Entries); n != 56 {
		t.Errorf("%d entries, want 56 (see cmd/mklibrary)", n)
	}
	// Molar masses from ##MOLFORM against published values (g/mol).
	for name, m := range map[string]float64{"ammonia": 17.031, "acetone": 58.08, "methane": 16.043, "chloroform": 119.37, "toluene": 92.14} {
		e, _ := lib.Get(name)
		if math.Abs(e.MolarMass-m) > 0.01 {
			t.Errorf("%s: molar mass %g, want %g", name, e.MolarMass, m)
		}
	}
}

// NIST quantitative spectra: k = ln(10)·y, bin-averaged to 1 cm⁻¹. Check a
// bin of acetone against the raw file: the mean of the decadic values with
// wavenumber in [1216, 1217) times ln 10.
func TestQuantitativeConversion(t *testing.T) {
	s := mustRead(t, filepath.Join(sharedData(t, "spectra", "ir"), "acetone.jdx"))[0]
	e, err := FromJCAMP(&s, "acetone", "test")
	if err != nil {
		t.Fatal(err)
	}
	var sx, sy float64
	n := 0
	for i, x := range s.X {
		if x >= 1216 && x < 1217 {
			sx += x
			sy += s.Y[i]
			n++
		}
	}
	if n < 4 {
		t.Fatalf("%d raw points in the bin", n)
	}
	j := slices.IndexFunc(e.Wavenumber, func(v float64) bool { return v >= 1216 && v < 1217 })
	if j < 0 || math.Abs(e.Wavenumber[j]-sx/float64(n)) > 1e-9 || math.Abs(e.K[j]-math.Ln10*sy/float64(n)) > 1e-12 {
		t.Fatalf("bin at %v: k %v, want %g at %g", e.Wavenumber[j], e.K[j], math.Ln10*sy/float64(n), sx/float64(n))
	}
	if e.Quality != QualityQuantitative || !slices.Contains(e.Aliases, "2-propanone") {
		t.Errorf("quality %q aliases %v", e.Quality, e.Aliases)
	}
	// Acetone's strongest LWIR band, C-C-C stretch near 1217 cm⁻¹: NIST's
	// decadic peak is of order 1e-4 per ppm·m.
	if k := e.At(1217); !(k > 1e-4 && k < 1e-3) {
		t.Errorf("acetone k(1217) = %g", k)
	}
}

// A synthetic digitised spectrum with a known answer: baseline 0.9 (the
// chart never reaches 1), one Gaussian band of decadic absorbance 0.5 at
// 1000 cm⁻¹, 76 mmHg (0.1 atm) in a 10 cm cell = 10⁴ ppm·m. After the
// baseline is removed the peak k is ln(10)·0.5/10⁴.
func TestDigitisedConversionSynthetic(t *testing.T) {
	s := Spectrum{Title: "synthetic", Labels: map[string]string{
		"STATE": "GAS", "PARTIALPRESSURE": "76 mmHg", "PATHLENGTH": "10 CM",
		"XUNITS": "1/CM", "YUNITS": "TRANSMITTANCE", "MOLFORM": "H3 N", "CASREGISTRYNO": "7664-41-7",
	}}
	for nu := 3800.0; nu >= 450; nu -= 0.9375 { // descending, as Coblentz charts are
		a := 0.5 * math.Exp(-0.5*math.Pow((nu-1000)/10, 2))
		s.X = append(s.X, nu)
		s.Y = append(s.Y, 0.9*math.Pow(10, -a))
	}
	e, err := FromJCAMP(&s, "Synthetic Gas", "test")
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "synthetic_gas" || e.Quality != QualityDigitised || e.Formula != "H3N" {
		t.Errorf("entry %q %q %q", e.Name, e.Quality, e.Formula)
	}
	want := math.Ln10 * 0.5 / 1e4
	if got := e.At(1000); math.Abs(got-want) > 0.01*want {
		t.Errorf("peak k = %g, want %g", got, want)
	}
	if got := e.At(1500); math.Abs(got) > 1e-9 {
		t.Errorf("clear-region k = %g, want 0", got)
	}
	if !slices.IsSorted(e.Wavenumber) {
		t.Error("grid not ascending")
	}
}

// The independent check of the digitised scale: three gases are in the
// collection twice, as a NIST quantitative spectrum and as a Coblentz
// chart. After baseline removal and partial-pressure scaling, their
// integrated absorption over the LWIR window (741-1333 cm⁻¹) must agree.
// The Coblentz charts are 1960-80 prism/grating spectra scanned from
// paper; band areas within ±35% are what such data can give (the NIST
// database quotes ~2-5% for its own).
func TestDigitisedAgreesWithQuantitative(t *testing.T) {
	dir := sharedData(t, "spectra", "ir")
	pairs := [][2]string{{"m-xylene", "1,3-dimethylbenzene"}, {"p-xylene", "1,4-dimethylbenzene"}, {"butadiene", "1,3-butadiene"}}
	for _, p := range pairs {
		var area [2]float64
		for i, f := range p {
			s := mustRead(t, filepath.Join(dir, f+".jdx"))[0]
			e, err := FromJCAMP(&s, f, "test")
			if err != nil {
				t.Fatal(err)
			}
			for j := 1; j < len(e.K); j++ {
				if e.Wavenumber[j-1] >= 741 && e.Wavenumber[j] <= 1333 {
					area[i] += 0.5 * (e.K[j] + e.K[j-1]) * (e.Wavenumber[j] - e.Wavenumber[j-1])
				}
			}
		}
		r := area[0] / area[1]
		t.Logf("%s/%s LWIR band area ratio %.3f (%.4g / %.4g cm-1 per ppm·m)", p[0], p[1], r, area[0], area[1])
		if r < 0.65 || r > 1.35 {
			t.Errorf("%s vs %s: area ratio %.3f outside [0.65, 1.35]", p[0], p[1], r)
		}
	}
}

func TestFromJCAMPRefuses(t *testing.T) {
	dir := sharedData(t, "spectra", "ir")
	for f, want := range map[string]string{
		"water.jdx":            "no partial pressure", // Sadtler absorbance, concentration unknown
		"ethanol2.jdx":         "not gas phase",       // no ##STATE, no conditions
		"isopropanol_ASDF.jdx": "not gas phase",
	} {
		s := mustRead(t, filepath.Join(dir, f))[0]
		if _, err := FromJCAMP(&s, strings.TrimSuffix(f, ".jdx"), "test"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", f, err, want)
		}
	}
}

func TestParsePressureLength(t *testing.T) {
	for in, want := range map[string]float64{
		"50 mmHg": 50 * 101325.0 / 760, "600 torr": 600 * 101325.0 / 760, "1 atm": 101325, "101.3 kPa": 101300,
		"0.5 bar": 50000, "250 Pa": 250, "10 mbar": 1000, "40 PPM": 4.053,
		"150 mmHg (NOTE: High partial pressure may produce unreliable values)": 150 * 101325.0 / 760,
		"GAS (150 mmHg, N2 ADDED, TOTAL PRESSURE 600 mmHg)":                    150 * 101325.0 / 760,
	} {
		got, err := ParsePressure(in)
		if err != nil || math.Abs(got-want) > 1e-9*want {
			t.Errorf("ParsePressure(%q) = %g, %v; want %g", in, got, err, want)
		}
	}
	for in, want := range map[string]float64{"5 CM": 0.05, "12.5 CM": 0.125, "18 CM CELL": 0.18, "10 m": 10, "100 mm": 0.1, "1000 CM": 10} {
		got, err := ParseLength(in)
		if err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("ParseLength(%q) = %g, %v; want %g", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GAS", "-5 mmHg", "5 furlongs"} {
		if _, err := ParsePressure(in); err == nil {
			t.Errorf("ParsePressure(%q): no error", in)
		}
		if _, err := ParseLength(in); err == nil {
			t.Errorf("ParseLength(%q): no error", in)
		}
	}
}

func TestFormula(t *testing.T) {
	// Molar masses by hand from the IUPAC abridged weights: C 12.011,
	// H 1.008, N 14.007, O 15.999, Cl 35.45.
	cases := []struct {
		in, hill string
		m        float64
	}{
		{"C H3 C O C H3", "C3H6O", 3*12.011 + 6*1.008 + 15.999},
		{"1,2-( C H3)2 C6 H4", "C8H10", 8*12.011 + 10*1.008},
		{"C H3 C H( O H) C H3", "C3H8O", 3*12.011 + 8*1.008 + 15.999},
		{"C 4 H 8", "C4H8", 4*12.011 + 8*1.008},
		{"H 2 O", "H2O", 2*1.008 + 15.999},
		{"C H2: C H C N", "C3H3N", 3*12.011 + 3*1.008 + 14.007},
		{"C H Cl3", "CHCl3", 12.011 + 1.008 + 3*35.45},
		{"H3 N", "H3N", 3*1.008 + 14.007},
	}
	for _, c := range cases {
		counts, err := ParseFormula(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if h := HillFormula(counts); h != c.hill || math.Abs(MolarMass(counts)-c.m) > 1e-9 {
			t.Errorf("%q: %s %g, want %s %g", c.in, h, MolarMass(counts), c.hill, c.m)
		}
	}
	for _, bad := range []string{"", "C H3 (", "Xx2", "C)", "c h4"} {
		if _, err := ParseFormula(bad); err == nil {
			t.Errorf("ParseFormula(%q): no error", bad)
		}
	}
}

func TestGasID(t *testing.T) {
	for in, want := range map[string]string{
		"Isopropyl alcohol": "isopropyl_alcohol", "2-Butanone": "2-butanone", "ethyl_acetate": "ethyl_acetate",
		"1,1,1-Trichloroethane": "1_1_1-trichloroethane", " Methane ": "methane", "BENZENE, 1,3-DIMETHYL-": "benzene_1_3-dimethyl-",
	} {
		if got := GasID(in); got != want {
			t.Errorf("GasID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGetUnknownGas(t *testing.T) {
	lib, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	_, err = lib.Get("unobtainium")
	if !errors.Is(err, ErrUnknownGas) || !strings.Contains(err.Error(), "unobtainium") || !strings.Contains(err.Error(), "ammonia") {
		t.Errorf("err = %v", err)
	}
	for alias, name := range map[string]string{"2-propanol": "isopropyl_alcohol", "Methyl Ethyl Ketone": "2-butanone", "m-xylene": "1_3-dimethylbenzene", "sulfur hexafluoride": "sulphur_hexafluoride"} {
		e, err := lib.Get(alias)
		if err != nil || e.Name != name {
			t.Errorf("Get(%q) = %v, %v; want %s", alias, e, err, name)
		}
	}
}
