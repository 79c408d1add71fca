package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/store"
)

func newBoundariesCmd() *cobra.Command {
	var pf pipelineFlags
	cmd := &cobra.Command{
		Use:   "boundaries",
		Short: "Load the host nation's municipal and state boundaries (IBGE, DANE, INEGI, INEI, …)",
		Long: `Atalaya names a site's country and state from Natural Earth (embedded), but a
report for a prosecutor needs the municipality from the host nation's own
boundaries. Convert them to GeoJSON in WGS 84 with GDAL, then import them; every
process using the store (serve, workers, report) sees them. See docs/feeds.md.`,
	}
	pf.addStore(cmd.PersistentFlags())

	var level, nameField, codeField, parentField, source string
	imp := &cobra.Command{
		Use:   "import FILE.geojson --level municipality|state --name-field F",
		Short: "Import administrative areas from a GeoJSON file (replaces the same level and source)",
		Long: `Reads a GeoJSON FeatureCollection of Polygon and MultiPolygon features in WGS 84
longitude/latitude (RFC 7946; convert other CRSs with ogr2ogr -t_srs EPSG:4326)
and stores each feature as an area of --level, named by the --name-field
property, with the --code-field and --parent-field (the enclosing state's name)
properties if given. Areas of the same level and --source already stored are
replaced, all or nothing: a file with an error changes nothing, and the error
names the feature (its index from 0) and the fault.`,
		Example: `  # Brazil: IBGE's municipal mesh (SIRGAS 2000) to WGS 84, then import
  ogr2ogr -f GeoJSON -t_srs EPSG:4326 -lco COORDINATE_PRECISION=6 mun.geojson BR_Municipios_2024.shp
  atalaya boundaries import mun.geojson --level municipality --name-field NM_MUN \
      --code-field CD_MUN --parent-field NM_UF --source "IBGE malha municipal 2024"
  # Colombia: DANE's MGN municipalities
  atalaya boundaries import mpio.geojson --level municipality --name-field MPIO_CNMBR \
      --code-field MPIO_CCNCT --parent-field DPTO_CNMBR --source "DANE MGN 2020"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lv := store.AdminLevel(level)
			if !lv.Valid() {
				return fmt.Errorf("--level %q: want municipality or state", level)
			}
			if nameField == "" {
				return errors.New("--name-field is required: the property holding each area's name (e.g. NM_MUN, MPIO_CNMBR, NOMGEO)")
			}
			if source == "" {
				source = filepath.Base(args[0])
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			as, err := boundaries.ReadAreas(f, boundaries.Fields{Name: nameField, Code: codeField, Parent: parentField})
			if err != nil {
				return fmt.Errorf("%s: %w (nothing was imported)", args[0], err)
			}
			sa, err := boundaries.StoreAreas(as)
			if err != nil {
				return err
			}
			db, err := pf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			n, err := db.ImportAdminAreas(cmd.Context(), lv, source, sa)
			if err != nil {
				return fmt.Errorf("%s: %w (nothing was imported)", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %d %s areas from %s as source %q\n", n, lv, args[0], source)
			return nil
		},
	}
	fl := imp.Flags()
	fl.StringVar(&level, "level", "", "municipality or state")
	fl.StringVar(&nameField, "name-field", "", "the property holding each area's name")
	fl.StringVar(&codeField, "code-field", "", "the property holding each area's code (optional)")
	fl.StringVar(&parentField, "parent-field", "", "the property holding the enclosing state's name (optional; municipalities)")
	fl.StringVar(&source, "source", "", `the data set's name, shown in reports (default: the file's name), e.g. "IBGE malha municipal 2024"`)

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the imported boundary data sets",
		Example: `  atalaya boundaries list --db postgres://atalaya@db/atalaya`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := pf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			sets, err := db.AdminAreaSets(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "LEVEL\tAREAS\tIMPORTED\tSOURCE")
			for _, s := range sets {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", s.Level, s.Areas, s.Imported.Format("2006-01-02 15:04:05Z07:00"), s.Source)
			}
			return w.Flush()
		},
	}

	var delLevel, delSource string
	del := &cobra.Command{
		Use:     "delete --level municipality|state --source NAME",
		Short:   "Delete an imported boundary data set",
		Example: `  atalaya boundaries delete --level municipality --source "IBGE malha municipal 2022"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !store.AdminLevel(delLevel).Valid() || delSource == "" {
				return errors.New("--level (municipality or state) and --source are required (see atalaya boundaries list)")
			}
			db, err := pf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			n, err := db.DeleteAdminAreas(cmd.Context(), store.AdminLevel(delLevel), delSource)
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("no %s areas with source %q (see atalaya boundaries list)", delLevel, delSource)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %d %s areas of %q\n", n, delLevel, delSource)
			return nil
		},
	}
	del.Flags().StringVar(&delLevel, "level", "", "municipality or state")
	del.Flags().StringVar(&delSource, "source", "", "the data set's name, as listed")

	var lat, lon float64
	at := &cobra.Command{
		Use:     "at --lat LAT --lon LON",
		Short:   "Say which municipality, state and country a point is in, and from which data",
		Example: `  atalaya boundaries at --lat -8.0089 --lon -34.8553`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) || !cmd.Flags().Changed("lat") || !cmd.Flags().Changed("lon") {
				return fmt.Errorf("--lat and --lon are required, in degrees (WGS 84): got %v, %v", lat, lon)
			}
			db, err := pf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			p, err := boundaries.PlaceAt(cmd.Context(), db, lat, lon)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			muni := "-"
			switch {
			case p.Municipality != "":
				muni = fmt.Sprintf("%s (source: %s)", joinWords(p.Municipality, paren(p.MunicipalityCode)), p.MunicipalitySource)
			case len(p.MunicipalSources) == 0:
				muni = "not determined: no municipal boundaries loaded"
			default:
				muni = "not determined: outside the municipal boundaries loaded (" + strings.Join(p.MunicipalSources, "; ") + ")"
			}
			fmt.Fprintf(out, "municipality: %s\n", muni)
			fmt.Fprintf(out, "state:        %s (source: %s)\n", orDashStr(joinWords(p.State, paren(p.StateCode))), orDashStr(p.StateSource))
			fmt.Fprintf(out, "country:      %s (source: %s)\n", orDashStr(joinWords(p.Country, paren(p.CountryCode))), orDashStr(p.CountrySource))
			return nil
		},
	}
	at.Flags().Float64Var(&lat, "lat", 0, "latitude, degrees (WGS 84)")
	at.Flags().Float64Var(&lon, "lon", 0, "longitude, degrees (WGS 84)")
	cmd.AddCommand(imp, list, del, at)
	return cmd
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func joinWords(ws ...string) string {
	var out []string
	for _, w := range ws {
		if w != "" {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

func orDashStr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
