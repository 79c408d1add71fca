package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/atalaya-project/atalaya/internal/flightlog"
	"github.com/atalaya-project/atalaya/internal/store"
)

// A flight-log granule is the log file itself (PX4 ULog .ulg or MAVLink
// telemetry .tlog), stored under "flightlog/<sha256><ext>". Ingest reads
// its track: the granule's footprint is the flown path (a GeoJSON
// LineString, at most maxTrackPoints points) and its time the first GPS
// time, so the web map's flight-track layer shows where the drone flew.

const maxTrackPoints = 2000

// IngestFlightLog takes a flight log (.ulg or .tlog): it reads its track
// (a log without positions is refused), stores its bytes and records the
// granule with its path as footprint, then queues its job.
func (in *Ingester) IngestFlightLog(ctx context.Context, path string) (Ingested, error) {
	var res Ingested
	if in.Blobs == nil {
		return res, fmt.Errorf("ingest: no blob store to keep the bytes in")
	}
	b, err := readLimited(path, maxTraceBytes)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", path, err)
	}
	ext := strings.ToLower(filepath.Ext(path))
	tr, err := decodeTrack(b, ext)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", path, err)
	}
	box, line, ok := trackPath(tr)
	if !ok {
		return res, fmt.Errorf("ingest %s: the log has no position to place it on the map", path)
	}
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	key := "flightlog/" + sha + ext
	have, err := in.Blobs.Exists(ctx, key)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", path, err)
	}
	if !have {
		if err := in.Blobs.Put(ctx, key, bytes.NewReader(b)); err != nil {
			return res, fmt.Errorf("ingest %s: %w", path, err)
		}
	}
	g := store.Granule{Kind: store.KindFlightLog, SHA256: sha, Name: filepath.Base(path), Size: int64(len(b)),
		URI: in.Blobs.URI(key), Footprint: box, FootprintGeoJSON: line}
	if len(tr.Samples) > 0 && !tr.Samples[0].Time.IsZero() {
		g.Acquired = tr.Samples[0].Time
	}
	return in.record(ctx, g)
}

// decodeTrack reads a ULog or a MAVLink telemetry log's track. A ULog
// with problems (truncated, corrupt parts) gives what was readable.
func decodeTrack(b []byte, ext string) (*flightlog.Track, error) {
	switch ext {
	case ".ulg":
		l, err := flightlog.Decode(b)
		if l == nil {
			return nil, err
		}
		return l.Track()
	case ".tlog":
		return flightlog.DecodeTlog(b)
	}
	return nil, fmt.Errorf("%w: a flight log is .ulg (PX4) or .tlog (MAVLink), not %q", errTrace, ext)
}

// trackPath is a track's box and its path as a GeoJSON LineString
// (decimated to at most maxTrackPoints points).
func trackPath(tr *flightlog.Track) (store.BBox, string, bool) {
	b := store.BBox{MinLat: math.Inf(1), MinLon: math.Inf(1), MaxLat: math.Inf(-1), MaxLon: math.Inf(-1)}
	var pts [][2]float64
	step := max(1, len(tr.Samples)/maxTrackPoints)
	for i, s := range tr.Samples {
		if math.IsNaN(s.Lat) || math.IsNaN(s.Lon) || math.Abs(s.Lat) > 90 || math.Abs(s.Lon) > 180 {
			continue
		}
		b.MinLat, b.MaxLat = min(b.MinLat, s.Lat), max(b.MaxLat, s.Lat)
		b.MinLon, b.MaxLon = min(b.MinLon, s.Lon), max(b.MaxLon, s.Lon)
		if i%step == 0 || i == len(tr.Samples)-1 {
			pts = append(pts, [2]float64{s.Lon, s.Lat})
		}
	}
	if len(pts) == 0 {
		return b, "", false
	}
	if len(pts) == 1 {
		pts = append(pts, pts[0])
	}
	line, _ := json.Marshal(map[string]any{"type": "LineString", "coordinates": pts})
	return b, string(line), true
}
