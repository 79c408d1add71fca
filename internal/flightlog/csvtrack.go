package flightlog

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// The flight track CSV format is documented in docs/flight-track-csv.md.

// ErrCSV is wrapped by every error about the content of a flight track CSV.
var ErrCSV = errors.New("bad flight track CSV")

// CSVError names the line (1-based, as an editor counts) and, where there
// is one, the column of a problem in a flight track CSV.
type CSVError struct {
	Line   int
	Column string // "" when the problem is not in one column
	Err    error
}

func (e *CSVError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("flight track csv: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("flight track csv: line %d, column %q: %v", e.Line, e.Column, e.Err)
}

// Unwrap returns ErrCSV and the cause.
func (e *CSVError) Unwrap() []error { return []error{ErrCSV, e.Err} }

// The columns of a flight track CSV.
const (
	colTime      = "time"
	colLat       = "lat"
	colLon       = "lon"
	colAlt       = "alt_m"
	colRoll      = "roll_deg"
	colPitch     = "pitch_deg"
	colYaw       = "yaw_deg"
	colWindNorth = "wind_north_ms"
	colWindEast  = "wind_east_ms"
)

var csvColumns = []string{colTime, colLat, colLon, colAlt, colRoll, colPitch, colYaw, colWindNorth, colWindEast}

// ReadTrackCSV reads a flight track CSV. The Track's Source is "csv", its
// times are UTC, T counts µs from the first sample, and UTCOffset is the
// first sample's time in µs since the Unix epoch, so Time = T + UTCOffset
// exactly. Errors are *CSVError values (wrapping ErrCSV) naming the line
// and column.
func ReadTrackCSV(r io.Reader) (*Track, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // checked here, with a better message
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &CSVError{Line: 1, Err: errors.New("empty file: want a header line " + strings.Join(csvColumns[:4], ","))}
		}
		return nil, csvReadError(err)
	}
	line, _ := cr.FieldPos(0)
	col := map[string]int{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // a byte order mark from spreadsheet software
		}
		known := false
		for _, c := range csvColumns {
			known = known || c == name
		}
		if !known {
			return nil, &CSVError{Line: line, Column: name, Err: fmt.Errorf("unknown column (columns are %s)", strings.Join(csvColumns, ", "))}
		}
		if _, dup := col[name]; dup {
			return nil, &CSVError{Line: line, Column: name, Err: errors.New("column appears twice")}
		}
		col[name] = i
	}
	for _, c := range csvColumns[:4] {
		if _, ok := col[c]; !ok {
			return nil, &CSVError{Line: line, Column: c, Err: errors.New("required column missing")}
		}
	}
	for _, group := range [][]string{{colRoll, colPitch, colYaw}, {colWindNorth, colWindEast}} {
		n := 0
		for _, c := range group {
			if _, ok := col[c]; ok {
				n++
			}
		}
		if n != 0 && n != len(group) {
			return nil, &CSVError{Line: line, Err: fmt.Errorf("columns %s go together: all or none", strings.Join(group, ", "))}
		}
	}
	_, hasAtt := col[colRoll]
	_, hasWind := col[colWindNorth]

	tr := &Track{Source: "csv", HasUTC: true}
	var first, prev int64
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return tr, csvReadError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return tr, &CSVError{Line: line, Err: fmt.Errorf("%d fields, the header has %d", len(rec), len(header))}
		}
		cell := func(name string) string { return strings.TrimSpace(rec[col[name]]) }
		num := func(name string, lo, hi float64) (float64, error) {
			s := cell(name)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, &CSVError{Line: line, Column: name, Err: fmt.Errorf("%q is not a finite number", s)}
			}
			if v < lo || v > hi {
				return 0, &CSVError{Line: line, Column: name, Err: fmt.Errorf("%v is out of range [%v, %v]", v, lo, hi)}
			}
			return v, nil
		}
		usec, err := parseCSVTime(cell(colTime))
		if err != nil {
			return tr, &CSVError{Line: line, Column: colTime, Err: err}
		}
		if len(tr.Samples) == 0 {
			first, tr.UTCOffset = usec, usec
		} else if usec < prev {
			return tr, &CSVError{Line: line, Column: colTime, Err: fmt.Errorf("%s is before the previous line's time", cell(colTime))}
		}
		prev = usec
		s := Sample{T: uint64(usec - first), Time: time.UnixMicro(usec).UTC()}
		if s.Lat, err = num(colLat, -90, 90); err != nil {
			return tr, err
		}
		if s.Lon, err = num(colLon, -180, 180); err != nil {
			return tr, err
		}
		// The lowest and highest ground on Earth, with margin for flight.
		if s.Alt, err = num(colAlt, -1000, 50_000); err != nil {
			return tr, err
		}
		if hasAtt && !(cell(colRoll) == "" && cell(colPitch) == "" && cell(colYaw) == "") {
			var r, p, y float64
			if r, err = num(colRoll, -180, 180); err != nil {
				return tr, err
			}
			if p, err = num(colPitch, -90, 90); err != nil {
				return tr, err
			}
			if y, err = num(colYaw, -360, 360); err != nil {
				return tr, err
			}
			s.HasAttitude = true
			s.Roll, s.Pitch, s.Yaw = r*math.Pi/180, p*math.Pi/180, y*math.Pi/180
			s.Q = Quaternion(s.Roll, s.Pitch, s.Yaw)
		}
		if hasWind && !(cell(colWindNorth) == "" && cell(colWindEast) == "") {
			// 150 m/s is far above any wind a drone flies in.
			if s.WindNorth, err = num(colWindNorth, -150, 150); err != nil {
				return tr, err
			}
			if s.WindEast, err = num(colWindEast, -150, 150); err != nil {
				return tr, err
			}
			s.HasWind = true
		}
		tr.Samples = append(tr.Samples, s)
	}
	if len(tr.Samples) == 0 {
		return nil, &CSVError{Line: line, Err: fmt.Errorf("no samples: %w", ErrNoPosition)}
	}
	return tr, nil
}

