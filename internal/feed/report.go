package feed

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/atalaya-project/atalaya/internal/boundaries"
)

// Evidence is a site's evidence as the HTTP API's GET /sites/{id}/evidence
// gives it (the fields the report uses), so the server's answer decodes
// into it.
type Evidence struct {
	Passes   []EvidencePass `json:"passes"`
	Spectrum *Spectrum      `json:"spectrum,omitempty"`
	Trace    *Trace         `json:"trace,omitempty"`
}

// EvidencePass is one survey pass over the site: seen (a detection) or
// surveyed and not seen, with the minimum detectable emission rate then.
type EvidencePass struct {
	GranuleID string    `json:"granule_id"`
	Time      time.Time `json:"time"`
	Seen      bool      `json:"seen"`
	MDLKgH    float64   `json:"mdl_kgh"`
	// PlumePNG is the plume image of a seen pass (not in the API's JSON:
	// the API serves it at plume_png).
	PlumePNG []byte `json:"-"`
}

// Spectrum is the measured spectrum at the site against the library
// signature of a gas.
type Spectrum struct {
	WavelengthUM []float64 `json:"wavelength_um"`
	Measured     []float64 `json:"measured"`
	Library      []float64 `json:"library"`
	Gas          string    `json:"gas"`
}

// Trace is a point-sensor trace near the site: time (s), concentration
// (ppm) and the plume model's fit.
type Trace struct {
	T   []float64 `json:"t"`
	PPM []float64 `json:"ppm"`
	Fit []float64 `json:"fit"`
}

// GranuleRef is a source granule of the report and its content hash.
type GranuleRef struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	SHA256 string `json:"sha256"`
}

// AuditRef is an audit-log entry by sequence number and hash.
type AuditRef struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
}

// Report is everything a site evidence report shows.
type Report struct {
	Site   Site
	Lang   string // es, en or pt (others: en)
	Agency string // the requesting agency (name or id)
	User   string // who asked for it
	// Place is where the site is: country, state and municipality, each
	// with the boundary data set it came from.
	Place    boundaries.Place
	Evidence Evidence
	// Decisions with who and when, oldest first.
	Decisions []Decision
	// Granules are the source granules (every pass's).
	Granules []GranuleRef
	// Release is the audit entry that released the site to the agency
	// (nil if the agency owns it).
	Release   *AuditRef
	Generated time.Time

	releaseDetails string // the release entry's details, while building
}

// ReportManifest is what a report asserts, in machine-readable form: it is
// embedded in the PDF's metadata (Keywords, "atalaya-report-v1 " and the
// JSON in base64) for `atalaya audit verify --report` to check against the
// store and the audit chain.
type ReportManifest struct {
	V           int          `json:"v"`
	Site        string       `json:"site"`
	SiteVersion int64        `json:"site_version"`
	Lang        string       `json:"lang"`
	Agency      string       `json:"agency"`
	Generated   time.Time    `json:"generated"`
	Granules    []GranuleRef `json:"granules"`
	Release     *AuditRef    `json:"release,omitempty"`
}

const manifestTag = "atalaya-report-v1"

// ErrNoManifest: the file is not an Atalaya report (or its metadata was
// removed).
var ErrNoManifest = errors.New("feed: no Atalaya report manifest in the file")

var manifestRE = regexp.MustCompile(`/Keywords \(` + manifestTag + ` ([A-Za-z0-9+/=]+)\)`)

// ReadReportManifest extracts the manifest from a report PDF.
func ReadReportManifest(pdf []byte) (ReportManifest, error) {
	m := manifestRE.FindSubmatch(pdf)
	if m == nil {
		return ReportManifest{}, ErrNoManifest
	}
	raw, err := base64.StdEncoding.DecodeString(string(m[1]))
	if err != nil {
		return ReportManifest{}, fmt.Errorf("%w: %w", ErrNoManifest, err)
	}
	var man ReportManifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return ReportManifest{}, fmt.Errorf("%w: %w", ErrNoManifest, err)
	}
	if man.V != 1 || man.Site == "" {
		return ReportManifest{}, fmt.Errorf("%w: version %d, site %q", ErrNoManifest, man.V, man.Site)
	}
	return man, nil
}

