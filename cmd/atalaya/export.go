package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/feed"
)

func newExportCmd(g *app) *cobra.Command {
	var (
		pf                        pipelineFlags
		agency, format, out, bbox string
		status                    string
	)
	cmd := &cobra.Command{
		Use:   "export --agency ID --format geojson|kml|kmz --out FILE",
		Short: "Export the sites an agency may see as GeoJSON, KML or KMZ",
		Long: `Writes the sites the agency may see (it owns them, or they were released to
it) as GeoJSON (RFC 7946), KML 2.2, or KMZ (KML with each site's plume images, one per
pass that detected it). The export is recorded in the audit log. The same
exports are served over HTTP, and as OGC API – Features for GIS tools
(docs/feeds.md).`,
		Example: `  atalaya export --agency DEA --format kml --out dea-sites.kml
  atalaya export --agency COLPNC --format geojson --bbox -75,4,-73,6 --status released,confirmed --out sites.geojson`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if agency == "" || out == "" {
				return errors.New("--agency and --out are required: whose view of the sites, and the file to write")
			}
			q := feed.Query{}
			if bbox != "" {
				b, err := feed.ParseBBox(bbox)
				if err != nil {
					return fmt.Errorf("--bbox: %w", err)
				}
				q.BBox = &b
			}
			if status != "" {
				q.Status = strings.Split(status, ",")
			}
			ctx := cmd.Context()
			db, err := pf.open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			a, err := db.Agency(ctx, agency)
			if err != nil {
				return fmt.Errorf("--agency %s: %w", agency, err)
			}
			p := access.Principal{UserID: "cli", AgencyID: a.ID, Role: access.RolePartner, Lang: a.Lang}
			sites, _, err := catalogOf(db).Visible(ctx, p, q)
			if err != nil {
				return err
			}
			var b bytes.Buffer
			switch format {
			case "geojson":
				err = feed.WriteGeoJSON(&b, sites)
			case "kml":
				err = feed.WriteKML(&b, "Atalaya — "+a.Name, sites, nil)
			case "kmz":
				err = feed.WriteKMZ(ctx, &b, "Atalaya — "+a.Name, sites, feed.DetectionImages(db))
			default:
				return fmt.Errorf("--format %q: want geojson, kml or kmz", format)
			}
			if err != nil {
				return err
			}
			if _, err := access.Record(ctx, db, access.Event{Actor: p, Action: access.AuditRead, ObjectType: "export",
				ObjectID: format, Details: map[string]any{"sites": len(sites), "bbox": bbox, "status": status}}); err != nil {
				return err
			}
			if err := os.WriteFile(out, b.Bytes(), 0o640); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d sites to %s\n", len(sites), out)
			return nil
		},
	}
	pf.addStore(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&agency, "agency", "", "the agency whose view to export")
	f.StringVar(&format, "format", "geojson", "geojson, kml or kmz")
	f.StringVar(&out, "out", "", "the file to write")
	f.StringVar(&bbox, "bbox", "", "only sites in minLon,minLat,maxLon,maxLat")
	f.StringVar(&status, "status", "", "only sites with these statuses, comma-separated")
	return cmd
}
