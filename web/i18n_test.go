package web_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/atalaya-project/atalaya/web"
)

var langs = []string{"es", "en", "pt"}

func catalogue(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(web.Assets, "i18n/"+lang+".json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("i18n/%s.json: %v", lang, err)
	}
	return m
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

func placeholders(s string) []string {
	var p []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		p = append(p, m[1])
	}
	slices.Sort(p)
	return slices.Compact(p)
}

// TestCatalogues: every key in all three catalogues, none empty, the same
// placeholders in each language.
func TestCatalogues(t *testing.T) {
	cats := map[string]map[string]string{}
	all := map[string]bool{}
	for _, l := range langs {
		cats[l] = catalogue(t, l)
		for k := range cats[l] {
			all[k] = true
		}
	}
	for k := range all {
		for _, l := range langs {
			v, ok := cats[l][k]
			if !ok {
				t.Errorf("key %q missing from i18n/%s.json", k, l)
				continue
			}
			if strings.TrimSpace(v) == "" {
				t.Errorf("key %q empty in i18n/%s.json", k, l)
			}
			if p, want := placeholders(v), placeholders(cats["en"][k]); !slices.Equal(p, want) {
				t.Errorf("key %q in %s has placeholders %v, English has %v", k, l, p, want)
			}
		}
	}
	if len(all) < 100 {
		t.Fatalf("only %d keys", len(all))
	}
}

