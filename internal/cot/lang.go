package cot

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// texts is what a site event says, in one language.
type texts struct {
	code        string
	decimal     string // decimal separator
	lead        string // callsign prefix
	title       string // first line of the remarks
	types       map[string]string
	probability string
	evidence    string
	gases       string
	noGases     string
	passes      string // seen in %d of %d survey passes
	seen        string // first %s, last %s (UTC)
	location    string // location ±%s m (1σ)
	caveat      string
	sitePage    string
	gasNames    map[string]string
}

var langs = map[string]*texts{
	"en": {
		code: "en", decimal: ".", lead: "Possible lab",
		title: "Atalaya lead: possible clandestine laboratory",
		types: map[string]string{
			"methamphetamine-lab": "methamphetamine laboratory", "fentanyl-lab": "fentanyl laboratory",
			"cocaine-processing": "cocaine processing", "farm": "farm (likely benign)",
			"paint-body-shop": "paint or body shop (likely benign)", "fuel-station": "fuel station (likely benign)",
		},
		probability: "Probability %s%% (combined evidence %sσ)",
		evidence:    "%s %sσ", gases: "Gases", noGases: "no gas profile",
		passes:   "Seen in %d of %d survey passes",
		seen:     "first %s, last %s (UTC)",
		location: "Location ±%s m (1σ)",
		caveat:   "A lead for lawful follow-up, not evidence on its own.",
		sitePage: "Site page",
		gasNames: map[string]string{},
	},
	"es": {
		code: "es", decimal: ",", lead: "Posible laboratorio",
		title: "Pista de Atalaya: posible laboratorio clandestino",
		types: map[string]string{
			"methamphetamine-lab": "laboratorio de metanfetamina", "fentanyl-lab": "laboratorio de fentanilo",
			"cocaine-processing": "procesamiento de cocaína", "farm": "finca (probablemente inocua)",
			"paint-body-shop": "taller de pintura o carrocería (probablemente inocuo)",
			"fuel-station":    "estación de combustible (probablemente inocua)",
		},
		probability: "Probabilidad %s %% (evidencia combinada %sσ)",
		evidence:    "%s %sσ", gases: "Gases", noGases: "sin perfil de gases",
		passes:   "Visto en %d de %d pasadas de reconocimiento",
		seen:     "primera vez %s, última %s (UTC)",
		location: "Ubicación ±%s m (1σ)",
		caveat:   "Pista para seguimiento conforme a la ley; no es prueba por sí sola.",
		sitePage: "Página del sitio",
		gasNames: map[string]string{
			"ammonia": "amoníaco", "acetone": "acetona", "toluene": "tolueno", "methanol": "metanol",
			"ethanol": "etanol", "chloroform": "cloroformo", "dichloromethane": "diclorometano",
			"2-butanone": "metiletilcetona", "ethyl_acetate": "acetato de etilo", "benzene": "benceno",
			"diethyl_ether": "éter dietílico", "methane": "metano", "hydrogen_chloride": "cloruro de hidrógeno",
			"methylamine": "metilamina", "2-propanol": "isopropanol", "acetic_acid": "ácido acético",
		},
	},
	"pt": {
		code: "pt", decimal: ",", lead: "Possível laboratório",
		title: "Pista do Atalaya: possível laboratório clandestino",
		types: map[string]string{
			"methamphetamine-lab": "laboratório de metanfetamina", "fentanyl-lab": "laboratório de fentanil",
			"cocaine-processing": "processamento de cocaína", "farm": "fazenda (provavelmente inócua)",
			"paint-body-shop": "oficina de pintura ou funilaria (provavelmente inócua)",
			"fuel-station":    "posto de combustível (provavelmente inócuo)",
		},
		probability: "Probabilidade %s %% (evidência combinada %sσ)",
		evidence:    "%s %sσ", gases: "Gases", noGases: "sem perfil de gases",
		passes:   "Visto em %d de %d passagens de levantamento",
		seen:     "primeira vez %s, última %s (UTC)",
		location: "Localização ±%s m (1σ)",
		caveat:   "Pista para investigação nos termos da lei; não é prova por si só.",
		sitePage: "Página do local",
		gasNames: map[string]string{
			"ammonia": "amônia", "acetone": "acetona", "toluene": "tolueno", "methanol": "metanol",
			"ethanol": "etanol", "chloroform": "clorofórmio", "dichloromethane": "diclorometano",
			"2-butanone": "metiletilcetona", "ethyl_acetate": "acetato de etila", "benzene": "benzeno",
			"diethyl_ether": "éter dietílico", "methane": "metano", "hydrogen_chloride": "cloreto de hidrogênio",
			"methylamine": "metilamina", "2-propanol": "isopropanol", "acetic_acid": "ácido acético",
		},
	},
}

