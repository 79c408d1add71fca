package sites

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
)

//go:embed profiles/site-types.json
var siteTypesJSON []byte

// SiteType is one kind of place that emits gas, with the probability that
// it emits each gas visibly while it works (P(gas | type)) and its prior
// share of emitting sites.
type SiteType struct {
	Name    string             `json:"name"`
	Lab     bool               `json:"lab"`
	Prior   float64            `json:"prior"`
	Gases   map[string]float64 `json:"gases"`
	Sources []string           `json:"sources"`
}

// Profiles is the site-type table (profiles/site-types.json, embedded).
type Profiles struct {
	Note string `json:"note"`
	// AbsentDefault is P(gas | type) for a gas a type does not list.
	AbsentDefault float64    `json:"absent_default"`
	Types         []SiteType `json:"types"`
}

// DefaultProfiles returns the embedded site-type table.
func DefaultProfiles() (*Profiles, error) { return LoadProfiles(bytes.NewReader(siteTypesJSON)) }

// LoadProfiles reads a site-type table; unknown fields and out-of-range
// numbers are errors that name the field.
func LoadProfiles(r io.Reader) (*Profiles, error) {
	dec := json.NewDecoder(io.LimitReader(r, 4<<20))
	dec.DisallowUnknownFields()
	var p Profiles
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: site types: %w", ErrConfig, err)
	}
	if !(p.AbsentDefault > 0 && p.AbsentDefault < 1) {
		return nil, fmt.Errorf("%w: site types: absent_default = %g, want in (0, 1)", ErrConfig, p.AbsentDefault)
	}
	if len(p.Types) == 0 {
		return nil, fmt.Errorf("%w: site types: no types", ErrConfig)
	}
	names := map[string]bool{}
	for i, t := range p.Types {
		if t.Name == "" || names[t.Name] {
			return nil, fmt.Errorf("%w: site types: types[%d].name = %q, want a unique name", ErrConfig, i, t.Name)
		}
		names[t.Name] = true
		if !(t.Prior > 0) || t.Prior > 1 {
			return nil, fmt.Errorf("%w: site types: %s.prior = %g, want in (0, 1]", ErrConfig, t.Name, t.Prior)
		}
		for g, q := range t.Gases {
			if !(q > 0 && q < 1) {
				return nil, fmt.Errorf("%w: site types: %s.gases.%s = %g, want in (0, 1)", ErrConfig, t.Name, g, q)
			}
		}
	}
	return &p, nil
}

// pGas is P(gas | type).
func (p *Profiles) pGas(t *SiteType, gas string) float64 {
	if q, ok := t.Gases[gas]; ok {
		return q
	}
	return p.AbsentDefault
}

// TypeScore is a site type's posterior probability for a site.
type TypeScore struct {
	Type        string  `json:"type"`
	Lab         bool    `json:"lab"`
	Probability float64 `json:"probability"`
}

// Classify returns the posterior of each type given per-gas log Bayes
// factors (gas present against background, see GasLogBF), and the log
// Bayes factor of "some emitting site" against background. Under type T a
// gas is present with probability q = P(gas | T), so its evidence's
// likelihood ratio is q·BF + (1 − q), and the gases multiply (independent
// given the type):
//
//	BF_T = Π_g (q_gT·BF_g + 1 − q_gT),  P(T | data) ∝ π_T·BF_T,
//	BF_site = Σ_T π_T BF_T / Σ_T π_T.
//
// A gas looked for and not found (BF < 1) counts against the types that
// expect it; a gas the sensor cannot see well (BF ≈ 1 whatever) counts for
// nothing; a gas not looked for is left out.
func (p *Profiles) Classify(logBF map[string]float64) ([]TypeScore, float64) {
	gases := make([]string, 0, len(logBF))
	for g := range logBF {
		gases = append(gases, g)
	}
	slices.Sort(gases)
	logPost := make([]float64, len(p.Types))
	var priorSum float64
	for i := range p.Types {
		t := &p.Types[i]
		lt := 0.0
		for _, g := range gases {
			q := p.pGas(t, g)
			lt += logAddExp(math.Log(q)+logBF[g], math.Log1p(-q))
		}
		logPost[i] = math.Log(t.Prior) + lt
		priorSum += t.Prior
	}
	lse := logSumExp(logPost)
	out := make([]TypeScore, len(p.Types))
	for i, t := range p.Types {
		out[i] = TypeScore{Type: t.Name, Lab: t.Lab, Probability: math.Exp(logPost[i] - lse)}
	}
	slices.SortStableFunc(out, func(a, b TypeScore) int {
		switch {
		case a.Probability > b.Probability:
			return -1
		case a.Probability < b.Probability:
			return 1
		}
		return 0
	})
	return out, lse - math.Log(priorSum)
}

// GasLogBF is the log Bayes factor of "gas present" against "no gas" for a
// one-sided z-score z ~ N(θ, 1) with, under "present", a half-normal prior
// on θ of scale tau (the typical signal in σ units):
//
//	BF = 2Φ(zτ/√(1+τ²))·(1+τ²)^(−1/2)·exp(z²τ²/(2(1+τ²))).
//
// Small tau (an insensitive retrieval) gives BF ≈ 1: no information.
func GasLogBF(z, tau float64) float64 {
	if math.IsNaN(z) || !(tau > 0) {
		return 0
	}
	s := 1 + tau*tau
	return math.Log(2) + logPhi(z*tau/math.Sqrt(s)) - 0.5*math.Log(s) + z*z*tau*tau/(2*s)
}

// logPhi is log Φ(x), accurate in the far lower tail.
func logPhi(x float64) float64 {
	if x > -5 {
		return math.Log(0.5 * math.Erfc(-x/math.Sqrt2))
	}
	// Mills ratio asymptotics (Abramowitz & Stegun 26.2.12), three terms.
	x2 := x * x
	return -x2/2 - math.Log(-x) - 0.5*math.Log(2*math.Pi) + math.Log(1-1/x2+3/(x2*x2))
}

func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

func logSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}