// sources returns the application's own HTML and JavaScript (not the
// vendored packages).
func sources(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := fs.WalkDir(web.Assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, "vendor/") {
			return err
		}
		if strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".html") {
			b, err := fs.ReadFile(web.Assets, p)
			m[p] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestKeysUsedExist: every key the code names exists, and the keys it
// builds from data (statuses, actions, roles, error codes, site types and
// their gases from internal/sites/profiles) exist for every value.
func TestKeysUsedExist(t *testing.T) {
	en := catalogue(t, "en")
	used := map[string]bool{}
	static := regexp.MustCompile(`\bt\('([\w.-]+)'|data-i18n(?:-aria|-title|-placeholder)?="([\w.-]+)"|dataset.i18n\w*\s*=\s*'([\w.-]+)'`)
	for name, src := range sources(t) {
		for _, m := range static.FindAllStringSubmatch(src, -1) {
			k := m[1] + m[2] + m[3]
			used[k] = true
			if _, ok := en[k]; !ok {
				t.Errorf("%s uses key %q, not in the catalogues", name, k)
			}
		}
	}
	var profiles struct {
		Types []struct {
			Name  string
			Gases map[string]float64
		}
	}
	b, err := os.ReadFile("../internal/sites/profiles/site-types.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &profiles); err != nil {
		t.Fatal(err)
	}
	dynamic := []string{"type.unknown"}
	for _, s := range []string{"candidate", "confirmed", "dismissed", "revisit", "released"} {
		dynamic = append(dynamic, "status."+s)
	}
	for _, a := range []string{"confirm", "dismiss", "revisit", "release", "ground-truth"} {
		dynamic = append(dynamic, "action."+a)
	}
	for _, r := range []string{"administrator", "operator", "analyst", "partner", "viewer"} {
		dynamic = append(dynamic, "role."+r)
	}
	for _, c := range []string{"invalid", "not_found", "forbidden", "unauthorized", "conflict", "precondition_failed", "too_large"} {
		dynamic = append(dynamic, "error."+c)
	}
	for _, s := range []string{"on", "connecting", "off"} {
		dynamic = append(dynamic, "live."+s)
	}
	for _, ty := range profiles.Types {
		dynamic = append(dynamic, "type."+ty.Name)
		for g := range ty.Gases {
			dynamic = append(dynamic, "gas."+g)
		}
	}
	for _, k := range dynamic {
		used[k] = true
		if _, ok := en[k]; !ok {
			t.Errorf("key %q (built from data) is not in the catalogues", k)
		}
	}
	for k := range en {
		if !used[k] && !strings.HasPrefix(k, "gas.") {
			t.Errorf("key %q is in the catalogues but nothing uses it", k)
		}
	}
}

// prose is what a user-visible string looks like: a capitalised word
// followed by another word, a capitalised word alone, or words ending a
// sentence. Identifiers, CSS classes, selectors, URLs and header names do
// not match.
var prose = []*regexp.Regexp{
	regexp.MustCompile(`[A-ZÀ-Þ][a-zß-ÿ]+[ ,;:]+[A-Za-zÀ-ÿ]{2,}`),
	regexp.MustCompile(`^[A-ZÀ-Þ][a-zß-ÿ]+$`),
	regexp.MustCompile(`[A-Za-zÀ-ÿ]{2,} [A-Za-zÀ-ÿ]{2,}[.!?…]$`),
}

// domKeys are KeyboardEvent.key values the code compares with, not text.
var domKeys = map[string]bool{"Home": true, "End": true, "Enter": true}

// TestNoHardCodedText scans the application's sources: HTML has no text
// outside elements filled from the catalogues (data-i18n) and no literal
// aria-label, title, placeholder or alt; JavaScript has no string literal
// that reads as prose. A simple scan, not a parser: it strips comments and
// reads quoted and template literals.
func TestNoHardCodedText(t *testing.T) {
	tag := regexp.MustCompile(`(?s)<[^>]*>`)
	attr := regexp.MustCompile(`\s(aria-label|title|placeholder|alt)="[^"]*[A-Za-z][^"]*"`)
	for name, src := range sources(t) {
		if strings.HasSuffix(name, ".html") {
			for _, m := range attr.FindAllString(src, -1) {
				t.Errorf("%s: literal attribute %s: use data-i18n-aria/-title/-placeholder", name, strings.TrimSpace(m))
			}
			for _, text := range tag.Split(src, -1) {
				if s := strings.TrimSpace(text); s != "" {
					t.Errorf("%s: text %q outside the catalogues: use data-i18n", name, s)
				}
			}
			continue
		}
		for _, lit := range jsStrings(src) {
			if domKeys[lit] {
				continue
			}
			for _, re := range prose {
				if re.MatchString(lit) {
					t.Errorf("%s: string %q reads as user-visible text: put it in i18n/*.json and use t()", name, lit)
					break
				}
			}
		}
	}
}

// jsStrings returns the string literals of JavaScript source (the static
// parts of template literals), skipping comments. Regular-expression
// literals are not recognised; the application's contain no quotes.
func jsStrings(src string) []string {
	var out []string
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 3
		case c == '\'' || c == '"' || c == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(src) && src[j] != c; j++ {
				if src[j] == '\\' && j+1 < len(src) {
					j++
				} else if c == '`' && src[j] == '$' && j+1 < len(src) && src[j+1] == '{' {
					// a ${…} substitution: skip to its closing brace
					depth := 0
					for ; j < len(src); j++ {
						if src[j] == '{' {
							depth++
						} else if src[j] == '}' {
							depth--
							if depth == 0 {
								break
							}
						}
					}
					b.WriteByte(' ')
					continue
				}
				b.WriteByte(src[j])
			}
			out = append(out, b.String())
			i = j
		}
	}
	return out
}

// TestScanCatches: the scan finds the strings it is meant to (so a pass
// means something).
func TestScanCatches(t *testing.T) {
	src := "const a = 'site-row selected'; // Not This\n el('p', {}, 'Confirm'); x.textContent = `Site ${id} was dismissed.`; y = \"Nothing waits for review\";"
	var caught []string
	for _, lit := range jsStrings(src) {
		for _, re := range prose {
			if re.MatchString(lit) {
				caught = append(caught, lit)
				break
			}
		}
	}
	if want := []string{"Confirm", "Site   was dismissed.", "Nothing waits for review"}; !slices.Equal(caught, want) {
		t.Fatalf("caught %q, want %q", caught, want)
	}
}
