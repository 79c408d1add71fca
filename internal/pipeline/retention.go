package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"

	"github.com/atalaya-project/atalaya/internal/store"
)

// Data minimisation (docs/pipeline.md, "Retention"): the raw bytes of
// granules over populated areas that no site needs are deleted after a
// retention period, with their records; sites, detections linked to sites,
// evidence and decisions are kept.

// Purger is the part of the store retention needs (store.DB).
type Purger interface {
	PurgeGranulesWith(ctx context.Context, olderThan time.Duration, populatedOnly bool, within func(store.Tx, []store.Purged) error) ([]store.Purged, error)
}

// RetentionReport is what one retention pass did.
type RetentionReport struct {
	Purged       int      // granule records deleted
	BlobsDeleted int      // their bytes deleted
	Errors       []string // blobs that could not be deleted (their records are gone; the bytes stay for an operator)
}

// PurgeOnce deletes the records and bytes of populated granules older than
// olderThan that no site needs. A blob already gone counts as deleted.
// audit, if not nil, records the purge in the purge's own transaction.
func PurgeOnce(ctx context.Context, p Purger, olderThan time.Duration, js jetstream.JetStream, audit func(store.Tx, []store.Purged) error) (RetentionReport, error) {
	var rep RetentionReport
	gone, err := p.PurgeGranulesWith(ctx, olderThan, true, audit)
	if err != nil {
		return rep, err
	}
	rep.Purged = len(gone)
	for _, g := range gone {
		if err := DeleteURI(ctx, g.URI, js); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("granule %s: %v", g.ID, err))
			continue
		}
		rep.BlobsDeleted++
	}
	return rep, nil
}

// DeleteURI deletes a blob by the URI the store recorded (see OpenURI).
// Deleting a blob that is not there is not an error.
func DeleteURI(ctx context.Context, uri string, js jetstream.JetStream) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("blob uri %q: %w", uri, err)
	}
	switch u.Scheme {
	case "file":
		err := os.Remove(filepath.FromSlash(u.Path))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	case "nats-object":
		if js == nil {
			return fmt.Errorf("blob %s: no NATS connection to delete it through", uri)
		}
		o, err := NewObjectStore(ctx, js, ObjectStoreConfig{Bucket: u.Host})
		if err != nil {
			return err
		}
		return o.Delete(ctx, strings.TrimPrefix(u.Path, "/"))
	default:
		return fmt.Errorf("blob uri %q: want file:///PATH or nats-object://BUCKET/KEY", uri)
	}
}

// Delete removes the blob: its manifest first (so it no longer exists),
// then its parts.
func (o *ObjectStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	m, err := o.manifest(ctx, key)
	if errors.Is(err, ErrBlobNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := o.obs.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	for i := range m.Parts {
		if err := o.obs.Delete(ctx, partName(key, i)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("delete blob %s: part %d: %w", key, i, err)
		}
	}
	return nil
}

// retention runs PurgeOnce every RetentionEvery until ctx ends.
func (s *Server) retention(ctx context.Context) error {
	p, ok := s.cfg.Store.(Purger)
	if !ok {
		return errors.New("retention: the store cannot purge granules")
	}
	var js jetstream.JetStream
	if s.queue != nil {
		js = s.queue.js
	}
	t := time.NewTicker(s.cfg.RetentionEvery)
	defer t.Stop()
	for {
		rep, err := PurgeOnce(ctx, p, s.cfg.Retention, js, s.cfg.RetentionAudit)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("retention pass", "err", err)
		case rep.Purged > 0:
			s.log.Info("retention: raw granules purged", "granules", rep.Purged, "blobs", rep.BlobsDeleted, "older_than", s.cfg.Retention)
		}
		for _, e := range rep.Errors {
			s.log.Warn("retention: blob not deleted", "err", e)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PopulatedAreas reads a GeoJSON file of the populated areas of a survey
// region (Polygon and MultiPolygon features, or a bare geometry) and
// returns a test of whether a granule's footprint box meets one: a corner
// or the centre of the box inside an area, or a vertex of an area inside
// the box. Without such a file, ingest treats every granule as populated —
// retention then purges every raw granule that no site needs, the
// data-minimising default.
func PopulatedAreas(path string) (func(store.BBox) bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var polys []orb.Polygon
	add := func(g orb.Geometry) error {
		switch g := g.(type) {
		case orb.Polygon:
			polys = append(polys, g)
		case orb.MultiPolygon:
			polys = append(polys, g...)
		default:
			return fmt.Errorf("%s: a %s; populated areas are Polygons or MultiPolygons", path, g.GeoJSONType())
		}
		return nil
	}
	if fc, err := geojson.UnmarshalFeatureCollection(b); err == nil && fc.Type == "FeatureCollection" {
		for i, f := range fc.Features {
			if f.Geometry == nil {
				return nil, fmt.Errorf("%s: feature %d has no geometry", path, i)
			}
			if err := add(f.Geometry); err != nil {
				return nil, err
			}
		}
	} else if g, err := geojson.UnmarshalGeometry(b); err == nil {
		if err := add(g.Geometry()); err != nil {
			return nil, err
		}
	} else {
		return nil, fmt.Errorf("%s: not a GeoJSON FeatureCollection or geometry: %w", path, err)
	}
	if len(polys) == 0 {
		return nil, fmt.Errorf("%s: no polygons", path)
	}
	return func(bb store.BBox) bool {
		pts := []orb.Point{{bb.MinLon, bb.MinLat}, {bb.MaxLon, bb.MinLat}, {bb.MaxLon, bb.MaxLat}, {bb.MinLon, bb.MaxLat},
			{(bb.MinLon + bb.MaxLon) / 2, (bb.MinLat + bb.MaxLat) / 2}}
		for _, p := range polys {
			for _, pt := range pts {
				if planar.PolygonContains(p, pt) {
					return true
				}
			}
			for _, r := range p {
				for _, v := range r {
					if bb.Contains(v.Lat(), v.Lon()) {
						return true
					}
				}
			}
		}
		return false
	}, nil
}
