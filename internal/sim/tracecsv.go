package sim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrTrace is wrapped by errors about a malformed point-sensor trace file.
var ErrTrace = errors.New("sim: bad point-sensor trace")

// TraceMagic is the first line of a point-sensor trace CSV.
const TraceMagic = "# atalaya point-sensor trace v1"

// traceFixed are the first columns of every trace, in order.
var traceFixed = [...]string{
	"time", "east_m", "north_m", "lat_deg", "lon_deg", "alt_agl_m",
	"heading_deg", "line", "wind_speed_m_s", "wind_from_deg",
}

const (
	colTime = iota
	colEast
	colNorth
	colLat
	colLon
	colAlt
	colHeading
	colLine
	colWindSpeed
	colWindFrom
	numFixed
)

// maxTraceLine bounds one line of a trace file.
const maxTraceLine = 1 << 20

// WriteTraceCSV writes tr in the format of docs/point-sensor-trace.md.
// Floats are written in the shortest form that reads back exactly; NaN is an
// empty cell, allowed only in optional columns.
func WriteTraceCSV(w io.Writer, tr *Trace) error {
	for _, m := range tr.Meta {
		if err := checkMeta(m); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, c := range tr.Channels {
		if err := checkName(c); err != nil {
			return fmt.Errorf("%w: channel %q: %w", ErrTrace, c, err)
		}
		if strings.HasPrefix(c, "truth_") {
			return fmt.Errorf("%w: channel %q: the prefix truth_ is reserved", ErrTrace, c)
		}
		if seen[c+"_ppm"] {
			return fmt.Errorf("%w: channel %q twice", ErrTrace, c)
		}
		seen[c+"_ppm"] = true
	}
	for _, g := range tr.Gases {
		if err := checkName(g); err != nil {
			return fmt.Errorf("%w: gas %q: %w", ErrTrace, g, err)
		}
		if seen["truth_"+g+"_ppm"] {
			return fmt.Errorf("%w: gas %q twice", ErrTrace, g)
		}
		seen["truth_"+g+"_ppm"] = true
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(TraceMagic + "\n")
	for _, m := range tr.Meta {
		fmt.Fprintf(bw, "# %s: %s\n", m.Key, m.Value)
	}
	bw.WriteString(strings.Join(traceFixed[:], ","))
	for _, c := range tr.Channels {
		bw.WriteString("," + c + "_ppm")
	}
	for _, g := range tr.Gases {
		bw.WriteString(",truth_" + g + "_ppm")
	}
	bw.WriteByte('\n')
	var buf []byte
	for k, s := range tr.Samples {
		if len(s.Readings) != len(tr.Channels) || len(s.Truth) != len(tr.Gases) {
			return fmt.Errorf("%w: sample %d has %d readings and %d truths for %d channels and %d gases",
				ErrTrace, k, len(s.Readings), len(s.Truth), len(tr.Channels), len(tr.Gases))
		}
		if k > 0 && s.Time.Before(tr.Samples[k-1].Time) {
			return fmt.Errorf("%w: sample %d at %s is before the one it follows", ErrTrace, k, s.Time.Format(time.RFC3339Nano))
		}
		buf = s.Time.UTC().AppendFormat(buf[:0], time.RFC3339Nano)
		var err error
		put := func(col string, v float64, optional bool) {
			buf = append(buf, ',')
			switch {
			case err != nil:
			case math.IsNaN(v) && optional:
			case math.IsNaN(v) || math.IsInf(v, 0):
				err = fmt.Errorf("%w: sample %d: %s = %g", ErrTrace, k, col, v)
			default:
				buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
			}
		}
		put("east_m", s.East, false)
		put("north_m", s.North, false)
		put("lat_deg", s.Lat, true)
		put("lon_deg", s.Lon, true)
		put("alt_agl_m", s.AltitudeAGL, false)
		put("heading_deg", s.HeadingDeg, true)
		if s.Line < -1 {
			return fmt.Errorf("%w: sample %d: line %d", ErrTrace, k, s.Line)
		}
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(s.Line), 10)
		put("wind_speed_m_s", s.WindSpeedMS, true)
		put("wind_from_deg", s.WindFromDeg, true)
		for c, v := range s.Readings {
			put(tr.Channels[c]+"_ppm", v, true)
		}
		for g, v := range s.Truth {
			put("truth_"+tr.Gases[g]+"_ppm", v, true)
		}
		if err != nil {
			return err
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func checkMeta(m MetaField) error {
	switch {
	case m.Key == "" || strings.TrimSpace(m.Key) != m.Key:
		return fmt.Errorf("%w: metadata key %q is empty or has surrounding space", ErrTrace, m.Key)
	case strings.ContainsAny(m.Key, ":\r\n"):
		return fmt.Errorf("%w: metadata key %q has a colon or a line break", ErrTrace, m.Key)
	case strings.TrimSpace(m.Value) != m.Value || strings.ContainsAny(m.Value, "\r\n"):
		return fmt.Errorf("%w: metadata %s: value %q has a line break or surrounding space", ErrTrace, m.Key, m.Value)
	}
	return nil
}

// ReadTraceCSV reads a trace in the format of docs/point-sensor-trace.md.
// Errors wrap ErrTrace and name the line, and for a cell its column number
// and name.
func ReadTraceCSV(r io.Reader) (*Trace, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxTraceLine)
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return strings.TrimSuffix(sc.Text(), "\r"), true
	}
	scanErr := func() error {
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return fmt.Errorf("%w: line %d: longer than %d bytes", ErrTrace, line+1, maxTraceLine)
			}
			return fmt.Errorf("read trace: line %d: %w", line+1, err)
		}
		return nil
	}
	first, ok := next()
	if !ok {
		if err := scanErr(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: empty file", ErrTrace)
	}
	if first != TraceMagic {
		return nil, fmt.Errorf("%w: line 1: %q, want %q", ErrTrace, truncate(first), TraceMagic)
	}
	tr := &Trace{}
	var header string
	for {
		s, ok := next()
		if !ok {
			if err := scanErr(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: line %d: no header row", ErrTrace, line+1)
		}
		if !strings.HasPrefix(s, "#") {
			header = s
			break
		}
		key, value, found := strings.Cut(s[1:], ":")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !found || key == "" {
			return nil, fmt.Errorf("%w: line %d: metadata %q is not \"# key: value\"", ErrTrace, line, truncate(s))
		}
		if err := checkMeta(MetaField{key, value}); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		tr.Meta = append(tr.Meta, MetaField{key, value})
	}
	cols := strings.Split(header, ",")
	if len(cols) < numFixed {
		return nil, fmt.Errorf("%w: line %d: header has %d columns, want at least the %d of %s", ErrTrace, line, len(cols), numFixed, strings.Join(traceFixed[:], ","))
	}
	for i, want := range traceFixed {
		if cols[i] != want {
			return nil, fmt.Errorf("%w: line %d, column %d: header %q, want %q", ErrTrace, line, i+1, truncate(cols[i]), want)
		}
	}
	seen := map[string]bool{}
	for i := numFixed; i < len(cols); i++ {
		c := cols[i]
		if seen[c] {
			return nil, fmt.Errorf("%w: line %d, column %d: %q repeats an earlier column", ErrTrace, line, i+1, truncate(c))
		}
		seen[c] = true
		name, ok := strings.CutSuffix(c, "_ppm")
		if !ok {
			return nil, fmt.Errorf("%w: line %d, column %d: %q does not end in _ppm", ErrTrace, line, i+1, truncate(c))
		}
		if gas, isTruth := strings.CutPrefix(name, "truth_"); isTruth {
			if err := checkName(gas); err != nil {
				return nil, fmt.Errorf("%w: line %d, column %d: gas of %q: %w", ErrTrace, line, i+1, truncate(c), err)
			}
			tr.Gases = append(tr.Gases, gas)
			continue
		}
		if len(tr.Gases) > 0 {
			return nil, fmt.Errorf("%w: line %d, column %d: channel %q after the truth columns", ErrTrace, line, i+1, truncate(c))
		}
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("%w: line %d, column %d: channel of %q: %w", ErrTrace, line, i+1, truncate(c), err)
		}
		tr.Channels = append(tr.Channels, name)
	}
	for {
		text, ok := next()
		if !ok {
			break
		}
		fields := strings.Split(text, ",")
		if len(fields) != len(cols) {
			return nil, fmt.Errorf("%w: line %d: %d fields, the header has %d", ErrTrace, line, len(fields), len(cols))
		}
		var err error
		num := func(i int, optional bool) float64 {
			if err != nil {
				return 0
			}
			f := fields[i]
			if f == "" {
				if optional {
					return math.NaN()
				}
				err = fmt.Errorf("%w: line %d, column %d (%s): empty, but required", ErrTrace, line, i+1, cols[i])
				return 0
			}
			v, perr := strconv.ParseFloat(f, 64)
			if perr != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				err = fmt.Errorf("%w: line %d, column %d (%s): %q is not a finite number", ErrTrace, line, i+1, cols[i], truncate(f))
				return 0
			}
			return v
		}
		t, terr := time.Parse(time.RFC3339Nano, fields[colTime])
		if terr != nil {
			return nil, fmt.Errorf("%w: line %d, column 1 (time): %q is not an RFC 3339 time", ErrTrace, line, truncate(fields[colTime]))
		}
		s := TraceSample{
			Time:        t,
			East:        num(colEast, false),
			North:       num(colNorth, false),
			Lat:         num(colLat, true),
			Lon:         num(colLon, true),
			AltitudeAGL: num(colAlt, false),
			HeadingDeg:  num(colHeading, true),
			WindSpeedMS: num(colWindSpeed, true),
			WindFromDeg: num(colWindFrom, true),
			Readings:    make([]float64, len(tr.Channels)),
			Truth:       make([]float64, len(tr.Gases)),
		}
		for c := range s.Readings {
			s.Readings[c] = num(numFixed+c, true)
		}
		for g := range s.Truth {
			s.Truth[g] = num(numFixed+len(tr.Channels)+g, true)
		}
		if err != nil {
			return nil, err
		}
		ln, lerr := strconv.Atoi(fields[colLine])
		if lerr != nil || ln < -1 {
			return nil, fmt.Errorf("%w: line %d, column %d (line): %q is not a line index ≥ −1", ErrTrace, line, colLine+1, truncate(fields[colLine]))
		}
		s.Line = ln
		if n := len(tr.Samples); n > 0 && t.Before(tr.Samples[n-1].Time) {
			return nil, fmt.Errorf("%w: line %d, column 1 (time): %s is before the previous row's %s", ErrTrace, line,
				t.Format(time.RFC3339Nano), tr.Samples[n-1].Time.Format(time.RFC3339Nano))
		}
		tr.Samples = append(tr.Samples, s)
	}
	if err := scanErr(); err != nil {
		return nil, err
	}
	return tr, nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
