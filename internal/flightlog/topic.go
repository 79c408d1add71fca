package flightlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Topic is one logged topic instance: a table of fixed-size records, one per
// data message, in file order.
type Topic struct {
	Name    string
	MultiID uint8
	Format  *Format // the format the topic was added with
	Fields  []Field // flattened, padding left out, in record order

	// Timestamps holds each message's uint64 "timestamp" field (µs since
	// boot), or zeros if the format has none.
	Timestamps []uint64

	// Data holds the records back to back, RecordSize bytes each, exactly as
	// logged (little-endian, trailing padding left out).
	Data       []byte
	RecordSize int

	index map[string]int
}

// Len is the number of messages.
func (t *Topic) Len() int { return len(t.Timestamps) }

// Field returns the flattened field with that name.
func (t *Topic) Field(name string) (Field, bool) {
	i, ok := t.index[name]
	if !ok {
		return Field{}, false
	}
	return t.Fields[i], true
}

// Record returns the raw bytes of message i.
func (t *Topic) Record(i int) []byte {
	return t.Data[i*t.RecordSize : (i+1)*t.RecordSize]
}

func (t *Topic) field(name string) (Field, error) {
	f, ok := t.Field(name)
	if !ok {
		return Field{}, fmt.Errorf("flightlog: %s/%d: field %q: %w", t.Name, t.MultiID, name, ErrNoField)
	}
	return f, nil
}

// Float64s returns a numeric field as float64, one value per message.
func (t *Topic) Float64s(name string) ([]float64, error) {
	f, err := t.field(name)
	if err != nil {
		return nil, err
	}
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = scalarFloat(t.Data[i*t.RecordSize+f.Offset:], f.Type)
	}
	return out, nil
}

// Int64s returns an integer field (bool and char included) sign- or
// zero-extended to int64; a uint64 above MaxInt64 wraps (use Uint64s).
func (t *Topic) Int64s(name string) ([]int64, error) {
	f, err := t.field(name)
	if err != nil {
		return nil, err
	}
	if f.Type == Float32 || f.Type == Float64 {
		return nil, fmt.Errorf("flightlog: %s/%d: field %q is %s, not an integer: %w", t.Name, t.MultiID, name, f.Type, ErrNoField)
	}
	out := make([]int64, t.Len())
	for i := range out {
		out[i] = int64(scalarUint(t.Data[i*t.RecordSize+f.Offset:], f.Type))
	}
	return out, nil
}

// Uint64s returns an integer field as uint64 (signed values sign-extended).
func (t *Topic) Uint64s(name string) ([]uint64, error) {
	v, err := t.Int64s(name)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = uint64(x)
	}
	return out, nil
}

// Float32s returns a float field exactly as stored.
func (t *Topic) Float32s(name string) ([]float32, error) {
	f, err := t.field(name)
	if err != nil {
		return nil, err
	}
	if f.Type != Float32 {
		return nil, fmt.Errorf("flightlog: %s/%d: field %q is %s, not float: %w", t.Name, t.MultiID, name, f.Type, ErrNoField)
	}
	out := make([]float32, t.Len())
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[i*t.RecordSize+f.Offset:]))
	}
	return out, nil
}

// String returns the char array field name (e.g. "name" for "name[0]"…)
// of message i as text, up to its first NUL.
func (t *Topic) String(i int, name string) string {
	f, ok := t.Field(name + "[0]")
	if !ok || f.Type != Char {
		return ""
	}
	rec := t.Record(i)
	end := f.Offset
	for end < len(rec) {
		g, ok := t.Field(fmt.Sprintf("%s[%d]", name, end-f.Offset))
		if !ok || g.Offset != end {
			break
		}
		end++
	}
	b := rec[f.Offset:end]
	if j := bytes.IndexByte(b, 0); j >= 0 {
		b = b[:j]
	}
	return string(b)
}
