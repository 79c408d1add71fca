package mavlink

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A telemetry log (.tlog, as Mission Planner, MAVProxy and QGroundControl
// write it) is the stream of frames a ground station received, each
// preceded by the time it was received: 8 bytes, big-endian, µs since the
// Unix epoch (UTC). pymavlink reads it so (mavutil.mavlogfile: '>Q').

// tlogTimeLen is the size of a record's timestamp.
const tlogTimeLen = 8

// Timestamps a tlog record may carry: 2000-01-01 to 2100-01-01 UTC in µs.
// Anything else is not a timestamp but a sign of being out of step.
const (
	minTlogUsec = 946_684_800_000_000
	maxTlogUsec = 4_102_444_800_000_000
)

// TlogRecord is one frame of a telemetry log with the time it was logged.
type TlogRecord struct {
	Usec  uint64 // µs since the Unix epoch, UTC
	Frame Frame  // Payload and Signature alias the input
}

// SplitTlog splits a telemetry log into its records. A record is accepted
// when its timestamp lies between 2000 and 2100 and its frame is valid (a
// frame of a message this package does not define is accepted when it is
// followed by the end of the input or by another record's start byte, since
// its checksum cannot be checked; it is counted in Stats.Unknown and not
// returned). Anywhere else the splitter moves on one byte and counts it in
// Stats.Skipped, so it resynchronises after garbage, a bad frame or a lost
// byte. The error wraps ErrTruncated if the input ends inside a record, and
// ErrChecksum or ErrFormat (the first seen) if bytes were skipped; the
// records read are returned in any case.
func SplitTlog(b []byte) ([]TlogRecord, Stats, error) {
	var (
		recs     []TlogRecord
		st       Stats
		firstErr error
		firstAt  = -1
	)
	skip := func(p int, err error) {
		if firstAt < 0 {
			firstAt, firstErr = p, err
		}
		st.Skipped++
	}
	p := 0
	for p < len(b) {
		rest := b[p:]
		if len(rest) <= tlogTimeLen {
			st.Skipped += int64(len(rest))
			return recs, st, tlogError(fmt.Errorf("mavlink: tlog ends with %d bytes at offset %d, not a record: %w", len(rest), p, ErrTruncated), firstAt, firstErr, st)
		}
		usec := binary.BigEndian.Uint64(rest)
		fb := rest[tlogTimeLen:]
		if usec < minTlogUsec || usec > maxTlogUsec || (fb[0] != STXv1 && fb[0] != STXv2) {
			skip(p, fmt.Errorf("%w: no record (time %d µs, byte %#02x)", ErrFormat, usec, fb[0]))
			p++
			continue
		}
		f, n, err := ParseFrame(fb)
		switch {
		case err == nil:
			recs = append(recs, TlogRecord{Usec: usec, Frame: f})
			st.Frames++
			p += tlogTimeLen + n
		case errors.Is(err, ErrTruncated):
			// A frame that runs past the end: the tail of a log cut short,
			// unless a later record starts inside it.
			if next := nextRecord(b, p+1); next >= 0 {
				skip(p, err)
				p++
				continue
			}
			st.Skipped += int64(len(rest))
			return recs, st, tlogError(fmt.Errorf("mavlink: tlog ends inside a record at offset %d (%d of %d bytes): %w", p, len(rest), tlogTimeLen+n, ErrTruncated), firstAt, firstErr, st)
		case errors.Is(err, ErrUnknownMessage):
			end := p + tlogTimeLen + n
			if end == len(b) || (end+tlogTimeLen < len(b) && (b[end+tlogTimeLen] == STXv1 || b[end+tlogTimeLen] == STXv2)) {
				st.Unknown++
				p = end
				continue
			}
			skip(p, err)
			p++
		default:
			if errors.Is(err, ErrChecksum) {
				st.BadCRC++
			}
			skip(p, err)
			p++
		}
	}
	return recs, st, tlogError(nil, firstAt, firstErr, st)
}

// nextRecord returns the offset of the first valid record of a known
// message at or after p, or -1.
func nextRecord(b []byte, p int) int {
	for ; p+tlogTimeLen < len(b); p++ {
		usec := binary.BigEndian.Uint64(b[p:])
		if usec < minTlogUsec || usec > maxTlogUsec {
			continue
		}
		if _, _, err := ParseFrame(b[p+tlogTimeLen:]); err == nil {
			return p
		}
	}
	return -1
}

func tlogError(tail error, firstAt int, first error, st Stats) error {
	var skipped error
	if firstAt >= 0 {
		skipped = fmt.Errorf("mavlink: tlog: %d bytes skipped (%d bad checksums), the first at offset %d: %w", st.Skipped, st.BadCRC, firstAt, first)
	}
	return errors.Join(skipped, tail)
}
