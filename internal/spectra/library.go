package spectra

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed" // the default library
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
)

//go:generate go run ./cmd/mklibrary -in ../../../shared/data/spectra/ir -out library/default.json.gz

// Exported sentinels.
var (
	// ErrUnknownGas is wrapped by Library.Get for a name that is neither an
	// entry's name nor one of its aliases.
	ErrUnknownGas = errors.New("unknown gas")
	// ErrInvalid is wrapped by errors for an entry or library that breaks
	// an invariant (unsorted grid, non-finite value, missing name...).
	ErrInvalid = errors.New("invalid signature")
)

// Quality of an entry's absorption coefficients.
const (
	// QualityQuantitative: measured on a calibrated gas standard and
	// published per ppm·m (the NIST quantitative infrared database).
	QualityQuantitative = "quantitative"
	// QualityDigitised: transmittance scanned from a paper chart (Coblentz
	// Society / Dow, 1960s-1980s) and scaled by the recorded partial
	// pressure and cell length; shape good, scale to perhaps ±30%.
	QualityDigitised = "digitised"
	// QualityUnspecified: imported from CSV without a stated quality.
	QualityUnspecified = "unspecified"
)

// FormatName and FormatVersion identify the library JSON format
// (docs/signature-library.md).
const (
	FormatName    = "atalaya-signature-library"
	FormatVersion = 1
)

// Entry is one gas's absorption spectrum.
type Entry struct {
	// Name is the gas's identifier (see GasID): lower case, e.g.
	// "ammonia", "isopropyl_alcohol", "2-butanone".
	Name string `json:"name"`
	// Aliases are other identifiers that Library.Get accepts for the gas
	// (from the file's title and CAS name, and dropped duplicate files).
	Aliases []string `json:"aliases,omitempty"`
	// CAS is the CAS registry number, e.g. "67-64-1".
	CAS string `json:"cas,omitempty"`
	// Formula is the molecular formula in Hill order, e.g. "C3H6O".
	Formula string `json:"formula,omitempty"`
	// MolarMass in g/mol, from Formula and IUPAC standard atomic weights.
	MolarMass float64 `json:"molar_mass_g_per_mol,omitempty"`
	// Source says where the data came from: the file, its ##ORIGIN and
	// ##OWNER, the collection.
	Source string `json:"source"`
	// YUnits are the original ordinate units (##YUNITS), before conversion.
	YUnits string `json:"original_y_units,omitempty"`
	// Quality is QualityQuantitative, QualityDigitised or
	// QualityUnspecified.
	Quality string `json:"quality"`
	// Notes record how the values were derived (conditions, baseline).
	Notes string `json:"notes,omitempty"`
	// Wavenumber is the grid in cm⁻¹, strictly ascending, regular or not.
	Wavenumber []float64 `json:"wavenumber_cm-1"`
	// K is the absorption coefficient at each grid point, natural-log
	// absorption per ppm·m: a thin plume of c ppm·m transmits exp(−K·c).
	K []float64 `json:"k_per_ppm_m"`
}

// Validate checks the entry's invariants.
func (e *Entry) Validate() error {
	if e.Name == "" || GasID(e.Name) != e.Name {
		return fmt.Errorf("%w: name %q is not an identifier (want %q)", ErrInvalid, e.Name, GasID(e.Name))
	}
	switch e.Quality {
	case QualityQuantitative, QualityDigitised, QualityUnspecified:
	default:
		return fmt.Errorf("%w: %s: quality %q is not %q, %q or %q", ErrInvalid, e.Name, e.Quality, QualityQuantitative, QualityDigitised, QualityUnspecified)
	}
	if len(e.Wavenumber) != len(e.K) {
		return fmt.Errorf("%w: %s: %d wavenumbers but %d k values", ErrInvalid, e.Name, len(e.Wavenumber), len(e.K))
	}
	if len(e.K) < 2 {
		return fmt.Errorf("%w: %s: %d points, need at least 2", ErrInvalid, e.Name, len(e.K))
	}
	for i, v := range e.Wavenumber {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %s: wavenumber[%d] = %g is not a positive finite number", ErrInvalid, e.Name, i, v)
		}
		if i > 0 && !(v > e.Wavenumber[i-1]) {
			return fmt.Errorf("%w: %s: wavenumber[%d] = %g is not above wavenumber[%d] = %g", ErrInvalid, e.Name, i, v, i-1, e.Wavenumber[i-1])
		}
	}
	for i, v := range e.K {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %s: k[%d] = %g is not finite", ErrInvalid, e.Name, i, v)
		}
	}
	if math.IsNaN(e.MolarMass) || e.MolarMass < 0 {
		return fmt.Errorf("%w: %s: molar mass %g", ErrInvalid, e.Name, e.MolarMass)
	}
	return nil
}

// CoverageCM returns the wavenumber range the entry was measured over, in
// cm⁻¹.
func (e *Entry) CoverageCM() (lo, hi float64) {
	if len(e.Wavenumber) == 0 {
		return math.NaN(), math.NaN()
	}
	return e.Wavenumber[0], e.Wavenumber[len(e.Wavenumber)-1]
}

