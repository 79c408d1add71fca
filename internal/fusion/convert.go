package fusion

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/atalaya-project/atalaya/internal/granule"
	"github.com/atalaya-project/atalaya/internal/sites"
	"github.com/atalaya-project/atalaya/internal/store"
)

// detProps are the attributes fusion keeps in a detection's Properties so
// that a site can be rebuilt from its stored detections: what kind of
// evidence it is, its calibrated z-score, and when its pass was.
type detProps struct {
	Kind   string  `json:"kind,omitempty"`
	Z      float64 `json:"z,omitempty"`
	TimeUS int64   `json:"pass_time_us,omitempty"`
	RateKg float64 `json:"rate_kg_h,omitempty"`
}

// MethodSniff is the method of point-sensor (source-term estimate)
// detections.
const MethodSniff = "sniff"

// kindOf says which detections make sites: the matched filter's (one per
// plume and gas, with a retrieval), the grid's and the point sensors'. ACE
// and CEM score the same plumes again and RX finds anomalies of no gas:
// they are kept with the granule, not fused.
func kindOf(method string) (sites.Kind, bool) {
	switch method {
	case granule.MethodMF:
		return sites.KindImaging, true
	case MethodGrid:
		return sites.KindGrid, true
	case MethodSniff:
		return sites.KindPoint, true
	}
	return "", false
}

// annotate records, in each detection's Properties, its kind, z-score and
// pass time (keeping what was there).
func annotate(ds []store.Detection, t time.Time) ([]store.Detection, error) {
	out := make([]store.Detection, len(ds))
	for i, d := range ds {
		k, ok := kindOf(d.Method)
		if ok {
			m := map[string]any{}
			if d.Properties != "" {
				if err := json.Unmarshal([]byte(d.Properties), &m); err != nil {
					return nil, fmt.Errorf("detection %d properties: %w", i, err)
				}
			}
			if _, has := m["kind"]; !has {
				m["kind"] = string(k)
			}
			if _, has := m["z"]; !has {
				m["z"] = sites.ZFromP(d.PValue, d.Score)
			}
			m["pass_time_us"] = t.UnixMicro()
			b, err := json.Marshal(m)
			if err != nil {
				return nil, err
			}
			d.Properties = string(b)
		}
		out[i] = d
	}
	return out, nil
}

// toSites turns a stored detection into the sites package's; ok is false
// for detections that do not make sites.
func toSites(d store.Detection) (sites.Detection, bool, error) {
	k, ok := kindOf(d.Method)
	if !ok || d.Gas == "" || d.Gas == "-" {
		return sites.Detection{}, false, nil
	}
	var p detProps
	if d.Properties != "" {
		if err := json.Unmarshal([]byte(d.Properties), &p); err != nil {
			return sites.Detection{}, false, fmt.Errorf("detection %s properties: %w", d.ID, err)
		}
	}
	if p.Kind != "" {
		k = sites.Kind(p.Kind)
	}
	t := d.Created
	if p.TimeUS != 0 {
		t = time.UnixMicro(p.TimeUS).UTC()
	}
	z := p.Z
	if z == 0 {
		z = sites.ZFromP(d.PValue, d.Score)
	}
	sd := sites.Detection{
		ID: d.ID, Kind: k, Gas: d.Gas, Lat: d.Lat, Lon: d.Lon, SigmaM: math.Max(d.UncertaintyM, 1),
		Z: z, PValue: d.PValue, PPMm: d.PeakPPMM, SigmaPPMm: d.SigmaPPMM, EmissionKgH: d.RateKgH,
		Time: t, PassID: d.GranuleID,
	}
	if k == sites.KindPoint {
		sd.PPMm, sd.SigmaPPMm = 0, 0
	}
	return sd, true, nil
}

// fromStore rebuilds a site from its record and its linked detections.
func fromStore(s store.Site, ds []store.Detection) (sites.Site, error) {
	out := sites.Site{
		ID: s.ID, Lat: s.Lat, Lon: s.Lon, SigmaM: s.UncertaintyM,
		Gases: map[string]*sites.GasEvidence{}, FirstSeen: s.FirstSeen, LastSeen: s.LastSeen,
		PassesSurveyed: s.PassesSurvey, PassesSeen: s.PassesSeen, LogBF: s.Evidence, Probability: s.Probability,
	}
	if s.GasProfile != "" {
		if err := json.Unmarshal([]byte(s.GasProfile), &out.Gases); err != nil {
			return out, fmt.Errorf("site %s gas profile: %w", s.ID, err)
		}
	}
	for _, d := range ds {
		sd, ok, err := toSites(d)
		if err != nil {
			return out, err
		}
		if ok {
			out.Detections = append(out.Detections, sd)
		}
	}
	return out, nil
}

// toStore is a site's record (status, version and times of the record are
// the caller's).
func toStore(s sites.Site) (store.Site, error) {
	for _, e := range s.Gases {
		e.Z, e.LogBF, e.PPMm = finite(e.Z), finite(e.LogBF), finite(e.PPMm)
		e.SigmaPPMm, e.EmissionKgH = finite(e.SigmaPPMm), finite(e.EmissionKgH)
	}
	gp, err := json.Marshal(s.Gases)
	if err != nil {
		return store.Site{}, err
	}
	return store.Site{
		ID: s.ID, Lat: s.Lat, Lon: s.Lon, UncertaintyM: finite(s.SigmaM), GasProfile: string(gp),
		FirstSeen: s.FirstSeen, LastSeen: s.LastSeen, PassesSeen: s.PassesSeen,
		PassesSurvey: max(s.PassesSurveyed, s.PassesSeen), Evidence: finite(s.LogBF),
		Probability: finite(s.Probability), TypeGuess: s.Type(),
	}, nil
}
