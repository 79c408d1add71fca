package spectra

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ErrJCAMP is wrapped by every error ReadJCAMP returns for a file it cannot
// read or will not read (not an XY spectrum, malformed, inconsistent).
var ErrJCAMP = errors.New("jcamp-dx")

// Limits that keep a hostile or corrupt file (DUP counts multiply a few
// bytes into many points) from exhausting memory. Real JCAMP-DX infrared
// spectra hold a few 10^4 points (the NIST SF6 file, the largest here,
// 56417); these bounds leave two orders of magnitude of room.
const (
	maxJCAMPBytes  = 64 << 20  // bytes read from one input
	maxJCAMPPoints = 4_000_000 // points in one file, all blocks together
)

// Spectrum is one data block of a JCAMP-DX file: an XY spectrum from an
// ##XYDATA=(X++(Y..Y)) record, or a table from ##XYPOINTS=(XY..XY) or
// ##PEAK TABLE=(XY..XY).
type Spectrum struct {
	// Title is the block's ##TITLE, comments removed.
	Title string
	// Labels maps normalised labels (see NormLabel) to their values, with
	// $$ comments removed, surrounding space trimmed and the lines of a
	// multi-line value joined by "\n". A label repeated in a block keeps its
	// last value. Data records (XYDATA, XYPOINTS, PEAKTABLE) hold only their
	// variable list, e.g. "(X++(Y..Y))".
	Labels map[string]string
	// Table is the normalised label of the record the data came from:
	// "XYDATA", "XYPOINTS" or "PEAKTABLE".
	Table string
	// X and Y are the abscissa and ordinate in the file's units (##XUNITS,
	// ##YUNITS), already multiplied by ##XFACTOR and ##YFACTOR, in file order.
	X, Y []float64
}

// Label returns the value of a label of the block, looked up after
// normalisation (so "PATH LENGTH", "path_length" and "PathLength" are the
// same label), and "" if the block does not have it.
func (s *Spectrum) Label(name string) string {
	return s.Labels[NormLabel(name)]
}

