package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/coverage"
	"github.com/atalaya-project/atalaya/internal/fusion"
	"github.com/atalaya-project/atalaya/internal/mavlink"
	"github.com/atalaya-project/atalaya/internal/store"
)

func newPlanCmd(g *app) *cobra.Command {
	var (
		o                          coverage.SurveyOptions
		heading, radius, sourceKgH float64
		out, geoOut, revisit, site string
		home                       string
		dbURL, dataDir, gas        string
		top, blockLevel            int
		memory                     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "plan [AREA.geojson]",
		Short: "Plan a lawnmower survey (QGroundControl .plan) over an area, a site or the blocks most worth a revisit",
		Long: `Plans survey lines whose swaths (altitude·2·tan(FOV/2) wide) cover the area with
the given side overlap: each line is clipped to the area within its strip, so
concave areas and holes are followed. The heading that needs the fewest lines
is chosen unless --heading is given. The mission takes off at home, flies the
lines with the camera trigger distance set on each line and off between them,
and returns to launch.

Writes --out (QGroundControl .plan, JSON; docs/coverage.md), the same mission
as MAVLink MISSION_COUNT + MISSION_ITEM_INT frames (<out>.mavlink) and as QGC
WPL 110 text (<out>.waypoints), and the planned lines and swath footprints as
GeoJSON (--geojson, default: --out with .geojson).

AREA.geojson is a Polygon or MultiPolygon geometry, Feature or
FeatureCollection (longitude, latitude; holes are left out of the area).
--site LAT,LON --radius R plans over a circle instead. --revisit COVERAGE
(an index file written by internal/coverage) with --top N plans over the N
blocks of AREA most worth a new pass (docs/coverage.md, "Revisit priority").
--revisit store reads instead the coverage of --gas that the pipeline keeps in
the store (--db, or the SQLite file under --data), and the open candidate sites
there, which pull the revisit towards them by their probability.`,
		Example: `  atalaya plan area.geojson --altitude 300 --overlap 0.2 --fov 30 --speed 10 --out plan.plan
  atalaya plan area.geojson --heading 45 --home 24.80,-107.39 --out plan.plan
  atalaya plan --site 24.8061,-107.3940 --radius 250 --altitude 150 --out site.plan
  atalaya plan area.geojson --revisit coverage.idx --top 5 --source-kgh 2 --out revisit.plan
  atalaya plan area.geojson --revisit store --data ./atalaya-data --gas acetone --top 3 --out next.plan`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.HeadingDeg = math.NaN()
			if cmd.Flags().Changed("heading") {
				o.HeadingDeg = heading
			}
			if home != "" {
				lat, lon, err := parseLatLon(home)
				if err != nil {
					return fmt.Errorf("--home: %w", err)
				}
				o.Home = &orb.Point{lon, lat}
			}
			var area orb.MultiPolygon
			if len(args) == 1 {
				a, err := readArea(args[0])
				if err != nil {
					return err
				}
				area = a
			}
			switch {
			case site != "":
				lat, lon, err := parseLatLon(site)
				if err != nil {
					return fmt.Errorf("--site: %w", err)
				}
				if !(radius > 0) {
					return fmt.Errorf("--radius %g: want a positive radius in metres", radius)
				}
				area = orb.MultiPolygon{coverage.Circle(lat, lon, radius)}
			case revisit != "":
				if area == nil {
					return fmt.Errorf("--revisit needs AREA.geojson: the area to rank")
				}
				po := coverage.PriorityOptions{SourceKgH: sourceKgH, Memory: memory, Now: time.Now(), BlockLevel: blockLevel}
				var (
					ix  *coverage.Index
					err error
				)
				if revisit == "store" {
					if dbURL == "" {
						dbURL = "sqlite:" + filepath.Join(dataDir, "atalaya.db")
					}
					db, err := store.Open(cmd.Context(), dbURL, store.Options{})
					if err != nil {
						return fmt.Errorf("--db: %w", err)
					}
					defer db.Close()
					if ix, po.Sites, err = storeCoverage(cmd.Context(), db, gas, area); err != nil {
						return err
					}
				} else if ix, err = readIndex(revisit); err != nil {
					return err
				}
				blocks, err := ix.PrioritiesIn(area, po)
				if err != nil {
					return err
				}
				if top < 1 {
					return fmt.Errorf("--top %d: want at least 1", top)
				}
				area = nil
				w := cmd.OutOrStdout()
				for k, b := range blocks[:min(top, len(blocks))] {
					fmt.Fprintf(w, "  %d. block %s at %.5f, %.5f: priority %.3f (hidden %.3f, surveyed %.0f %%, acc MDL %.3g kg/h)\n",
						k+1, b.Cell.ToToken(), b.Lat, b.Lon, b.Priority, b.Hidden, 100*b.Surveyed, b.AccMDL)
					area = append(area, coverage.CellPolygon(b.Cell))
				}
			}
			if area == nil {
				return fmt.Errorf("no area: give AREA.geojson or --site LAT,LON --radius R")
			}
			s, err := coverage.PlanSurvey(area, o)
			if err != nil {
				return err
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			if err := s.WriteQGC(f); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			base := strings.TrimSuffix(out, filepath.Ext(out))
			if geoOut == "" {
				geoOut = base + ".geojson"
			}
			// The same mission as MAVLink: MISSION_COUNT and MISSION_ITEM_INT
			// frames (to upload with any MAVLink link) and QGC WPL 110 text.
			items := s.MissionItems()
			var mission bytes.Buffer
			if err := mavlink.WriteMission(&mission, items, 1, 1); err != nil {
				return err
			}
			if err := os.WriteFile(base+".mavlink", mission.Bytes(), 0o644); err != nil {
				return err
			}
			var wpl bytes.Buffer
			if err := mavlink.WriteWPL(&wpl, items); err != nil {
				return err
			}
			if err := os.WriteFile(base+".waypoints", wpl.Bytes(), 0o644); err != nil {
				return err
			}
			b, err := s.GeoJSON().MarshalJSON()
			if err != nil {
				return err
			}
			if err := os.WriteFile(geoOut, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d lines at heading %.0f°, swath %.1f m, spacing %.1f m, trigger every %.1f m; %.1f km, %s at %g m/s\n%s\n%s\n%s (MAVLink mission), %s (QGC WPL)\n",
				len(s.Lines), s.HeadingDeg, s.SwathM, s.SpacingM, s.TriggerM, s.LengthM/1000, s.Duration.Round(time.Second), s.SpeedMS, out, geoOut, base+".mavlink", base+".waypoints")
			return nil
		},
	}
	fl := cmd.Flags()
	def := coverage.DefaultSurveyOptions()
	fl.Float64Var(&o.AltitudeM, "altitude", def.AltitudeM, "flight altitude above home, m")
	fl.Float64Var(&o.FOVDeg, "fov", def.FOVDeg, "sensor cross-track field of view, degrees")
	fl.Float64Var(&o.Overlap, "overlap", def.Overlap, "side overlap of neighbouring swaths, 0-0.9")
	fl.Float64Var(&o.SpeedMS, "speed", def.SpeedMS, "ground speed, m/s")
	fl.Float64Var(&heading, "heading", 0, "line heading, degrees from north (default: fewest lines)")
	fl.Float64Var(&o.TriggerM, "trigger", 0, "camera trigger distance, m (default: swath less overlap)")
	fl.StringVar(&home, "home", "", "take-off and return point LAT,LON (default: start of the first line)")
	fl.StringVar(&out, "out", "plan.plan", "QGroundControl plan file to write")
	fl.StringVar(&geoOut, "geojson", "", "GeoJSON of lines and footprints to write (default: --out with .geojson)")
	fl.StringVar(&site, "site", "", "plan over a circle around LAT,LON")
	fl.Float64Var(&radius, "radius", 200, "radius of the --site circle, m")
	fl.StringVar(&revisit, "revisit", "", "coverage index file: plan over the blocks of AREA most worth a revisit")
	fl.IntVar(&top, "top", 5, "with --revisit: number of blocks")
	fl.StringVar(&dbURL, "db", "", "with --revisit store: the store, sqlite:PATH or postgres://… (default sqlite:DATA/atalaya.db)")
	fl.StringVar(&dataDir, "data", "atalaya-data", "with --revisit store: the data directory of the default SQLite store")
	fl.StringVar(&gas, "gas", "acetone", "with --revisit store: the gas whose coverage to rank")
	fl.Float64Var(&sourceKgH, "source-kgh", 1, "with --revisit: emission rate of the source of interest, kg/h")
	fl.DurationVar(&memory, "memory", 14*24*time.Hour, "with --revisit: how long a look stays informative (e-folding)")
	fl.IntVar(&blockLevel, "block-level", 15, "with --revisit: S2 level of the ranked blocks (15 ≈ 280 m)")
	return cmd
}

