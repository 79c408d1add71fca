package cot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is returned for an event that is not well-formed CoT; the
// message names the field and the value.
var ErrInvalid = errors.New("cot: invalid event")

// MaxEventBytes bounds one event's XML. TAK events are a few kB; a megabyte
// allows large shapes and remarks while keeping a hostile stream from
// exhausting memory.
const MaxEventBytes = 1 << 20

// Unknown is the CoT value for an unknown hae, ce or le (metres).
const Unknown = 9999999.0

// TimeLayout is how times are written: RFC 3339, UTC, milliseconds, the
// form ATAK writes.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Types and hows Atalaya writes or answers.
const (
	TypeSpotMarker = "b-m-p-s-m" // spot-map marker: persistent, coloured
	TypeDelete     = "t-x-d-d"   // delete the linked event
	TypePing       = "t-x-c-t"   // a client's keep-alive ping
	TypePong       = "t-x-c-t-r" // the server's answer to a ping
	HowFused       = "m-f"       // machine, fused
	HowGIGO        = "h-g-i-g-o" // human, GIGO: what TAK uses for control events
)

// Event is one CoT event.
type Event struct {
	UID   string
	Type  string
	How   string
	Time  time.Time // when the event was generated
	Start time.Time // when it starts being relevant
	Stale time.Time // when it stops being relevant
	// Access is an optional access-control label; empty if absent.
	Access string
	// QoS and Opex are the optional quality-of-service and
	// operation/exercise attributes; empty if absent.
	QoS, Opex string
	Point     Point
	Detail    Detail
}

// Point is the event's position.
type Point struct {
	Lat, Lon float64 // degrees, WGS 84
	HAE      float64 // height above the WGS 84 ellipsoid, m (Unknown if not known)
	CE       float64 // circular error, 1σ radius, m (Unknown if not known)
	LE       float64 // linear (vertical) error, m (Unknown if not known)
}

// Detail holds the event's detail elements.
type Detail struct {
	Contact     *Contact
	Remarks     *Remarks
	Links       []Link
	Color       *Color
	UserIcon    *UserIcon
	ForceDelete *Empty    // <__forcedelete/>: delete even a locked or archived item
	Other       []Element // every other element, verbatim, in order
}

// Contact names the event on the map.
type Contact struct {
	Callsign string `xml:"callsign,attr"`
	Endpoint string `xml:"endpoint,attr,omitempty"`
}

// Remarks is free text shown in the event's details.
type Remarks struct {
	Source string `xml:"source,attr,omitempty"`
	To     string `xml:"to,attr,omitempty"`
	Time   string `xml:"time,attr,omitempty"`
	Text   string `xml:",chardata"`
}

// Link relates the event to another event (uid, type, relation) or to a web
// page (url, mime, remarks).
type Link struct {
	UID            string `xml:"uid,attr,omitempty"`
	Type           string `xml:"type,attr,omitempty"`
	Relation       string `xml:"relation,attr,omitempty"`
	ProductionTime string `xml:"production_time,attr,omitempty"`
	ParentCallsign string `xml:"parent_callsign,attr,omitempty"`
	URL            string `xml:"url,attr,omitempty"`
	Mime           string `xml:"mime,attr,omitempty"`
	Remarks        string `xml:"remarks,attr,omitempty"`
}

// Color is a marker's colour, a signed 32-bit ARGB integer as ATAK writes it.
type Color struct {
	ARGB int32 `xml:"argb,attr"`
}

// UserIcon selects the marker's icon.
type UserIcon struct {
	IconSetPath string `xml:"iconsetpath,attr"`
}

// Empty is an element with no content, such as <__forcedelete/>.
type Empty struct{}

// Element is a detail element Atalaya does not interpret, kept verbatim.
type Element struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   string     `xml:",innerxml"`
}

