package flightlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Type is a ULog basic type.
type Type uint8

// The ULog basic types.
const (
	Invalid Type = iota
	Int8
	Uint8
	Int16
	Uint16
	Int32
	Uint32
	Int64
	Uint64
	Float32
	Float64
	Bool
	Char
)

var typeNames = [...]string{
	Invalid: "", Int8: "int8_t", Uint8: "uint8_t", Int16: "int16_t", Uint16: "uint16_t",
	Int32: "int32_t", Uint32: "uint32_t", Int64: "int64_t", Uint64: "uint64_t",
	Float32: "float", Float64: "double", Bool: "bool", Char: "char",
}

var typeSizes = [...]int{
	Int8: 1, Uint8: 1, Int16: 2, Uint16: 2, Int32: 4, Uint32: 4, Int64: 8, Uint64: 8,
	Float32: 4, Float64: 8, Bool: 1, Char: 1,
}

// String returns the ULog spelling of the type ("uint64_t", "float", …).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Size is the type's size in bytes.
func (t Type) Size() int {
	if int(t) < len(typeSizes) {
		return typeSizes[t]
	}
	return 0
}

func basicType(name string) Type {
	for i, n := range typeNames {
		if i > 0 && n == name {
			return Type(i)
		}
	}
	return Invalid
}

// Format is a message format ('F'): "name:type field;type[n] field;…".
type Format struct {
	Name   string
	Fields []FormatField
}

// FormatField is one field of a Format as written: Type is a basic type name
// or the name of another format; ArrayLen is 0 for a scalar.
type FormatField struct {
	Type     string
	ArrayLen int
	Name     string
}

// String renders the format as ULog writes it.
func (f *Format) String() string {
	var b strings.Builder
	b.WriteString(f.Name)
	b.WriteByte(':')
	for _, fl := range f.Fields {
		b.WriteString(fl.Type)
		if fl.ArrayLen > 0 {
			fmt.Fprintf(&b, "[%d]", fl.ArrayLen)
		}
		b.WriteByte(' ')
		b.WriteString(fl.Name)
		b.WriteByte(';')
	}
	return b.String()
}

// ParseFormat parses the text of a format message.
func ParseFormat(s string) (*Format, error) {
	name, rest, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return nil, fmt.Errorf("format %.40q: no \"name:\"", s)
	}
	f := &Format{Name: name}
	for fs := range strings.SplitSeq(rest, ";") {
		fs = strings.TrimSpace(fs)
		if fs == "" {
			continue
		}
		typ, fname, ok := strings.Cut(fs, " ")
		fname = strings.TrimSpace(fname)
		if !ok || typ == "" || fname == "" {
			return nil, fmt.Errorf("format %s: field %.40q: want \"type name\"", name, fs)
		}
		n := 0
		if i := strings.IndexByte(typ, '['); i >= 0 {
			j := strings.IndexByte(typ, ']')
			if j < i {
				return nil, fmt.Errorf("format %s: field %.40q: bad array", name, fs)
			}
			v, err := strconv.Atoi(typ[i+1 : j])
			if err != nil || v <= 0 || v > MaxRecordSize {
				return nil, fmt.Errorf("format %s: field %.40q: array length %q", name, fs, typ[i+1:j])
			}
			n, typ = v, typ[:i]
		}
		f.Fields = append(f.Fields, FormatField{Type: typ, ArrayLen: n, Name: fname})
	}
	return f, nil
}

// Field is one flattened scalar field of a topic record.
type Field struct {
	Name   string // pyulog's flattened name: "lat", "q[2]", "nested.x"
	Type   Type
	Offset int // byte offset in the record
}

// layout is a topic's flattened record layout.
type layout struct {
	fields   []Field
	index    map[string]int
	size     int // record bytes as logged: the full size less trailing padding
	fullSize int // with trailing padding
	tsOff    int // offset of the uint64 "timestamp" field, or -1
}

// layouts resolves formats into flattened layouts under the log's budget.
type layouts struct {
	formats   map[string]*Format
	sizes     map[string]int // memoised struct sizes
	done      map[string]*layout
	fields    int // budget used
	nameBytes int
}

func isPadding(name string) bool { return strings.HasPrefix(name, "_padding") }

// size returns the byte size of format name, refusing cycles, deep nesting
// and sizes over MaxRecordSize.
func (ls *layouts) size(name string, depth int) (int, error) {
	if s, ok := ls.sizes[name]; ok {
		if s < 0 {
			return 0, fmt.Errorf("type %s contains itself", name)
		}
		return s, nil
	}
	if depth > MaxNesting {
		return 0, fmt.Errorf("type %s nested more than %d deep", name, MaxNesting)
	}
	f, ok := ls.formats[name]
	if !ok {
		return 0, fmt.Errorf("no format for type %q", name)
	}
	ls.sizes[name] = -1 // in progress
	total := 0
	for _, fl := range f.Fields {
		var s int
		if t := basicType(fl.Type); t != Invalid {
			s = t.Size()
		} else {
			var err error
			if s, err = ls.size(fl.Type, depth+1); err != nil {
				delete(ls.sizes, name)
				return 0, fmt.Errorf("%s.%s: %w", name, fl.Name, err)
			}
		}
		total += s * max(fl.ArrayLen, 1)
		if total > MaxRecordSize+64 { // trailing padding may push a logged record past the limit
			delete(ls.sizes, name)
			return 0, fmt.Errorf("type %s larger than %d bytes", name, MaxRecordSize)
		}
	}
	ls.sizes[name] = total
	return total, nil
}

