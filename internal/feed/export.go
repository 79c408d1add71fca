package feed

import (
	"archive/zip"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// AudienceFunc tells who may see a site: its owner agency and the agencies
// it was released to.
type AudienceFunc func(ctx context.Context, s store.Site) (owner string, releasedTo []string, err error)

// StoreAudience is the AudienceFunc of the store's records: the owner from
// ownerOf (the jurisdiction: the host agency of the country containing the
// point), the releases from the store.
func StoreAudience(rel store.ReleaseReader, ownerOf func(ctx context.Context, lat, lon float64) (string, error)) AudienceFunc {
	return func(ctx context.Context, s store.Site) (string, []string, error) {
		owner, err := ownerOf(ctx, s.Lat, s.Lon)
		if err != nil {
			return "", nil, fmt.Errorf("owner of site %s: %w", s.ID, err)
		}
		rs, err := rel.Releases(ctx, s.ID)
		if err != nil {
			return "", nil, fmt.Errorf("releases of site %s: %w", s.ID, err)
		}
		to := make([]string, len(rs))
		for i, r := range rs {
			to[i] = r.AgencyID
		}
		return owner, to, nil
	}
}

// Catalog is the sites an agency may see, for the exports and the OGC API.
type Catalog struct {
	Sites    store.SiteReader
	Audience AudienceFunc
}

// Query selects sites.
type Query struct {
	BBox   *store.BBox // nil: everywhere
	Status []string    // empty: any
	// After is the id of the last site of the previous page (paging).
	After string
	Limit int // ≤ 0: no limit
}

// everywhere is the whole globe (antimeridian-crossing boxes are not
// supported by the store).
var everywhere = store.BBox{MinLat: -90, MinLon: -180, MaxLat: 90, MaxLon: 180}

// Visible returns the sites of q that p may see (access.Visible), by id,
// and whether more follow the page.
func (c *Catalog) Visible(ctx context.Context, p access.Principal, q Query) ([]Site, bool, error) {
	b := everywhere
	if q.BBox != nil {
		b = *q.BBox
	}
	// Read every site of the box, then filter: visibility depends on
	// releases the site query does not join, so a page is cut after
	// filtering. Fine for the thousands of sites one deployment holds.
	all, err := c.Sites.SitesInBBox(ctx, b, 0)
	if err != nil {
		return nil, false, fmt.Errorf("sites in %+v: %w", b, err)
	}
	var out []Site
	for _, s := range all {
		if q.After != "" && s.ID <= q.After {
			continue
		}
		if len(q.Status) > 0 && !slices.Contains(q.Status, string(s.Status)) {
			continue
		}
		owner, to, err := c.Audience(ctx, s)
		if err != nil {
			return nil, false, err
		}
		if !access.Visible(p, owner, to) {
			continue
		}
		if q.Limit > 0 && len(out) == q.Limit {
			return out, true, nil
		}
		out = append(out, NewSite(s, owner, to))
	}
	return out, false, nil
}

// Lookup returns a site with its owner and releases, whoever asks (for
// the dispatcher: Options.Site).
func (c *Catalog) Lookup(ctx context.Context, id string) (Site, error) {
	s, err := c.Sites.Site(ctx, id)
	if err != nil {
		return Site{}, err
	}
	owner, to, err := c.Audience(ctx, s)
	if err != nil {
		return Site{}, err
	}
	return NewSite(s, owner, to), nil
}

// Site returns one site if p may see it; store.ErrNotFound otherwise (a
// site p may not see does not exist for p).
func (c *Catalog) Site(ctx context.Context, p access.Principal, id string) (Site, error) {
	s, err := c.Sites.Site(ctx, id)
	if err != nil {
		return Site{}, err
	}
	owner, to, err := c.Audience(ctx, s)
	if err != nil {
		return Site{}, err
	}
	if !access.Visible(p, owner, to) {
		return Site{}, fmt.Errorf("site %s: %w", id, store.ErrNotFound)
	}
	return NewSite(s, owner, to), nil
}

// Feature is a GeoJSON Feature of a site (RFC 7946): a Point, longitude
// first, with the site's fields as properties.
type Feature struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Geometry   PointGeometry  `json:"geometry"`
	Properties map[string]any `json:"properties"`
	Links      []Link         `json:"links,omitempty"`
}

// PointGeometry is a GeoJSON Point.
type PointGeometry struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