func readIndex(path string) (*coverage.Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ix, err := coverage.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ix, nil
}

// storeCoverage is the coverage of gas the pipeline keeps in the store,
// and the open candidate sites (candidate or revisit) over area, weighted
// by their probability.
func storeCoverage(ctx context.Context, db *store.DB, gas string, area orb.MultiPolygon) (*coverage.Index, []coverage.Site, error) {
	ix, err := fusion.CoverageIndex(ctx, db, gas)
	if err != nil {
		return nil, nil, err
	}
	b := area.Bound()
	ss, err := db.SitesInBBox(ctx, store.BBox{MinLat: b.Min.Lat(), MinLon: b.Min.Lon(), MaxLat: b.Max.Lat(), MaxLon: b.Max.Lon()}, 0)
	if err != nil {
		return nil, nil, err
	}
	var sites []coverage.Site
	for _, s := range ss {
		if s.Status == store.SiteCandidate || s.Status == store.SiteRevisit {
			sites = append(sites, coverage.Site{Lat: s.Lat, Lon: s.Lon, Weight: s.Probability, RadiusM: math.Max(s.UncertaintyM, 50)})
		}
	}
	return ix, sites, nil
}

func parseLatLon(s string) (lat, lon float64, err error) {
	a, b, ok := strings.Cut(s, ",")
	if ok {
		lat, err = strconv.ParseFloat(strings.TrimSpace(a), 64)
		if err == nil {
			lon, err = strconv.ParseFloat(strings.TrimSpace(b), 64)
		}
	}
	if !ok || err != nil || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return 0, 0, fmt.Errorf("%q: want LAT,LON in degrees", s)
	}
	return lat, lon, nil
}

// readArea reads a Polygon or MultiPolygon from a GeoJSON geometry, Feature
// or FeatureCollection.
func readArea(path string) (orb.MultiPolygon, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var geoms []orb.Geometry
	switch probe.Type {
	case "FeatureCollection":
		fc, err := geojson.UnmarshalFeatureCollection(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, f := range fc.Features {
			geoms = append(geoms, f.Geometry)
		}
	case "Feature":
		f, err := geojson.UnmarshalFeature(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		geoms = append(geoms, f.Geometry)
	default:
		g, err := geojson.UnmarshalGeometry(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		geoms = append(geoms, g.Geometry())
	}
	var mp orb.MultiPolygon
	for _, g := range geoms {
		switch g := g.(type) {
		case orb.Polygon:
			mp = append(mp, g)
		case orb.MultiPolygon:
			mp = append(mp, g...)
		}
	}
	if len(mp) == 0 {
		return nil, fmt.Errorf("%s: no Polygon or MultiPolygon", path)
	}
	return mp, nil
}