// NormLabel normalises a JCAMP-DX label as the standard prescribes: case is
// ignored and spaces, dashes, underscores and slashes are dropped, so
// "DATA TYPE", "DATATYPE" and "data_type" are all "DATATYPE".
func NormLabel(label string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(strings.TrimSpace(label)) {
		switch r {
		case ' ', '\t', '-', '_', '/':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ldr is one labelled data record: ##LABEL=value plus continuation lines.
type ldr struct {
	label string   // normalised
	raw   string   // as written, for messages
	value string   // rest of the label line, comment removed, trimmed
	cont  []string // continuation lines, comments removed
	line  int      // 1-based line of the label
}

func (r *ldr) text() string {
	if len(r.cont) == 0 {
		return r.value
	}
	parts := make([]string, 0, 1+len(r.cont))
	if r.value != "" {
		parts = append(parts, r.value)
	}
	for _, c := range r.cont {
		if c = strings.TrimSpace(c); c != "" {
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, "\n")
}

// stripComment removes a $$ comment from a line.
func stripComment(s string) string {
	if i := strings.Index(s, "$$"); i >= 0 {
		return s[:i]
	}
	return s
}

// splitLines splits on CR LF, LF or a lone CR (classic Mac OS files), and
// drops the DOS end-of-file mark (Ctrl-Z) that old files carry.
func splitLines(data []byte) []string {
	data = bytes.ReplaceAll(data, []byte{0x1a}, nil)
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(s, "\n")
}

func parseLDRs(lines []string) []*ldr {
	var out []*ldr
	var cur *ldr
	for i, line := range lines {
		t := strings.TrimLeft(line, " \t")
		switch {
		case strings.HasPrefix(t, "##"):
			body := t[2:]
			label, value := body, ""
			if eq := strings.IndexByte(body, '='); eq >= 0 {
				label, value = body[:eq], body[eq+1:]
			}
			cur = &ldr{
				label: NormLabel(label),
				raw:   strings.TrimSpace(label),
				value: strings.TrimSpace(stripComment(value)),
				line:  i + 1,
			}
			out = append(out, cur)
		case strings.HasPrefix(t, "$$"):
			// A comment line.
		default:
			if cur != nil {
				cur.cont = append(cur.cont, stripComment(line))
			}
		}
	}
	return out
}

// block collects the records of one ##TITLE ... ##END block.
type block struct {
	title    string
	line     int
	labels   map[string]string
	data     *ldr
	ntuples  *ldr
	link     bool
	children int
}

func (b *block) set(r *ldr) {
	b.labels[r.label] = r.text()
	switch r.label {
	case "XYDATA", "XYPOINTS", "PEAKTABLE", "DATATABLE":
		if b.data == nil {
			b.data = r
		}
	case "NTUPLES":
		b.ntuples = r
	case "DATATYPE":
		if strings.EqualFold(strings.TrimSpace(r.value), "LINK") {
			b.link = true
		}
	case "BLOCKS":
		b.link = true
	}
}

// ReadJCAMP reads a JCAMP-DX (4.24 or 5.x) file and returns every XY data
// block in it: one for a simple file, one per data block for a compound
// (##BLOCKS) file. It decodes ##XYDATA=(X++(Y..Y)) in every ASDF form (AFFN,
// PAC, SQZ, DIF with its Y-check, DUP) and the ##XYPOINTS and ##PEAK TABLE
// (XY..XY) tables, applies ##XFACTOR/##YFACTOR and checks ##NPOINTS.
//
// It refuses, with an error wrapping ErrJCAMP that names the record, what is
// not an XY spectrum (##NTUPLES data such as NMR FIDs, LINK blocks without
// data blocks, blocks without a data record) and data that contradict the
// header. It never panics.
func ReadJCAMP(r io.Reader) ([]Spectrum, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxJCAMPBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrJCAMP, err)
	}
	if len(data) > maxJCAMPBytes {
		return nil, fmt.Errorf("%w: input larger than %d bytes", ErrJCAMP, maxJCAMPBytes)
	}
	ldrs := parseLDRs(splitLines(data))
	if len(ldrs) == 0 {
		return nil, fmt.Errorf("%w: no labelled data records (##LABEL=value)", ErrJCAMP)
	}

	var (
		out   []Spectrum
		stack []*block
		cur   *block
		total int
	)
	newBlock := func(r *ldr) *block {
		return &block{title: r.value, line: r.line, labels: map[string]string{}}
	}
	emit := func(b *block) error {
		if b.link {
			if b.children == 0 {
				return fmt.Errorf("%w: block %q (line %d): ##DATA TYPE=LINK or ##BLOCKS with no data blocks", ErrJCAMP, b.title, b.line)
			}
			return nil
		}
		s, err := decodeBlock(b)
		if err != nil {
			return err
		}
		if total += len(s.X); total > maxJCAMPPoints {
			return fmt.Errorf("%w: more than %d points in the file", ErrJCAMP, maxJCAMPPoints)
		}
		out = append(out, s)
		if len(stack) > 0 {
			stack[len(stack)-1].children++
		}
		return nil
	}
	for _, r := range ldrs {
		switch r.label {
		case "TITLE":
			switch {
			case cur == nil:
			case cur.link:
				stack = append(stack, cur)
			default:
				// A new block without ##END closing the last one.
				if err := emit(cur); err != nil {
					return nil, err
				}
			}
			cur = newBlock(r)
			cur.set(r)
		case "END":
			if cur == nil {
				continue // a stray ##END after the last block
			}
			if err := emit(cur); err != nil {
				return nil, err
			}
			cur = nil
			if n := len(stack); n > 0 {
				cur, stack = stack[n-1], stack[:n-1]
			}
		default:
			if cur == nil {
				cur = &block{line: r.line, labels: map[string]string{}}
			}
			cur.set(r)
		}
	}
	// Blocks left open by a missing ##END.
	for cur != nil {
		if err := emit(cur); err != nil {
			return nil, err
		}
		cur = nil
		if n := len(stack); n > 0 {
			cur, stack = stack[n-1], stack[:n-1]
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no data block", ErrJCAMP)
	}
	return out, nil
}

func (b *block) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: block %q (line %d): %s", ErrJCAMP, b.title, b.line, fmt.Sprintf(format, args...))
}

// number parses the numeric value of a label; ok is false if the label is
// absent.
func (b *block) number(label string) (v float64, ok bool, err error) {
	s, ok := b.labels[label]
	if !ok || s == "" {
		return 0, false, nil
	}
	f := strings.Fields(s)
	v, perr := strconv.ParseFloat(f[0], 64)
	if perr != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, true, b.errorf("##%s=%q is not a number", label, s)
	}
	return v, true, nil
}

func decodeBlock(b *block) (Spectrum, error) {
	if b.ntuples != nil {
		return Spectrum{}, b.errorf("##NTUPLES=%s (line %d): n-tuple data (e.g. NMR FIDs, complex spectra) are not an XY spectrum", b.ntuples.value, b.ntuples.line)
	}
	if b.data == nil {
		return Spectrum{}, b.errorf("no ##XYDATA, ##XYPOINTS or ##PEAK TABLE record")
	}
	d := b.data
	if d.label == "DATATABLE" {
		return Spectrum{}, b.errorf("##%s=%s (line %d) outside ##NTUPLES is not supported", d.raw, d.value, d.line)
	}
	xf, ok, err := b.number("XFACTOR")
	if err != nil {
		return Spectrum{}, err
	}
	if !ok {
		xf = 1
	}
	yf, ok, err := b.number("YFACTOR")
	if err != nil {
		return Spectrum{}, err
	}
	if !ok {
		yf = 1
	}
	npoints := -1
	if s, ok := b.labels["NPOINTS"]; ok && s != "" {
		n, err := strconv.Atoi(strings.Fields(s)[0])
		if err != nil || n < 1 || n > maxJCAMPPoints {
			return Spectrum{}, b.errorf("##NPOINTS=%q is not a point count in [1, %d]", s, maxJCAMPPoints)
		}
		npoints = n
	}
	form := strings.ToUpper(strings.Join(strings.Fields(d.value), ""))
	s := Spectrum{Title: b.title, Labels: b.labels, Table: d.label}
	switch d.label {
	case "XYDATA":
		if form != "(X++(Y..Y))" {
			return Spectrum{}, b.errorf("##%s=%s (line %d): only (X++(Y..Y)) is supported", d.raw, d.value, d.line)
		}
		s.X, s.Y, err = decodeXYData(b, d, xf, yf, npoints)
	default: // XYPOINTS, PEAKTABLE
		if form != "(XY..XY)" {
			return Spectrum{}, b.errorf("##%s=%s (line %d): only (XY..XY) tables are supported", d.raw, d.value, d.line)
		}
		s.X, s.Y, err = decodeXYTable(b, d, xf, yf, npoints)
	}
	if err != nil {
		return Spectrum{}, err
	}
	return s, nil
}

// decodeXYTable decodes (XY..XY) pairs, AFFN, separated by commas,
// semicolons or white space.
func decodeXYTable(b *block, d *ldr, xf, yf float64, npoints int) (x, y []float64, err error) {
	var vals []float64
	for i, line := range d.cont {
		toks, err := lexASDF(line)
		if err != nil {
			return nil, nil, b.errorf("##%s line %d: %v", d.raw, d.line+1+i, err)
		}
		for _, t := range toks {
			if t.kind != tokAbs {
				return nil, nil, b.errorf("##%s line %d: compressed (DIF/DUP) value in an (XY..XY) table", d.raw, d.line+1+i)
			}
			if len(vals) >= 2*maxJCAMPPoints {
				return nil, nil, b.errorf("##%s: more than %d points", d.raw, maxJCAMPPoints)
			}
			vals = append(vals, t.val)
		}
	}
	if len(vals)%2 != 0 {
		return nil, nil, b.errorf("##%s holds %d numbers, not (X,Y) pairs", d.raw, len(vals))
	}
	n := len(vals) / 2
	if n == 0 {
		return nil, nil, b.errorf("##%s holds no points", d.raw)
	}
	if npoints >= 0 && n != npoints {
		return nil, nil, b.errorf("##NPOINTS=%d but ##%s holds %d points", npoints, d.raw, n)
	}
	x = make([]float64, n)
	y = make([]float64, n)
	for i := range n {
		x[i] = vals[2*i] * xf
		y[i] = vals[2*i+1] * yf
	}
	return x, y, nil
}

// lineX records the abscissa written at the start of a data line, for the
// X-check once the spacing is known.
type lineX struct {
	x    float64 // as written, times XFACTOR
	idx  int     // index of the point it labels
	line int
}

// decodeXYData decodes an (X++(Y..Y)) record.
func decodeXYData(b *block, d *ldr, xf, yf float64, npoints int) (x, y []float64, err error) {
	limit := maxJCAMPPoints
	if npoints > 0 {
		// One line of slack for a trailing Y-check value.
		limit = npoints + 1
	}
	var (
		ys       []float64
		xs       []lineX
		prevDif  bool // the previous line ended in DIF form
		dataLine int
	)
	for i, line := range d.cont {
		lineNo := d.line + 1 + i
		toks, err := lexASDF(line)
		if err != nil {
			return nil, nil, b.errorf("##%s line %d: %v", d.raw, lineNo, err)
		}
		if len(toks) == 0 {
			continue
		}
		dataLine++
		if toks[0].kind != tokAbs {
			return nil, nil, b.errorf("##%s line %d: line does not start with an abscissa value", d.raw, lineNo)
		}
		start := len(ys)
		checkPending := prevDif
		checked := false
		var (
			last      = tokAbs // kind of the last value token on this line
			lastVal   float64  // last absolute value
			lastDelta float64  // last difference
			haveLast  bool
		)
		for _, t := range toks[1:] {
			switch t.kind {
			case tokAbs:
				if checkPending {
					checkPending = false
					if len(ys) == 0 {
						break
					}
					if prev := ys[len(ys)-1]; !sameValue(prev, t.val) {
						return nil, nil, b.errorf("##%s line %d: DIF Y-check failed: line starts with %g, previous line ended with %g", d.raw, lineNo, t.val, prev)
					}
					checked = true
					last, lastVal, haveLast = tokAbs, t.val, true
					continue
				}
				ys = append(ys, t.val)
				last, lastVal, haveLast = tokAbs, t.val, true
			case tokDif:
				checkPending = false
				if len(ys) == 0 {
					return nil, nil, b.errorf("##%s line %d: DIF value with no preceding Y value", d.raw, lineNo)
				}
				ys = append(ys, ys[len(ys)-1]+t.val)
				last, lastDelta, haveLast = tokDif, t.val, true
			case tokDup:
				if !haveLast {
					return nil, nil, b.errorf("##%s line %d: DUP count with no preceding value on the line", d.raw, lineNo)
				}
				if t.count < 1 || len(ys)+t.count-1 > limit {
					return nil, nil, b.errorf("##%s line %d: DUP count %d out of range", d.raw, lineNo, t.count)
				}
				for k := 1; k < t.count; k++ {
					if last == tokDif {
						ys = append(ys, ys[len(ys)-1]+lastDelta)
					} else {
						ys = append(ys, lastVal)
					}
				}
			}
			if len(ys) > limit {
				if npoints > 0 {
					return nil, nil, b.errorf("##NPOINTS=%d but ##%s holds more values (line %d)", npoints, d.raw, lineNo)
				}
				return nil, nil, b.errorf("##%s: more than %d points", d.raw, maxJCAMPPoints)
			}
		}
		prevDif = haveLast && last == tokDif
		idx := start
		if checked {
			idx = start - 1
		}
		xs = append(xs, lineX{x: toks[0].val * xf, idx: idx, line: lineNo})
	}
	n := len(ys)
	if n == 0 {
		return nil, nil, b.errorf("##%s holds no values", d.raw)
	}
	if npoints > 0 && n != npoints {
		return nil, nil, b.errorf("##NPOINTS=%d but ##%s holds %d values", npoints, d.raw, n)
	}

	// The abscissa: X_i = FIRSTX + i·(LASTX − FIRSTX)/(NPOINTS − 1). ##DELTAX
	// is only a fallback: writers round it, and some get it wrong (the test
	// suite's fixdec2.jdx gives it in ppm while X is in Hz).
	firstx, hasFirst, err := b.number("FIRSTX")
	if err != nil {
		return nil, nil, err
	}
	lastx, hasLast, err := b.number("LASTX")
	if err != nil {
		return nil, nil, err
	}
	deltax, hasDelta, err := b.number("DELTAX")
	if err != nil {
		return nil, nil, err
	}
	if !hasFirst {
		firstx = xs[0].x
	}
	var dx float64
	switch {
	case n == 1:
	case hasLast:
		dx = (lastx - firstx) / float64(n-1)
	case hasDelta:
		dx = deltax
	default:
		l := xs[len(xs)-1]
		if l.idx <= xs[0].idx {
			return nil, nil, b.errorf("no ##LASTX or ##DELTAX and too few data lines to infer the abscissa spacing")
		}
		dx = (l.x - xs[0].x) / float64(l.idx-xs[0].idx)
	}
	// X-check: the abscissa that starts each line must label the point it
	// precedes. Writers round it (e.g. to 0.1 Hz or to a whole multiple of
	// XFACTOR), so allow the rounding plus one point of slack; a misaligned
	// or spliced line is off by many points.
	tol := 1.5*math.Abs(dx) + 1e-6*math.Max(math.Abs(firstx), math.Abs(lastx))
	for _, l := range xs {
		want := firstx + float64(l.idx)*dx
		if math.Abs(l.x-want) > tol {
			return nil, nil, b.errorf("##%s line %d: X-check failed: line abscissa %g, expected %g for point %d", d.raw, l.line, l.x, want, l.idx)
		}
	}
	x = make([]float64, n)
	y = make([]float64, n)
	for i := range n {
		x[i] = firstx + float64(i)*dx
		y[i] = ys[i] * yf
	}
	if hasLast && n > 1 {
		x[n-1] = lastx
	}
	return x, y, nil
}

// sameValue reports whether a Y-check value matches: exactly for integers
// (ASDF values are integers in practice, and float64 holds them exactly up
// to 2^53), to 1e-9 relative otherwise.
func sameValue(a, b float64) bool {
	if a == math.Trunc(a) && b == math.Trunc(b) {
		return a == b
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))+1e-12
}

