package mavlink

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Start bytes, header lengths and flags of the two protocol versions.
const (
	STXv1 = 0xFE
	STXv2 = 0xFD

	headerLenV1    = 6  // STX len seq sysid compid msgid
	headerLenV2    = 10 // STX len incompat compat seq sysid compid msgid(3)
	checksumLen    = 2
	SignatureLen   = 13 // link id (1), timestamp (6), signature (6)
	IncompatSigned = 0x01

	// MaxFrameLen is the longest frame: a v2 header, 255 payload bytes, the
	// checksum and a signature.
	MaxFrameLen = headerLenV2 + 255 + checksumLen + SignatureLen
)

// Errors. Decoding functions wrap them; test with errors.Is.
var (
	// ErrUnknownMessage: the message id is not one this package defines,
	// so its CRC_EXTRA and layout are unknown.
	ErrUnknownMessage = errors.New("mavlink: unknown message id")
	// ErrChecksum: the frame's CRC does not match its bytes.
	ErrChecksum = errors.New("mavlink: bad checksum")
	// ErrFormat: the bytes are not a frame (wrong start byte, a v2
	// incompat flag this package does not understand, a v1 message id
	// above 255, a payload too long).
	ErrFormat = errors.New("mavlink: not a frame")
	// ErrTruncated: the input ended inside a frame.
	ErrTruncated = errors.New("mavlink: truncated frame")
)

// Frame is one MAVLink frame as on the wire.
type Frame struct {
	Version       int   // 1 or 2
	IncompatFlags uint8 // v2 only
	CompatFlags   uint8 // v2 only
	Seq           uint8
	SysID         uint8
	CompID        uint8
	MsgID         uint32 // 8 bits in v1, 24 bits in v2
	// Payload is the payload as sent: a v2 sender drops trailing zeros.
	Payload  []byte
	Checksum uint16
	// Signature is the 13-byte signature of a signed v2 frame (not
	// verified), nil otherwise.
	Signature []byte
}

// Len is the number of bytes of the frame on the wire.
func (f *Frame) Len() int {
	n := headerLenV1
	if f.Version == 2 {
		n = headerLenV2 + len(f.Signature)
	}
	return n + len(f.Payload) + checksumLen
}

