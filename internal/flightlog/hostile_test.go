package flightlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ulogBytes builds a file from (type, body) messages after a header.
func ulogBytes(msgs ...any) []byte {
	b := append([]byte(nil), magic[:]...)
	b = append(b, 1, 0, 0, 0, 0, 0, 0, 0, 0)
	for i := 0; i < len(msgs); i += 2 {
		body := []byte(fmt.Sprint(msgs[i+1]))
		if bb, ok := msgs[i+1].([]byte); ok {
			body = bb
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(body)))
		b = append(b, msgs[i].(byte))
		b = append(b, body...)
	}
	return b
}

func addLogged(id uint16, name string) []byte {
	return append([]byte{0, byte(id), byte(id >> 8)}, name...)
}

func TestHostileInputs(t *testing.T) {
	nested := []any{byte('F'), "t0:uint8_t[255] v;"}
	for i := 1; i < 8; i++ {
		nested = append(nested, byte('F'), fmt.Sprintf("t%d:t%d[255] x;", i, i-1))
	}
	nested = append(nested, byte('A'), addLogged(1, "t7"))
	deep := []any{}
	for i := range MaxNesting + 4 {
		deep = append(deep, byte('F'), fmt.Sprintf("d%d:d%d x;", i, i+1))
	}
	deep = append(deep, byte('F'), fmt.Sprintf("d%d:uint64_t timestamp;", MaxNesting+4), byte('A'), addLogged(1, "d0"))
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", magic[:], ErrTruncated},
		{"not ulog", []byte("GIF89a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), ErrNotULog},
		{"cycle", ulogBytes(byte('F'), "a:b x;", byte('F'), "b:a y;", byte('A'), addLogged(1, "a")), ErrCorrupt},
		{"self", ulogBytes(byte('F'), "a:uint64_t timestamp;a x;", byte('A'), addLogged(1, "a")), ErrCorrupt},
		{"exponential nesting", ulogBytes(nested...), ErrCorrupt},
		{"too deep", ulogBytes(deep...), ErrCorrupt},
		{"huge array", ulogBytes(byte('F'), "a:uint64_t[99999999999] x;"), ErrCorrupt},
		{"unknown format", ulogBytes(byte('A'), addLogged(1, "nope"), byte('D'), []byte{1, 0, 1, 2}), ErrCorrupt},
		{"data before add", ulogBytes(byte('D'), []byte{9, 0, 1, 2}), ErrCorrupt},
		{"short data", ulogBytes(byte('F'), "a:uint64_t timestamp;", byte('A'), addLogged(3, "a"), byte('D'), []byte{3, 0, 1}), ErrCorrupt},
		{"unknown incompat flag", ulogBytes(byte('B'), append(make([]byte, 8), append([]byte{2}, make([]byte, 31)...)...)), ErrUnsupported},
		{"flag bits later", ulogBytes(byte('I'), "\x0cint32_t x ab\x00\x00\x00\x00", byte('B'), make([]byte, 40)), ErrCorrupt},
		{"bad info key", ulogBytes(byte('I'), "\xffxy"), ErrCorrupt},
		{"zero type", ulogBytes(byte(0), "xxxx"), ErrCorrupt},
		{"truncated message", ulogBytes(byte('F'), "a:uint64_t timestamp;")[:30], ErrTruncated},
		{"appended offset beyond end", ulogBytes(byte('B'), append(binary.LittleEndian.AppendUint64(append(make([]byte, 8), 1, 0, 0, 0, 0, 0, 0, 0), 1<<40), make([]byte, 16)...)), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := Decode(c.b)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Decode: %v, want %v", err, c.want)
			}
			if l == nil && !errors.Is(err, ErrNotULog) && len(c.b) >= 16 {
				t.Fatal("no partial log")
			}
			var oe *OffsetError
			if !errors.As(err, &oe) {
				t.Fatalf("%T is not an *OffsetError", err)
			}
			t.Log(err)
		})
	}
}

// TestTruncatedRealLogs cuts a real log at many places: each cut gives a
// partial log whose topics are prefixes of the full log's, and an error
// wrapping ErrTruncated unless the cut falls between messages.
func TestTruncatedRealLogs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(realLogDir, "sample_log_small.ulg"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	truncErrs := 0
	for cut := 16; cut < len(b); cut += len(b)/97 + 1 {
		l, err := Decode(b[:cut])
		if l == nil {
			t.Fatalf("cut %d: nil log (%v)", cut, err)
		}
		if err != nil {
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("cut %d: %v", cut, err)
			}
			var oe *OffsetError
			if !errors.As(err, &oe) || oe.Offset >= int64(cut) || oe.Offset < 16 {
				t.Fatalf("cut %d: error %v names no offset before the cut", cut, err)
			}
			truncErrs++
		}
		for _, tp := range l.Topics {
			ft := full.Topic(tp.Name, tp.MultiID)
			if ft == nil || !bytes.HasPrefix(ft.Data, tp.Data) || tp.Len() > ft.Len() {
				t.Fatalf("cut %d: %s/%d is not a prefix of the full log's", cut, tp.Name, tp.MultiID)
			}
		}
	}
	if truncErrs == 0 {
		t.Error("no cut reported ErrTruncated")
	}
}

// TestCorruptRealLogResyncs breaks a message header in the middle of a real
// log: the reader reports ErrCorrupt at that offset and, like pyulog, picks
// up again after the next sync message.
func TestCorruptRealLogResyncs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(realLogDir, "sample_log_small.ulg"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	// Find a message boundary near the middle by walking the messages.
	pos := 16
	for pos < len(b)/2 {
		pos += 3 + int(binary.LittleEndian.Uint16(b[pos:]))
	}
	bad := bytes.Clone(b)
	bad[pos], bad[pos+1], bad[pos+2] = 0, 0, 0 // size 0, type 0
	l, err := Decode(bad)
	var oe *OffsetError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &oe) || oe.Offset != int64(pos) {
		t.Fatalf("Decode: %v, want ErrCorrupt at offset %d", err, pos)
	}
	n, nFull := 0, 0
	for _, tp := range full.Topics {
		nFull += tp.Len()
	}
	for _, tp := range l.Topics {
		n += tp.Len()
	}
	if n >= nFull || n < nFull*3/4 {
		t.Errorf("after resync: %d of %d messages", n, nFull)
	}
	t.Logf("%v; %d of %d data messages read", err, n, nFull)
}

func TestAppendedData(t *testing.T) {
	l, err := ReadFile(filepath.Join(realLogDir, "sample_appended_multiple.ulg"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.AppendedOffsets) != 3 || l.IncompatFlags[0]&1 == 0 {
		t.Fatalf("appended offsets %v flags %x", l.AppendedOffsets, l.IncompatFlags)
	}
	// The appended data holds hard-fault logs as continued multi-info
	// messages (pyulog's test/sample_appended_multiple_info.txt shows them).
	lists := l.MultiInfo["hardfault_plain"]
	if len(lists) == 0 {
		t.Fatal("no hardfault_plain multi info: appended data not read")
	}
	for i, list := range lists {
		var s strings.Builder
		for _, v := range list {
			s.WriteString(v.String())
		}
		if !strings.HasPrefix(s.String(), "[hardfault_log] -- ") || !strings.Contains(s.String(), "END Fault Log --") {
			t.Errorf("hardfault_plain[%d]: %.60q … %.60q", i, s.String(), s.String()[max(0, s.Len()-60):])
		}
	}
	t.Logf("%d hardfault logs", len(lists))
}
