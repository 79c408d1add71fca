package pipeline

import (
	"bufio"
	"bytes"
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
	"strings"

	"github.com/atalaya-project/atalaya/internal/sniff"
	"github.com/atalaya-project/atalaya/internal/spectra"
	"github.com/atalaya-project/atalaya/internal/store"
)

// A point-sensor trace granule is the trace CSV itself (docs/point-sensor-
// trace.md), stored under "trace/<sha256>.csv"; its SHA-256 is that of the
// file. A worker estimates the source of every gas a channel responds to
// (internal/sniff) and stores each estimate as a detection of method
// "sniff", located at the posterior mean with the 95% credible region as
// its outline.

// maxTraceBytes bounds a trace file (a day of 10 Hz samples is ~100 MB).
const maxTraceBytes = 1 << 30

func traceKey(sha string) string { return "trace/" + sha + ".csv" }

// IngestTrace takes the point-sensor trace CSV at path: it checks that it
// reads, stores its bytes (content-addressed), records the granule (its
// footprint the box of the track; the trace must have latitude and
// longitude) and queues its job, as Ingest does for cubes.
func (in *Ingester) IngestTrace(ctx context.Context, path string) (Ingested, error) {
	var res Ingested
	if in.Blobs == nil {
		return res, errors.New("ingest: no blob store to keep the bytes in")
	}
	b, err := readLimited(path, maxTraceBytes)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", path, err)
	}
	chans, err := traceChannels(b)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", path, err)
	}
	if len(chans) == 0 {
		return res, fmt.Errorf("ingest %s: no <channel>_ppm column: nothing to estimate a source from", path)
	}
	s, err := sniff.ReadTraceCSV(bytes.NewReader(b), chans[0])
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", path, err)
	}
	box, ok := trackBox(s)
	if !ok {
		return res, fmt.Errorf("ingest %s: the trace has no lat_deg/lon_deg positions, so its sources cannot be placed on the map; add them from the flight log", path)
	}
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	key := traceKey(sha)
	have, err := in.Blobs.Exists(ctx, key)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", path, err)
	}
	if !have {
		if err := in.Blobs.Put(ctx, key, bytes.NewReader(b)); err != nil {
			return res, fmt.Errorf("ingest %s: %w", path, err)
		}
	}
	g := store.Granule{Kind: store.KindTrace, SHA256: sha, Name: filepath.Base(path), Size: int64(len(b)),
		URI: in.Blobs.URI(key), Footprint: box, Acquired: s.Start}
	return in.record(ctx, g)
}

// record stores the granule and publishes its job (see Ingest).
func (in *Ingester) record(ctx context.Context, g store.Granule) (Ingested, error) {
	var res Ingested
	var err error
	g.Populated = in.Populated == nil || in.Populated(g.Footprint)
	res.Granule, res.Created, err = in.Store.PutGranule(ctx, g)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", g.Name, err)
	}
	if res.Granule.Status == store.GranuleDone {
		return res, nil
	}
	if in.Queue == nil {
		res.QueueErr = errors.New("no job queue: the reconciler will queue the granule")
		return res, nil
	}
	if _, err := in.Queue.Publish(ctx, jobOf(res.Granule), res.Granule.ID); err != nil {
		res.QueueErr = err
		return res, nil
	}
	res.Queued = true
	return res, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d MiB: split the trace by flight", limit>>20)
	}
	return b, nil
}

// traceChannels lists the channel columns (<name>_ppm, not truth_) of a
// trace's header row.
func traceChannels(b []byte) ([]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") {
			continue
		}
		var out []string
		for _, col := range strings.Split(line, ",") {
			if name, ok := strings.CutSuffix(col, "_ppm"); ok && name != "" && !strings.HasPrefix(col, "truth_") {
				out = append(out, name)
			}
		}
		return out, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("no header row: not a point-sensor trace")
}

func trackBox(s *sniff.Series) (store.BBox, bool) {
	b := store.BBox{MinLat: math.Inf(1), MinLon: math.Inf(1), MaxLat: math.Inf(-1), MaxLon: math.Inf(-1)}
	n := 0
	for _, p := range s.Samples {
		if math.IsNaN(p.Lat) || math.IsNaN(p.Lon) {
			continue
		}
		b.MinLat, b.MaxLat = min(b.MinLat, p.Lat), max(b.MaxLat, p.Lat)
		b.MinLon, b.MaxLon = min(b.MinLon, p.Lon), max(b.MaxLon, p.Lon)
		n++
	}
	return b, n > 0
}

