package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/atalaya-project/atalaya/internal/pipeline"
)

func newIngestCmd(g *app) *cobra.Command {
	var (
		pf        pipelineFlags
		populated string
	)
	cmd := &cobra.Command{
		Use:   "ingest CUBE.hdr|TRACE.csv|FLIGHT.ulg|FLIGHT.tlog...",
		Short: "Record cubes and point-sensor traces in the store, keep their bytes and queue their jobs",
		Long: `For each ENVI cube (header, with its data file beside it): stores the bytes
(header and data as one tar stream, keyed by its SHA-256), records the granule
in the store, and only then publishes its job. A .csv file is a point-sensor
trace (docs/point-sensor-trace.md; it needs lat_deg/lon_deg positions): stored
as it is, and its job estimates the source of every gas its channels respond
to. A .ulg (PX4) or .tlog (MAVLink) file is a flight log: its flown path
becomes the granule's footprint, shown on the web map's flight-track layer.
Prints each granule's id.

A cube's pass time and wind are read from its header's atalaya keys
(docs/detect-outputs.md); workers use the wind to group and place plumes.

Idempotent: the same bytes give the same granule and nothing new is stored or
processed. If no queue is reachable the granule is still recorded, and the
reconciler of a running ` + "`atalaya serve`" + ` queues it.

The queue is --nats, or the URL a local ` + "`atalaya serve`" + ` wrote in DATA/nats.url.
Bytes go to DATA/blobs (--blobs dir, the default without --nats) or to the
JetStream object store (--blobs nats, the default with --nats), which workers
on other machines can read.`,
		Example: `  atalaya ingest survey/pass-01.hdr survey/pass-02.hdr        # beside a local atalaya serve
  atalaya ingest flight-07-pid.csv                             # a point-sensor trace
  atalaya ingest flight-07.ulg                                 # a flight log: its track on the map
  atalaya ingest pass-03.hdr --nats nats://atalaya-1:4222 --db postgres://atalaya@db/atalaya`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			url := pf.natsURL
			if pf.blobs == "" {
				pf.blobs = "dir"
				if url != "" {
					pf.blobs = "nats"
				}
			}
			if url == "" {
				url = pipeline.ReadURLFile(pf.dataDir)
			}
			db, err := pf.open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			in := &pipeline.Ingester{Store: db}
			if url != "" {
				nc, q, err := publisher(ctx, url, pf.queue())
				if err != nil && pf.blobs == "nats" {
					return err
				}
				if err != nil {
					g.log.Warn("no job queue: granules are recorded and the reconciler will queue them", "err", err)
				} else {
					defer nc.Close()
					in.Queue = q
				}
			}
			switch pf.blobs {
			case "dir":
				in.Blobs, err = pipeline.NewDir(filepath.Join(pf.dataDir, "blobs"))
			case "nats":
				if in.Queue == nil {
					return fmt.Errorf("--blobs nats: no NATS server: pass --nats URL")
				}
				in.Blobs, err = pipeline.NewObjectStore(ctx, in.Queue.JetStream(), pipeline.ObjectStoreConfig{})
			default:
				return fmt.Errorf("--blobs %q: want dir or nats", pf.blobs)
			}
			if err != nil {
				return err
			}
			if populated != "" {
				if in.Populated, err = pipeline.PopulatedAreas(populated); err != nil {
					return fmt.Errorf("--populated-areas: %w", err)
				}
			}
			for _, hdr := range args {
				ingest := in.Ingest
				switch strings.ToLower(filepath.Ext(hdr)) {
				case ".csv":
					ingest = in.IngestTrace
				case ".ulg", ".tlog":
					ingest = in.IngestFlightLog
				}
				r, err := ingest(ctx, hdr)
				if err != nil {
					return err
				}
				state := "new"
				if !r.Created {
					state = "already ingested, " + string(r.Granule.Status)
				}
				fmt.Fprintln(cmd.OutOrStdout(), r.Granule.ID)
				g.log.Info("ingested", "file", hdr, "kind", r.Granule.Kind, "granule", r.Granule.ID, "state", state, "queued", r.Queued, "uri", r.Granule.URI)
				if r.QueueErr != nil {
					g.log.Warn("job not queued: the reconciler will queue it", "granule", r.Granule.ID, "err", r.QueueErr)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	pf.add(f)
	f.StringVar(&populated, "populated-areas", "", "GeoJSON polygons of the populated areas, for retention (default: every granule counts as populated)")
	f.StringVar(&pf.blobs, "blobs", "", "where the bytes go: dir (DATA/blobs) or nats (JetStream object store); default nats with --nats, else dir")
	return cmd
}

// publisher connects to NATS and opens the queue for publishing only.
func publisher(ctx context.Context, url string, qc pipeline.QueueConfig) (*nats.Conn, *pipeline.Queue, error) {
	nc, err := nats.Connect(url, nats.Name("atalaya ingest"))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats %s: %w", url, err)
	}
	qc.PublishOnly = true
	q, err := pipeline.OpenQueue(ctx, nc, qc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, q, nil
}
