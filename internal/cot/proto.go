package cot

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// TAK protocol version 1: the protobuf form of an event (the TakMessage of
// package atakmap.commoncommo.protobuf.v1) and its streaming frame. The field
// numbers are those of the published .proto files (takproto/ in
// deptofdefense/AndroidTacticalAssaultKit-CIV, the same files node-cot ships
// in lib/proto); docs/tak.md has the table.

// Magic is the first byte of every TAK protocol frame.
const Magic = 0xbf

// ProtocolVersion is the TAK protocol version Atalaya speaks besides XML
// (version 0).
const ProtocolVersion = 1

// TakControl is the control part of a TakMessage (takcontrol.proto): the
// protocol versions the sender can decode. It matters on mesh networks; on
// a streaming connection the XML negotiation decides, and Atalaya neither
// sends it nor acts on it.
type TakControl struct {
	MinProtoVersion uint32
	MaxProtoVersion uint32
	ContactUID      string
}

// TakMessage is one TAK protocol version 1 payload: an optional control
// part and an optional event.
type TakMessage struct {
	Control *TakControl
	Event   *Event
}

// Field numbers (takmessage.proto, takcontrol.proto, cotevent.proto,
// detail.proto and the detail messages).
const (
	fMsgControl = 1
	fMsgEvent   = 2

	fCtlMin        = 1
	fCtlMax        = 2
	fCtlContactUID = 3

	fEvType      = 1
	fEvAccess    = 2
	fEvQoS       = 3
	fEvOpex      = 4
	fEvUID       = 5
	fEvSendTime  = 6
	fEvStartTime = 7
	fEvStaleTime = 8
	fEvHow       = 9
	fEvLat       = 10
	fEvLon       = 11
	fEvHAE       = 12
	fEvCE        = 13
	fEvLE        = 14
	fEvDetail    = 15

	fDetXML       = 1
	fDetContact   = 2
	fDetGroup     = 3
	fDetPrecision = 4
	fDetStatus    = 5
	fDetTakv      = 6
	fDetTrack     = 7
)

// typedDetail describes a detail element that version 1 carries as a typed
// message instead of XML: its element name, its detail.proto field, and its
// attributes in field order (field i+1), each a string, uint32 or double.
type typedDetail struct {
	element string
	field   protowire.Number
	attrs   []string
	kinds   []protowire.Type // BytesType (string), VarintType (uint32), Fixed64Type (double)
}

var typedDetails = []typedDetail{
	{"__group", fDetGroup, []string{"name", "role"}, []protowire.Type{protowire.BytesType, protowire.BytesType}},
	{"precisionlocation", fDetPrecision, []string{"geopointsrc", "altsrc"}, []protowire.Type{protowire.BytesType, protowire.BytesType}},
	{"status", fDetStatus, []string{"battery"}, []protowire.Type{protowire.VarintType}},
	{"takv", fDetTakv, []string{"device", "platform", "os", "version"},
		[]protowire.Type{protowire.BytesType, protowire.BytesType, protowire.BytesType, protowire.BytesType}},
	{"track", fDetTrack, []string{"speed", "course"}, []protowire.Type{protowire.Fixed64Type, protowire.Fixed64Type}},
}

// MarshalProto returns the TAK protocol version 1 payload (a serialized
// TakMessage) of an event, checked with Validate first. The contact's
// callsign and endpoint, __group, precisionlocation, status, takv and track
// go in their typed messages when the whole element fits one (every
// attribute the message has, no other attribute, no content, one such
// element); everything else of the detail is XML in xmlDetail, as
// detail.proto prescribes.
func MarshalProto(e Event) ([]byte, error) {
	return MarshalTakMessage(TakMessage{Event: &e})
}

// MarshalTakMessage serializes a TakMessage (its event checked with
// Validate).
func MarshalTakMessage(m TakMessage) ([]byte, error) {
	var b []byte
	if c := m.Control; c != nil {
		var cb []byte
		cb = appendUint(cb, fCtlMin, uint64(c.MinProtoVersion))
		cb = appendUint(cb, fCtlMax, uint64(c.MaxProtoVersion))
		cb = appendString(cb, fCtlContactUID, c.ContactUID)
		b = protowire.AppendTag(b, fMsgControl, protowire.BytesType)
		b = protowire.AppendBytes(b, cb)
	}
	if e := m.Event; e != nil {
		eb, err := marshalEvent(e)
		if err != nil {
			return nil, err
		}
		b = protowire.AppendTag(b, fMsgEvent, protowire.BytesType)
		b = protowire.AppendBytes(b, eb)
	}
	return b, nil
}

