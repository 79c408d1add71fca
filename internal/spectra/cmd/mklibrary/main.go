// Command mklibrary builds the default signature library (internal/spectra
// library/default.json.gz) from a directory of JCAMP-DX infrared spectra,
// normally the repository's shared/data/spectra/ir (see SOURCES.md there).
//
//	go run ./internal/spectra/cmd/mklibrary -in ../shared/data/spectra/ir -out internal/spectra/library/default.json.gz
//
// or `go generate ./internal/spectra`. It is deterministic: the same input
// gives the same bytes.
//
// Every block of every *.jdx file is offered to spectra.FromJCAMP under the
// file's base name (GasID of it: "isopropyl_alcohol.jdx" → isopropyl_alcohol);
// file titles are too irregular to name gases by ("Methyl Ethyl Ketone",
// "BENZENE, 1,3-DIMETHYL-", "$$ Begin of the data block"), so they become
// aliases. Blocks that are not gas phase or have no scale per ppm·m are
// skipped and listed. When two files hold the same gas (same CAS number),
// the quantitative one is kept; between two of equal quality, the one whose
// name sorts first; the other's name becomes an alias. Values are rounded
// to 6 significant digits (float32 holds 7; the data are not better than 3).
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/atalaya-project/atalaya/internal/spectra"
)

// collection describes where the spectra come from (SOURCES.md).
const collection = "NIST Chemistry WebBook (NIST Standard Reference Data) via github.com/nzhagen/jcamp@9a4af7d3"

// rename names gases whose file name is not the gas's name: the file
// "heptane-2,3-dimethylpentane.jdx" holds 2,3-dimethylpentane (CAS
// 565-59-3, one of the heptane isomers), not n-heptane. The file name
// stays an alias.
var rename = map[string]string{
	"heptane-2,3-dimethylpentane": "2,3-dimethylpentane",
}

func main() {
	in := flag.String("in", "", "directory of JCAMP-DX (*.jdx) gas spectra")
	out := flag.String("out", "", "output library file (.json, or .json.gz for gzip)")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: mklibrary -in DIR -out FILE")
		os.Exit(2)
	}
	if err := run(*in, *out, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mklibrary:", err)
		os.Exit(1)
	}
}

func run(in, out string, log io.Writer) error {
	lib, err := build(in, log)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := lib.Save(&buf); err != nil {
		return err
	}
	data := buf.Bytes()
	if strings.HasSuffix(out, ".gz") {
		var z bytes.Buffer
		zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(data); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		data = z.Bytes()
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(log, "wrote %s: %d entries, %d bytes\n", out, len(lib.Entries), len(data))
	return nil
}

func build(in string, log io.Writer) (*spectra.Library, error) {
	files, err := filepath.Glob(filepath.Join(in, "*.jdx"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.jdx files in %s", in)
	}
	slices.Sort(files)
	var entries []*spectra.Entry
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		blocks, err := spectra.ReadJCAMP(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		name := base
		if r, ok := rename[base]; ok {
			name = r
		}
		for i := range blocks {
			e, err := spectra.FromJCAMP(&blocks[i], name, "ir/"+filepath.Base(f)+" from the "+collection)
			if err != nil {
				fmt.Fprintf(log, "skip %s: %v\n", filepath.Base(f), err)
				continue
			}
			if name != base {
				e.Aliases = append(e.Aliases, spectra.GasID(base))
			}
			entries = append(entries, e)
		}
	}
	// One entry per gas: same CAS number → keep the better one.
	rank := func(e *spectra.Entry) int {
		if e.Quality == spectra.QualityQuantitative {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(entries, func(a, b *spectra.Entry) int {
		if a.CAS != b.CAS {
			return strings.Compare(a.CAS, b.CAS)
		}
		if rank(a) != rank(b) {
			return rank(a) - rank(b)
		}
		return strings.Compare(a.Name, b.Name)
	})
	var kept []*spectra.Entry
	for _, e := range entries {
		if n := len(kept); n > 0 && e.CAS != "" && kept[n-1].CAS == e.CAS {
			k := kept[n-1]
			fmt.Fprintf(log, "duplicate CAS %s: keep %s (%s), drop %s (%s)\n", e.CAS, k.Name, k.Quality, e.Name, e.Quality)
			for _, a := range append([]string{e.Name}, e.Aliases...) {
				if a != k.Name && !slices.Contains(k.Aliases, a) {
					k.Aliases = append(k.Aliases, a)
				}
			}
			continue
		}
		kept = append(kept, e)
	}
	// Aliases must not shadow another entry's name.
	names := map[string]bool{}
	for _, e := range kept {
		names[e.Name] = true
	}
	lib := &spectra.Library{}
	used := map[string]bool{}
	for _, e := range kept {
		e.Aliases = slices.DeleteFunc(e.Aliases, func(a string) bool { return names[a] || used[a] })
		for _, a := range e.Aliases {
			used[a] = true
		}
		e.MolarMass = math.Round(e.MolarMass*1000) / 1000
		for i := range e.K {
			e.K[i] = round6(e.K[i])
			e.Wavenumber[i] = round6(e.Wavenumber[i])
		}
		lib.Entries = append(lib.Entries, *e)
	}
	slices.SortFunc(lib.Entries, func(a, b spectra.Entry) int { return strings.Compare(a.Name, b.Name) })
	for _, e := range lib.Entries {
		lo, hi := e.CoverageCM()
		fmt.Fprintf(log, "%-26s %-12s %-12s %8.3f g/mol %6d pts %7.1f-%7.1f cm-1 aliases=%v\n", e.Name, e.Quality, e.CAS, e.MolarMass, len(e.K), lo, hi, e.Aliases)
	}
	return lib, lib.Validate()
}

func round6(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return r
}