// FeatureCollection is a GeoJSON FeatureCollection; the OGC API adds the
// counts, time stamp and links.
type FeatureCollection struct {
	Type           string    `json:"type"`
	Features       []Feature `json:"features"`
	NumberMatched  *int      `json:"numberMatched,omitempty"`
	NumberReturned *int      `json:"numberReturned,omitempty"`
	TimeStamp      string    `json:"timeStamp,omitempty"`
	Links          []Link    `json:"links,omitempty"`
}

// Link is an OGC API / Web Linking link.
type Link struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

// NewFeature is s as a GeoJSON Feature.
func NewFeature(s Site) Feature {
	props := map[string]any{
		"uncertainty_m":   s.UncertaintyM,
		"gases":           s.Gases,
		"first_seen":      s.FirstSeen.UTC().Format(time.RFC3339),
		"last_seen":       s.LastSeen.UTC().Format(time.RFC3339),
		"passes_seen":     s.PassesSeen,
		"passes_surveyed": s.PassesSurveyed,
		"evidence":        s.Evidence,
		"probability":     s.Probability,
		"type_guess":      s.TypeGuess,
		"status":          s.Status,
		"version":         s.Version,
		"owner":           s.Owner,
		"released_to":     s.ReleasedTo,
		"main_gas":        mainGas(s),
	}
	return Feature{Type: "Feature", ID: s.ID,
		Geometry:   PointGeometry{Type: "Point", Coordinates: [2]float64{s.Lon, s.Lat}},
		Properties: props}
}

func mainGas(s Site) string {
	if len(s.Gases) == 0 {
		return ""
	}
	return s.Gases[0].Gas
}

// WriteGeoJSON writes sites as a GeoJSON FeatureCollection.
func WriteGeoJSON(w io.Writer, sites []Site) error {
	fc := FeatureCollection{Type: "FeatureCollection", Features: make([]Feature, len(sites))}
	for i, s := range sites {
		fc.Features[i] = NewFeature(s)
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(fc); err != nil {
		return fmt.Errorf("write geojson: %w", err)
	}
	return nil
}

// Image is an evidence image of a site for the KMZ (a PNG).
type Image struct {
	Name string // file name, e.g. "plume-pass1.png"
	PNG  []byte
}

// ImagesFunc returns a site's evidence images (nil if none).
type ImagesFunc func(ctx context.Context, siteID string) ([]Image, error)

// KML 2.2 (OGC 07-147r2) structures, only what the export writes.
type kmlDoc struct {
	XMLName  xml.Name `xml:"kml"`
	NS       string   `xml:"xmlns,attr"`
	Document kmlDocument
}

type kmlDocument struct {
	XMLName    xml.Name `xml:"Document"`
	Name       string   `xml:"name"`
	Styles     []kmlStyle
	Placemarks []kmlPlacemark
}

type kmlStyle struct {
	XMLName   xml.Name `xml:"Style"`
	ID        string   `xml:"id,attr"`
	IconColor string   `xml:"IconStyle>color"`
	IconHref  string   `xml:"IconStyle>Icon>href"`
}

type kmlPlacemark struct {
	XMLName     xml.Name `xml:"Placemark"`
	ID          string   `xml:"id,attr"`
	Name        string   `xml:"name"`
	Description kmlCDATA `xml:"description"`
	StyleURL    string   `xml:"styleUrl"`
	TimeSpan    struct {
		Begin string `xml:"begin"`
		End   string `xml:"end"`
	} `xml:"TimeSpan"`
	Data  []kmlData `xml:"ExtendedData>Data"`
	Point struct {
		Coordinates string `xml:"coordinates"`
	} `xml:"Point"`
}

type kmlCDATA struct {
	Text string `xml:",cdata"`
}

type kmlData struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value"`
}

// statusColors are KML colours (aabbggrr) per site status.
var statusColors = map[string]string{
	"released":  "ff0000ff", // red
	"confirmed": "ff0080ff", // orange
	"revisit":   "ff00ffff", // yellow
	"candidate": "ffff0000", // blue
	"dismissed": "ff808080", // grey
}

