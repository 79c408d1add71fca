package flightlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// ReadFile reads and decodes a ULog file; see Decode.
func ReadFile(path string) (*Log, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("flightlog: %w", err)
	}
	l, err := Decode(b)
	if err != nil {
		return l, fmt.Errorf("flightlog: %s: %w", path, err)
	}
	return l, nil
}

// Read reads all of r and decodes it; see Decode.
func Read(r io.Reader) (*Log, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("flightlog: %w", err)
	}
	return Decode(b)
}

// Decode parses a whole ULog file held in b. It returns a nil Log only if
// the header is missing or wrong; otherwise it returns everything it could
// read, and, if anything was wrong, an error wrapping ErrTruncated,
// ErrCorrupt or ErrUnsupported (the first problem; Log.Problems has more).
// The Log does not keep references to b.
func Decode(b []byte) (*Log, error) {
	if len(b) < 16 {
		if len(b) >= 7 && !bytes.Equal(b[:7], magic[:]) {
			return nil, &OffsetError{Offset: 0, What: fmt.Sprintf("magic %x", b[:7]), Err: ErrNotULog}
		}
		return nil, &OffsetError{Offset: int64(len(b)), What: fmt.Sprintf("header needs 16 bytes, have %d", len(b)), Err: ErrTruncated}
	}
	if !bytes.Equal(b[:7], magic[:]) {
		return nil, &OffsetError{Offset: 0, What: fmt.Sprintf("magic %x", b[:7]), Err: ErrNotULog}
	}
	l := &Log{
		Version:    b[7],
		StartTime:  binary.LittleEndian.Uint64(b[8:16]),
		Formats:    map[string]*Format{},
		Info:       map[string]Value{},
		MultiInfo:  map[string][][]Value{},
		Params:     map[string]Value{},
		topicIndex: map[topicKey]*Topic{},
	}
	d := &decoder{
		log:     l,
		b:       b,
		subs:    map[uint16]*Topic{},
		badIDs:  map[uint16]bool{},
		layouts: layouts{formats: l.Formats, sizes: map[string]int{}, done: map[string]*layout{}},
	}
	d.run()
	return l, l.err()
}

type decoder struct {
	log     *Log
	b       []byte
	subs    map[uint16]*Topic // msg_id → topic
	badIDs  map[uint16]bool   // msg_ids already reported
	layouts layouts
	inData  bool   // past the definitions section
	last    uint64 // latest timestamp seen
	stop    bool   // an unsupported flag: parse no further
}

func (d *decoder) run() {
	pos := int64(16)
	// The flag bits message, if any, is the first one: it says where
	// appended data starts, so it is read before the segments are known.
	if len(d.b) >= 19 && d.b[18] == 'B' {
		size := int64(binary.LittleEndian.Uint16(d.b[16:]))
		if 19+size <= int64(len(d.b)) {
			d.message(16, 'B', d.b[19:19+size])
			pos = 19 + size
		}
	}
	ends := append(d.segments(), int64(len(d.b)))
	for i, end := range ends {
		if d.stop {
			return
		}
		if end < pos {
			continue
		}
		d.segment(pos, end, i == len(ends)-1)
		pos = end // appended data starts exactly at the offset
	}
}

// segments returns the usable appended-data offsets (they split the file
// into segments read one after the other, as pyulog does), or nil before
// the flag bits are read.
func (d *decoder) segments() []int64 {
	var out []int64
	if d.log.IncompatFlags[0]&1 == 0 {
		return nil
	}
	prev := int64(16)
	for _, o := range d.log.AppendedOffsets {
		if o <= prev || o > int64(len(d.b)) {
			continue
		}
		out = append(out, o)
		prev = o
	}
	return out
}

