package cot

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Reader reads the events of a TAK streaming connection: XML events back to
// back, each optionally preceded by an XML declaration, separated by any
// whitespace; after [Reader.UseProtocol] (the connection negotiated TAK
// protocol version 1), streaming frames of protobuf TakMessages instead.
// It is strict: anything else is an error, after which the stream cannot
// be resynchronised (close the connection).
//
// The XML decoder reads byte by byte from the Reader's buffer and never
// past the end of an event, so the bytes that follow the event after
// which the peer switched to protobuf are the first frame's.
type Reader struct {
	lim      *limitReader
	dec      *xml.Decoder
	protocol int
	first    bool // no frame read since the switch
	err      error
}

// limitReader fails once more than max bytes were read since the last
// reset. It is an io.ByteReader, so that encoding/xml adds no buffer of its
// own.
type limitReader struct {
	r   *bufio.Reader
	n   int
	max int
}

var errTooLarge = fmt.Errorf("%w: event longer than %d bytes", ErrInvalid, MaxEventBytes)

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n >= l.max {
		return 0, errTooLarge
	}
	if len(p) > l.max-l.n {
		p = p[:l.max-l.n]
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

func (l *limitReader) ReadByte() (byte, error) {
	if l.n >= l.max {
		return 0, errTooLarge
	}
	c, err := l.r.ReadByte()
	if err == nil {
		l.n++
	}
	return c, err
}

// NewReader reads events from r.
func NewReader(r io.Reader) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 4096)
	}
	// Whitespace, comments and a declaration before an event count too.
	lim := &limitReader{r: br, max: MaxEventBytes + 8192}
	dec := xml.NewDecoder(lim)
	dec.Strict = true
	dec.Entity = nil // only the five predefined entities
	return &Reader{lim: lim, dec: dec}
}

// UseProtocol switches the reader to TAK protocol version v: 1 (protobuf
// frames) or 0 (XML, the start). Call it between two Next calls, right
// after the event that ended the negotiation. Whitespace before the first
// frame is skipped (a peer's newline after its last XML event).
func (r *Reader) UseProtocol(v int) error {
	if v != 0 && v != ProtocolVersion {
		return fmt.Errorf("cot: TAK protocol version %d: want 0 (XML) or 1", v)
	}
	if v != r.protocol {
		r.first = true
	}
	r.protocol = v
	return nil
}

// Protocol returns the TAK protocol version being read: 0 (XML) or 1.
func (r *Reader) Protocol() int { return r.protocol }

// Next returns the next event, io.EOF at a clean end of stream, or an error
// naming what is wrong (wrapping ErrInvalid for bad content). In protocol
// version 1, TakMessages without an event are skipped.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	var e Event
	var err error
	if r.protocol == ProtocolVersion {
		e, err = r.nextFrame()
	} else {
		e, err = r.next()
	}
	if err != nil {
		r.err = err
	}
	return e, err
}

func (r *Reader) nextFrame() (Event, error) {
	for {
		r.lim.n = 0
		if r.first {
			for {
				c, err := r.lim.ReadByte() // bounded like any other bytes
				if err != nil {
					return Event{}, err
				}
				if !isFrameSpace(c) {
					_ = r.lim.r.UnreadByte()
					r.lim.n--
					break
				}
			}
			r.first = false
		}
		b, err := readFrame(r.lim, r.lim)
		if err != nil {
			return Event{}, err
		}
		m, err := UnmarshalTakMessage(b)
		if err != nil {
			return Event{}, err
		}
		if m.Event != nil {
			return *m.Event, nil
		}
	}
}

func (r *Reader) next() (Event, error) {
	r.lim.n = 0
	for {
		tok, err := r.dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return Event{}, io.EOF
			}
			if errors.Is(err, ErrInvalid) {
				return Event{}, err
			}
			return Event{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" {
				return Event{}, fmt.Errorf("%w: processing instruction <?%s?>: only <?xml?> is allowed", ErrInvalid, t.Target)
			}
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return Event{}, fmt.Errorf("%w: text %.40q between events", ErrInvalid, string(t))
			}
		case xml.Comment:
		case xml.Directive:
			return Event{}, fmt.Errorf("%w: directive <!%.40s>: DTDs are not allowed", ErrInvalid, string(t))
		case xml.StartElement:
			if t.Name.Local != "event" || t.Name.Space != "" {
				return Event{}, fmt.Errorf("%w: element <%s>: want <event>", ErrInvalid, t.Name.Local)
			}
			var x xmlEvent
			if err := r.dec.DecodeElement(&x, &t); err != nil {
				if errors.Is(err, ErrInvalid) {
					return Event{}, err
				}
				return Event{}, fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			return fromXML(&x)
		default:
			return Event{}, fmt.Errorf("%w: unexpected %T between events", ErrInvalid, tok)
		}
	}
}
