package boundaries

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// ErrGeoJSON: an operator's boundary file is not a GeoJSON FeatureCollection
// of longitude/latitude polygons with the named properties.
var ErrGeoJSON = errors.New("boundaries: bad GeoJSON boundary file")

// Area is an administrative area read from an operator's boundary file.
type Area struct {
	Name   string
	Code   string // "" without a code field
	Parent string // "" without a parent field
	Shape  orb.MultiPolygon
}

// Fields name the properties that hold an area's name, code and parent
// (the enclosing area's name); Code and Parent are optional.
type Fields struct {
	Name, Code, Parent string
}

// MaxAreasFile bounds the size of a boundary file ReadAreas reads (IBGE's
// full-resolution municipal mesh as GeoJSON is a few hundred MB).
const MaxAreasFile = 2 << 30

// wgs84Names are the legacy (GeoJSON 2008) "crs" names of WGS 84
// longitude/latitude that GDAL and others write. EPSG:4326 is formally
// latitude first, but GeoJSON coordinates are longitude first whatever the
// crs member says (GDAL writes them so), and the range check catches files
// that are not.
var wgs84Names = []string{
	"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "CRS84", "OGC:CRS84",
	"EPSG:4326", "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:EPSG:6.6:4326", "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
	"http://www.opengis.net/def/crs/EPSG/0/4326",
}

// ReadAreas reads a GeoJSON FeatureCollection of Polygon and MultiPolygon
// features in WGS 84 longitude/latitude degrees (RFC 7946; a legacy "crs"
// member must name WGS 84). Every feature needs a non-empty name in the
// f.Name property (a string or a number); f.Code and f.Parent, if given,
// must be properties of every feature. Rings need at least 4 positions and
// must be closed; the first ring of a polygon is its outer boundary, the
// others its holes. Errors wrap ErrGeoJSON and name the feature (its index
// from 0) and what is wrong.
func ReadAreas(r io.Reader, f Fields) ([]Area, error) {
	if f.Name == "" {
		return nil, fmt.Errorf("%w: no name field given", ErrGeoJSON)
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxAreasFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrGeoJSON, err)
	}
	if len(raw) > MaxAreasFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrGeoJSON, MaxAreasFile)
	}
	var doc struct {
		Type     string            `json:"type"`
		CRS      json.RawMessage   `json:"crs"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: not GeoJSON (convert shapefiles and other formats with ogr2ogr -f GeoJSON -t_srs EPSG:4326 out.geojson in.shp): %w", ErrGeoJSON, err)
	}
	if doc.Type != "FeatureCollection" {
		return nil, fmt.Errorf("%w: type %q: want a FeatureCollection", ErrGeoJSON, doc.Type)
	}
	if err := checkCRS(doc.CRS); err != nil {
		return nil, err
	}
	if len(doc.Features) == 0 {
		return nil, fmt.Errorf("%w: no features", ErrGeoJSON)
	}
	out := make([]Area, 0, len(doc.Features))
	for i, rf := range doc.Features {
		a, err := readArea(rf, f)
		if err != nil {
			return nil, fmt.Errorf("%w: feature %d%s", ErrGeoJSON, i, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func checkCRS(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var crs struct {
		Type       string `json:"type"`
		Properties struct {
			Name string `json:"name"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &crs); err != nil {
		return fmt.Errorf("%w: crs: %w", ErrGeoJSON, err)
	}
	if crs.Type == "name" && slices.Contains(wgs84Names, crs.Properties.Name) {
		return nil
	}
	name := crs.Properties.Name
	if crs.Type != "name" {
		name = "of type " + strconv.Quote(crs.Type)
	}
	return fmt.Errorf("%w: crs %s: want WGS 84 longitude/latitude (convert with ogr2ogr -f GeoJSON -t_srs EPSG:4326 out.geojson in.shp)", ErrGeoJSON, name)
}

// position is a GeoJSON position: longitude, latitude (altitude ignored).
type position orb.Point

func (p *position) UnmarshalJSON(b []byte) error {
	var v []*float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if len(v) < 2 || v[0] == nil || v[1] == nil {
		return fmt.Errorf("position %s: want [longitude, latitude]", b)
	}
	*p = position{*v[0], *v[1]}
	return nil
}

