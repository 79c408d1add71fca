package cube

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ENVI header keys under which Atalaya carries what is known of the pass
// that took a cube: when it was acquired and the wind at plume height (from
// the flight log or a weather report). They are ordinary ENVI fields, so
// they travel with the header wherever the cube goes and other software
// ignores them. docs/detect-outputs.md lists them.
const (
	HeaderKeyAcquired    = "atalaya acquired"                // RFC 3339, UTC
	HeaderKeyWindFromDeg = "atalaya wind from deg"           // degrees clockwise from north, where the wind blows from
	HeaderKeyWindSpeed   = "atalaya wind speed ms"           // m/s at plume height
	HeaderKeyStability   = "atalaya stability"               // Pasquill–Gifford class A–F
	HeaderKeyAltitude    = "atalaya altitude above ground m" // sensor height above ground, m
)

// PassMeta is what a header says of its pass; zero fields are unknown.
type PassMeta struct {
	Acquired    time.Time
	WindFromDeg float64
	WindSpeedMS float64 // 0: unknown
	Stability   string
	AltitudeM   float64
}

// HasWind reports whether the wind is known.
func (m PassMeta) HasWind() bool { return m.WindSpeedMS > 0 }

// PassMeta reads the pass's metadata from the header. A key present with a
// value that does not parse, or is out of range, is an error naming it.
func (h *Header) PassMeta() (PassMeta, error) {
	var m PassMeta
	if v, ok := h.Fields[HeaderKeyAcquired]; ok {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
		if err != nil {
			return m, fmt.Errorf("%w: header %s = %q: want an RFC 3339 time such as 2026-03-01T14:05:00Z", ErrFormat, HeaderKeyAcquired, v)
		}
		m.Acquired = t.UTC()
	}
	num := func(key string, lo, hi float64, dst *float64) error {
		v, ok := h.Fields[key]
		if !ok {
			return nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || f < lo || f > hi {
			return fmt.Errorf("%w: header %s = %q: want a number in [%g, %g]", ErrFormat, key, v, lo, hi)
		}
		*dst = f
		return nil
	}
	if err := num(HeaderKeyWindFromDeg, -360, 360, &m.WindFromDeg); err != nil {
		return m, err
	}
	if err := num(HeaderKeyWindSpeed, 0, 100, &m.WindSpeedMS); err != nil {
		return m, err
	}
	if err := num(HeaderKeyAltitude, 0, 100000, &m.AltitudeM); err != nil {
		return m, err
	}
	if v, ok := h.Fields[HeaderKeyStability]; ok {
		s := strings.ToUpper(strings.TrimSpace(v))
		if len(s) != 1 || s[0] < 'A' || s[0] > 'F' {
			return m, fmt.Errorf("%w: header %s = %q: want a Pasquill–Gifford class A to F", ErrFormat, HeaderKeyStability, v)
		}
		m.Stability = s
	}
	return m, nil
}

// SetPassMeta writes the known fields of m into the header (replacing what
// was there), keeping the order of the other keys.
func (h *Header) SetPassMeta(m PassMeta) {
	set := func(key, val string) {
		if h.Fields == nil {
			h.Fields = map[string]string{}
		}
		if _, ok := h.Fields[key]; !ok {
			h.Keys = append(h.Keys, key)
		}
		h.Fields[key] = val
	}
	if !m.Acquired.IsZero() {
		set(HeaderKeyAcquired, m.Acquired.UTC().Format(time.RFC3339Nano))
	}
	if m.HasWind() {
		set(HeaderKeyWindFromDeg, strconv.FormatFloat(m.WindFromDeg, 'g', -1, 64))
		set(HeaderKeyWindSpeed, strconv.FormatFloat(m.WindSpeedMS, 'g', -1, 64))
	}
	if m.Stability != "" {
		set(HeaderKeyStability, m.Stability)
	}
	if m.AltitudeM > 0 {
		set(HeaderKeyAltitude, strconv.FormatFloat(m.AltitudeM, 'g', -1, 64))
	}
}
