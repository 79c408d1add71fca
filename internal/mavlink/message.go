package mavlink

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
)

// Message is a MAVLink message: a pointer to one of the structs of this
// package (Heartbeat, GlobalPositionInt, …).
type Message interface {
	// MsgID is the message id of the dialect.
	MsgID() uint32
}

// Field describes one field of a message definition, as in the XML.
type Field struct {
	Name      string // XML name, e.g. "time_boot_ms"
	Type      string // XML element type: uint8_t, int32_t, float, char, …
	ArrayLen  int    // 0 for a scalar
	Extension bool   // declared after <extensions/>
	Offset    int    // byte offset in the (untruncated) payload
}

// Size is the size in bytes of one element of the field's type.
func (f Field) Size() int { return typeSize[f.Type] }

// Definition describes a message: its name and id, its fields in wire
// order, its payload length and its CRC_EXTRA.
type Definition struct {
	ID       uint32
	Name     string  // e.g. "GLOBAL_POSITION_INT"
	Fields   []Field // wire order
	Length   int     // payload bytes with every extension field
	BaseLen  int     // payload bytes without extension fields (the v1 length)
	CRCExtra uint8

	typ    reflect.Type
	fields []int // struct field index of each wire field
}

var typeSize = map[string]int{
	"char": 1, "uint8_t": 1, "int8_t": 1, "uint16_t": 2, "int16_t": 2,
	"uint32_t": 4, "int32_t": 4, "float": 4, "uint64_t": 8, "int64_t": 8, "double": 8,
}

var kindType = map[reflect.Kind]string{
	reflect.Uint8: "uint8_t", reflect.Int8: "int8_t", reflect.Uint16: "uint16_t", reflect.Int16: "int16_t",
	reflect.Uint32: "uint32_t", reflect.Int32: "int32_t", reflect.Uint64: "uint64_t", reflect.Int64: "int64_t",
	reflect.Float32: "float", reflect.Float64: "double",
}

// CRCExtraOf computes the CRC_EXTRA byte of a message definition as the
// MAVLink generators do (mavlink.io/en/guide/serialization.html#crc_extra):
// the CRC of the message name and a space, then, for each non-extension
// field in wire order, its type and a space, its name and a space, and for
// an array its length as one byte; the two bytes of the CRC XORed together.
// fields must be in wire order.
func CRCExtraOf(name string, fields []Field) uint8 {
	crc := CRC16(crcInit, []byte(name+" "))
	for _, f := range fields {
		if f.Extension {
			continue
		}
		crc = CRC16(crc, []byte(f.Type+" "))
		crc = CRC16(crc, []byte(f.Name+" "))
		if f.ArrayLen > 0 {
			crc = crcAccumulate(byte(f.ArrayLen), crc)
		}
	}
	return byte(crc) ^ byte(crc>>8)
}

// WireOrder returns fields (in XML declaration order) in the order MAVLink
// serialises them: non-extension fields stably sorted by element size,
// largest first, then extension fields in declaration order; offsets are
// filled in.
func WireOrder(fields []Field) []Field {
	var base, ext []Field
	for _, f := range fields {
		if f.Extension {
			ext = append(ext, f)
		} else {
			base = append(base, f)
		}
	}
	slices.SortStableFunc(base, func(a, b Field) int { return b.Size() - a.Size() })
	out := append(base, ext...)
	off := 0
	for i := range out {
		out[i].Offset = off
		off += out[i].Size() * max(1, out[i].ArrayLen)
	}
	return out
}

// define builds the definition of a message struct from its fields and
// tags. It panics on a struct this package cannot describe: that is a
// programming error in this package's message list.
func define(name string, m Message) *Definition {
	t := reflect.TypeOf(m).Elem()
	type decl struct {
		f   Field
		idx int
	}
	var decls []decl
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("mavlink")
		if !ok {
			panic(fmt.Sprintf("mavlink: %s.%s has no mavlink tag", t.Name(), sf.Name))
		}
		parts := strings.Split(tag, ",")
		f := Field{Name: parts[0]}
		ft := sf.Type
		if ft.Kind() == reflect.Array {
			f.ArrayLen = ft.Len()
			ft = ft.Elem()
		}
		f.Type = kindType[ft.Kind()]
		for _, opt := range parts[1:] {
			switch opt {
			case "ext":
				f.Extension = true
			case "char":
				f.Type = "char"
			}
		}
		if f.Type == "" {
			panic(fmt.Sprintf("mavlink: %s.%s has unsupported type %s", t.Name(), sf.Name, sf.Type))
		}
		decls = append(decls, decl{f, i})
	}
	// WireOrder on the declarations, carrying the struct index along.
	fields := make([]Field, len(decls))
	for i, d := range decls {
		fields[i] = d.f
		fields[i].Offset = i // temporarily: the declaration index
	}
	wire := WireOrder(fields)
	d := &Definition{ID: m.MsgID(), Name: name, typ: t}
	// Recover the declaration index: WireOrder is a stable permutation, so
	// match by name (names are unique within a message).
	for _, w := range wire {
		for _, dc := range decls {
			if dc.f.Name == w.Name {
				d.fields = append(d.fields, dc.idx)
			}
		}
		n := w.Size() * max(1, w.ArrayLen)
		d.Length += n
		if !w.Extension {
			d.BaseLen += n
		}
	}
	d.Fields = wire
	d.CRCExtra = CRCExtraOf(name, wire)
	return d
}