// segment reads messages from pos until end.
// A message that runs past end is, in a non-final segment, the unfinished
// message the logger was writing when data got appended: it is dropped.
func (d *decoder) segment(pos, end int64, final bool) {
	for pos < end && !d.stop {
		if end-pos < 3 {
			if final {
				d.log.problem(pos, ErrTruncated, "message header needs 3 bytes, have %d", end-pos)
			}
			return
		}
		size := int64(binary.LittleEndian.Uint16(d.b[pos:]))
		typ := d.b[pos+2]
		if pos+3+size > end {
			if final {
				d.log.problem(pos, ErrTruncated, "message %q needs %d bytes, have %d", typ, size, end-pos-3)
			}
			return
		}
		body := d.b[pos+3 : pos+3+size]
		if d.message(pos, typ, body) {
			pos += 3 + size
			continue
		}
		// Framing lost: look for the next sync message, as pyulog does.
		i := bytes.Index(d.b[pos+1:end], syncMagic[:])
		if i < 0 {
			d.log.problem(pos, ErrCorrupt, "no sync message after it; %d bytes not read", end-pos)
			return
		}
		pos += 1 + int64(i) + int64(len(syncMagic))
	}
}

// message handles one message. It returns false if the framing looks lost
// (a message type 0 or an empty message), after recording the problem.
func (d *decoder) message(pos int64, typ byte, body []byte) bool {
	l := d.log
	switch typ {
	case 'B':
		if pos != 16 {
			l.problem(pos, ErrCorrupt, "flag bits message not first")
			return true
		}
		if len(body) < 40 {
			l.problem(pos, ErrCorrupt, "flag bits message of %d bytes, want 40", len(body))
			return true
		}
		copy(l.CompatFlags[:], body[0:8])
		copy(l.IncompatFlags[:], body[8:16])
		for i := range 3 {
			if o := binary.LittleEndian.Uint64(body[16+8*i:]); o != 0 {
				l.AppendedOffsets = append(l.AppendedOffsets, int64(min(o, 1<<62)))
			}
		}
		unknown := l.IncompatFlags[0]&^1 != 0
		for _, f := range l.IncompatFlags[1:] {
			unknown = unknown || f != 0
		}
		if unknown {
			l.problem(pos, ErrUnsupported, "unknown incompatible flags %x", l.IncompatFlags)
			d.stop = true
		}
	case 'F':
		f, err := ParseFormat(string(body))
		if err != nil {
			l.problem(pos, ErrCorrupt, "%v", err)
			return true
		}
		if _, used := d.layouts.done[f.Name]; used {
			l.problem(pos, ErrCorrupt, "format %s redefined after use", f.Name)
			return true
		}
		clear(d.layouts.sizes) // sizes of types using f may change
		l.Formats[f.Name] = f
	case 'I':
		k, v, ok := d.keyValue(pos, body)
		if ok {
			l.Info[k] = v
		}
	case 'M':
		if len(body) < 1 {
			l.problem(pos, ErrCorrupt, "empty multi info message")
			return true
		}
		k, v, ok := d.keyValue(pos, body[1:])
		if !ok {
			return true
		}
		lists := l.MultiInfo[k]
		if body[0] != 0 && len(lists) > 0 {
			lists[len(lists)-1] = append(lists[len(lists)-1], v)
		} else {
			lists = append(lists, []Value{v})
		}
		l.MultiInfo[k] = lists
	case 'P':
		k, v, ok := d.keyValue(pos, body)
		if !ok {
			return true
		}
		if d.inData {
			l.ParamSteps = append(l.ParamSteps, ParamChange{Timestamp: d.last, Name: k, Value: v})
		} else {
			l.Params[k] = v
		}
	case 'Q':
		if len(body) < 1 {
			l.problem(pos, ErrCorrupt, "empty default parameter message")
			return true
		}
		k, v, ok := d.keyValue(pos, body[1:])
		if ok {
			l.Defaults = append(l.Defaults, DefaultParam{Types: body[0], Name: k, Value: v})
		}
	case 'A':
		d.inData = true
		d.addLogged(pos, body)
	case 'R':
		d.inData = true
		if len(body) < 2 {
			l.problem(pos, ErrCorrupt, "remove message of %d bytes", len(body))
			return true
		}
		delete(d.subs, binary.LittleEndian.Uint16(body))
	case 'D':
		d.inData = true
		d.data(pos, body)
	case 'L', 'C':
		d.inData = true
		hdr := 9
		if typ == 'C' {
			hdr = 11
		}
		if len(body) < hdr {
			l.problem(pos, ErrCorrupt, "logging message %q of %d bytes", typ, len(body))
			return true
		}
		m := LogMessage{Level: body[0], Timestamp: binary.LittleEndian.Uint64(body[hdr-8:]), Text: strings.ToValidUTF8(string(body[hdr:]), "\uFFFD")}
		if typ == 'C' {
			m.Tagged, m.Tag = true, binary.LittleEndian.Uint16(body[1:])
		}
		l.Messages = append(l.Messages, m)
	case 'S':
		d.inData = true
		l.SyncCount++
	case 'O':
		d.inData = true
		if len(body) < 2 {
			l.problem(pos, ErrCorrupt, "dropout message of %d bytes", len(body))
			return true
		}
		l.Dropouts = append(l.Dropouts, Dropout{Timestamp: d.last, DurationMs: binary.LittleEndian.Uint16(body)})
	default:
		// Unknown types are skipped (the format may grow), unless the
		// header looks like garbage (pyulog's test, with its 10000 limit).
		if typ == 0 || len(body) == 0 || len(body) > 10000 {
			l.problem(pos, ErrCorrupt, "message type 0x%02x of %d bytes", typ, len(body))
			return false
		}
	}
	return true
}

