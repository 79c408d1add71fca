package access

import (
	"errors"
	"fmt"
	"strings"
)

// Agency is an organisation whose users use Atalaya: the host-nation
// agency that owns the sites in its country, or a partner agency that sees
// what is released to it.
type Agency struct {
	ID      string `json:"id"` // short, stable, e.g. "COL-DIRAN"
	Name    string `json:"name"`
	Country string `json:"country"` // ISO 3166-1 alpha-3, e.g. "COL"
	Lang    string `json:"lang"`    // "es", "en" or "pt"
	// Host: the host-nation agency that owns the sites in Country (at most
	// one per country).
	Host bool `json:"host"`
}

// Errors; test with errors.Is.
var (
	// ErrUnauthorized: no credentials, or credentials that match nothing
	// (wrong password, unknown token or session). HTTP 401.
	ErrUnauthorized = errors.New("access: unauthorized")
	// ErrExpired: a token or session that was valid has expired or was
	// revoked, or its user was disabled. HTTP 401.
	ErrExpired = errors.New("access: credentials expired or revoked")
	// ErrForged: credentials that cannot have been issued here (malformed
	// token or cookie). HTTP 401.
	ErrForged = errors.New("access: malformed credentials")
	// ErrCSRF: a cookie-authenticated unsafe request without the session's
	// CSRF token in X-CSRF-Token. HTTP 403.
	ErrCSRF = errors.New("access: missing or wrong CSRF token")
	// ErrForbidden: authenticated, but the role or agency may not do this.
	// HTTP 403.
	ErrForbidden = errors.New("access: forbidden")
	// ErrNoJurisdiction: no host agency governs the point (open sea, or a
	// country with no host agency registered).
	ErrNoJurisdiction = errors.New("access: no jurisdiction")
	// ErrInvalid: a bad argument; the message names it.
	ErrInvalid = errors.New("access: invalid")
)

// Languages the UI speaks.
var langs = []string{"es", "en", "pt"}

// Validate checks an agency's fields.
func (a Agency) Validate() error {
	if a.ID == "" || strings.TrimSpace(a.ID) != a.ID || len(a.ID) > 64 {
		return fmt.Errorf("%w: agency id %q: want 1-64 characters without surrounding space", ErrInvalid, a.ID)
	}
	if a.Name == "" {
		return fmt.Errorf("%w: agency %s: name is empty", ErrInvalid, a.ID)
	}
	if !isISO3(a.Country) {
		return fmt.Errorf("%w: agency %s: country %q: want an ISO 3166-1 alpha-3 code such as COL", ErrInvalid, a.ID, a.Country)
	}
	if !validLang(a.Lang) {
		return fmt.Errorf("%w: agency %s: lang %q: want es, en or pt", ErrInvalid, a.ID, a.Lang)
	}
	return nil
}

func validLang(l string) bool {
	for _, x := range langs {
		if l == x {
			return true
		}
	}
	return false
}

func isISO3(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
