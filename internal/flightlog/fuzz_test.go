package flightlog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Seeds: the small files in testdata/*.ulg (seed_written.ulg comes from
// the Writer; seed_appended_prefix.ulg is the first 2 KiB of pyulog's
// sample_appended_multiple.ulg, flag bits with appended offsets included),
// a freshly written track, and prefixes of every real log.
func FuzzRead(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.ulg")
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata/*.ulg")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	var buf bytes.Buffer
	if err := WriteTrack(&buf, testTrack(4)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	for _, p := range realLogs(f) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		// Small prefixes: the fuzzer minimises every new input, and big
		// ones take it minutes.
		f.Add(b[:4096])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Decode(b)
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrNotULog) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		if l == nil {
			if err == nil {
				t.Fatal("nil log and nil error")
			}
			return
		}
		if (err == nil) != (l.ProblemCount == 0) {
			t.Fatalf("error %v with %d problems", err, l.ProblemCount)
		}
		data := 0
		for _, tp := range l.Topics {
			if len(tp.Data) != tp.Len()*tp.RecordSize || tp.RecordSize > MaxRecordSize {
				t.Fatalf("%s: %d bytes for %d records of %d", tp.Name, len(tp.Data), tp.Len(), tp.RecordSize)
			}
			for _, fl := range tp.Fields {
				if fl.Offset+fl.Type.Size() > tp.RecordSize {
					t.Fatalf("%s.%s at %d+%d beyond record of %d", tp.Name, fl.Name, fl.Offset, fl.Type.Size(), tp.RecordSize)
				}
				if _, err := tp.Float64s(fl.Name); err != nil {
					t.Fatal(err)
				}
			}
			data += len(tp.Data)
		}
		if data > len(b) {
			t.Fatalf("%d bytes of records from %d bytes of input", data, len(b))
		}
		if tr, err := l.Track(); err == nil && len(tr.Samples) == 0 {
			t.Fatal("track without samples and without error")
		}
	})
}
