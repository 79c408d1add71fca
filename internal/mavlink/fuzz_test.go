package mavlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// fuzzSeeds are frames of every message in v1 and v2, a signed frame, and
// a small tlog of them.
func fuzzSeeds(t testing.TB) [][]byte {
	var stream bytes.Buffer
	for _, v := range []int{1, 2} {
		e := NewEncoder(&stream, 1, 1)
		e.Version = v
		for _, m := range sampleMessages() {
			if err := e.Encode(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	var tlog []byte
	d := NewDecoder(bytes.NewReader(stream.Bytes()))
	for i := 0; ; i++ {
		f, err := d.Next()
		if err != nil {
			break
		}
		tlog = binary.BigEndian.AppendUint64(tlog, 1_700_000_000_000_000+uint64(i)*1000)
		tlog, _ = AppendFrame(tlog, f)
	}
	return [][]byte{stream.Bytes(), tlog, {}, {STXv2}, {STXv1, 0}}
}

// FuzzDecoder: the stream decoder and the tlog splitter never panic, never
// return a frame with a bad checksum, and account for every byte.
func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(bytes.NewReader(b))
		var used int64
		for {
			fr, err := d.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrTruncated) {
					t.Fatalf("Next: %v", err)
				}
				if errors.Is(err, io.EOF) {
					break
				}
				continue
			}
			used += int64(fr.Len())
			m, err := fr.Message()
			if err != nil {
				t.Fatalf("a returned frame does not decode: %v", err)
			}
			p, _ := Marshal(m)
			m2, _ := New(m.MsgID())
			if err := Unmarshal(p, m2); err != nil {
				t.Fatal(err)
			}
			p2, _ := Marshal(m2)
			if !bytes.Equal(p, p2) {
				t.Fatalf("payload round trip: %x != %x", p, p2)
			}
		}
		// Unknown frames are skipped whole: count them as used.
		if d.Unknown == 0 && used+d.Skipped != int64(len(b)) {
			t.Fatalf("%d bytes in frames + %d skipped != %d", used, d.Skipped, len(b))
		}
		recs, st, err := SplitTlog(b)
		if err == nil && st.Skipped != 0 {
			t.Fatalf("no error with %d bytes skipped", st.Skipped)
		}
		for _, r := range recs {
			if _, err := r.Frame.Message(); err != nil {
				t.Fatalf("tlog record does not decode: %v", err)
			}
		}
	})
}