// sniffGranule estimates the sources of a trace granule: for every channel,
// a source-term estimate of the searched gas it responds to most; those
// that claim a source (strong evidence, ln BF > 3: sniff.Posterior.Claim)
// become detections.
func sniffGranule(ctx context.Context, r io.Reader, gases []string, lib *spectra.Library) ([]store.Detection, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxTraceBytes+1))
	if err != nil {
		return nil, err
	}
	chans, err := traceChannels(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTrace, err)
	}
	var out []store.Detection
	for _, ch := range chans {
		s, err := sniff.ReadTraceCSV(bytes.NewReader(b), ch)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errTrace, err)
		}
		p, err := sniff.Process(s, sniff.ProcessOptions{})
		if err != nil {
			return nil, fmt.Errorf("%w: channel %s: %w", errTrace, ch, err)
		}
		// A channel's reading is taken to be one gas (sniff.Options): the
		// searched gas it responds to most (a PID sees many solvents, an
		// electrochemical cell one gas).
		best, bestResp := "", 0.0
		for _, gas := range gases {
			if r := s.Instrument.Response[gas]; r > bestResp {
				best, bestResp = gas, r
			}
		}
		for _, gas := range gases {
			if gas != best {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			e, err := lib.Get(gas)
			if err != nil {
				return nil, err
			}
			post, err := sniff.Estimate(p, sniff.Options{Gas: sniff.Gas{Name: e.Name, MolarMass: e.MolarMass}})
			if err != nil {
				return nil, fmt.Errorf("channel %s, %s: %w", ch, gas, err)
			}
			d := post.Detection()
			if !d.Claim || math.IsNaN(d.Lat) {
				// No strong evidence of a source (ln BF ≤ 3): nothing to
				// place. The flight still bounds the rate (RateHiKgH).
				continue
			}
			out = append(out, pointDetection(d, post.Trace()))
		}
	}
	return out, nil
}

var errTrace = errors.New("bad point-sensor trace")

// pointDetection is a source estimate as a store record: at the posterior
// mean, its 1σ the long axis of the position covariance, its outline the
// 95% credible region; its evidence the z-score equivalent of the Bayes
// factor, √(2 ln BF); its trace (sniff.Trace: the measured concentration
// against the fitted plume's) in the properties, for the site page.
func pointDetection(d sniff.Detection, tr sniff.Trace) store.Detection {
	a, b, c := d.Cov[0][0], d.Cov[0][1], d.Cov[1][1]
	lmax := (a+c)/2 + math.Sqrt((a-c)*(a-c)/4+b*b)
	z := math.Sqrt(2 * d.LogBayesFactor)
	props, _ := json.Marshal(map[string]any{
		"kind": "point", "z": z, "channel": d.Channel, "probability": d.Probability,
		"log_bayes_factor": d.LogBayesFactor, "rate_lo_kg_h": d.RateLoKgH, "rate_hi_kg_h": d.RateHiKgH,
		"trace": tr,
	})
	var outline string
	if len(d.RegionLatLon) >= 3 {
		ring := make([][2]float64, 0, len(d.RegionLatLon)+1)
		for _, p := range d.RegionLatLon {
			ring = append(ring, [2]float64{p.Lon, p.Lat})
		}
		ring = append(ring, ring[0])
		gb, _ := json.Marshal(map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}})
		outline = string(gb)
	}
	return store.Detection{
		Gas: d.Gas, Method: "sniff", Score: finite(d.LogBayesFactor),
		// The chance of evidence this strong from no source: at most
		// 1/BF (the universal bound on a Bayes factor's false-alarm rate).
		PValue: math.Min(1, math.Exp(-d.LogBayesFactor)),
		Lat:    d.Lat, Lon: d.Lon, UncertaintyM: finite(math.Sqrt(lmax)),
		RateKgH: finite(d.RateKgH), RateSigmaKgH: finite((d.RateHiKgH - d.RateLoKgH) / (2 * 1.96)),
		OutlineJSON: outline, Properties: string(props),
	}
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