// Langs are the languages site events are written in.
var Langs = []string{"en", "es", "pt"}

func lang(code string) *texts {
	if t, ok := langs[strings.ToLower(code)]; ok {
		return t
	}
	return langs["en"]
}

// num formats f with d decimals and the language's separator.
func (t *texts) num(f float64, d int) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "?"
	}
	return strings.Replace(strconv.FormatFloat(f, 'f', d, 64), ".", t.decimal, 1)
}

func (t *texts) gas(name string) string {
	if n, ok := t.gasNames[name]; ok {
		return n
	}
	return strings.ReplaceAll(name, "_", " ")
}

// shortID is the last six characters of a site id, upper case: enough to
// tell sites apart on a map and to read out over a radio.
func shortID(id string) string {
	if len(id) > 6 {
		id = id[len(id)-6:]
	}
	return strings.ToUpper(id)
}

func callsign(t *texts, s store.Site) string {
	return fmt.Sprintf("%s %s (%s%%)", t.lead, shortID(s.ID), t.num(100*s.Probability, 0))
}

func remarks(t *texts, s store.Site, gases []GasSummary) string {
	var b strings.Builder
	b.WriteString(t.title)
	if name, ok := t.types[s.TypeGuess]; ok {
		fmt.Fprintf(&b, " (%s)", name)
	} else if s.TypeGuess != "" {
		fmt.Fprintf(&b, " (%s)", s.TypeGuess)
	}
	b.WriteString(".\n")
	fmt.Fprintf(&b, t.probability+".\n", t.num(100*s.Probability, 0), t.num(s.Evidence, 1))
	b.WriteString(t.gases + ": ")
	if len(gases) == 0 {
		b.WriteString(t.noGases)
	}
	for i, g := range gases {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, t.evidence, t.gas(g.Gas), t.num(g.Evidence, 1))
		var extra []string
		if g.PeakPPMM > 0 {
			extra = append(extra, t.num(g.PeakPPMM, 0)+" ppm·m")
		}
		if g.RateKgH > 0 {
			extra = append(extra, t.num(g.RateKgH, 2)+" kg/h")
		}
		if len(extra) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(extra, ", "))
		}
	}
	b.WriteString(".\n")
	fmt.Fprintf(&b, t.passes+"; "+t.seen+".\n", s.PassesSeen, s.PassesSurvey,
		s.FirstSeen.UTC().Format("2006-01-02"), s.LastSeen.UTC().Format("2006-01-02"))
	if s.UncertaintyM > 0 {
		fmt.Fprintf(&b, t.location+".\n", t.num(s.UncertaintyM, 0))
	}
	b.WriteString(t.caveat)
	return b.String()
}

// ackTexts is what Atalaya answers a device's ground-truth report with, in
// one language.
type ackTexts struct {
	recorded string // site short id, outcome, visit
	visit    string // (visit %s UTC)
	thanks   string
	refused  string // prefix of every refusal
	reasons  map[Refusal]string
	outcomes map[string]string
}