// Message decodes the frame's payload into a new message.
func (f *Frame) Message() (Message, error) {
	m, ok := New(f.MsgID)
	if !ok {
		return nil, fmt.Errorf("mavlink: message id %d: %w", f.MsgID, ErrUnknownMessage)
	}
	if err := Unmarshal(f.Payload, m); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseFrame parses the frame at the start of b (b[0] must be a start
// byte). It returns the frame, whose Payload and Signature alias b, and its
// length n on the wire. Errors: ErrTruncated if b ends inside the frame
// (n is then how many bytes are needed); ErrFormat for bytes that cannot
// begin a frame; ErrUnknownMessage for a well-formed frame of a message
// this package does not define (f and n are set: the frame can be skipped
// whole, but its checksum is not checked); ErrChecksum for a checksum
// mismatch (f and n are set).
func ParseFrame(b []byte) (f Frame, n int, err error) {
	if len(b) == 0 {
		return f, headerLenV1, ErrTruncated
	}
	if b[0] != STXv1 && b[0] != STXv2 {
		return f, 0, fmt.Errorf("%w: start byte %#02x", ErrFormat, b[0])
	}
	if len(b) < 3 {
		return f, headerLenV1, ErrTruncated
	}
	plen := int(b[1])
	var hl int
	switch b[0] {
	case STXv1:
		hl = headerLenV1
		n = hl + plen + checksumLen
		if len(b) < n {
			return f, n, ErrTruncated
		}
		f = Frame{Version: 1, Seq: b[2], SysID: b[3], CompID: b[4], MsgID: uint32(b[5])}
	case STXv2:
		hl = headerLenV2
		if b[2]&^IncompatSigned != 0 {
			return f, 0, fmt.Errorf("%w: v2 incompat flags %#02x", ErrFormat, b[2])
		}
		n = hl + plen + checksumLen
		if b[2]&IncompatSigned != 0 {
			n += SignatureLen
		}
		if len(b) < n {
			return f, n, ErrTruncated
		}
		f = Frame{Version: 2, IncompatFlags: b[2], CompatFlags: b[3], Seq: b[4], SysID: b[5], CompID: b[6],
			MsgID: uint32(b[7]) | uint32(b[8])<<8 | uint32(b[9])<<16}
		if b[2]&IncompatSigned != 0 {
			f.Signature = b[hl+plen+checksumLen : n : n]
		}
	}
	f.Payload = b[hl : hl+plen : hl+plen]
	f.Checksum = binary.LittleEndian.Uint16(b[hl+plen:])
	d, ok := registry[f.MsgID]
	if !ok {
		return f, n, fmt.Errorf("mavlink: message id %d: %w", f.MsgID, ErrUnknownMessage)
	}
	if want := checksum(b[1:hl+plen], d.CRCExtra); want != f.Checksum {
		return f, n, fmt.Errorf("mavlink: %s (id %d): checksum %#04x, computed %#04x: %w", d.Name, f.MsgID, f.Checksum, want, ErrChecksum)
	}
	return f, n, nil
}

func checksum(b []byte, extra uint8) uint16 {
	return crcAccumulate(extra, CRC16(crcInit, b))
}

// AppendFrame appends the wire bytes of f to dst, computing the payload
// length and the checksum (f.Checksum is ignored); the message id must be
// one this package defines. A v2 payload is sent without its trailing
// zeros (keeping at least one byte), as the spec requires; a v1 payload as
// given. A v2 frame with IncompatSigned set must carry a 13-byte Signature,
// which is appended as given.
func AppendFrame(dst []byte, f *Frame) ([]byte, error) {
	d, ok := registry[f.MsgID]
	if !ok {
		return dst, fmt.Errorf("mavlink: message id %d: %w", f.MsgID, ErrUnknownMessage)
	}
	p := f.Payload
	if len(p) > 255 {
		return dst, fmt.Errorf("mavlink: %s: payload of %d bytes: %w", d.Name, len(p), ErrFormat)
	}
	start := len(dst)
	switch f.Version {
	case 1:
		if f.MsgID > 255 {
			return dst, fmt.Errorf("mavlink: %s: id %d does not fit MAVLink 1: %w", d.Name, f.MsgID, ErrFormat)
		}
		dst = append(dst, STXv1, byte(len(p)), f.Seq, f.SysID, f.CompID, byte(f.MsgID))
	case 2:
		for len(p) > 1 && p[len(p)-1] == 0 {
			p = p[:len(p)-1]
		}
		if f.IncompatFlags&^IncompatSigned != 0 {
			return dst, fmt.Errorf("mavlink: %s: incompat flags %#02x: %w", d.Name, f.IncompatFlags, ErrFormat)
		}
		signed := f.IncompatFlags&IncompatSigned != 0
		if signed != (len(f.Signature) == SignatureLen) {
			return dst, fmt.Errorf("mavlink: %s: incompat flags %#02x with a signature of %d bytes: %w", d.Name, f.IncompatFlags, len(f.Signature), ErrFormat)
		}
		dst = append(dst, STXv2, byte(len(p)), f.IncompatFlags, f.CompatFlags, f.Seq, f.SysID, f.CompID,
			byte(f.MsgID), byte(f.MsgID>>8), byte(f.MsgID>>16))
	default:
		return dst, fmt.Errorf("mavlink: version %d: %w", f.Version, ErrFormat)
	}
	dst = append(dst, p...)
	dst = binary.LittleEndian.AppendUint16(dst, checksum(dst[start+1:], d.CRCExtra))
	if f.Version == 2 {
		dst = append(dst, f.Signature...)
	}
	return dst, nil
}
