package spectra

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ErrCSV is wrapped by every error ReadCSV returns for malformed input.
var ErrCSV = errors.New("signature csv")

// CSV header column names (docs/signature-library.md).
const (
	CSVWavenumber = "wavenumber_cm-1"
	CSVWavelength = "wavelength_um"
	CSVK          = "k_per_ppmm"
)

// ReadCSV reads one gas signature from CSV:
//
//	# name: ammonia
//	# cas: 7664-41-7
//	# formula: H3N
//	# source: my lab, 2025 cell measurement
//	# quality: quantitative
//	wavenumber_cm-1,k_per_ppmm
//	900.0,1.2e-4
//	901.0,1.3e-4
//
// Lines starting with '#' before the header are "key: value" metadata:
// name (required), cas, formula (molar mass computed from it unless
// molar_mass_g_per_mol is given), molar_mass_g_per_mol, source, quality
// (quantitative, digitised or unspecified; default unspecified), y_units,
// notes. Other '#' lines and blank lines are ignored. The header names the
// two columns: wavenumber_cm-1 or wavelength_um, then k_per_ppmm
// (natural-log absorption per ppm·m). Rows may come in any order; they are
// sorted by wavenumber, and a repeated wavenumber is an error. Errors name
// the line and column.
func ReadCSV(r io.Reader) (*Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	e := &Entry{Quality: QualityUnspecified}
	var (
		header     bool
		wavelength bool
		nu, k      []float64
		line       int
		molarMass  float64
	)
	for sc.Scan() {
		line++
		s := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "#") {
			if header {
				continue
			}
			key, val, ok := strings.Cut(strings.TrimSpace(s[1:]), ":")
			if !ok {
				continue
			}
			key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
			switch key {
			case "name":
				e.Name = GasID(val)
			case "cas":
				e.CAS = val
			case "formula":
				counts, err := ParseFormula(val)
				if err != nil {
					return nil, fmt.Errorf("%w: line %d: formula: %w", ErrCSV, line, err)
				}
				e.Formula = HillFormula(counts)
				e.MolarMass = MolarMass(counts)
			case "molar_mass_g_per_mol":
				v, err := strconv.ParseFloat(val, 64)
				if err != nil || !(v > 0) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("%w: line %d: molar_mass_g_per_mol %q is not a positive number", ErrCSV, line, val)
				}
				molarMass = v
			case "source":
				e.Source = val
			case "quality":
				e.Quality = strings.ToLower(val)
			case "y_units":
				e.YUnits = val
			case "notes":
				e.Notes = val
			}
			continue
		}
		f := strings.Split(s, ",")
		if !header {
			if len(f) != 2 {
				return nil, fmt.Errorf("%w: line %d: header %q: want 2 columns, %s or %s then %s", ErrCSV, line, s, CSVWavenumber, CSVWavelength, CSVK)
			}
			c1, c2 := strings.ToLower(strings.TrimSpace(f[0])), strings.ToLower(strings.TrimSpace(f[1]))
			switch c1 {
			case CSVWavenumber:
			case CSVWavelength:
				wavelength = true
			default:
				return nil, fmt.Errorf("%w: line %d column 1: header %q, want %q or %q", ErrCSV, line, c1, CSVWavenumber, CSVWavelength)
			}
			if c2 != CSVK {
				return nil, fmt.Errorf("%w: line %d column 2: header %q, want %q", ErrCSV, line, c2, CSVK)
			}
			header = true
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: line %d: %d columns, want 2", ErrCSV, line, len(f))
		}
		var v [2]float64
		for c := range 2 {
			x, err := strconv.ParseFloat(strings.TrimSpace(f[c]), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("%w: line %d column %d: %q is not a finite number", ErrCSV, line, c+1, strings.TrimSpace(f[c]))
			}
			v[c] = x
		}
		if !(v[0] > 0) {
			return nil, fmt.Errorf("%w: line %d column 1: %g is not positive", ErrCSV, line, v[0])
		}
		if wavelength {
			v[0] = MicrometresToWavenumber(v[0])
		}
		nu, k = append(nu, v[0]), append(k, v[1])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", ErrCSV, line+1, err)
	}
	if !header {
		return nil, fmt.Errorf("%w: no header line (%s,%s)", ErrCSV, CSVWavenumber, CSVK)
	}
	if e.Name == "" {
		return nil, fmt.Errorf("%w: no \"# name:\" line", ErrCSV)
	}
	if molarMass > 0 {
		e.MolarMass = molarMass
	}
	n := len(nu)
	e.Wavenumber, e.K = sortByWavenumber(nu, k)
	if len(e.Wavenumber) != n {
		return nil, fmt.Errorf("%w: %s: a wavenumber is repeated", ErrCSV, e.Name)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCSV, err)
	}
	return e, nil
}

// WriteCSV writes the entry in the form ReadCSV reads.
func (e *Entry) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# name: %s\n", e.Name)
	for _, kv := range [][2]string{{"cas", e.CAS}, {"formula", e.Formula}, {"source", e.Source}, {"quality", e.Quality}, {"y_units", e.YUnits}, {"notes", e.Notes}} {
		if v := strings.Join(strings.Fields(kv[1]), " "); v != "" {
			fmt.Fprintf(bw, "# %s: %s\n", kv[0], v)
		}
	}
	if e.MolarMass > 0 {
		fmt.Fprintf(bw, "# molar_mass_g_per_mol: %s\n", strconv.FormatFloat(e.MolarMass, 'g', -1, 64))
	}
	fmt.Fprintf(bw, "%s,%s\n", CSVWavenumber, CSVK)
	for i := range e.K {
		fmt.Fprintf(bw, "%s,%s\n", strconv.FormatFloat(e.Wavenumber[i], 'g', -1, 64), strconv.FormatFloat(e.K[i], 'g', -1, 64))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write csv %s: %w", e.Name, err)
	}
	return nil
}