// FlowTags is the detail element TAK Server stamps on an event it routes;
// an event re-sent with it is dropped as one the server has already seen.
const FlowTags = "_flow-tags_"

// StripFlowTags removes _flow-tags_ from the detail.
func (e *Event) StripFlowTags() {
	out := e.Detail.Other[:0]
	for _, el := range e.Detail.Other {
		if el.XMLName.Local != FlowTags {
			out = append(out, el)
		}
	}
	e.Detail.Other = out
}

// xmlEvent is the wire form.
type xmlEvent struct {
	XMLName xml.Name   `xml:"event"`
	Version string     `xml:"version,attr"`
	UID     string     `xml:"uid,attr"`
	Type    string     `xml:"type,attr"`
	How     string     `xml:"how,attr"`
	Time    string     `xml:"time,attr"`
	Start   string     `xml:"start,attr"`
	Stale   string     `xml:"stale,attr"`
	Access  string     `xml:"access,attr,omitempty"`
	QoS     string     `xml:"qos,attr,omitempty"`
	Opex    string     `xml:"opex,attr,omitempty"`
	Point   *xmlPoint  `xml:"point"`
	Detail  *xmlDetail `xml:"detail"`
}

type xmlPoint struct {
	Lat string `xml:"lat,attr"`
	Lon string `xml:"lon,attr"`
	HAE string `xml:"hae,attr"`
	CE  string `xml:"ce,attr"`
	LE  string `xml:"le,attr"`
}

type xmlDetail struct {
	Contact     *Contact  `xml:"contact"`
	Remarks     *Remarks  `xml:"remarks"`
	Links       []Link    `xml:"link"`
	Color       *Color    `xml:"color"`
	UserIcon    *UserIcon `xml:"usericon"`
	ForceDelete *Empty    `xml:"__forcedelete"`
	Other       []Element `xml:",any"`
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// MarshalXML writes the event.
func (e Event) MarshalXML(enc *xml.Encoder, _ xml.StartElement) error {
	d := e.Detail
	x := xmlEvent{
		Version: "2.0", UID: e.UID, Type: e.Type, How: e.How,
		Time: e.Time.UTC().Format(TimeLayout), Start: e.Start.UTC().Format(TimeLayout),
		Stale: e.Stale.UTC().Format(TimeLayout), Access: e.Access, QoS: e.QoS, Opex: e.Opex,
		Point: &xmlPoint{Lat: num(e.Point.Lat), Lon: num(e.Point.Lon), HAE: num(e.Point.HAE),
			CE: num(e.Point.CE), LE: num(e.Point.LE)},
		Detail: &xmlDetail{Contact: d.Contact, Remarks: d.Remarks, Links: d.Links, Color: d.Color,
			UserIcon: d.UserIcon, ForceDelete: d.ForceDelete, Other: d.Other},
	}
	return enc.Encode(x)
}

// Marshal returns the event as XML (no declaration), checked with Validate
// first so that Atalaya never writes an event its own decoder would refuse.
func Marshal(e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return xml.Marshal(e)
}

// Validate checks what Decode checks.
func (e *Event) Validate() error {
	if e.UID == "" {
		return fmt.Errorf("%w: uid is empty", ErrInvalid)
	}
	if len(e.UID) > 256 || strings.ContainsFunc(e.UID, isControl) {
		return fmt.Errorf("%w: uid %.40q: want at most 256 printable characters", ErrInvalid, e.UID)
	}
	if err := checkType("type", e.Type); err != nil {
		return err
	}
	if err := checkType("how", e.How); err != nil {
		return err
	}
	if e.Stale.Before(e.Start) {
		return fmt.Errorf("%w: stale %s is before start %s", ErrInvalid,
			e.Stale.UTC().Format(TimeLayout), e.Start.UTC().Format(TimeLayout))
	}
	p := e.Point
	for _, f := range []struct {
		name string
		v    float64
	}{{"lat", p.Lat}, {"lon", p.Lon}, {"hae", p.HAE}, {"ce", p.CE}, {"le", p.LE}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%w: point %s %v is not a finite number", ErrInvalid, f.name, f.v)
		}
	}
	if p.Lat < -90 || p.Lat > 90 {
		return fmt.Errorf("%w: point lat %v: want -90 to 90", ErrInvalid, p.Lat)
	}
	if p.Lon < -180 || p.Lon > 180 {
		return fmt.Errorf("%w: point lon %v: want -180 to 180", ErrInvalid, p.Lon)
	}
	if p.CE < 0 {
		return fmt.Errorf("%w: point ce %v: want ≥ 0", ErrInvalid, p.CE)
	}
	if p.LE < 0 {
		return fmt.Errorf("%w: point le %v: want ≥ 0", ErrInvalid, p.LE)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkType checks a CoT type or how: atoms of letters, digits and '_'
// separated by single hyphens ("a-u-G", "b-m-p-s-m", "m-f").
func checkType(field, v string) error {
	bad := v == "" || len(v) > 128 || v[0] == '-' || v[len(v)-1] == '-' || strings.Contains(v, "--")
	for _, r := range v {
		if !(r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("%w: %s %.40q: want hyphen-separated letters and digits such as \"a-u-G\"", ErrInvalid, field, v)
	}
	return nil
}

func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %.40q: want an RFC 3339 time such as 2026-01-02T15:04:05.000Z", ErrInvalid, field, v)
	}
	return t.UTC(), nil
}

func parseNum(field, v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: point %s %.40q: want a number", ErrInvalid, field, v)
	}
	return f, nil
}