var acks = map[string]*ackTexts{
	"en": {
		recorded: "Atalaya recorded your report for site %s: %s", visit: " (visit %s UTC)", thanks: ". Thank you.",
		refused: "Atalaya did not record your report: ",
		reasons: map[Refusal]string{
			RefusedNoSite:       "it names no site. Send it on the site's marker, or write the six characters at the end of the site's name (e.g. 5C6D7E) with the outcome hashtag.",
			RefusedUnknownShort: "no site your agency can see ends in %s.",
			RefusedUnknownSite:  "site %s does not exist or your agency cannot see it.",
			RefusedAmbiguous:    "%s matches several sites. Send the report on the site's marker.",
			RefusedOutcome:      "the outcome or the visit time is not understood. Use #confirmed-lab, #nothing-found or #not-visited.",
			RefusedRole:         "your role may not report ground truth. Ask your agency's administrator.",
			RefusedFailed:       "it could not be stored now. Please send it again later.",
		},
		outcomes: map[string]string{"confirmed-lab": "laboratory confirmed", "nothing-found": "nothing found", "not-visited": "not visited"},
	},
	"es": {
		recorded: "Atalaya registró su informe del sitio %s: %s", visit: " (visita %s UTC)", thanks: ". Gracias.",
		refused: "Atalaya no registró su informe: ",
		reasons: map[Refusal]string{
			RefusedNoSite:       "no indica ningún sitio. Envíelo en el marcador del sitio o escriba los seis caracteres del final de su nombre (p. ej. 5C6D7E) con la etiqueta del resultado.",
			RefusedUnknownShort: "ningún sitio visible para su agencia termina en %s.",
			RefusedUnknownSite:  "el sitio %s no existe o su agencia no puede verlo.",
			RefusedAmbiguous:    "%s coincide con varios sitios. Envíe el informe en el marcador del sitio.",
			RefusedOutcome:      "no se entiende el resultado o la hora de la visita. Use #laboratorio-confirmado, #nada-encontrado o #no-visitado.",
			RefusedRole:         "su función no permite informar resultados de campo. Consulte al administrador de su agencia.",
			RefusedFailed:       "no se pudo guardar ahora. Vuelva a enviarlo más tarde.",
		},
		outcomes: map[string]string{"confirmed-lab": "laboratorio confirmado", "nothing-found": "nada encontrado", "not-visited": "no visitado"},
	},
	"pt": {
		recorded: "O Atalaya registrou seu relatório do local %s: %s", visit: " (visita %s UTC)", thanks: ". Obrigado.",
		refused: "O Atalaya não registrou seu relatório: ",
		reasons: map[Refusal]string{
			RefusedNoSite:       "ele não indica nenhum local. Envie-o no marcador do local ou escreva os seis caracteres do fim do nome do local (p. ex. 5C6D7E) com a hashtag do resultado.",
			RefusedUnknownShort: "nenhum local visível para sua agência termina em %s.",
			RefusedUnknownSite:  "o local %s não existe ou sua agência não pode vê-lo.",
			RefusedAmbiguous:    "%s corresponde a vários locais. Envie o relatório no marcador do local.",
			RefusedOutcome:      "o resultado ou a hora da visita não foi entendido. Use #laboratório-confirmado, #nada-encontrado ou #não-visitado.",
			RefusedRole:         "sua função não permite relatar resultados de campo. Fale com o administrador da sua agência.",
			RefusedFailed:       "não foi possível salvá-lo agora. Envie-o novamente mais tarde.",
		},
		outcomes: map[string]string{"confirmed-lab": "laboratório confirmado", "nothing-found": "nada encontrado", "not-visited": "não visitado"},
	},
}

// Refusal says why a ground-truth report was not recorded.
type Refusal int

// Reasons for refusing a report.
const (
	NotRefused          Refusal = iota
	RefusedNoSite               // the report names no site
	RefusedUnknownShort         // no site the user may see ends in the short id
	RefusedUnknownSite          // the site does not exist or the user may not see it
	RefusedAmbiguous            // the short id matches several sites
	RefusedOutcome              // unknown outcome or bad visit time
	RefusedRole                 // the user's role may not report ground truth
	RefusedFailed               // storing failed
)

// Ack is what the acknowledgement of a ground-truth report says.
type Ack struct {
	// Refusal is NotRefused when the report was recorded.
	Refusal Refusal
	// SiteID is the site's full id (recorded, or named and refused);
	// ShortID the six characters the user typed, when that is all.
	SiteID, ShortID string
	Outcome         string    // confirmed-lab, nothing-found or not-visited
	Visited         time.Time // zero: not said
}

// AckText is the acknowledgement of a ground-truth report in a language
// (es, en, pt; others get English): what was recorded for which site, or
// why nothing was.
func AckText(code string, a Ack) string {
	t, ok := acks[strings.ToLower(code)]
	if !ok {
		t = acks["en"]
	}
	short := strings.ToUpper(a.ShortID)
	if a.SiteID != "" {
		short = shortID(a.SiteID)
	}
	if a.Refusal == NotRefused {
		o, ok := t.outcomes[a.Outcome]
		if !ok {
			o = a.Outcome
		}
		s := fmt.Sprintf(t.recorded, short, o)
		if !a.Visited.IsZero() {
			s += fmt.Sprintf(t.visit, a.Visited.UTC().Format("2006-01-02 15:04"))
		}
		return s + t.thanks
	}
	r, ok := t.reasons[a.Refusal]
	if !ok {
		r = t.reasons[RefusedFailed]
	}
	switch a.Refusal {
	case RefusedUnknownShort, RefusedAmbiguous:
		r = fmt.Sprintf(r, short)
	case RefusedUnknownSite:
		r = fmt.Sprintf(r, a.SiteID)
	}
	return t.refused + r
}