func appendString(b []byte, f protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, f, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendUint(b []byte, f protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, f, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendDouble(b []byte, f protowire.Number, v float64) []byte {
	if v == 0 && !math.Signbit(v) {
		return b
	}
	b = protowire.AppendTag(b, f, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

func timeMs(field string, t time.Time) (uint64, error) {
	ms := t.UnixMilli()
	if ms < 0 {
		return 0, fmt.Errorf("%w: %s %s: TAK protocol times start in 1970", ErrInvalid, field, t.UTC().Format(TimeLayout))
	}
	return uint64(ms), nil
}

func marshalEvent(e *Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	var b []byte
	b = appendString(b, fEvType, e.Type)
	b = appendString(b, fEvAccess, e.Access)
	b = appendString(b, fEvQoS, e.QoS)
	b = appendString(b, fEvOpex, e.Opex)
	b = appendString(b, fEvUID, e.UID)
	for _, t := range []struct {
		f    protowire.Number
		name string
		t    time.Time
	}{{fEvSendTime, "time", e.Time}, {fEvStartTime, "start", e.Start}, {fEvStaleTime, "stale", e.Stale}} {
		ms, err := timeMs(t.name, t.t)
		if err != nil {
			return nil, err
		}
		b = appendUint(b, t.f, ms)
	}
	b = appendString(b, fEvHow, e.How)
	b = appendDouble(b, fEvLat, e.Point.Lat)
	b = appendDouble(b, fEvLon, e.Point.Lon)
	b = appendDouble(b, fEvHAE, e.Point.HAE)
	b = appendDouble(b, fEvCE, e.Point.CE)
	b = appendDouble(b, fEvLE, e.Point.LE)
	db, err := marshalDetail(&e.Detail)
	if err != nil {
		return nil, err
	}
	if len(db) > 0 {
		b = protowire.AppendTag(b, fEvDetail, protowire.BytesType)
		b = protowire.AppendBytes(b, db)
	}
	for _, s := range []string{e.Type, e.Access, e.QoS, e.Opex, e.UID, e.How} {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%w: %.40q is not UTF-8", ErrInvalid, s)
		}
	}
	return b, nil
}

// typedFields returns the typed message of el if the whole element fits
// it, else ok false.
func (td typedDetail) fields(el Element) (msg []byte, ok bool) {
	if strings.TrimSpace(el.Inner) != "" || len(el.Attrs) != len(td.attrs) || el.XMLName.Space != "" {
		return nil, false
	}
	vals := make([]string, len(td.attrs))
	seen := 0
	for _, a := range el.Attrs {
		if a.Name.Space != "" {
			return nil, false
		}
		for i, n := range td.attrs {
			if a.Name.Local == n && vals[i] == "" {
				vals[i] = a.Value
				seen++
			}
		}
	}
	if seen != len(td.attrs) {
		return nil, false
	}
	for i, v := range vals {
		f := protowire.Number(i + 1)
		switch td.kinds[i] {
		case protowire.BytesType:
			if v == "" || !utf8.ValidString(v) {
				return nil, false
			}
			msg = appendString(msg, f, v)
		case protowire.VarintType:
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return nil, false
			}
			msg = appendUint(msg, f, n)
		case protowire.Fixed64Type:
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, false
			}
			msg = appendDouble(msg, f, x)
		}
	}
	return msg, true
}

func marshalDetail(d *Detail) ([]byte, error) {
	var typed []byte
	rest := *d
	if c := d.Contact; c != nil && c.Callsign != "" && utf8.ValidString(c.Callsign) && utf8.ValidString(c.Endpoint) {
		var cb []byte
		cb = appendString(cb, 1, c.Endpoint)
		cb = appendString(cb, 2, c.Callsign)
		typed = protowire.AppendTag(typed, fDetContact, protowire.BytesType)
		typed = protowire.AppendBytes(typed, cb)
		rest.Contact = nil
	}
	count := map[string]int{}
	for _, el := range d.Other {
		count[el.XMLName.Local]++
	}
	rest.Other = nil
	taken := map[string]bool{}
	for _, el := range d.Other {
		var msg []byte
		ok := false
		var td typedDetail
		for _, t := range typedDetails {
			if t.element == el.XMLName.Local && count[t.element] == 1 {
				td = t
				msg, ok = t.fields(el)
			}
		}
		if !ok {
			rest.Other = append(rest.Other, el)
			continue
		}
		taken[td.element] = true
		typed = protowire.AppendTag(typed, td.field, protowire.BytesType)
		typed = protowire.AppendBytes(typed, msg)
	}
	var b []byte
	x, err := detailXML(&rest)
	if err != nil {
		return nil, err
	}
	b = appendString(b, fDetXML, x)
	return append(b, typed...), nil
}

// detailXML is the XML of a detail's children without the <detail> tags
// ("" if it has none).
func detailXML(d *Detail) (string, error) {
	x := xmlDetail{Contact: d.Contact, Remarks: d.Remarks, Links: d.Links, Color: d.Color,
		UserIcon: d.UserIcon, ForceDelete: d.ForceDelete, Other: d.Other}
	b, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"detail"`
		xmlDetail
	}{xmlDetail: x})
	if err != nil {
		return "", fmt.Errorf("%w: detail: %v", ErrInvalid, err)
	}
	s := strings.TrimSuffix(strings.TrimPrefix(string(b), "<detail>"), "</detail>")
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: detail is not UTF-8", ErrInvalid)
	}
	return s, nil
}

// UnmarshalProto decodes a TAK protocol version 1 payload that must hold
// an event.
func UnmarshalProto(b []byte) (Event, error) {
	m, err := UnmarshalTakMessage(b)
	if err != nil {
		return Event{}, err
	}
	if m.Event == nil {
		return Event{}, fmt.Errorf("%w: TAK message without cotEvent", ErrInvalid)
	}
	return *m.Event, nil
}

// UnmarshalTakMessage decodes a TAK protocol version 1 payload. It is as
// strict as Decode: the event must pass Validate, xmlDetail must be
// well-formed XML of detail elements; every error names the field and
// wraps ErrInvalid. Unknown fields are skipped (version 1 may grow fields
// at the end of its messages).
func UnmarshalTakMessage(b []byte) (TakMessage, error) {
	if len(b) > MaxEventBytes {
		return TakMessage{}, fmt.Errorf("%w: TAK message of %d bytes, more than %d", ErrInvalid, len(b), MaxEventBytes)
	}
	var m TakMessage
	var evb []byte
	hasEvent := false
	err := eachField("TakMessage", b, func(f protowire.Number, t protowire.Type, v []byte, _ uint64) error {
		switch f {
		case fMsgControl:
			if err := wantType("TakMessage.takControl", t, protowire.BytesType); err != nil {
				return err
			}
			if m.Control == nil {
				m.Control = &TakControl{}
			}
			return unmarshalControl(m.Control, v)
		case fMsgEvent:
			if err := wantType("TakMessage.cotEvent", t, protowire.BytesType); err != nil {
				return err
			}
			// A repeated embedded message merges: keep its bytes in order.
			evb = append(evb, v...)
			hasEvent = true
		}
		return nil
	})
	if err != nil {
		return TakMessage{}, err
	}
	if hasEvent {
		e, err := unmarshalEvent(evb)
		if err != nil {
			return TakMessage{}, err
		}
		m.Event = &e
	}
	return m, nil
}

// eachField calls fn for every field of a message: its number, wire type,
// and the bytes (length-delimited) or the number (varint, fixed64).
func eachField(msg string, b []byte, fn func(f protowire.Number, t protowire.Type, v []byte, n uint64) error) error {
	for len(b) > 0 {
		f, t, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %s: bad field tag: %v", ErrInvalid, msg, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch t {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		default:
			n = protowire.ConsumeFieldValue(f, t, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %s field %d: %v", ErrInvalid, msg, f, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(f, t, v, x); err != nil {
			return err
		}
	}
	return nil
}

func wantType(field string, got, want protowire.Type) error {
	if got != want {
		return fmt.Errorf("%w: %s has wire type %d, want %d", ErrInvalid, field, got, want)
	}
	return nil
}

func protoString(field string, t protowire.Type, v []byte) (string, error) {
	if err := wantType(field, t, protowire.BytesType); err != nil {
		return "", err
	}
	if !utf8.Valid(v) {
		return "", fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, field)
	}
	return string(v), nil
}

func unmarshalControl(c *TakControl, b []byte) error {
	return eachField("TakControl", b, func(f protowire.Number, t protowire.Type, v []byte, x uint64) error {
		var err error
		switch f {
		case fCtlMin, fCtlMax:
			if err = wantType("TakControl version", t, protowire.VarintType); err == nil {
				if f == fCtlMin {
					c.MinProtoVersion = uint32(x)
				} else {
					c.MaxProtoVersion = uint32(x)
				}
			}
		case fCtlContactUID:
			c.ContactUID, err = protoString("TakControl.contactUid", t, v)
		}
		return err
	})
}

// maxTimeMs is 9999-12-31T23:59:59.999Z: times are written as RFC 3339
// with a four-digit year.
var maxTimeMs = uint64(time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli())

var evFieldNames = map[protowire.Number]string{fEvType: "type", fEvAccess: "access", fEvQoS: "qos", fEvOpex: "opex",
	fEvUID: "uid", fEvHow: "how", fEvSendTime: "sendTime", fEvStartTime: "startTime", fEvStaleTime: "staleTime",
	fEvLat: "lat", fEvLon: "lon", fEvHAE: "hae", fEvCE: "ce", fEvLE: "le", fEvDetail: "detail"}

func unmarshalEvent(b []byte) (Event, error) {
	var e Event
	var db []byte
	var times [3]uint64
	err := eachField("CotEvent", b, func(f protowire.Number, t protowire.Type, v []byte, x uint64) error {
		name := "CotEvent." + evFieldNames[f]
		var err error
		switch f {
		case fEvType:
			e.Type, err = protoString(name, t, v)
		case fEvAccess:
			e.Access, err = protoString(name, t, v)
		case fEvQoS:
			e.QoS, err = protoString(name, t, v)
		case fEvOpex:
			e.Opex, err = protoString(name, t, v)
		case fEvUID:
			e.UID, err = protoString(name, t, v)
		case fEvHow:
			e.How, err = protoString(name, t, v)
		case fEvSendTime, fEvStartTime, fEvStaleTime:
			if err = wantType(name, t, protowire.VarintType); err == nil {
				if x > maxTimeMs {
					return fmt.Errorf("%w: %s %d ms: after the year 9999", ErrInvalid, name, x)
				}
				times[f-fEvSendTime] = x
			}
		case fEvLat, fEvLon, fEvHAE, fEvCE, fEvLE:
			if err = wantType(name, t, protowire.Fixed64Type); err == nil {
				d := math.Float64frombits(x)
				switch f {
				case fEvLat:
					e.Point.Lat = d
				case fEvLon:
					e.Point.Lon = d
				case fEvHAE:
					e.Point.HAE = d
				case fEvCE:
					e.Point.CE = d
				case fEvLE:
					e.Point.LE = d
				}
			}
		case fEvDetail:
			if err = wantType(name, t, protowire.BytesType); err == nil {
				db = append(db, v...)
			}
		}
		return err
	})
	if err != nil {
		return Event{}, err
	}
	e.Time = time.UnixMilli(int64(times[0])).UTC()
	e.Start = time.UnixMilli(int64(times[1])).UTC()
	e.Stale = time.UnixMilli(int64(times[2])).UTC()
	if err := unmarshalDetail(&e.Detail, db); err != nil {
		return Event{}, fmt.Errorf("event %.40q: %w", e.UID, err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

func unmarshalDetail(d *Detail, b []byte) error {
	var xmlText string
	var contact *Contact
	typed := map[protowire.Number][]byte{}
	present := map[protowire.Number]bool{}
	err := eachField("Detail", b, func(f protowire.Number, t protowire.Type, v []byte, _ uint64) error {
		var err error
		switch f {
		case fDetXML:
			xmlText, err = protoString("Detail.xmlDetail", t, v)
		case fDetContact:
			if err = wantType("Detail.contact", t, protowire.BytesType); err != nil {
				return err
			}
			if contact == nil {
				contact = &Contact{}
			}
			err = eachField("Contact", v, func(f protowire.Number, t protowire.Type, v []byte, _ uint64) error {
				var err error
				switch f {
				case 1:
					contact.Endpoint, err = protoString("Contact.endpoint", t, v)
				case 2:
					contact.Callsign, err = protoString("Contact.callsign", t, v)
				}
				return err
			})
		case fDetGroup, fDetPrecision, fDetStatus, fDetTakv, fDetTrack:
			if err = wantType(fmt.Sprintf("Detail field %d", f), t, protowire.BytesType); err == nil {
				typed[f] = append(typed[f], v...)
				present[f] = true
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if xmlText != "" {
		var x xmlDetail
		dec := xml.NewDecoder(strings.NewReader("<detail>" + xmlText + "</detail>"))
		dec.Strict = true
		dec.Entity = nil
		if err := dec.Decode(&x); err != nil {
			return fmt.Errorf("%w: Detail.xmlDetail: %v", ErrInvalid, err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: Detail.xmlDetail: content after </detail>", ErrInvalid)
		}
		*d = Detail(x)
	}
	// What xmlDetail has wins over a typed message for the same element
	// (detail.proto, receivers' rule 5).
	if contact != nil && d.Contact == nil {
		d.Contact = contact
	}
	for _, td := range typedDetails {
		if !present[td.field] || hasElement(d.Other, td.element) {
			continue
		}
		el, err := td.element2(typed[td.field])
		if err != nil {
			return err
		}
		d.Other = append(d.Other, el)
	}
	return nil
}

func hasElement(els []Element, name string) bool {
	for _, el := range els {
		if el.XMLName.Local == name {
			return true
		}
	}
	return false
}

// element2 turns a typed detail message back into its XML element.
func (td typedDetail) element2(b []byte) (Element, error) {
	vals := make([]string, len(td.attrs))
	err := eachField(td.element, b, func(f protowire.Number, t protowire.Type, v []byte, x uint64) error {
		i := int(f) - 1
		if i < 0 || i >= len(td.attrs) {
			return nil
		}
		name := td.element + "." + td.attrs[i]
		if err := wantType(name, t, td.kinds[i]); err != nil {
			return err
		}
		switch td.kinds[i] {
		case protowire.BytesType:
			s, err := protoString(name, t, v)
			if err != nil {
				return err
			}
			vals[i] = s
		case protowire.VarintType:
			if x > math.MaxUint32 {
				return fmt.Errorf("%w: %s %d: want a uint32", ErrInvalid, name, x)
			}
			vals[i] = strconv.FormatUint(x, 10)
		case protowire.Fixed64Type:
			vals[i] = strconv.FormatFloat(math.Float64frombits(x), 'f', -1, 64)
		}
		return nil
	})
	if err != nil {
		return Element{}, err
	}
	el := Element{XMLName: xml.Name{Local: td.element}}
	for i, n := range td.attrs {
		if vals[i] == "" {
			switch td.kinds[i] {
			case protowire.VarintType, protowire.Fixed64Type:
				vals[i] = "0" // proto3 leaves zero out
			}
		}
		el.Attrs = append(el.Attrs, xml.Attr{Name: xml.Name{Local: n}, Value: vals[i]})
	}
	return el, nil
}

// AppendFrame appends a TAK protocol streaming frame: the magic byte, the
// payload's length as an unsigned varint, the payload.
func AppendFrame(dst, payload []byte) []byte {
	dst = append(dst, Magic)
	dst = protowire.AppendVarint(dst, uint64(len(payload)))
	return append(dst, payload...)
}

// MarshalFrame returns an event as one TAK protocol version 1 streaming
// frame.
func MarshalFrame(e Event) ([]byte, error) {
	p, err := MarshalProto(e)
	if err != nil {
		return nil, err
	}
	return AppendFrame(make([]byte, 0, len(p)+4), p), nil
}

// readFrame reads one streaming frame's payload.
func readFrame(r io.ByteReader, rd io.Reader) ([]byte, error) {
	m, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if m != Magic {
		return nil, fmt.Errorf("%w: TAK protocol frame starts with 0x%02x, want 0x%02x", ErrInvalid, m, Magic)
	}
	n, err := readUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > MaxEventBytes {
		return nil, fmt.Errorf("%w: TAK protocol frame of %d bytes, more than %d", ErrInvalid, n, MaxEventBytes)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(rd, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("TAK protocol frame of %d bytes: %w", n, err)
	}
	return b, nil
}

// readUvarint reads an unsigned varint of at most 10 bytes.
func readUvarint(r io.ByteReader) (uint64, error) {
	var buf [binaryMaxVarint]byte
	for i := range buf {
		c, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("TAK protocol frame length: %w", err)
		}
		buf[i] = c
		if c < 0x80 {
			v, n := protowire.ConsumeVarint(buf[:i+1])
			if n < 0 {
				return 0, fmt.Errorf("%w: TAK protocol frame length: %v", ErrInvalid, protowire.ParseError(n))
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: TAK protocol frame length: varint longer than %d bytes", ErrInvalid, binaryMaxVarint)
}

const binaryMaxVarint = 10

// isFrameSpace reports whether c may precede the first frame after the
// switch (a newline a peer wrote after its last XML event).
func isFrameSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