func csvReadError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{Line: pe.Line, Err: pe.Err}
	}
	return fmt.Errorf("flight track csv: %w", err)
}

// Times a CSV track may hold: 1970 to 2100 UTC, in µs.
const maxCSVUsec = 4_102_444_800_000_000

// parseCSVTime reads an RFC 3339 time or decimal Unix seconds (at most 9
// decimals, rounded to µs) as µs since the Unix epoch.
func parseCSVTime(s string) (int64, error) {
	var usec int64
	if strings.ContainsAny(s, "T:") {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Errorf("%q is not an RFC 3339 time: %v", s, err)
		}
		usec = t.Round(time.Microsecond).UnixMicro()
	} else {
		whole, frac, _ := strings.Cut(s, ".")
		if whole == "" || len(whole) > 11 || len(frac) > 9 || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
			return 0, fmt.Errorf("%q is neither RFC 3339 nor Unix seconds (digits, a point, at most 9 decimals)", s)
		}
		sec, _ := strconv.ParseInt(whole, 10, 64)
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		usec = sec*1_000_000 + (ns+500)/1000
	}
	if usec < 0 || usec > maxCSVUsec {
		return 0, fmt.Errorf("%q is outside 1970-2100", s)
	}
	return usec, nil
}

// WriteTrackCSV writes a Track in the flight track CSV format: time in
// RFC 3339 UTC with µs, positions with 9 decimals of a degree (0.1 mm),
// and the attitude and wind columns when any sample has them (empty cells
// for samples that do not). The track must have UTC time.
func WriteTrackCSV(w io.Writer, tr *Track) error {
	if !tr.HasUTC {
		return fmt.Errorf("flight track csv: track from %s has no UTC time", tr.Source)
	}
	var hasAtt, hasWind bool
	for _, s := range tr.Samples {
		hasAtt, hasWind = hasAtt || s.HasAttitude, hasWind || s.HasWind
	}
	cw := csv.NewWriter(w)
	header := csvColumns[:4:4]
	if hasAtt {
		header = append(header, colRoll, colPitch, colYaw)
	}
	if hasWind {
		header = append(header, colWindNorth, colWindEast)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, s := range tr.Samples {
		t := s.Time
		if t.IsZero() {
			t = time.UnixMicro(int64(s.T) + tr.UTCOffset)
		}
		rec := []string{t.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), strconv.FormatFloat(s.Lat, 'f', 9, 64),
			strconv.FormatFloat(s.Lon, 'f', 9, 64), strconv.FormatFloat(s.Alt, 'f', 3, 64)}
		if hasAtt {
			if s.HasAttitude {
				rec = append(rec, g(s.Roll*180/math.Pi), g(s.Pitch*180/math.Pi), g(s.Yaw*180/math.Pi))
			} else {
				rec = append(rec, "", "", "")
			}
		}
		if hasWind {
			if s.HasWind {
				rec = append(rec, g(s.WindNorth), g(s.WindEast))
			} else {
				rec = append(rec, "", "")
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
