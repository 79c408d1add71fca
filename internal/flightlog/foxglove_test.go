package flightlog

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/atalaya-project/atalaya/internal/flightlog/foxglove"
)

// The independent reader: npm @foxglove/ulog 2.3.2 (MIT), run through
// internal/flightlog/foxglove.

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

type foxDump = foxglove.Dump

// foxDumpFile runs the independent reader on a file (failing, never
// skipping, when it cannot run); topics is a comma-separated list or "*".
func foxDumpFile(t testing.TB, path, topics string) *foxDump {
	t.Helper()
	d, err := foxglove.DumpFile(path, topics)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func topicKeyString(tp *Topic) string { return fmt.Sprintf("%s/%d", tp.Name, tp.MultiID) }

// countsOf returns the data messages per topic instance (empty ones left
// out, as @foxglove/ulog and pyulog leave them out).
func countsOf(l *Log) map[string]int {
	m := map[string]int{}
	for _, tp := range l.Topics {
		if tp.Len() > 0 {
			m[topicKeyString(tp)] = tp.Len()
		}
	}
	return m
}

// firstSegment is what @foxglove/ulog reads of a file: up to the first
// appended-data offset.
func firstSegment(t testing.TB, b []byte) *Log {
	l, _ := Decode(b)
	if l == nil || len(l.AppendedOffsets) == 0 || l.IncompatFlags[0]&1 == 0 {
		return l
	}
	l2, err := Decode(b[:l.AppendedOffsets[0]])
	if l2 == nil {
		t.Fatalf("first segment: %v", err)
	}
	return l2
}

// compareTopic checks every message and field of a topic against the
// foxglove dump, bit for bit (NaN matches any NaN: JavaScript does not keep
// NaN payloads).
func compareTopic(t *testing.T, tp *Topic, ts []string, fields map[string][]json.RawMessage) {
	t.Helper()
	key := topicKeyString(tp)
	if len(ts) != tp.Len() {
		t.Errorf("%s: %d messages, foxglove %d", key, tp.Len(), len(ts))
		return
	}
	// foxglove yields messages by timestamp, then file offset.
	order := make([]int, tp.Len())
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return tp.Timestamps[order[a]] < tp.Timestamps[order[b]] })
	for k, i := range order {
		if got := strconv.FormatUint(tp.Timestamps[i], 10); got != ts[k] {
			t.Fatalf("%s message %d: timestamp %s, foxglove %s", key, k, got, ts[k])
		}
	}
	seen := map[string]bool{}
	for name, vals := range fields {
		f, ok := tp.Field(name)
		if !ok {
			// a char array: foxglove gives a string
			if g, ok := tp.Field(name + "[0]"); ok && g.Type == Char {
				for k, i := range order {
					var s string
					if err := json.Unmarshal(vals[k], &s); err != nil {
						t.Fatalf("%s.%s: %v", key, name, err)
					}
					if got := tp.String(i, name); got != trimNUL(s) {
						t.Errorf("%s.%s message %d: %q, foxglove %q", key, name, k, got, s)
						break
					}
				}
				markChars(tp, name, seen)
				continue
			}
			t.Errorf("%s: foxglove has field %q, flightlog has not", key, name)
			continue
		}
		seen[name] = true
		if err := compareColumn(tp, f, order, vals); err != nil {
			t.Errorf("%s.%s: %v", key, name, err)
		}
	}
	for _, f := range tp.Fields {
		if !seen[f.Name] {
			t.Errorf("%s: flightlog has field %q, foxglove has not", key, f.Name)
		}
	}
}

func trimNUL(s string) string {
	if i := bytes.IndexByte([]byte(s), 0); i >= 0 {
		return s[:i]
	}
	return s
}

func markChars(tp *Topic, name string, seen map[string]bool) {
	for i := 0; ; i++ {
		n := fmt.Sprintf("%s[%d]", name, i)
		if _, ok := tp.Field(n); !ok {
			return
		}
		seen[n] = true
	}
}

