// Package cot is Cursor-on-Target (CoT) as the TAK family (ATAK, WinTAK,
// iTAK, TAK Server) speaks it: the event model, a strict XML decoder and
// encoder (encoding/xml), a reader for the back-to-back event stream of a TAK
// streaming connection, and the mapping of an Atalaya site to the event a
// field device shows.
//
// # Events
//
// An [Event] is one <event> element: uid, type, how, time, start, stale, a
// <point> and a <detail>. The detail elements Atalaya writes or reads
// (contact, remarks, link, color, usericon, __forcedelete) are typed; any
// other element is kept verbatim in Detail.Other, so an event read from a
// device and written again loses nothing but what [Event.StripFlowTags]
// removes (TAK Server's _flow-tags_, by which it drops an event it has seen).
//
// [Decode] and [Reader] are strict: one event of at most [MaxEventBytes],
// version 2.0, a non-empty uid and how, a type of hyphen-separated atoms,
// RFC 3339 times with stale not before start, a point inside the WGS 84
// ranges with finite, non-negative ce and le. Every error names the field
// and the value ([ErrInvalid]).
//
// # TAK protocol version 1
//
// [MarshalProto], [UnmarshalProto] and [MarshalFrame] are the protobuf form
// of an event (TakMessage, atakmap.commoncommo.protobuf.v1, field numbers of
// the published takproto .proto files) and its streaming frame (0xbf, varint
// length, payload), written with protowire by hand. The contact and the
// __group, precisionlocation, status, takv and track elements go in their
// typed messages when whole; the rest of the detail is XML in xmlDetail.
// Decoding is as strict as the XML decoder. A [Reader] reads frames after
// [Reader.UseProtocol]; [ProtocolOffer], [ProtocolRequest],
// [ProtocolResponse] and [OffersProtocol], [RequestedProtocol],
// [ProtocolAccepted] are the XML negotiation that precedes the switch.
//
// # Chat
//
// [ChatMessage] is a GeoChat message (b-t-f) as ATAK writes one;
// [ChatSender] reads a message's sender; [AckText] is the acknowledgement
// of a ground-truth report in es, en or pt.
//
// # Sites
//
// [SiteEvent] maps a released site to a persistent spot-map marker
// (b-m-p-s-m, how m-f "machine fused"), coloured by the site's probability,
// with a readable callsign, remarks in the receiving agency's language (es,
// en, pt) and links to the producer and the site's page; [DeleteEvent] is the
// withdrawal (t-x-d-d with __forcedelete). docs/tak.md says why this type.
//
// # Replies
//
// [ParseGroundTruth] reads a device's ground-truth report about a site
// from an event it sent: an [GroundTruthElement] detail element, or an
// outcome hashtag in the remarks of the site's marker sent back or of a
// GeoChat message naming the site's short id.
//
// # Units
//
// Latitude and longitude in decimal degrees (WGS 84); hae (height above the
// ellipsoid), ce (circular error) and le (linear error) in metres, 9999999
// meaning unknown; times UTC, written with millisecond precision.
package cot