// fromXML checks the wire form and converts it.
func fromXML(x *xmlEvent) (Event, error) {
	if x.Version != "2.0" {
		return Event{}, fmt.Errorf("%w: version %.20q: want 2.0", ErrInvalid, x.Version)
	}
	e := Event{UID: x.UID, Type: x.Type, How: x.How, Access: x.Access, QoS: x.QoS, Opex: x.Opex}
	var err error
	if e.Time, err = parseTime("time", x.Time); err != nil {
		return Event{}, err
	}
	if e.Start, err = parseTime("start", x.Start); err != nil {
		return Event{}, err
	}
	if e.Stale, err = parseTime("stale", x.Stale); err != nil {
		return Event{}, err
	}
	if x.Point == nil {
		return Event{}, fmt.Errorf("%w: event %.40q has no point", ErrInvalid, x.UID)
	}
	for _, f := range []struct {
		name string
		s    string
		dst  *float64
	}{{"lat", x.Point.Lat, &e.Point.Lat}, {"lon", x.Point.Lon, &e.Point.Lon}, {"hae", x.Point.HAE, &e.Point.HAE},
		{"ce", x.Point.CE, &e.Point.CE}, {"le", x.Point.LE, &e.Point.LE}} {
		if *f.dst, err = parseNum(f.name, f.s); err != nil {
			return Event{}, err
		}
	}
	if d := x.Detail; d != nil {
		e.Detail = Detail{Contact: d.Contact, Remarks: d.Remarks, Links: d.Links, Color: d.Color,
			UserIcon: d.UserIcon, ForceDelete: d.ForceDelete, Other: d.Other}
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Decode reads exactly one event from data (an optional XML declaration,
// the <event> element, optional whitespace).
func Decode(data []byte) (Event, error) {
	if len(data) > MaxEventBytes {
		return Event{}, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalid, len(data), MaxEventBytes)
	}
	r := NewReader(bytes.NewReader(data))
	e, err := r.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Event{}, fmt.Errorf("%w: no <event> element", ErrInvalid)
		}
		return Event{}, err
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		if err == nil {
			return Event{}, fmt.Errorf("%w: more than one event", ErrInvalid)
		}
		return Event{}, fmt.Errorf("after the event: %w", err)
	}
	return e, nil
}