func compareColumn(tp *Topic, f Field, order []int, vals []json.RawMessage) error {
	switch f.Type {
	case Uint64, Int64:
		col, err := tp.Int64s(f.Name)
		if err != nil {
			return err
		}
		for k, i := range order {
			var s string
			if err := json.Unmarshal(vals[k], &s); err != nil {
				return fmt.Errorf("message %d: %s: %v", k, vals[k], err)
			}
			want := strconv.FormatInt(col[i], 10)
			if f.Type == Uint64 {
				want = strconv.FormatUint(uint64(col[i]), 10)
			}
			if s != want {
				return fmt.Errorf("message %d: %s, foxglove %s", k, want, s)
			}
		}
	default:
		col, err := tp.Float64s(f.Name)
		if err != nil {
			return err
		}
		for k, i := range order {
			got := col[i]
			var want float64
			var s string
			if json.Unmarshal(vals[k], &s) == nil {
				switch s {
				case "NaN":
					want = math.NaN()
				case "Infinity":
					want = math.Inf(1)
				case "-Infinity":
					want = math.Inf(-1)
				case "-0":
					want = math.Copysign(0, -1)
				default:
					return fmt.Errorf("message %d: unexpected %q", k, s)
				}
			} else if err := json.Unmarshal(vals[k], &want); err != nil {
				return fmt.Errorf("message %d: %s: %v", k, vals[k], err)
			}
			if math.IsNaN(want) && math.IsNaN(got) {
				continue
			}
			if math.Float64bits(got) != math.Float64bits(want) {
				return fmt.Errorf("message %d: %v, foxglove %v", k, got, want)
			}
		}
	}
	return nil
}

// TestRealLogsAgainstFoxglove compares every message and field of every
// topic of every real log (shared/data/flightlogs, see SOURCES.md) with
// @foxglove/ulog, and records the counts per topic in
// testdata/counts.golden.json.
func TestRealLogsAgainstFoxglove(t *testing.T) {
	type count struct {
		Flightlog int `json:"flightlog"`
		Foxglove  int `json:"foxglove"`
	}
	golden := map[string]map[string]count{}
	for _, path := range realLogs(t) {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			full, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			l := firstSegment(t, b)
			d := foxDumpFile(t, path, "*")
			if d.Version != int(l.Version) || d.Timestamp != strconv.FormatUint(l.StartTime, 10) {
				t.Errorf("header: version %d start %d, foxglove %d %s", l.Version, l.StartTime, d.Version, d.Timestamp)
			}
			if d.Logs != len(l.Messages) {
				t.Errorf("logging messages: %d, foxglove %d", len(l.Messages), d.Logs)
			}
			for k, raw := range d.Info {
				var s string
				if json.Unmarshal(raw, &s) == nil && l.InfoString(k) != s {
					t.Errorf("info %s: %q, foxglove %q", k, l.InfoString(k), s)
				}
			}
			got := countsOf(l)
			all := countsOf(full)
			golden[base] = map[string]count{}
			for k, n := range all {
				golden[base][k] = count{Flightlog: n, Foxglove: d.Counts[k]}
			}
			for k, n := range d.Counts {
				if got[k] != n {
					t.Errorf("%s: %d messages, foxglove %d", k, got[k], n)
				}
				golden[base][k] = count{Flightlog: all[k], Foxglove: n}
			}
			if len(got) != len(d.Counts) {
				t.Errorf("%d topic instances with data, foxglove %d", len(got), len(d.Counts))
			}
			for _, tp := range l.Topics {
				if tp.Len() == 0 {
					continue
				}
				ft, ok := d.Topics[topicKeyString(tp)]
				if !ok {
					t.Errorf("%s: not in the foxglove dump", topicKeyString(tp))
					continue
				}
				compareTopic(t, tp, ft.Timestamps, ft.Fields)
			}
		})
	}
	checkGolden(t, "testdata/counts.golden.json", golden)
}

func checkGolden(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("%s differs from what the readers give now (run go test -update and review the diff):\n%s", path, b)
	}
}