func readArea(raw json.RawMessage, f Fields) (Area, error) {
	var feat struct {
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
		Geometry   *struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
	}
	if err := json.Unmarshal(raw, &feat); err != nil {
		return Area{}, fmt.Errorf(": %w", err)
	}
	if feat.Type != "Feature" {
		return Area{}, fmt.Errorf(": type %q: want Feature", feat.Type)
	}
	var a Area
	var err error
	if a.Name, err = property(feat.Properties, f.Name, true); err != nil {
		return Area{}, err
	}
	where := fmt.Sprintf(" (%s %q)", f.Name, a.Name)
	if f.Code != "" {
		if a.Code, err = property(feat.Properties, f.Code, false); err != nil {
			return Area{}, fmt.Errorf("%s%w", where, err)
		}
	}
	if f.Parent != "" {
		if a.Parent, err = property(feat.Properties, f.Parent, false); err != nil {
			return Area{}, fmt.Errorf("%s%w", where, err)
		}
	}
	g := feat.Geometry
	if g == nil {
		return Area{}, fmt.Errorf("%s: no geometry", where)
	}
	var polys [][][]position
	switch g.Type {
	case "Polygon":
		var p [][]position
		if err := json.Unmarshal(g.Coordinates, &p); err != nil {
			return Area{}, fmt.Errorf("%s: Polygon coordinates: %w", where, err)
		}
		polys = append(polys, p)
	case "MultiPolygon":
		if err := json.Unmarshal(g.Coordinates, &polys); err != nil {
			return Area{}, fmt.Errorf("%s: MultiPolygon coordinates: %w", where, err)
		}
	default:
		return Area{}, fmt.Errorf("%s: geometry type %q: want Polygon or MultiPolygon", where, g.Type)
	}
	if len(polys) == 0 {
		return Area{}, fmt.Errorf("%s: empty %s", where, g.Type)
	}
	for j, p := range polys {
		if len(p) == 0 {
			return Area{}, fmt.Errorf("%s: polygon %d has no ring", where, j)
		}
		poly := make(orb.Polygon, len(p))
		for k, ring := range p {
			if len(ring) < 4 {
				return Area{}, fmt.Errorf("%s: polygon %d ring %d has %d positions: want at least 4", where, j, k, len(ring))
			}
			if ring[0] != ring[len(ring)-1] {
				return Area{}, fmt.Errorf("%s: polygon %d ring %d is not closed (first position %v, last %v)", where, j, k, ring[0], ring[len(ring)-1])
			}
			r := make(orb.Ring, len(ring))
			for n, pt := range ring {
				if !(pt[0] >= -180 && pt[0] <= 180 && pt[1] >= -90 && pt[1] <= 90) {
					return Area{}, fmt.Errorf("%s: polygon %d ring %d position %d (%g, %g) is not a longitude/latitude: is the file in a projected CRS? convert with ogr2ogr -t_srs EPSG:4326",
						where, j, k, n, pt[0], pt[1])
				}
				r[n] = orb.Point(pt)
			}
			poly[k] = r
		}
		a.Shape = append(a.Shape, poly)
	}
	return a, nil
}

// property returns a string or number property as text; a required one
// must not be empty.
func property(props map[string]json.RawMessage, name string, required bool) (string, error) {
	v, ok := props[name]
	if !ok {
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if len(keys) > 12 {
			keys = append(keys[:12], "…")
		}
		return "", fmt.Errorf(": no property %q (it has: %s)", name, strings.Join(keys, ", "))
	}
	var s string
	switch {
	case string(v) == "null":
	case len(v) > 0 && v[0] == '"':
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf(": property %q: %w", name, err)
		}
	default:
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if err := d.Decode(&n); err != nil {
			return "", fmt.Errorf(": property %q is %s: want a string or a number", name, v)
		}
		s = n.String()
	}
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", fmt.Errorf(": property %q is empty", name)
	}
	return s, nil
}

// GeoJSON is the area's geometry as GeoJSON: a Polygon if it has one, a
// MultiPolygon otherwise.
func (a Area) GeoJSON() ([]byte, error) {
	var g orb.Geometry = a.Shape
	if len(a.Shape) == 1 {
		g = a.Shape[0]
	}
	return geojson.NewGeometry(g).MarshalJSON()
}

// ParseShape reads a GeoJSON Polygon or MultiPolygon geometry.
func ParseShape(b []byte) (orb.MultiPolygon, error) {
	g, err := geojson.UnmarshalGeometry(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrGeoJSON, err)
	}
	switch s := g.Geometry().(type) {
	case orb.Polygon:
		return orb.MultiPolygon{s}, nil
	case orb.MultiPolygon:
		return s, nil
	case nil:
		return nil, fmt.Errorf("%w: no geometry", ErrGeoJSON)
	default:
		return nil, fmt.Errorf("%w: geometry %s: want Polygon or MultiPolygon", ErrGeoJSON, s.GeoJSONType())
	}
}
