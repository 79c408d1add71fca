package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/atalaya-project/atalaya/internal/cube"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Ingester records granules, stores their bytes and queues their jobs.
type Ingester struct {
	Store store.GranuleWriter
	Blobs Blobs
	// Queue may be nil (no NATS reachable): the granule is then recorded
	// and the reconciler queues it later.
	Queue *Queue
	// Populated says whether a footprint meets a populated area (retention
	// applies to such granules; PopulatedAreas); nil: every granule is.
	Populated func(store.BBox) bool
}

// Ingested is what Ingest did.
type Ingested struct {
	Granule store.Granule
	Created bool // false: the same bytes were ingested before
	// Queued is true when a job was published (or was a duplicate of one
	// already in the de-duplication window); QueueErr says why not.
	Queued   bool
	QueueErr error
}

// Ingest takes the ENVI cube at hdr (header, with its data file beside it):
// it stores the bytes (content-addressed, so storing again is a no-op),
// records the granule in the store (status recorded; the same bytes give
// the same record), and only then publishes its job with the granule id as
// Nats-Msg-Id. A failure to publish is reported in Ingested, not as an
// error: the granule is recorded, and the reconciler will queue it.
func (in *Ingester) Ingest(ctx context.Context, hdr string) (Ingested, error) {
	return in.ingest(ctx, hdr, "")
}

// IngestArchive ingests a granule archive (a tar of exactly granule.hdr
// and granule.img, as the blob store keeps cubes: see archive.go), such as
// an HTTP upload spooled at path, recording it under name. The archive is
// unpacked into a temporary folder beside nothing else and checked like a
// stored one; a malformed archive fails with ErrArchive and records nothing.
func (in *Ingester) IngestArchive(ctx context.Context, path, name string) (Ingested, error) {
	f, err := os.Open(path)
	if err != nil {
		return Ingested{}, fmt.Errorf("ingest archive: %w", err)
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "atalaya-upload-")
	if err != nil {
		return Ingested{}, fmt.Errorf("ingest archive: %w", err)
	}
	defer os.RemoveAll(dir)
	hdr, err := extractCubeArchive(f, dir, "")
	if err != nil {
		return Ingested{}, fmt.Errorf("ingest archive %s: %w", name, err)
	}
	return in.ingest(ctx, hdr, name)
}

func (in *Ingester) ingest(ctx context.Context, hdr, name string) (Ingested, error) {
	var res Ingested
	if in.Blobs == nil {
		return res, errors.New("ingest: no blob store to keep the bytes in")
	}
	f, err := cube.Open(hdr)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", hdr, err)
	}
	h, hdrPath, dataPath := f.Header, f.HdrPath, f.DataPath
	_ = f.Close()
	sha, size, err := hashCubeArchive(hdrPath, dataPath)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", hdr, err)
	}
	key := cubeKey(sha)
	have, err := in.Blobs.Exists(ctx, key)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", hdr, err)
	}
	if !have {
		if err := in.putArchive(ctx, key, sha, hdrPath, dataPath); err != nil {
			return res, fmt.Errorf("ingest %s: %w", hdr, err)
		}
	}
	g := store.Granule{
		Kind: store.KindCube, SHA256: sha, Name: filepath.Base(hdrPath), Size: size, URI: in.Blobs.URI(key),
	}
	if name != "" {
		g.Name = name
	}
	g.Footprint, g.FootprintGeoJSON = footprint(h)
	meta, err := h.PassMeta()
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", hdr, err)
	}
	g.Acquired = meta.Acquired // zero: unknown (fusion then dates the pass by its processing)
	return in.record(ctx, g)
}

// putArchive streams the archive into the blob store, and checks that
// what was stored hashes as the first reading did (the files did not
// change in between).
func (in *Ingester) putArchive(ctx context.Context, key, sha, hdr, data string) error {
	pr, pw := io.Pipe()
	hash := sha256.New()
	go func() {
		_, err := writeCubeArchive(io.MultiWriter(pw, hash), hdr, data)
		pw.CloseWithError(err)
	}()
	err := in.Blobs.Put(ctx, key, pr)
	_ = pr.CloseWithError(errors.New("put ended"))
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != sha {
		return fmt.Errorf("the cube changed while it was being stored (SHA-256 %s, then %s): stored under the first; ingest it again when it is complete", sha, got)
	}
	return nil
}

// footprint is the ground box of a georeferenced cube, and its outline as
// a GeoJSON polygon (empty without map info).
func footprint(h *cube.Header) (store.BBox, string) {
	g, err := h.Georef()
	if err != nil {
		return store.BBox{}, ""
	}
	corners := [][2]float64{{0, 0}, {float64(h.Samples), 0}, {float64(h.Samples), float64(h.Lines)}, {0, float64(h.Lines)}}
	b := store.BBox{MinLat: math.Inf(1), MinLon: math.Inf(1), MaxLat: math.Inf(-1), MaxLon: math.Inf(-1)}
	ring := make([][2]float64, 0, 5)
	for _, c := range corners {
		lat, lon := g.LatLon(c[0], c[1])
		if math.IsNaN(lat) || math.IsNaN(lon) {
			return store.BBox{}, ""
		}
		b.MinLat, b.MaxLat = min(b.MinLat, lat), max(b.MaxLat, lat)
		b.MinLon, b.MaxLon = min(b.MinLon, lon), max(b.MaxLon, lon)
		ring = append(ring, [2]float64{lon, lat})
	}
	// Image corners in this order run clockwise on the ground (lines go
	// south); GeoJSON wants the exterior ring counter-clockwise.
	for i, j := 0, len(ring)-1; i < j; i, j = i+1, j-1 {
		ring[i], ring[j] = ring[j], ring[i]
	}
	ring = append(ring, ring[0])
	gj, _ := json.Marshal(map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}})
	return b, string(gj)
}