// ReportSHA256 is the hex SHA-256 of a report file: what the audit entry
// recording its generation holds (action ReportAuditAction).
func ReportSHA256(pdf []byte) string {
	s := sha256.Sum256(pdf)
	return hex.EncodeToString(s[:])
}

// ReportAuditAction is the audit action recording a generated report; its
// details are {"sha256": ReportSHA256(file), "manifest": ReportManifest}.
const ReportAuditAction = "report.generate"

// Manifest is the report's manifest.
func (r *Report) Manifest() ReportManifest {
	return ReportManifest{V: 1, Site: r.Site.ID, SiteVersion: r.Site.Version, Lang: r.lang(), Agency: r.Agency,
		Generated: r.Generated.UTC(), Granules: r.Granules, Release: r.Release}
}

func (r *Report) lang() string {
	switch r.Lang {
	case "es", "pt":
		return r.Lang
	}
	return "en"
}

// WriteReport writes the report as a PDF. The same report writes the same
// bytes (fixed creation date, sorted catalog), so its SHA-256 identifies it.
func WriteReport(w io.Writer, r Report) error {
	if r.Site.ID == "" {
		return errors.New("write report: no site")
	}
	if r.Generated.IsZero() {
		r.Generated = time.Now()
	}
	lang := r.lang()
	t := func(key string) string {
		if m, ok := reportText[key]; ok {
			return m[lang]
		}
		return key
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(r.Generated.UTC())
	pdf.SetModificationDate(r.Generated.UTC())
	pdf.SetCatalogSort(true)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252: Spanish and Portuguese letters
	man, err := json.Marshal(r.Manifest())
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	pdf.SetTitle(tr(t("title")+" "+r.Site.ID), false)
	pdf.SetAuthor("Atalaya", false)
	pdf.SetCreator("Atalaya", false)
	pdf.SetProducer("Atalaya (go-pdf/fpdf)", false)
	pdf.SetSubject(tr(t("subject")), false)
	pdf.SetKeywords(manifestTag+" "+base64.StdEncoding.EncodeToString(man), false)
	pdf.SetMargins(15, 15, 15)
	pdf.SetAutoPageBreak(true, 18)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-13)
		pdf.SetFont("Helvetica", "I", 7)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 4, tr(fmt.Sprintf("%s %s · %s · %s %d/{nb}", t("site"), r.Site.ID, t("disclaimer"), t("page"), pdf.PageNo())),
			"", 0, "C", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()

	// Title block.
	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 8, tr(t("title")), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	pdf.CellFormat(0, 5, tr(fmt.Sprintf("%s %s · %s %d", t("site"), r.Site.ID, t("version"), r.Site.Version)), "", 1, "L", false, 0, "")
	pdf.CellFormat(0, 5, tr(fmt.Sprintf("%s %s · %s %s", t("generated"), fmtTime(r.Generated), t("for"), strings.TrimSpace(r.Agency+" "+paren(r.User)))), "", 1, "L", false, 0, "")
	pdf.Ln(2)

	section := func(title string) {
		if pdf.GetY() > 250 {
			pdf.AddPage()
		}
		pdf.Ln(2)
		pdf.SetFont("Helvetica", "B", 11)
		pdf.SetFillColor(230, 236, 242)
		pdf.CellFormat(0, 7, tr(title), "", 1, "L", true, 0, "")
		pdf.SetFont("Helvetica", "", 9)
		pdf.Ln(1)
	}
	row := func(k, v string) {
		pdf.SetFont("Helvetica", "B", 9)
		pdf.CellFormat(50, 5, tr(k), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 9)
		pdf.MultiCell(0, 5, tr(v), "", "L", false)
	}

	s := r.Site
	section(t("location"))
	row(t("coordinates"), fmt.Sprintf("%.6f, %.6f (WGS 84) · %s · ± %.0f m (1 sigma)", s.Lat, s.Lon, dms(s.Lat, s.Lon), s.UncertaintyM))
	pl := r.Place
	src := func(name, source string) string {
		return joinNonEmpty(" · ", name, joinNonEmpty(": ", t("source"), source))
	}
	switch {
	case pl.Municipality != "":
		row(t("municipality"), src(joinNonEmpty(" ", pl.Municipality, paren(pl.MunicipalityCode)), pl.MunicipalitySource))
	case len(pl.MunicipalSources) == 0:
		row(t("municipality"), t("no_municipality"))
	default:
		row(t("municipality"), t("outside_munis")+" ("+strings.Join(pl.MunicipalSources, "; ")+")")
	}
	state := t("not_determined")
	if pl.State != "" {
		state = src(joinNonEmpty(" ", pl.State, paren(pl.StateCode)), pl.StateSource)
	}
	if pl.StateFallback {
		state += " (" + t("state_fallback") + ")"
	}
	row(t("state"), state)
	if pl.Country != "" {
		row(t("country"), src(joinNonEmpty(" ", pl.Country, paren(pl.CountryCode)), pl.CountrySource))
	} else {
		row(t("country"), t("no_country"))
	}

	section(t("summary"))
	row(t("status"), t("status_"+s.Status))
	row(t("probability"), fmt.Sprintf("%.2f", s.Probability))
	row(t("type_guess"), orDash(s.TypeGuess))
	row(t("evidence"), fmt.Sprintf("%.2f", s.Evidence))
	row(t("passes"), fmt.Sprintf("%d %s %d", s.PassesSeen, t("of"), s.PassesSurveyed))
	row(t("seen"), fmt.Sprintf("%s - %s", fmtTime(s.FirstSeen), fmtTime(s.LastSeen)))
	row(t("owner"), orDash(s.Owner))
	row(t("released_to"), orDash(strings.Join(s.ReleasedTo, ", ")))
	if len(s.Gases) > 0 {
		pdf.Ln(1)
		table(pdf, tr, []string{t("gas"), t("z"), t("peak_ppmm"), t("rate_kgh")}, []float64{45, 35, 45, 45}, func(add func(...string)) {
			for _, g := range s.Gases {
				// 0 is "not measured": a source grid's evidence has a
				// rate and no column, a point sensor's neither.
				rate, peak := "-", "-"
				if g.RateKgH > 0 {
					rate = fmt.Sprintf("%.3g", g.RateKgH)
				}
				if g.PeakPPMM > 0 {
					peak = fmt.Sprintf("%.0f", g.PeakPPMM)
				}
				add(g.Gas, fmt.Sprintf("%.2f", g.Evidence), peak, rate)
			}
		})
	}

	section(t("passes_title"))
	passes := slices.Clone(r.Evidence.Passes)
	slices.SortStableFunc(passes, func(a, b EvidencePass) int { return a.Time.Compare(b.Time) })
	if len(passes) == 0 {
		pdf.MultiCell(0, 5, tr(t("none")), "", "L", false)
	} else {
		table(pdf, tr, []string{t("time"), t("granule"), t("seen_q"), t("mdl")}, []float64{42, 78, 25, 35}, func(add func(...string)) {
			for _, p := range passes {
				seen, mdl := t("yes"), "-"
				if !p.Seen {
					seen = t("no")
					if p.MDLKgH > 0 {
						mdl = fmt.Sprintf("%.3g", p.MDLKgH)
					}
				}
				add(fmtTime(p.Time), p.GranuleID, seen, mdl)
			}
		})
		// Plume images of the passes that saw the site, two per row.
		const wImg = 70.0
		n := 0
		rowTop, rowBottom := 0.0, 0.0
		for i, p := range passes {
			if len(p.PlumePNG) == 0 {
				continue
			}
			name := fmt.Sprintf("plume-%d", i)
			info := pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(p.PlumePNG))
			if pdf.Err() {
				return fmt.Errorf("write report: plume image of pass %s: %w", p.GranuleID, pdf.Error())
			}
			hImg := wImg * info.Height() / math.Max(info.Width(), 1)
			if n%2 == 0 {
				rowTop = pdf.GetY() + 2
				if n > 0 {
					rowTop = rowBottom + 2
				}
				if rowTop+hImg+6 > 279 {
					pdf.AddPage()
					rowTop = pdf.GetY()
				}
				rowBottom = rowTop
			}
			x := 15 + float64(n%2)*(wImg+10)
			pdf.ImageOptions(name, x, rowTop, wImg, hImg, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
			pdf.SetXY(x, rowTop+hImg+0.5)
			pdf.SetFont("Helvetica", "I", 7)
			pdf.CellFormat(wImg+8, 4, tr(fmt.Sprintf("%s %s · %s", t("plume"), p.GranuleID, fmtTime(p.Time))), "", 0, "L", false, 0, "")
			pdf.SetFont("Helvetica", "", 9)
			rowBottom = math.Max(rowBottom, rowTop+hImg+5)
			n++
		}
		if n > 0 {
			pdf.SetXY(15, rowBottom+1)
		}
	}

	if sp := r.Evidence.Spectrum; sp != nil && len(sp.WavelengthUM) > 1 {
		section(fmt.Sprintf("%s (%s)", t("spectrum"), sp.Gas))
		plot(pdf, tr, t("wavelength"), t("signal"), []series{
			{sp.WavelengthUM, sp.Measured, [3]int{200, 30, 30}, t("measured")},
			{sp.WavelengthUM, sp.Library, [3]int{30, 60, 200}, t("library")},
		})
	}
	if tc := r.Evidence.Trace; tc != nil && len(tc.T) > 1 {
		section(t("trace"))
		plot(pdf, tr, t("time_s"), "ppm", []series{
			{tc.T, tc.PPM, [3]int{30, 130, 30}, t("measured")},
			{tc.T, tc.Fit, [3]int{120, 120, 120}, t("fit")},
		})
	}

	section(t("decisions"))
	if len(r.Decisions) == 0 {
		pdf.MultiCell(0, 5, tr(t("none")), "", "L", false)
	} else {
		table(pdf, tr, []string{t("time"), t("who"), t("action"), t("reason")}, []float64{38, 37, 25, 80}, func(add func(...string)) {
			for _, d := range r.Decisions {
				add(fmtTime(d.At), d.Actor, d.Action, d.Reason)
			}
		})
	}

	section(t("integrity"))
	pdf.MultiCell(0, 4.5, tr(t("integrity_text")), "", "L", false)
	pdf.Ln(1)
	pdf.SetFont("Courier", "", 7)
	for _, g := range r.Granules {
		pdf.MultiCell(0, 3.8, tr(fmt.Sprintf("%s  %s  %s", g.SHA256, g.ID, g.Name)), "", "L", false)
	}
	if r.Release != nil {
		pdf.Ln(1)
		pdf.SetFont("Helvetica", "B", 8)
		pdf.CellFormat(0, 4.5, tr(fmt.Sprintf("%s #%d (%s)", t("release_entry"), r.Release.Seq, fmtTime(r.Release.At))), "", 1, "L", false, 0, "")
		pdf.SetFont("Courier", "", 7)
		pdf.CellFormat(0, 3.8, r.Release.Hash, "", 1, "L", false, 0, "")
	}
	pdf.SetFont("Helvetica", "", 8)
	pdf.Ln(1)
	pdf.MultiCell(0, 4.5, tr(t("verify_text")), "", "L", false)

	if pdf.Err() {
		return fmt.Errorf("write report: %w", pdf.Error())
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// table draws a table with a header row; add appends one row (cells are
// cut to their column).
func table(pdf *fpdf.Fpdf, tr func(string) string, head []string, widths []float64, rows func(add func(...string))) {
	pdf.SetFont("Helvetica", "B", 8)
	pdf.SetFillColor(245, 245, 245)
	for i, h := range head {
		pdf.CellFormat(widths[i], 5, tr(h), "B", 0, "L", true, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 8)
	rows(func(cells ...string) {
		if pdf.GetY() > 272 {
			pdf.AddPage()
		}
		for i, c := range cells {
			c = tr(c)
			for pdf.GetStringWidth(c) > widths[i]-1 && len(c) > 1 {
				c = c[:len(c)-1]
			}
			pdf.CellFormat(widths[i], 4.5, c, "", 0, "L", false, 0, "")
		}
		pdf.Ln(-1)
	})
}

type series struct {
	x, y  []float64
	rgb   [3]int
	label string
}

// plot draws line series in a 180 × 60 mm frame with axes, ticks and a
// legend.
func plot(pdf *fpdf.Fpdf, tr func(string) string, xlabel, ylabel string, ss []series) {
	const w, h = 160.0, 55.0
	if pdf.GetY()+h+14 > 279 {
		pdf.AddPage()
	}
	x0, y0 := 30.0, pdf.GetY()+2
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for i := range min(len(s.x), len(s.y)) {
			if isFinite(s.x[i]) && isFinite(s.y[i]) {
				xmin, xmax = math.Min(xmin, s.x[i]), math.Max(xmax, s.x[i])
				ymin, ymax = math.Min(ymin, s.y[i]), math.Max(ymax, s.y[i])
			}
		}
	}
	if !(xmax > xmin) {
		xmax = xmin + 1
	}
	if !(ymax > ymin) {
		ymax = ymin + 1
	}
	pad := (ymax - ymin) * 0.05
	ymin, ymax = ymin-pad, ymax+pad
	px := func(x float64) float64 { return x0 + (x-xmin)/(xmax-xmin)*w }
	py := func(y float64) float64 { return y0 + h - (y-ymin)/(ymax-ymin)*h }
	pdf.SetDrawColor(0, 0, 0)
	pdf.SetLineWidth(0.2)
	pdf.Rect(x0, y0, w, h, "D")
	pdf.SetFont("Helvetica", "", 7)
	for i := 0; i <= 4; i++ {
		xv := xmin + float64(i)/4*(xmax-xmin)
		yv := ymin + float64(i)/4*(ymax-ymin)
		pdf.Line(px(xv), y0+h, px(xv), y0+h+1)
		pdf.Text(px(xv)-5, y0+h+4, strconv.FormatFloat(xv, 'g', 4, 64))
		pdf.Line(x0-1, py(yv), x0, py(yv))
		pdf.Text(x0-13, py(yv)+1, strconv.FormatFloat(yv, 'g', 3, 64))
	}
	pdf.Text(x0+w/2-10, y0+h+8, tr(xlabel))
	pdf.TransformBegin()
	pdf.TransformRotate(90, x0-15, y0+h/2+10)
	pdf.Text(x0-15, y0+h/2+10, tr(ylabel))
	pdf.TransformEnd()
	pdf.SetLineWidth(0.35)
	for k, s := range ss {
		pdf.SetDrawColor(s.rgb[0], s.rgb[1], s.rgb[2])
		first := true
		var lx, ly float64
		for i := range min(len(s.x), len(s.y)) {
			if !isFinite(s.x[i]) || !isFinite(s.y[i]) {
				first = true
				continue
			}
			cx, cy := px(s.x[i]), py(s.y[i])
			if !first {
				pdf.Line(lx, ly, cx, cy)
			}
			lx, ly, first = cx, cy, false
		}
		// Legend.
		ly0 := y0 + 3 + float64(k)*4
		pdf.Line(x0+w-40, ly0, x0+w-34, ly0)
		pdf.SetTextColor(s.rgb[0], s.rgb[1], s.rgb[2])
		pdf.Text(x0+w-32, ly0+1, tr(s.label))
		pdf.SetTextColor(0, 0, 0)
	}
	pdf.SetDrawColor(0, 0, 0)
	pdf.SetLineWidth(0.2)
	pdf.SetY(y0 + h + 10)
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// dms is a position in degrees, minutes and seconds.
func dms(lat, lon float64) string {
	f := func(v float64, pos, neg string) string {
		h := pos
		if v < 0 {
			h, v = neg, -v
		}
		d := math.Floor(v)
		m := math.Floor((v - d) * 60)
		s := ((v-d)*60 - m) * 60
		return fmt.Sprintf("%.0f°%02.0f'%04.1f\"%s", d, m, s, h)
	}
	return f(lat, "N", "S") + " " + f(lon, "E", "W")
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// reportText holds the report's words in Spanish, English and Portuguese.
var reportText = map[string]map[string]string{
	"title":            {"es": "Informe de evidencia del sitio", "en": "Site evidence report", "pt": "Relatório de evidências do local"},
	"subject":          {"es": "Evidencia de un posible laboratorio clandestino", "en": "Evidence of a possible clandestine laboratory", "pt": "Evidências de um possível laboratório clandestino"},
	"site":             {"es": "Sitio", "en": "Site", "pt": "Local"},
	"version":          {"es": "versión", "en": "version", "pt": "versão"},
	"generated":        {"es": "Generado el", "en": "Generated", "pt": "Gerado em"},
	"for":              {"es": "para", "en": "for", "pt": "para"},
	"page":             {"es": "página", "en": "page", "pt": "página"},
	"disclaimer":       {"es": "Indicio para revisión y seguimiento legal; no es prueba por sí solo", "en": "A lead for review and lawful follow-up; not evidence on its own", "pt": "Indício para revisão e acompanhamento legal; não é prova por si só"},
	"location":         {"es": "1. Ubicación", "en": "1. Location", "pt": "1. Localização"},
	"coordinates":      {"es": "Coordenadas", "en": "Coordinates", "pt": "Coordenadas"},
	"country":          {"es": "País", "en": "Country", "pt": "País"},
	"state":            {"es": "Departamento / estado", "en": "State / department", "pt": "Estado / departamento"},
	"municipality":     {"es": "Municipio", "en": "Municipality", "pt": "Município"},
	"no_municipality":  {"es": "no determinado (sin límites municipales cargados)", "en": "not determined (no municipal boundaries loaded)", "pt": "não determinado (sem limites municipais carregados)"},
	"outside_munis":    {"es": "no determinado: fuera de los límites municipales cargados", "en": "not determined: outside the municipal boundaries loaded", "pt": "não determinado: fora dos limites municipais carregados"},
	"not_determined":   {"es": "no determinado", "en": "not determined", "pt": "não determinado"},
	"state_fallback":   {"es": "ningún límite del operador da el departamento o estado aquí", "en": "no operator boundary gives the state here", "pt": "nenhum limite do operador dá o estado aqui"},
	"no_country":       {"es": "ninguno (en el mar o fuera de todo país)", "en": "none (at sea or outside every country)", "pt": "nenhum (no mar ou fora de qualquer país)"},
	"source":           {"es": "fuente", "en": "source", "pt": "fonte"},
	"summary":          {"es": "2. Resumen", "en": "2. Summary", "pt": "2. Resumo"},
	"status":           {"es": "Estado", "en": "Status", "pt": "Situação"},
	"status_candidate": {"es": "candidato", "en": "candidate", "pt": "candidato"},
	"status_confirmed": {"es": "confirmado", "en": "confirmed", "pt": "confirmado"},
	"status_dismissed": {"es": "descartado", "en": "dismissed", "pt": "descartado"},
	"status_revisit":   {"es": "por revisitar", "en": "to revisit", "pt": "a revisitar"},
	"status_released":  {"es": "compartido", "en": "released", "pt": "compartilhado"},
	"probability":      {"es": "Probabilidad", "en": "Probability", "pt": "Probabilidade"},
	"type_guess":       {"es": "Tipo probable", "en": "Likely type", "pt": "Tipo provável"},
	"evidence":         {"es": "Evidencia (log-verosimilitud)", "en": "Evidence (log-likelihood)", "pt": "Evidência (log-verossimilhança)"},
	"passes":           {"es": "Pasadas con detección", "en": "Passes with a detection", "pt": "Passagens com detecção"},
	"of":               {"es": "de", "en": "of", "pt": "de"},
	"seen":             {"es": "Primera y última detección", "en": "First and last seen", "pt": "Primeira e última detecção"},
	"owner":            {"es": "Agencia responsable", "en": "Owning agency", "pt": "Agência responsável"},
	"released_to":      {"es": "Compartido con", "en": "Released to", "pt": "Compartilhado com"},
	"gas":              {"es": "Gas", "en": "Gas", "pt": "Gás"},
	"z":                {"es": "Evidencia (z)", "en": "Evidence (z)", "pt": "Evidência (z)"},
	"peak_ppmm":        {"es": "Pico (ppm·m)", "en": "Peak (ppm·m)", "pt": "Pico (ppm·m)"},
	"rate_kgh":         {"es": "Emisión (kg/h)", "en": "Emission (kg/h)", "pt": "Emissão (kg/h)"},
	"passes_title":     {"es": "3. Pasadas sobre el sitio", "en": "3. Passes over the site", "pt": "3. Passagens sobre o local"},
	"time":             {"es": "Fecha y hora", "en": "Time", "pt": "Data e hora"},
	"granule":          {"es": "Gránulo", "en": "Granule", "pt": "Grânulo"},
	"seen_q":           {"es": "¿Detectado?", "en": "Seen?", "pt": "Detectado?"},
	"mdl":              {"es": "Mín. detectable (kg/h)", "en": "Min. detectable (kg/h)", "pt": "Mín. detectável (kg/h)"},
	"yes":              {"es": "sí", "en": "yes", "pt": "sim"},
	"no":               {"es": "no", "en": "no", "pt": "não"},
	"none":             {"es": "Ninguno.", "en": "None.", "pt": "Nenhum."},
	"plume":            {"es": "Penacho", "en": "Plume", "pt": "Pluma"},
	"spectrum":         {"es": "4. Espectro medido y firma de la biblioteca", "en": "4. Measured spectrum and library signature", "pt": "4. Espectro medido e assinatura da biblioteca"},
	"wavelength":       {"es": "longitud de onda (µm)", "en": "wavelength (µm)", "pt": "comprimento de onda (µm)"},
	"signal":           {"es": "señal", "en": "signal", "pt": "sinal"},
	"measured":         {"es": "medido", "en": "measured", "pt": "medido"},
	"library":          {"es": "biblioteca", "en": "library", "pt": "biblioteca"},
	"fit":              {"es": "ajuste", "en": "fit", "pt": "ajuste"},
	"trace":            {"es": "5. Registro del sensor puntual", "en": "5. Point-sensor trace", "pt": "5. Registro do sensor pontual"},
	"time_s":           {"es": "tiempo (s)", "en": "time (s)", "pt": "tempo (s)"},
	"decisions":        {"es": "6. Decisiones", "en": "6. Decisions", "pt": "6. Decisões"},
	"who":              {"es": "Quién", "en": "Who", "pt": "Quem"},
	"action":           {"es": "Acción", "en": "Action", "pt": "Ação"},
	"reason":           {"es": "Motivo", "en": "Reason", "pt": "Motivo"},
	"integrity":        {"es": "7. Integridad", "en": "7. Integrity", "pt": "7. Integridade"},
	"integrity_text":   {"es": "SHA-256 de cada gránulo de origen (el contenido exacto de los datos de la pasada):", "en": "SHA-256 of every source granule (the exact content of each pass's data):", "pt": "SHA-256 de cada grânulo de origem (o conteúdo exato dos dados de cada passagem):"},
	"release_entry":    {"es": "Entrada del registro de auditoría que compartió el sitio", "en": "Audit-log entry that released the site", "pt": "Entrada do registro de auditoria que compartilhou o local"},
	"verify_text":      {"es": "Para comprobar que este archivo no fue alterado y que sus datos coinciden con los registros: atalaya audit verify --report ARCHIVO.pdf", "en": "To check that this file is unaltered and matches the records: atalaya audit verify --report FILE.pdf", "pt": "Para verificar que este arquivo não foi alterado e corresponde aos registros: atalaya audit verify --report ARQUIVO.pdf"},
}