// WriteKML writes sites as a KML 2.2 document. images, if not nil, maps a
// site id to the paths (inside a KMZ) of its evidence images, shown in
// the placemark's balloon.
func WriteKML(w io.Writer, name string, sites []Site, images map[string][]string) error {
	doc := kmlDoc{NS: "http://www.opengis.net/kml/2.2", Document: kmlDocument{Name: name}}
	for _, st := range []string{"released", "confirmed", "revisit", "candidate", "dismissed"} {
		doc.Document.Styles = append(doc.Document.Styles, kmlStyle{ID: "status-" + st, IconColor: statusColors[st],
			IconHref: "http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png"})
	}
	for _, s := range sites {
		pm := kmlPlacemark{ID: "site-" + s.ID, Name: siteLabel(s), StyleURL: "#status-" + s.Status}
		if _, ok := statusColors[s.Status]; !ok {
			pm.StyleURL = "#status-candidate"
		}
		pm.TimeSpan.Begin = s.FirstSeen.UTC().Format(time.RFC3339)
		pm.TimeSpan.End = s.LastSeen.UTC().Format(time.RFC3339)
		pm.Point.Coordinates = fmtFloat(s.Lon) + "," + fmtFloat(s.Lat) + ",0"
		f := NewFeature(s)
		keys := make([]string, 0, len(f.Properties))
		for k := range f.Properties {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		pm.Data = append(pm.Data, kmlData{Name: "id", Value: s.ID})
		for _, k := range keys {
			pm.Data = append(pm.Data, kmlData{Name: k, Value: dataValue(f.Properties[k])})
		}
		var b strings.Builder
		fmt.Fprintf(&b, "<p>%s · p = %.2f · %d/%d passes seen · ±%.0f m</p>", htmlEscape(s.TypeGuess), s.Probability,
			s.PassesSeen, s.PassesSurveyed, s.UncertaintyM)
		for _, g := range s.Gases {
			fmt.Fprintf(&b, "<p>%s: z = %.1f, %.0f ppm·m", htmlEscape(g.Gas), g.Evidence, g.PeakPPMM)
			if g.RateKgH > 0 {
				fmt.Fprintf(&b, ", %.2g kg/h", g.RateKgH)
			}
			b.WriteString("</p>")
		}
		for _, img := range images[s.ID] {
			fmt.Fprintf(&b, `<img src="%s" width="320"/>`, htmlEscape(img))
		}
		pm.Description = kmlCDATA{Text: b.String()}
		doc.Document.Placemarks = append(doc.Document.Placemarks, pm)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write kml: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write kml: %w", err)
	}
	return nil
}

// WriteKMZ writes a KMZ: a zip whose first entry is doc.kml, with each
// site's evidence images under images/SITE/.
func WriteKMZ(ctx context.Context, w io.Writer, name string, sites []Site, images ImagesFunc) error {
	zw := zip.NewWriter(w)
	paths := map[string][]string{}
	type file struct {
		path string
		data []byte
	}
	var files []file
	if images != nil {
		for _, s := range sites {
			imgs, err := images(ctx, s.ID)
			if err != nil {
				return fmt.Errorf("write kmz: images of site %s: %w", s.ID, err)
			}
			for _, img := range imgs {
				p := "images/" + s.ID + "/" + safeName(img.Name)
				paths[s.ID] = append(paths[s.ID], p)
				files = append(files, file{p, img.PNG})
			}
		}
	}
	// The KML first: Google Earth reads the first .kml entry.
	kw, err := zw.CreateHeader(&zip.FileHeader{Name: "doc.kml", Method: zip.Deflate, Modified: time.Now()})
	if err != nil {
		return fmt.Errorf("write kmz: %w", err)
	}
	if err := WriteKML(kw, name, sites, paths); err != nil {
		return err
	}
	for _, f := range files {
		// PNGs are compressed already: store them.
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.path, Method: zip.Store, Modified: time.Now()})
		if err != nil {
			return fmt.Errorf("write kmz: %w", err)
		}
		if _, err := fw.Write(f.data); err != nil {
			return fmt.Errorf("write kmz: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write kmz: %w", err)
	}
	return nil
}

func siteLabel(s Site) string {
	id := s.ID
	if len(id) > 8 {
		id = id[len(id)-8:]
	}
	if g := mainGas(s); g != "" {
		return fmt.Sprintf("%s %s %.0f%%", id, g, 100*s.Probability)
	}
	return fmt.Sprintf("%s %.0f%%", id, 100*s.Probability)
}

// safeName keeps a file name's letters, digits, '.', '-' and '_'.
func safeName(n string) string {
	var b strings.Builder
	for _, r := range n {
		if r < 128 && (r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 || strings.Trim(b.String(), ".") == "" {
		return "image.png"
	}
	return b.String()
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

func fmtFloat(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func dataValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmtFloat(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