// get returns the flattened layout of a top-level topic format.
func (ls *layouts) get(name string) (*layout, error) {
	if l, ok := ls.done[name]; ok {
		return l, nil
	}
	full, err := ls.size(name, 0)
	if err != nil {
		return nil, err
	}
	f := ls.formats[name]
	// Trailing top-level padding is not logged (ULog spec, "padding").
	size := full
	for i := len(f.Fields) - 1; i >= 0 && isPadding(f.Fields[i].Name); i-- {
		s := ls.sizes[f.Fields[i].Type]
		if t := basicType(f.Fields[i].Type); t != Invalid {
			s = t.Size()
		}
		size -= s * max(f.Fields[i].ArrayLen, 1)
	}
	if size > MaxRecordSize {
		return nil, fmt.Errorf("type %s: %d bytes logged, more than %d", name, size, MaxRecordSize)
	}
	l := &layout{size: size, fullSize: full, tsOff: -1, index: map[string]int{}}
	if err := ls.flatten(l, "", name, 0); err != nil {
		return nil, err
	}
	if i, ok := l.index["timestamp"]; ok && l.fields[i].Type == Uint64 {
		l.tsOff = l.fields[i].Offset
	}
	ls.done[name] = l
	return l, nil
}

func (ls *layouts) add(l *layout, name string, t Type, off int) error {
	if off+t.Size() > l.size { // trailing padding is not part of the record
		return nil
	}
	if ls.fields >= MaxFields || ls.nameBytes+len(name) > MaxFieldNameBytes {
		return fmt.Errorf("field tables exceed %d fields or %d bytes of names", MaxFields, MaxFieldNameBytes)
	}
	ls.fields++
	ls.nameBytes += len(name)
	if _, dup := l.index[name]; !dup {
		l.index[name] = len(l.fields)
	}
	l.fields = append(l.fields, Field{Name: name, Type: t, Offset: off})
	return nil
}

// flatten appends the fields of format name at offset base to l, with
// pyulog's names. Zero-size nested types add nothing and are skipped, so the
// work is bounded by the record size.
func (ls *layouts) flatten(l *layout, prefix, name string, base int) error {
	off := base
	for _, fl := range ls.formats[name].Fields {
		n := max(fl.ArrayLen, 1)
		if t := basicType(fl.Type); t != Invalid {
			if !isPadding(fl.Name) {
				for i := range n {
					fname := prefix + fl.Name
					if fl.ArrayLen > 0 {
						fname += "[" + strconv.Itoa(i) + "]"
					}
					if err := ls.add(l, fname, t, off+i*t.Size()); err != nil {
						return err
					}
				}
			}
			off += n * t.Size()
			continue
		}
		s := ls.sizes[fl.Type]
		if s > 0 && !isPadding(fl.Name) {
			for i := range n {
				p := prefix + fl.Name
				if fl.ArrayLen > 0 {
					p += "[" + strconv.Itoa(i) + "]"
				}
				if err := ls.flatten(l, p+".", fl.Type, off+i*s); err != nil {
					return err
				}
			}
		}
		off += n * s
	}
	return nil
}

// String returns a char[] value as text (up to the first NUL) and any other
// value formatted by its type.
func (v Value) String() string {
	if strings.HasPrefix(v.Type, "char[") || v.Type == "char" {
		b := v.Raw
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		return string(b)
	}
	if i, ok := v.Int64(); ok {
		return strconv.FormatInt(i, 10)
	}
	if f, ok := v.Float64(); ok {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprintf("%x", v.Raw)
}

// Int64 returns an integer value (false if the value is not a scalar
// integer or its bytes are too short).
func (v Value) Int64() (int64, bool) {
	t := basicType(v.Type)
	if t == Invalid || t == Float32 || t == Float64 || len(v.Raw) < t.Size() {
		return 0, false
	}
	return int64(scalarUint(v.Raw, t)), true
}

// Float64 returns a numeric value as float64.
func (v Value) Float64() (float64, bool) {
	t := basicType(v.Type)
	if t == Invalid || len(v.Raw) < t.Size() {
		return 0, false
	}
	return scalarFloat(v.Raw, t), true
}

// scalarUint reads an integer type, sign-extended to 64 bits.
func scalarUint(b []byte, t Type) uint64 {
	switch t {
	case Int8:
		return uint64(int64(int8(b[0])))
	case Uint8, Bool, Char:
		return uint64(b[0])
	case Int16:
		return uint64(int64(int16(binary.LittleEndian.Uint16(b))))
	case Uint16:
		return uint64(binary.LittleEndian.Uint16(b))
	case Int32:
		return uint64(int64(int32(binary.LittleEndian.Uint32(b))))
	case Uint32:
		return uint64(binary.LittleEndian.Uint32(b))
	case Int64, Uint64:
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func scalarFloat(b []byte, t Type) float64 {
	switch t {
	case Float32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case Float64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case Int8, Int16, Int32, Int64:
		return float64(int64(scalarUint(b, t)))
	}
	return float64(scalarUint(b, t))
}
