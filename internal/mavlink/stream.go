package mavlink

import (
	"errors"
	"fmt"
	"io"
)

// Stats counts what a Decoder met.
type Stats struct {
	Frames  int64 // frames returned
	Unknown int64 // well-formed frames of unknown message ids, skipped whole
	BadCRC  int64 // candidate frames of known ids whose checksum failed
	Skipped int64 // bytes skipped while resynchronising (garbage, bad frames, a truncated tail)
}

// Decoder reads frames from a byte stream. After garbage, a bad checksum
// or a frame it cannot understand it resynchronises on the next start byte
// (the one after the start byte of the rejected candidate), as the
// reference parsers do, and counts what it skipped. Frames of message ids
// it does not define are skipped whole (their checksum cannot be checked).
type Decoder struct {
	r     io.Reader
	buf   []byte
	start int // first unconsumed byte of buf
	eof   bool
	err   error // read error other than io.EOF
	// truncated is the error for a frame cut short by the end of the
	// input, returned once no later frame is found.
	truncated error
	Stats
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, buf: make([]byte, 0, 4096)}
}

// fill reads more bytes, keeping the unconsumed ones.
func (d *Decoder) fill() {
	if d.eof || d.err != nil {
		return
	}
	if d.start > 0 {
		n := copy(d.buf, d.buf[d.start:])
		d.buf, d.start = d.buf[:n], 0
	}
	if len(d.buf) == cap(d.buf) {
		d.buf = append(d.buf, make([]byte, cap(d.buf))...)[:len(d.buf)]
	}
	n, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
	d.buf = d.buf[:len(d.buf)+n]
	if errors.Is(err, io.EOF) {
		d.eof = true
	} else if err != nil {
		d.err = err
	}
}

// Next returns the next valid frame (its Payload and Signature are its
// own). At the end of the stream it returns io.EOF, after an error
// wrapping ErrTruncated if the stream ended inside a frame. A read error of
// the underlying reader is returned as it is.
func (d *Decoder) Next() (*Frame, error) {
	for {
		b := d.buf[d.start:]
		i := 0
		for i < len(b) && b[i] != STXv1 && b[i] != STXv2 {
			i++
		}
		d.Skipped += int64(i)
		d.start += i
		b = b[i:]
		if len(b) == 0 {
			if d.eof || d.err != nil {
				if d.err != nil {
					return nil, d.err
				}
				if err := d.truncated; err != nil {
					d.truncated = nil
					return nil, err
				}
				return nil, io.EOF
			}
			d.fill()
			continue
		}
		f, n, err := ParseFrame(b)
		switch {
		case err == nil:
			d.truncated = nil
			d.start += n
			d.Frames++
			f.Payload = append([]byte(nil), f.Payload...)
			if f.Signature != nil {
				f.Signature = append([]byte(nil), f.Signature...)
			}
			return &f, nil
		case errors.Is(err, ErrTruncated):
			if !d.eof && d.err == nil {
				d.fill()
				continue
			}
			// At the end of the input: a frame cut short, or a start byte
			// in garbage claiming a long frame; a later frame may still
			// begin inside it.
			if d.truncated == nil {
				d.truncated = fmt.Errorf("mavlink: stream ends %d bytes into a frame of %d: %w", len(b), n, ErrTruncated)
			}
			d.start++
			d.Skipped++
		case errors.Is(err, ErrUnknownMessage):
			d.start += n
			d.Unknown++
		default: // ErrChecksum, ErrFormat: not a frame after all
			if errors.Is(err, ErrChecksum) {
				d.BadCRC++
			}
			d.start++
			d.Skipped++
		}
	}
}

// Encoder writes messages as frames, numbering them with its own sequence.
type Encoder struct {
	w       io.Writer
	Version int   // 1 or 2 (NewEncoder sets 2)
	SysID   uint8 // sender
	CompID  uint8
	Seq     uint8 // sequence number of the next frame; wraps at 255
	buf     []byte
}

// NewEncoder returns a MAVLink 2 Encoder writing to w as system sysid,
// component compid.
func NewEncoder(w io.Writer, sysid, compid uint8) *Encoder {
	return &Encoder{w: w, Version: 2, SysID: sysid, CompID: compid}
}

// Encode writes one message. In MAVLink 1 the extension fields are left
// out, as the spec says.
func (e *Encoder) Encode(m Message) error {
	p, err := Marshal(m)
	if err != nil {
		return err
	}
	if e.Version == 1 {
		d, _ := Lookup(m.MsgID())
		p = p[:d.BaseLen]
	}
	f := Frame{Version: e.Version, Seq: e.Seq, SysID: e.SysID, CompID: e.CompID, MsgID: m.MsgID(), Payload: p}
	if e.buf, err = AppendFrame(e.buf[:0], &f); err != nil {
		return err
	}
	if _, err := e.w.Write(e.buf); err != nil {
		return fmt.Errorf("mavlink: write: %w", err)
	}
	e.Seq++
	return nil
}
