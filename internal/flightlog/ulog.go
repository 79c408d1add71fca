package flightlog

import (
	"errors"
	"fmt"
)

// Sentinel errors; the reader wraps them in an *OffsetError.
var (
	// ErrNotULog: the input does not start with the ULog magic bytes.
	ErrNotULog = errors.New("not a ULog file")
	// ErrTruncated: the input ends inside a message (or inside the header).
	ErrTruncated = errors.New("truncated ULog")
	// ErrCorrupt: a message that cannot be what it claims to be.
	ErrCorrupt = errors.New("corrupt ULog")
	// ErrUnsupported: the file sets an incompatible flag this reader does not
	// know; the spec says such a file must not be parsed further.
	ErrUnsupported = errors.New("unsupported ULog")
	// ErrNoTopic: no such topic instance in the log.
	ErrNoTopic = errors.New("no such topic")
	// ErrNoField: no such field in the topic, or not of a usable type.
	ErrNoField = errors.New("no such field")
	// ErrNoPosition: the log has no position topic with usable samples.
	ErrNoPosition = errors.New("no position data")
)

// Limits that bound what a hostile file can make the reader allocate.
const (
	// MaxRecordSize is the largest record a data message can carry: a
	// message's size field is a uint16 and its msg_id takes 2 bytes.
	MaxRecordSize = 65535 - 2
	// MaxNesting is how deep nested types may go (PX4 uses 2 or 3).
	MaxNesting = 16
	// MaxFields caps the flattened fields of all topics of one log together
	// (the real logs in shared/data have at most 4332).
	MaxFields = 1 << 18
	// MaxFieldNameBytes caps the bytes of all flattened field names of one log.
	MaxFieldNameBytes = 8 << 20
	// MaxProblems is how many problems Log.Problems keeps.
	MaxProblems = 64
)

// magic is the first 7 bytes of every ULog file; the 8th is the version.
var magic = [7]byte{'U', 'L', 'o', 'g', 0x01, 0x12, 0x35}

// syncMagic is the payload of a sync ('S') message.
var syncMagic = [8]byte{0x2F, 0x73, 0x13, 0x20, 0x25, 0x0C, 0xBB, 0x12}

// OffsetError is a problem found at a byte offset of the input.
type OffsetError struct {
	Offset int64  // byte offset of the message (or header) at fault
	What   string // what was wrong, naming the value
	Err    error  // ErrTruncated, ErrCorrupt, ErrUnsupported or ErrNotULog
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("ulog: offset %d: %s: %v", e.Offset, e.What, e.Err)
}

func (e *OffsetError) Unwrap() error { return e.Err }

// Log is a decoded ULog file.
type Log struct {
	Version   uint8  // file format version from the header (0 or 1)
	StartTime uint64 // header timestamp: µs since boot when logging started

	CompatFlags     [8]byte
	IncompatFlags   [8]byte
	AppendedOffsets []int64 // the non-zero appended-data offsets of the flag bits

	Formats    map[string]*Format   // message formats by name
	Info       map[string]Value     // 'I' messages; a later one replaces an earlier
	MultiInfo  map[string][][]Value // 'M' messages: key → list of (continued) value lists
	Params     map[string]Value     // initial parameters ('P' before the data section)
	Defaults   []DefaultParam       // 'Q' messages in file order
	ParamSteps []ParamChange        // 'P' messages in the data section

	Topics    []*Topic     // one per (name, multi_id), in order of first add
	Messages  []LogMessage // 'L' and 'C' messages in file order
	Dropouts  []Dropout
	SyncCount int // number of sync messages

	Problems     []*OffsetError // the first MaxProblems problems found
	ProblemCount int            // how many problems in all

	topicIndex map[topicKey]*Topic
}

type topicKey struct {
	name  string
	multi uint8
}

// Value is the value of an info or parameter message: its ULog type
// ("int32_t", "float", "char[12]", …) and its raw little-endian bytes.
type Value struct {
	Type string
	Raw  []byte
}

// DefaultParam is a 'Q' message: Types has bit 0 for the system default and
// bit 1 for the current setup's default.
type DefaultParam struct {
	Types uint8
	Name  string
	Value Value
}

// ParamChange is a parameter set during logging, at the latest timestamp
// seen before it.
type ParamChange struct {
	Timestamp uint64
	Name      string
	Value     Value
}

// LogMessage is a logged string: 'L' (Tagged false) or 'C' (Tagged, with Tag).
type LogMessage struct {
	Level     uint8 // '0' (emergency) … '7' (debug)
	Tag       uint16
	Tagged    bool
	Timestamp uint64
	Text      string
}

// Dropout is a gap in logging: DurationMs after the latest timestamp seen.
type Dropout struct {
	Timestamp  uint64
	DurationMs uint16
}

// Topic returns the topic instance with that name and multi_id, or nil.
func (l *Log) Topic(name string, multiID uint8) *Topic {
	return l.topicIndex[topicKey{name, multiID}]
}

// Float64s returns a numeric field of a topic instance as float64, e.g.
// Float64s("vehicle_global_position", 0, "lat").
func (l *Log) Float64s(topic string, multiID uint8, field string) ([]float64, error) {
	t := l.Topic(topic, multiID)
	if t == nil {
		return nil, fmt.Errorf("flightlog: %s/%d: %w", topic, multiID, ErrNoTopic)
	}
	return t.Float64s(field)
}

// InfoString returns a char[] info value as a string ("" if absent).
func (l *Log) InfoString(key string) string {
	v, ok := l.Info[key]
	if !ok {
		return ""
	}
	return v.String()
}

func (l *Log) problem(off int64, err error, format string, args ...any) {
	l.ProblemCount++
	if len(l.Problems) < MaxProblems {
		l.Problems = append(l.Problems, &OffsetError{Offset: off, What: fmt.Sprintf(format, args...), Err: err})
	}
}

// err is the error Read returns: the first problem, with a count of the rest.
func (l *Log) err() error {
	if l.ProblemCount == 0 {
		return nil
	}
	if l.ProblemCount == 1 {
		return l.Problems[0]
	}
	return &moreError{first: l.Problems[0], more: l.ProblemCount - 1}
}

type moreError struct {
	first *OffsetError
	more  int
}

func (e *moreError) Error() string {
	return fmt.Sprintf("%v (and %d more problems)", e.first, e.more)
}

func (e *moreError) Unwrap() error { return e.first }
