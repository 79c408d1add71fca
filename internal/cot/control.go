package cot

import (
	"encoding/xml"
	"strconv"
	"strings"
	"time"
)

// Streaming protocol negotiation (TAK protocol, protocol.txt, "Streaming
// Connection Protocol Negotiation"): the server offers the versions it
// speaks (t-x-takp-v), the client asks for one (t-x-takp-q), the server
// answers (t-x-takp-r); after a true answer both directions use protobuf
// frames. All three are XML events with a <TakControl> detail and share the
// offer's uid.
const (
	TypeProtocolOffer    = "t-x-takp-v"
	TypeProtocolRequest  = "t-x-takp-q"
	TypeProtocolResponse = "t-x-takp-r"
	// HowMachineGPS is the how TAK Server gives its negotiation events.
	HowMachineGPS = "m-g"
)

// takControl is the <TakControl> detail element's content.
type takControl struct {
	Support []struct {
		Version string `xml:"version,attr"`
	} `xml:"TakProtocolSupport"`
	Request *struct {
		Version string `xml:"version,attr"`
	} `xml:"TakRequest"`
	Response *struct {
		Status string `xml:"status,attr"`
	} `xml:"TakResponse"`
}

func controlEvent(uid, typ, inner string, now time.Time) Event {
	now = now.UTC()
	return Event{UID: uid, Type: typ, How: HowMachineGPS, Time: now, Start: now,
		// TAK Server gives them a minute: the time a client has to ask.
		Stale:  now.Add(time.Minute),
		Point:  Point{CE: 999999, LE: 999999}, // as TAK Server writes them
		Detail: Detail{Other: []Element{{XMLName: xml.Name{Local: "TakControl"}, Inner: inner}}}}
}

func attrEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

// ProtocolOffer is the server's offer of TAK protocol version 1, with the
// server's version as TAK Server sends it (<TakServerVersionInfo>, which
// node-tak reads as the server's version; apiVersion 3 is the Marti API's).
func ProtocolOffer(uid, serverVersion string, now time.Time) Event {
	return controlEvent(uid, TypeProtocolOffer, `<TakProtocolSupport version="1"/>`+
		`<TakServerVersionInfo serverVersion="`+attrEscape(serverVersion)+`" apiVersion="3"/>`, now)
}

// ProtocolRequest is the client's request for version 1 (uid: the
// offer's).
func ProtocolRequest(uid string, now time.Time) Event {
	return controlEvent(uid, TypeProtocolRequest, `<TakRequest version="1"/>`, now)
}

// ProtocolResponse is the server's answer to a request (uid: the offer's).
func ProtocolResponse(uid string, ok bool, now time.Time) Event {
	return controlEvent(uid, TypeProtocolResponse, `<TakResponse status="`+strconv.FormatBool(ok)+`"/>`, now)
}

func (e Event) takControl() (takControl, bool) {
	for _, el := range e.Detail.Other {
		if el.XMLName.Local == "TakControl" {
			var c takControl
			if err := xml.Unmarshal([]byte("<TakControl>"+el.Inner+"</TakControl>"), &c); err != nil {
				return takControl{}, false
			}
			return c, true
		}
	}
	return takControl{}, false
}

// OffersProtocol reports whether e is a server's offer that includes
// version v.
func OffersProtocol(e Event, v int) bool {
	if e.Type != TypeProtocolOffer {
		return false
	}
	c, ok := e.takControl()
	for _, s := range c.Support {
		if n, err := strconv.Atoi(strings.TrimSpace(s.Version)); ok && err == nil && n == v {
			return true
		}
	}
	return false
}

// RequestedProtocol returns the version a client's request asks for; ok
// is false if e is not a well-formed request.
func RequestedProtocol(e Event) (v int, ok bool) {
	if e.Type != TypeProtocolRequest {
		return 0, false
	}
	c, ok := e.takControl()
	if !ok || c.Request == nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(c.Request.Version))
	if err != nil {
		return 0, false
	}
	return n, true
}

// ProtocolAccepted returns the status of a server's response; ok is false
// if e is not a response (a response whose status is not "true" is a
// refusal).
func ProtocolAccepted(e Event) (accepted, ok bool) {
	if e.Type != TypeProtocolResponse {
		return false, false
	}
	c, ok := e.takControl()
	if !ok || c.Response == nil {
		return false, true
	}
	return strings.TrimSpace(c.Response.Status) == "true", true
}