var registry = map[uint32]*Definition{}

func register(name string, m Message) {
	d := define(name, m)
	if _, dup := registry[d.ID]; dup {
		panic(fmt.Sprintf("mavlink: message id %d registered twice", d.ID))
	}
	registry[d.ID] = d
}

// Lookup returns the definition of a message id this package knows.
func Lookup(id uint32) (*Definition, bool) {
	d, ok := registry[id]
	return d, ok
}

// Definitions returns the definitions of every message this package knows,
// by id.
func Definitions() []*Definition {
	out := make([]*Definition, 0, len(registry))
	for _, d := range registry {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *Definition) int { return int(a.ID) - int(b.ID) })
	return out
}

// New returns a new zero message of a known id.
func New(id uint32) (Message, bool) {
	d, ok := registry[id]
	if !ok {
		return nil, false
	}
	return reflect.New(d.typ).Interface().(Message), true
}

func definitionOf(m Message) (*Definition, reflect.Value, error) {
	d, ok := registry[m.MsgID()]
	v := reflect.ValueOf(m)
	if !ok || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Type() != d.typ {
		return nil, reflect.Value{}, fmt.Errorf("mavlink: %T (id %d): %w", m, m.MsgID(), ErrUnknownMessage)
	}
	return d, v.Elem(), nil
}

// Marshal returns the payload of a message with every field, extensions
// included, untruncated.
func Marshal(m Message) ([]byte, error) {
	d, v, err := definitionOf(m)
	if err != nil {
		return nil, err
	}
	b := make([]byte, d.Length)
	for i, f := range d.Fields {
		fv := v.Field(d.fields[i])
		if f.ArrayLen == 0 {
			putValue(b[f.Offset:], f.Size(), fv)
			continue
		}
		for k := range f.ArrayLen {
			putValue(b[f.Offset+k*f.Size():], f.Size(), fv.Index(k))
		}
	}
	return b, nil
}

// Unmarshal sets m from a payload: a shorter payload (a v2 payload without
// its trailing zeros, or a v1 payload without extensions) is read as if
// filled with zeros, and bytes beyond the definition's length (fields of a
// newer definition) are ignored.
func Unmarshal(payload []byte, m Message) error {
	d, v, err := definitionOf(m)
	if err != nil {
		return err
	}
	b := payload
	if len(b) < d.Length {
		b = make([]byte, d.Length)
		copy(b, payload)
	}
	for i, f := range d.Fields {
		fv := v.Field(d.fields[i])
		if f.ArrayLen == 0 {
			getValue(b[f.Offset:], f.Size(), fv)
			continue
		}
		for k := range f.ArrayLen {
			getValue(b[f.Offset+k*f.Size():], f.Size(), fv.Index(k))
		}
	}
	return nil
}

func putValue(b []byte, size int, v reflect.Value) {
	var u uint64
	switch v.Kind() {
	case reflect.Float32:
		// Through the interface, not v.Float(): a float64 round trip
		// would quieten a signalling NaN and change its bits.
		u = uint64(math.Float32bits(v.Interface().(float32)))
	case reflect.Float64:
		u = math.Float64bits(v.Float())
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		u = uint64(v.Int())
	default:
		u = v.Uint()
	}
	switch size {
	case 1:
		b[0] = byte(u)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(u))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(u))
	case 8:
		binary.LittleEndian.PutUint64(b, u)
	}
}

func getValue(b []byte, size int, v reflect.Value) {
	var u uint64
	switch size {
	case 1:
		u = uint64(b[0])
	case 2:
		u = uint64(binary.LittleEndian.Uint16(b))
	case 4:
		u = uint64(binary.LittleEndian.Uint32(b))
	case 8:
		u = binary.LittleEndian.Uint64(b)
	}
	switch v.Kind() {
	case reflect.Float32:
		v.Set(reflect.ValueOf(math.Float32frombits(uint32(u))))
	case reflect.Float64:
		v.SetFloat(math.Float64frombits(u))
	case reflect.Int8:
		v.SetInt(int64(int8(u)))
	case reflect.Int16:
		v.SetInt(int64(int16(u)))
	case reflect.Int32:
		v.SetInt(int64(int32(u)))
	case reflect.Int64:
		v.SetInt(int64(u))
	default:
		v.SetUint(u)
	}
}
