package spectra

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// atomicWeight holds standard atomic weights in g/mol, the abridged
// (conventional) values of IUPAC CIAAW, "Standard atomic weights of the
// elements 2021", Pure Appl. Chem. 95 (2023) 1255, Table 2 (abridged to
// five significant figures), for the elements found in volatile organic
// and inorganic gases.
var atomicWeight = map[string]float64{
	"H":  1.0080,
	"B":  10.81,
	"C":  12.011,
	"N":  14.007,
	"O":  15.999,
	"F":  18.998,
	"Si": 28.085,
	"P":  30.974,
	"S":  32.06,
	"Cl": 35.45,
	"Ar": 39.95,
	"Br": 79.904,
	"I":  126.90,
}

// ParseFormula parses a molecular formula as JCAMP-DX ##MOLFORM writes it
// ("C H3 C O C H3", "1,2-( C H3)2 C6 H4", "C H2: C H C N", "C 4 H 8",
// "H 2 O") or as usual ("C3H6O"), and returns the count of each element.
// A leading locant ("1,2-") and bond marks (':', '=') are ignored;
// parentheses may nest and take a multiplier.
func ParseFormula(s string) (map[string]int, error) {
	orig := s
	s = strings.TrimSpace(s)
	// A leading locant such as "1,2-" or "1,3-".
	if i := strings.IndexByte(s, '-'); i > 0 && strings.Trim(s[:i], "0123456789,") == "" {
		s = s[i+1:]
	}
	type frame map[string]int
	stack := []frame{{}}
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	readCount := func() (int, error) {
		j := i
		skipSpace()
		k := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if k == i {
			i = j
			return 1, nil
		}
		n, err := strconv.Atoi(s[k:i])
		if err != nil || n < 1 || n > 10000 {
			return 0, fmt.Errorf("molecular formula %q: count %q", orig, s[k:i])
		}
		return n, nil
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == ':' || c == '=' || c == '.':
			i++
		case c == '(' || c == '[':
			if len(stack) > 16 {
				return nil, fmt.Errorf("molecular formula %q: parentheses nested too deep", orig)
			}
			stack = append(stack, frame{})
			i++
		case c == ')' || c == ']':
			if len(stack) < 2 {
				return nil, fmt.Errorf("molecular formula %q: unbalanced %q", orig, c)
			}
			i++
			n, err := readCount()
			if err != nil {
				return nil, err
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for el, k := range top {
				stack[len(stack)-1][el] += k * n
			}
		case c >= 'A' && c <= 'Z':
			j := i + 1
			if j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
				j++
			}
			el := s[i:j]
			if _, ok := atomicWeight[el]; !ok {
				return nil, fmt.Errorf("molecular formula %q: unknown element %q", orig, el)
			}
			i = j
			n, err := readCount()
			if err != nil {
				return nil, err
			}
			stack[len(stack)-1][el] += n
		default:
			return nil, fmt.Errorf("molecular formula %q: unexpected %q at %d", orig, c, i+1)
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("molecular formula %q: unbalanced parentheses", orig)
	}
	if len(stack[0]) == 0 {
		return nil, fmt.Errorf("molecular formula %q: no elements", orig)
	}
	return stack[0], nil
}

// MolarMass returns the molar mass in g/mol of a formula's element counts.
func MolarMass(counts map[string]int) float64 {
	var m float64
	for _, el := range slices.Sorted(maps.Keys(counts)) {
		m += float64(counts[el]) * atomicWeight[el]
	}
	return m
}

// HillFormula writes element counts in Hill order: C first, then H, then
// the rest alphabetically; without carbon, all alphabetically.
func HillFormula(counts map[string]int) string {
	els := slices.Sorted(maps.Keys(counts))
	if counts["C"] > 0 {
		rest := slices.DeleteFunc(slices.Clone(els), func(e string) bool { return e == "C" || e == "H" })
		els = []string{"C"}
		if counts["H"] > 0 {
			els = append(els, "H")
		}
		els = append(els, rest...)
	}
	var b strings.Builder
	for _, el := range els {
		b.WriteString(el)
		if n := counts[el]; n != 1 {
			b.WriteString(strconv.Itoa(n))
		}
	}
	return b.String()
}
