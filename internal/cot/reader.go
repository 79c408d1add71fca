package cot

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Reader reads the events of a TAK streaming connection: XML events back to
// back, each optionally preceded by an XML declaration, separated by any
// whitespace. It is strict: anything else is an error, after which the
// stream cannot be resynchronised (close the connection).
type Reader struct {
	lim *limitReader
	dec *xml.Decoder
	err error
}

// limitReader fails once more than max bytes were read since the last reset.
type limitReader struct {
	r   io.Reader
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

// NewReader reads events from r.
func NewReader(r io.Reader) *Reader {
	// The decoder reads ahead by up to its buffer (4 kB) past an event, so
	// the per-event limit leaves room for that.
	lim := &limitReader{r: r, max: MaxEventBytes + 8192}
	dec := xml.NewDecoder(lim)
	dec.Strict = true
	dec.Entity = nil // only the five predefined entities
	return &Reader{lim: lim, dec: dec}
}

// Next returns the next event, io.EOF at a clean end of stream, or an error
// naming what is wrong (wrapping ErrInvalid for bad content).
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	e, err := r.next()
	if err != nil {
		r.err = err
	}
	return e, err
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
