package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/paulmach/orb/geojson"

	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Detections converts a granule run's detections to store records, with
// their outlines from the run's GeoJSON. A plume quantified with the
// pass's wind is placed at its origin (the upwind end, where the source
// is) with the origin's uncertainty, and carries its emission rate; the
// centroid stays in its properties. Otherwise it is placed at its
// centroid, known no better than its extent (the radius of a disc of its
// area). A matched-filter detection's evidence goes with it: the measured
// and library spectra in its properties ("spectrum", granule.Spectrum) and
// its plume image in PlumePNG (the crop of the run's ppm·m map it shows in
// "plume_crop", [minX, minY, maxX, maxY] pixels).
func Detections(res *granule.Result) ([]store.Detection, error) {
	outlines := map[string]string{}
	if b, err := os.ReadFile(res.GeoJSON); err == nil {
		fc, err := geojson.UnmarshalFeatureCollection(b)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", res.GeoJSON, err)
		}
		for _, f := range fc.Features {
			id, _ := f.Properties["id"].(string)
			if f.Geometry == nil || id == "" {
				continue
			}
			gb, err := geojson.NewGeometry(f.Geometry).MarshalJSON()
			if err == nil {
				outlines[id] = string(gb)
			}
		}
	}
	out := make([]store.Detection, 0, len(res.Detections))
	for _, d := range res.Detections {
		props := map[string]any{
			"run_id": d.ID, "pixels": d.Pixels, "area_m2": d.AreaM2,
			"centroid_x": d.CentroidX, "centroid_y": d.CentroidY, "peak_x": d.PeakX, "peak_y": d.PeakY,
			"centroid_lat": d.Lat, "centroid_lon": d.Lon,
		}
		lat, lon := d.Lat, d.Lon
		unc := math.Sqrt(d.AreaM2 / math.Pi)
		if d.SigmaOriginM > 0 && (d.OriginLat != 0 || d.OriginLon != 0) {
			lat, lon, unc = d.OriginLat, d.OriginLon, d.SigmaOriginM
			props["located_at"] = "origin"
			props["components"] = d.Components
		}
		if d.Spectrum != nil {
			props["spectrum"] = d.Spectrum
		}
		if len(d.PlumePNG) > 0 {
			c := d.PlumeCrop
			props["plume_crop"] = [4]int{c.Min.X, c.Min.Y, c.Max.X, c.Max.Y}
		}
		pb, err := json.Marshal(props)
		if err != nil {
			return nil, err
		}
		gas := d.Gas
		if gas == "" {
			gas = "-" // RX: an anomaly, no gas
		}
		out = append(out, store.Detection{
			Gas: gas, Method: d.Method, Score: finite(d.PeakScore), PValue: finite(d.PValue),
			Lat: lat, Lon: lon, UncertaintyM: finite(unc),
			PeakPPMM: finite(d.PeakPPMm), MeanPPMM: finite(d.MeanPPMm), SigmaPPMM: finite(d.SigmaPPMm),
			IMEKg: finite(d.IMEkg), RateKgH: finite(d.RateKgH), RateSigmaKgH: finite(d.SigmaRateKgH),
			OutlineJSON: outlines[d.ID], Properties: string(pb), PlumePNG: string(d.PlumePNG),
		})
	}
	return out, nil
}
