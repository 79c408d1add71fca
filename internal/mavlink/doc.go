// Package mavlink reads and writes MAVLink telemetry: the v1 and v2 wire
// framing, a streaming decoder that resynchronises after garbage, an
// encoder, the handful of messages Atalaya needs from the common and
// ardupilotmega dialects, and survey missions (MISSION_COUNT and
// MISSION_ITEM_INT frames, and the QGC WPL 110 text format).
//
// # Framing
//
// As specified at mavlink.io/en/guide/serialization.html:
//
//	v1: 0xFE len seq sysid compid msgid(8)                  payload crc(2)
//	v2: 0xFD len incompat compat seq sysid compid msgid(24) payload crc(2) [signature(13)]
//
// All multi-byte values are little-endian. The checksum is CRC-16/MCRF4XX
// (the "X.25" CRC of the spec: polynomial 0x1021 reflected, initial value
// 0xFFFF, no final XOR) over every byte after the start byte up to the end
// of the payload, followed by the message's CRC_EXTRA byte. CRC_EXTRA is
// computed from the message definition (see CRCExtraOf): it makes a frame
// of a message whose definition differs on both ends fail its checksum.
// A v2 sender drops trailing zero bytes of the payload (never the first
// byte); the receiver fills them back with zeros. Extension fields (those
// after <extensions/> in the XML) are never sent in v1 and are zero when a
// v2 sender's definition predates them. Signed v2 frames (incompat flag
// 0x01) carry a 13-byte signature after the checksum; this package keeps it
// in Frame.Signature but does not verify it. A v2 frame with any other
// incompat flag set cannot be understood and is treated as not a frame.
//
// # Messages
//
// A message is a Go struct whose fields are declared in the order of the XML
// definition and tagged with their XML names (`mavlink:"name"`, with ",ext"
// for extension fields). The wire order is derived from the struct as the
// MAVLink generators do: non-extension fields stably sorted by the size of
// their element type, largest first, then the extension fields in
// declaration order. CRC_EXTRA is computed from the same description, and a
// test checks it against the values published with the generated C headers.
//
// # Streams and logs
//
// Decoder reads frames from a byte stream, resynchronising on the next
// start byte after garbage, a bad checksum or an unsupported incompat flag
// and counting what it skipped (Stats); frames of ids not defined here are
// skipped whole, as node-mavlink's splitter does. SplitTlog splits a
// telemetry log (.tlog: each frame preceded by its 8-byte big-endian
// reception time in µs since the Unix epoch) the same way. Encoder writes
// frames with its own sequence numbers; WriteMission and WriteWPL write
// survey missions.
//
// # Units
//
// Fields keep MAVLink's units and scalings (latitude and longitude in
// 1e-7 degrees, altitudes in mm or m as each message says, angles in
// radians or centidegrees); the conversion to SI units is the caller's, and
// internal/flightlog does it for flight tracks.
package mavlink
