package spectra

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestLibrarySaveLoadRoundTrip(t *testing.T) {
	lib, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := lib.Save(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Load(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lib, back) {
		t.Fatal("library changed in a Save/Load round trip")
	}
	// Gzip-compressed input is detected.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(buf.Bytes())
	zw.Close()
	if back, err = Load(&z); err != nil || len(back.Entries) != len(lib.Entries) {
		t.Fatalf("gzip load: %v", err)
	}
}

// Default returns copies: changing one does not change the next.
func TestDefaultIsACopy(t *testing.T) {
	a, _ := Default()
	e, _ := a.Get("ammonia")
	k0 := e.K[100]
	e.K[100] = -1
	b, _ := Default()
	f, _ := b.Get("ammonia")
	if f.K[100] != k0 {
		t.Fatal("Default shares memory between calls")
	}
	if names := b.Names(); len(names) != len(b.Entries) || names[0] > names[len(names)-1] {
		t.Errorf("names %v", names)
	}
}

func TestLoadRejects(t *testing.T) {
	good := `{"format":"atalaya-signature-library","version":1,"entries":[{"name":"x","source":"s","quality":"unspecified","wavenumber_cm-1":[1,2],"k_per_ppm_m":[0,1]}]}`
	if _, err := Load(strings.NewReader(good)); err != nil {
		t.Fatalf("good file: %v", err)
	}
	for name, c := range map[string]struct{ in, want string }{
		"format":   {strings.Replace(good, "atalaya-signature-library", "other", 1), "format"},
		"version":  {strings.Replace(good, `"version":1`, `"version":2`, 1), "version"},
		"unsorted": {strings.Replace(good, "[1,2]", "[2,1]", 1), "wavenumber[1]"},
		"length":   {strings.Replace(good, "[0,1]", "[0]", 1), "k values"},
		"quality":  {strings.Replace(good, "unspecified", "great", 1), "quality"},
		"name":     {strings.Replace(good, `"name":"x"`, `"name":"X Y"`, 1), "name"},
		"field":    {strings.Replace(good, `"source"`, `"sauce"`, 1), "sauce"},
		"dup":      {strings.Replace(good, "]}]}", `]},{"name":"x","source":"s","quality":"unspecified","wavenumber_cm-1":[1,2],"k_per_ppm_m":[0,1]}]}`, 1), `"x" used by both`},
	} {
		_, err := Load(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
		if name == "unsorted" && !errors.Is(err, ErrInvalid) {
			t.Errorf("unsorted: %v does not wrap ErrInvalid", err)
		}
	}
}

func TestEntryAt(t *testing.T) {
	e := &Entry{Wavenumber: []float64{100, 200, 300}, K: []float64{1, 3, 0}}
	for nu, want := range map[float64]float64{100: 1, 150: 2, 200: 3, 250: 1.5, 300: 0} {
		if got := e.At(nu); got != want {
			t.Errorf("At(%g) = %g, want %g", nu, got, want)
		}
	}
	if !math.IsNaN(e.At(99)) || !math.IsNaN(e.At(301)) {
		t.Error("At outside the grid is not NaN")
	}
}

// Downsampling keeps each bin's mean: a 0.25 cm⁻¹ ramp becomes 1 cm⁻¹
// points at the bin means.
func TestDownsample(t *testing.T) {
	var nu, k []float64
	for v := 100.0; v < 104; v += 0.25 {
		nu = append(nu, v)
		k = append(k, 2*v)
	}
	n2, k2 := Downsample(nu, k, 1)
	if len(n2) != 4 {
		t.Fatalf("%d bins", len(n2))
	}
	for i := range n2 {
		if want := 100.375 + float64(i); n2[i] != want || k2[i] != 2*want {
			t.Errorf("bin %d: (%g, %g), want (%g, %g)", i, n2[i], k2[i], want, 2*want)
		}
	}
}
