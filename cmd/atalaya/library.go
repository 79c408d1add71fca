package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/spectra"
)

// loadLibrary returns the library at path, or the built-in one when path is empty.
func loadLibrary(path string) (*spectra.Library, error) {
	if path == "" {
		return spectra.Default()
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open library: %w", err)
	}
	defer f.Close()
	lib, err := spectra.Load(f)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", path, err)
	}
	return lib, nil
}

func newLibraryCmd() *cobra.Command {
	var libPath string
	cmd := &cobra.Command{
		Use:   "library",
		Short: "List, show and extend the gas signature library",
		Long: `The signature library holds each gas's absorption coefficient per ppm·m
(natural log) against wavenumber, with its source. The built-in library is made
from NIST infrared spectra; --library points at a library file of your own
(format: docs/signature-library.md).`,
		Example: `  atalaya library list
  atalaya library show ammonia --bands 7.6:13.4:128
  atalaya library import my-gas.jdx --name my_gas --out mylib.json`,
	}
	cmd.PersistentFlags().StringVar(&libPath, "library", "", "library file (default: the built-in NIST library)")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the gases in the library",
		Example: "  atalaya library list\n  atalaya library list --library mylib.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lib, err := loadLibrary(libPath)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tFORMULA\tM g/mol\tQUALITY\tCOVERAGE cm-1\tLWIR PEAK k /ppm·m\tAT µm")
			for _, e := range lib.Entries {
				lo, hi := e.CoverageCM()
				peak, at := lwirPeak(&e)
				fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%.0f-%.0f\t%.3g\t%.2f\n", e.Name, e.Formula, e.MolarMass, e.Quality, lo, hi, peak, at)
			}
			return tw.Flush()
		},
	}

	var bands string
	show := &cobra.Command{
		Use:   "show GAS",
		Short: "Show a gas's entry and its spectrum resampled to a sensor's bands",
		Example: `  atalaya library show acetone
  atalaya library show ammonia --bands 7.6:13.4:128 --fwhm-factor 1.2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lib, err := loadLibrary(libPath)
			if err != nil {
				return err
			}
			e, err := lib.Get(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			lo, hi := e.CoverageCM()
			fmt.Fprintf(w, "name:       %s\naliases:    %s\nCAS:        %s\nformula:    %s (%.3f g/mol)\nquality:    %s\ncoverage:   %.1f-%.1f cm-1 (%.2f-%.2f µm), %d points\nsource:     %s\nnotes:      %s\n",
				e.Name, strings.Join(e.Aliases, ", "), e.CAS, e.Formula, e.MolarMass, e.Quality, lo, hi, 1e4/hi, 1e4/lo, len(e.Wavenumber), e.Source, e.Notes)
			if bands == "" {
				return nil
			}
			centres, fwhm, err := parseBands(bands, fwhmFactor(cmd))
			if err != nil {
				return err
			}
			k, rerr := e.Resample(centres, fwhm)
			if rerr != nil && k == nil {
				return rerr
			}
			fmt.Fprintln(w, "\nband,centre_um,fwhm_um,k_per_ppm_m")
			for i := range centres {
				fmt.Fprintf(w, "%d,%.4f,%.4f,%.6g\n", i, centres[i], fwhm[i], k[i])
			}
			if rerr != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "note:", rerr)
			}
			return nil
		},
	}
	show.Flags().StringVar(&bands, "bands", "", "resample to evenly spaced bands FIRST:LAST:N in µm, e.g. 7.6:13.4:128")
	show.Flags().Float64("fwhm-factor", 1.2, "band FWHM as a multiple of the band spacing")

	var name, out string
	imp := &cobra.Command{
		Use:   "import FILE.jdx|FILE.csv",
		Short: "Add a gas spectrum from JCAMP-DX or CSV to a library file",
		Long: `Reads a gas-phase infrared spectrum (JCAMP-DX as NIST and PNNL publish them:
quantitative absorbance per ppm·m, or transmittance with partial pressure and
path length; or the CSV form in docs/signature-library.md), converts it to
natural-log absorption per ppm·m and writes the library (the built-in one, or
--library) with the new entry to --out.`,
		Example: "  atalaya library import ~/spectra/ammonia.jdx --out mylib.json\n  atalaya library import fentanyl-precursor.csv --name npp --library mylib.json --out mylib.json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out is required: the library file to write")
			}
			lib, err := loadLibrary(libPath)
			if err != nil {
				return err
			}
			e, err := importSpectrum(args[0], name)
			if err != nil {
				return err
			}
			if old, err := lib.Get(e.Name); err == nil {
				return fmt.Errorf("the library already has %q (as %s); choose another --name", e.Name, old.Name)
			}
			lib.Entries = append(lib.Entries, *e)
			if err := lib.Validate(); err != nil {
				return err
			}
			tmp := out + ".tmp"
			f, err := os.Create(tmp)
			if err != nil {
				return err
			}
			if err := lib.Save(f); err != nil {
				f.Close()
				os.Remove(tmp)
				return err
			}
			if err := f.Close(); err != nil {
				os.Remove(tmp)
				return err
			}
			if err := os.Rename(tmp, out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %s (%s, %d points) to %s\n", e.Name, e.Quality, len(e.Wavenumber), out)
			return nil
		},
	}
	imp.Flags().StringVar(&name, "name", "", "gas name (default: from the file's title)")
	imp.Flags().StringVar(&out, "out", "", "library file to write (may be the same as --library)")

	cmd.AddCommand(list, show, imp)
	return cmd
}

func fwhmFactor(cmd *cobra.Command) float64 {
	f, err := cmd.Flags().GetFloat64("fwhm-factor")
	if err != nil || f <= 0 {
		return 1.2
	}
	return f
}

// parseBands parses FIRST:LAST:N (µm) into evenly spaced band centres.
func parseBands(s string, factor float64) (centres, fwhm []float64, err error) {
	var lo, hi float64
	var n int
	if _, err := fmt.Sscanf(strings.ReplaceAll(s, ":", " "), "%g %g %d", &lo, &hi, &n); err != nil || n < 2 || lo <= 0 || hi <= lo {
		return nil, nil, fmt.Errorf("--bands %q: want FIRST:LAST:N in µm with 0 < FIRST < LAST and N ≥ 2, e.g. 7.6:13.4:128", s)
	}
	step := (hi - lo) / float64(n-1)
	for i := 0; i < n; i++ {
		centres = append(centres, lo+float64(i)*step)
		fwhm = append(fwhm, factor*step)
	}
	return centres, fwhm, nil
}

func importSpectrum(path, name string) (*spectra.Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".txt":
		e, err := spectra.ReadCSV(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if name != "" {
			e.Name = spectra.GasID(name)
		}
		if e.Name == "" {
			return nil, fmt.Errorf("%s: the CSV names no gas: give --name", path)
		}
		return e, nil
	default:
		specs, err := spectra.ReadJCAMP(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(specs) != 1 {
			return nil, fmt.Errorf("%s holds %d spectra: import one at a time", path, len(specs))
		}
		if name == "" {
			name = specs[0].Title
		}
		e, err := spectra.FromJCAMP(&specs[0], name, path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return e, nil
	}
}

// lwirPeak returns the largest k between 7.5 and 13.5 µm and where it is.
func lwirPeak(e *spectra.Entry) (k, atUM float64) {
	for i, nu := range e.Wavenumber {
		if nu < 1e4/13.5 || nu > 1e4/7.5 {
			continue
		}
		if e.K[i] > k {
			k, atUM = e.K[i], 1e4/nu
		}
	}
	if k == 0 {
		return math.NaN(), math.NaN()
	}
	return k, atUM
}
