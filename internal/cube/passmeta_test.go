package cube

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPassMetaRoundTrip(t *testing.T) {
	h := &Header{Samples: 2, Lines: 2, Bands: 1, DataType: 4, Interleave: BSQ}
	want := PassMeta{Acquired: time.Date(2026, 3, 1, 14, 5, 0, 250e6, time.UTC), WindFromDeg: 247.5, WindSpeedMS: 3.2, Stability: "D", AltitudeM: 120}
	h.SetPassMeta(want)
	h.SetPassMeta(want) // twice: replaced, not repeated
	var buf bytes.Buffer
	if err := EncodeHeader(&buf, h); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), HeaderKeyWindSpeed); n != 1 {
		t.Fatalf("%s written %d times:\n%s", HeaderKeyWindSpeed, n, buf.String())
	}
	back, err := DecodeHeader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.PassMeta()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("read back %+v, want %+v", got, want)
	}
	if !got.HasWind() {
		t.Fatal("HasWind false with a wind speed")
	}
}

func TestPassMetaBadValues(t *testing.T) {
	for key, val := range map[string]string{
		HeaderKeyAcquired:    "yesterday",
		HeaderKeyWindFromDeg: "north",
		HeaderKeyWindSpeed:   "-3",
		HeaderKeyStability:   "G",
		HeaderKeyAltitude:    "NaN",
	} {
		h := &Header{Fields: map[string]string{key: val}}
		_, err := h.PassMeta()
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), key) {
			t.Errorf("%s = %q: error %v, want ErrFormat naming the key", key, val, err)
		}
	}
	m, err := (&Header{}).PassMeta()
	if err != nil || m != (PassMeta{}) || m.HasWind() {
		t.Fatalf("no keys: %+v, %v; want zero and no error", m, err)
	}
}
