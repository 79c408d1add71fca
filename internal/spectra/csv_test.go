package spectra

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCSVRoundTrip(t *testing.T) {
	lib, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := lib.Get("acetone")
	var buf bytes.Buffer
	if err := e.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := *e
	want.Aliases = nil // not part of the CSV form
	if !reflect.DeepEqual(&want, back) {
		t.Errorf("round trip changed the entry: %+v", back.Name)
	}
}

func TestCSVRead(t *testing.T) {
	in := "# name: Ammonia\n# formula: H3 N\n# quality: digitised\n\nwavelength_um,k_per_ppmm\n10,1e-4\n12.5,2e-4\n8,0\n"
	e, err := ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "ammonia" || e.Formula != "H3N" || e.Quality != QualityDigitised ||
		!reflect.DeepEqual(e.Wavenumber, []float64{800, 1000, 1250}) || !reflect.DeepEqual(e.K, []float64{2e-4, 1e-4, 0}) {
		t.Errorf("entry %+v", e)
	}
}

func TestCSVErrors(t *testing.T) {
	h := "# name: x\nwavenumber_cm-1,k_per_ppmm\n"
	for name, c := range map[string]struct{ in, want string }{
		"header":  {"# name: x\nnu,k\n1,2\n", "line 2 column 1"},
		"header2": {"# name: x\nwavenumber_cm-1,k\n1,2\n", "line 2 column 2"},
		"number":  {h + "1,2\n2,abc\n", `line 4 column 2: "abc"`},
		"columns": {h + "1,2,3\n", "line 3: 3 columns"},
		"nan":     {h + "1,NaN\n2,1\n", "line 3 column 2"},
		"zero":    {h + "0,1\n2,1\n", "line 3 column 1"},
		"repeat":  {h + "1,1\n1,2\n", "repeated"},
		"noname":  {"wavenumber_cm-1,k_per_ppmm\n1,2\n2,3\n", "name"},
		"nohead":  {"# name: x\n", "no header"},
		"short":   {h + "1,2\n", "need at least 2"},
		"quality": {"# name: x\n# quality: superb\nwavenumber_cm-1,k_per_ppmm\n1,2\n2,3\n", "quality"},
	} {
		_, err := ReadCSV(strings.NewReader(c.in))
		if err == nil || !errors.Is(err, ErrCSV) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
}