// At returns k at wavenumber nu (cm⁻¹) by linear interpolation, and NaN
// outside the measured range: "not measured" is never confused with zero.
func (e *Entry) At(nu float64) float64 {
	w := e.Wavenumber
	n := len(w)
	if n == 0 || !(nu >= w[0] && nu <= w[n-1]) {
		return math.NaN()
	}
	j := sort.SearchFloat64s(w, nu)
	if j == 0 {
		return e.K[0]
	}
	if w[j] == nu {
		return e.K[j]
	}
	t := (nu - w[j-1]) / (w[j] - w[j-1])
	return e.K[j-1] + t*(e.K[j]-e.K[j-1])
}

// GasID turns a gas's name into its identifier: lower case; letters
// (a-z), digits and '-' kept; every run of anything else (spaces,
// underscores, commas, parentheses...) becomes one '_', none at either
// end. So "Isopropyl alcohol" → "isopropyl_alcohol", "2-Butanone" →
// "2-butanone", "1,1,1-Trichloroethane" → "1_1_1-trichloroethane". The
// result never holds a comma, so a list of gases can be given as
// "--gas ammonia,acetone".
func GasID(name string) string {
	var b strings.Builder
	pending := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			if pending && b.Len() > 0 {
				b.WriteByte('_')
			}
			pending = false
			b.WriteRune(r)
			continue
		}
		pending = true
	}
	return b.String()
}

// Library is a set of gas signatures.
type Library struct {
	Entries []Entry
}

type libraryFile struct {
	Format  string            `json:"format"`
	Version int               `json:"version"`
	Units   map[string]string `json:"units"`
	Entries []Entry           `json:"entries"`
}

var fileUnits = map[string]string{
	"wavenumber_cm-1":      "cm-1 (wavenumber)",
	"k_per_ppm_m":          "natural-log absorption per ppm·m: transmittance = exp(-k·c), c in ppm·m",
	"molar_mass_g_per_mol": "g/mol",
}

// Validate checks every entry and that no name or alias is used twice.
func (l *Library) Validate() error {
	seen := map[string]string{}
	for i := range l.Entries {
		e := &l.Entries[i]
		if err := e.Validate(); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			if other, ok := seen[n]; ok {
				return fmt.Errorf("%w: name %q used by both %q and %q", ErrInvalid, n, other, e.Name)
			}
			seen[n] = e.Name
		}
	}
	return nil
}

// Names returns the entries' names, sorted.
func (l *Library) Names() []string {
	out := make([]string, len(l.Entries))
	for i := range l.Entries {
		out[i] = l.Entries[i].Name
	}
	slices.Sort(out)
	return out
}

// Get returns the entry whose name or alias is GasID(name). Its error,
// for an unknown gas, wraps ErrUnknownGas and lists the names available.
func (l *Library) Get(name string) (*Entry, error) {
	id := GasID(name)
	for i := range l.Entries {
		e := &l.Entries[i]
		if e.Name == id || slices.Contains(e.Aliases, id) {
			return e, nil
		}
	}
	return nil, fmt.Errorf("spectra: gas %q: %w; available: %s", name, ErrUnknownGas, strings.Join(l.Names(), ", "))
}

// Load reads a library in the JSON format of docs/signature-library.md,
// plain or gzip-compressed, and validates it.
func Load(r io.Reader) (*Library, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("load library: gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	dec := json.NewDecoder(src)
	dec.DisallowUnknownFields()
	var f libraryFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("load library: %w", err)
	}
	if f.Format != FormatName {
		return nil, fmt.Errorf("load library: format %q, want %q", f.Format, FormatName)
	}
	if f.Version != FormatVersion {
		return nil, fmt.Errorf("load library: version %d, want %d", f.Version, FormatVersion)
	}
	l := &Library{Entries: f.Entries}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("load library: %w", err)
	}
	return l, nil
}

// Save writes the library as JSON (docs/signature-library.md): one entry
// per line, so that diffs of a regenerated library stay readable.
func (l *Library) Save(w io.Writer) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("save library: %w", err)
	}
	head, err := json.Marshal(struct {
		Format  string            `json:"format"`
		Version int               `json:"version"`
		Units   map[string]string `json:"units"`
	}{FormatName, FormatVersion, fileUnits})
	if err != nil {
		return fmt.Errorf("save library: %w", err)
	}
	var b bytes.Buffer
	b.Write(head[:len(head)-1])
	b.WriteString(",\n\"entries\": [\n")
	for i := range l.Entries {
		e, err := json.Marshal(&l.Entries[i])
		if err != nil {
			return fmt.Errorf("save library: entry %s: %w", l.Entries[i].Name, err)
		}
		b.Write(e)
		if i < len(l.Entries)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]}\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("save library: %w", err)
	}
	return nil
}

//go:embed library/default.json.gz
var defaultLibrary []byte

var loadDefault = sync.OnceValues(func() (*Library, error) {
	return Load(bytes.NewReader(defaultLibrary))
})

// Default returns the library built into the binary from the gas-phase
// spectra of shared/data/spectra/ir (see cmd/mklibrary). Each call returns
// a fresh copy that the caller may change.
func Default() (*Library, error) {
	l, err := loadDefault()
	if err != nil {
		return nil, fmt.Errorf("default library: %w", err)
	}
	out := &Library{Entries: make([]Entry, len(l.Entries))}
	for i, e := range l.Entries {
		e.Aliases = slices.Clone(e.Aliases)
		e.Wavenumber = slices.Clone(e.Wavenumber)
		e.K = slices.Clone(e.K)
		out.Entries[i] = e
	}
	return out, nil
}