type tokKind uint8

const (
	tokAbs tokKind = iota // AFFN or SQZ: an absolute value
	tokDif                // DIF: a difference from the previous value
	tokDup                // DUP: a repeat count for the previous token
)

type token struct {
	kind  tokKind
	val   float64
	count int
}

// maxDup bounds a DUP count's digits; larger counts are caught by the point
// limit anyway.
const maxDupDigits = 9

// lexASDF splits one data line into tokens. AFFN numbers are separated by
// white space, commas, semicolons, or by their own sign (PAC: "1+2-3" is 1,
// 2, −3). SQZ pseudo-digits @A-I a-i start an absolute value, DIF
// pseudo-digits %J-R j-r a difference, DUP pseudo-digits S-Z s a repeat
// count. An E or e after an AFFN mantissa and before a signed digit is an
// exponent (1.5E-3); elsewhere E and e are SQZ +5 and −5.
func lexASDF(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == ',' || c == ';' || c == 0:
			i++
		case isDigit(c) || c == '.' || c == '+' || c == '-':
			j := i
			if c == '+' || c == '-' {
				j++
			}
			digits, dot := 0, false
			for j < len(s) && (isDigit(s[j]) || (s[j] == '.' && !dot)) {
				if s[j] == '.' {
					dot = true
				} else {
					digits++
				}
				j++
			}
			if digits == 0 {
				return nil, fmt.Errorf("column %d: %q is not a number", i+1, s[i:j])
			}
			if j+2 < len(s) && (s[j] == 'E' || s[j] == 'e') && (s[j+1] == '+' || s[j+1] == '-') && isDigit(s[j+2]) {
				j += 2
				for j < len(s) && isDigit(s[j]) {
					j++
				}
			}
			v, err := parseFinite(s[i:j])
			if err != nil {
				return nil, fmt.Errorf("column %d: %w", i+1, err)
			}
			toks = append(toks, token{kind: tokAbs, val: v})
			i = j
		default:
			kind, digit, ok := pseudoDigit(c)
			if !ok {
				return nil, fmt.Errorf("column %d: unexpected character %q", i+1, c)
			}
			j := i + 1
			if kind == tokDup {
				for j < len(s) && isDigit(s[j]) {
					j++
				}
				if j-i > maxDupDigits {
					return nil, fmt.Errorf("column %d: DUP count %q too large", i+1, s[i:j])
				}
				n, _ := strconv.Atoi(strconv.Itoa(digit) + s[i+1:j])
				toks = append(toks, token{kind: tokDup, count: n})
				i = j
				continue
			}
			dot := false
			for j < len(s) && (isDigit(s[j]) || (s[j] == '.' && !dot)) {
				if s[j] == '.' {
					dot = true
				}
				j++
			}
			num := strconv.Itoa(digit) + s[i+1:j]
			if digit < 0 {
				num = "-" + strconv.Itoa(-digit) + s[i+1:j]
			}
			v, err := parseFinite(num)
			if err != nil {
				return nil, fmt.Errorf("column %d: %w", i+1, err)
			}
			toks = append(toks, token{kind: kind, val: v})
			i = j
		}
	}
	return toks, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func parseFinite(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return v, nil
}

// pseudoDigit decodes an ASDF pseudo-digit character.
func pseudoDigit(c byte) (kind tokKind, digit int, ok bool) {
	switch {
	case c == '@':
		return tokAbs, 0, true
	case c >= 'A' && c <= 'I':
		return tokAbs, int(c-'A') + 1, true
	case c >= 'a' && c <= 'i':
		return tokAbs, -(int(c-'a') + 1), true
	case c == '%':
		return tokDif, 0, true
	case c >= 'J' && c <= 'R':
		return tokDif, int(c-'J') + 1, true
	case c >= 'j' && c <= 'r':
		return tokDif, -(int(c-'j') + 1), true
	case c >= 'S' && c <= 'Z':
		return tokDup, int(c-'S') + 1, true
	case c == 's':
		return tokDup, 9, true
	}
	return 0, 0, false
}
