package coverage

import (
	"encoding/json"
	"io"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// QGroundControl plan file (docs.qgroundcontrol.com, "Plan File Format"):
// fileType "Plan", version 1; a mission object of version 2 with SimpleItem
// items whose params map onto MISSION_ITEM; empty geofence and rally points.

type qgcPlan struct {
	FileType      string      `json:"fileType"`
	Version       int         `json:"version"`
	GroundStation string      `json:"groundStation"`
	Mission       qgcMission  `json:"mission"`
	GeoFence      qgcGeoFence `json:"geoFence"`
	RallyPoints   qgcRally    `json:"rallyPoints"`
}

type qgcMission struct {
	Version                int         `json:"version"`
	FirmwareType           int         `json:"firmwareType"`
	VehicleType            int         `json:"vehicleType"`
	CruiseSpeed            float64     `json:"cruiseSpeed"`
	HoverSpeed             float64     `json:"hoverSpeed"`
	GlobalPlanAltitudeMode int         `json:"globalPlanAltitudeMode"`
	PlannedHomePosition    [3]float64  `json:"plannedHomePosition"`
	Items                  []qgcSimple `json:"items"`
}

type qgcSimple struct {
	Type                string      `json:"type"`
	AutoContinue        bool        `json:"autoContinue"`
	Command             int         `json:"command"`
	DoJumpID            int         `json:"doJumpId"`
	Frame               int         `json:"frame"`
	Params              [7]*float64 `json:"params"`
	Altitude            *float64    `json:"Altitude,omitempty"`
	AltitudeMode        *int        `json:"AltitudeMode,omitempty"`
	AMSLAltAboveTerrain *float64    `json:"AMSLAltAboveTerrain"`
}

type qgcGeoFence struct {
	Circles  []any `json:"circles"`
	Polygons []any `json:"polygons"`
	Version  int   `json:"version"`
}

type qgcRally struct {
	Points  []any `json:"points"`
	Version int   `json:"version"`
}

// WriteQGC writes the survey as a QGroundControl .plan file for PX4
// (firmwareType 12, MAV_AUTOPILOT_PX4) on a multicopter (vehicleType 2,
// MAV_TYPE_QUADROTOR), altitudes relative to home.
func (s *Survey) WriteQGC(w io.Writer) error {
	p := qgcPlan{FileType: "Plan", Version: 1, GroundStation: "QGroundControl",
		Mission: qgcMission{Version: 2, FirmwareType: 12, VehicleType: 2, CruiseSpeed: s.SpeedMS, HoverSpeed: s.SpeedMS,
			GlobalPlanAltitudeMode: 1, PlannedHomePosition: [3]float64{s.Home[1], s.Home[0], 0}},
		GeoFence:    qgcGeoFence{Circles: []any{}, Polygons: []any{}, Version: 2},
		RallyPoints: qgcRally{Points: []any{}, Version: 2},
	}
	relative := 1 // QGC AltitudeMode: relative to home
	for k, it := range s.Items {
		q := qgcSimple{Type: "SimpleItem", AutoContinue: true, Command: int(it.Command), DoJumpID: k + 1, Frame: int(it.Frame)}
		for n, v := range it.Params {
			if !math.IsNaN(v) {
				q.Params[n] = &v
			}
		}
		if it.Positional() {
			alt := it.Params[6]
			q.Altitude, q.AltitudeMode = &alt, &relative
		}
		p.Mission.Items = append(p.Mission.Items, q)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// GeoJSON returns the survey as features: the area ("kind": "area"), each
// line as a LineString ("kind": "line", "index", "length_m") with its swath
// footprint as a Polygon ("kind": "footprint"), and home ("kind": "home").
func (s *Survey) GeoJSON() *geojson.FeatureCollection {
	fc := geojson.NewFeatureCollection()
	area := geojson.NewFeature(s.Area)
	area.Properties = geojson.Properties{"kind": "area", "swath_m": round(s.SwathM, 6), "spacing_m": round(s.SpacingM, 6),
		"heading_deg": s.HeadingDeg, "altitude_m": s.AltitudeM, "length_m": math.Round(s.LengthM), "duration_s": math.Round(s.Duration.Seconds())}
	fc.Append(area)
	for k, l := range s.Lines {
		a, b := s.utm(l.From), s.utm(l.To)
		ln := geojson.NewFeature(orb.LineString{l.From, l.To})
		ln.Properties = geojson.Properties{"kind": "line", "index": k, "length_m": math.Round(dist(a, b)*10) / 10}
		fc.Append(ln)
		fp := geojson.NewFeature(s.footprint(a, b))
		fp.Properties = geojson.Properties{"kind": "footprint", "index": k}
		fc.Append(fp)
	}
	home := geojson.NewFeature(s.Home)
	home.Properties = geojson.Properties{"kind": "home"}
	fc.Append(home)
	return fc
}

func (s *Survey) utm(p orb.Point) xy {
	e, n := utmOf(p, s.zone, s.north)
	return xy{e, n}
}

// footprint is the ground a line images: ±swath/2 across it, from start to
// end.
func (s *Survey) footprint(a, b xy) orb.Polygon {
	l := dist(a, b)
	if l == 0 {
		l = 1
	}
	ue, un := (b.e-a.e)/l, (b.n-a.n)/l
	re, rn := un*s.SwathM/2, -ue*s.SwathM/2
	ring := orb.Ring{s.lonLat(xy{a.e - re, a.n - rn}), s.lonLat(xy{b.e - re, b.n - rn}), s.lonLat(xy{b.e + re, b.n + rn}), s.lonLat(xy{a.e + re, a.n + rn})}
	return orb.Polygon{append(ring, ring[0])}
}