// keyValue parses the "uint8 key_len, key, value" body of I, M, P and Q.
func (d *decoder) keyValue(pos int64, body []byte) (string, Value, bool) {
	if len(body) < 1 || int(body[0]) > len(body)-1 {
		d.log.problem(pos, ErrCorrupt, "info key length %d in %d bytes", firstByte(body), len(body))
		return "", Value{}, false
	}
	key := string(body[1 : 1+body[0]])
	typ, name, ok := strings.Cut(key, " ")
	if !ok || name == "" {
		d.log.problem(pos, ErrCorrupt, "info key %.40q: want \"type name\"", key)
		return "", Value{}, false
	}
	return name, Value{Type: typ, Raw: slices.Clone(body[1+body[0]:])}, true
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

func (d *decoder) addLogged(pos int64, body []byte) {
	l := d.log
	if len(body) < 4 {
		l.problem(pos, ErrCorrupt, "add logged message of %d bytes", len(body))
		return
	}
	multi, id, name := body[0], binary.LittleEndian.Uint16(body[1:]), string(body[3:])
	delete(d.subs, id)
	lay, err := d.layouts.get(name)
	if err != nil {
		l.problem(pos, ErrCorrupt, "add logged %s (msg_id %d): %v", name, id, err)
		d.badIDs[id] = true // its data is not reported again
		return
	}
	delete(d.badIDs, id)
	key := topicKey{name, multi}
	t := l.topicIndex[key]
	if t == nil {
		t = &Topic{Name: name, MultiID: multi, Format: l.Formats[name], Fields: lay.fields, RecordSize: lay.size, index: lay.index}
		l.topicIndex[key] = t
		l.Topics = append(l.Topics, t)
	}
	d.subs[id] = t
}

func (d *decoder) data(pos int64, body []byte) {
	l := d.log
	if len(body) < 2 {
		l.problem(pos, ErrCorrupt, "data message of %d bytes", len(body))
		return
	}
	id := binary.LittleEndian.Uint16(body)
	t := d.subs[id]
	if t == nil {
		if !d.badIDs[id] {
			d.badIDs[id] = true
			l.problem(pos, ErrCorrupt, "data for msg_id %d, which was not added", id)
		}
		return
	}
	rec := body[2:]
	lay := d.layouts.done[t.Name]
	if len(rec) < lay.size || len(rec) > lay.fullSize {
		l.problem(pos, ErrCorrupt, "%s data of %d bytes, want %d", t.Name, len(rec), lay.size)
		return
	}
	rec = rec[:lay.size]
	t.Data = append(t.Data, rec...)
	var ts uint64
	if lay.tsOff >= 0 {
		ts = binary.LittleEndian.Uint64(rec[lay.tsOff:])
		d.last = max(d.last, ts)
	}
	t.Timestamps = append(t.Timestamps, ts)
}
