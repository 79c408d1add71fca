package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Credential formats. A token is "atl_" then 32 random bytes in unpadded
// base64url (43 characters); a session cookie and a CSRF token are 32
// random bytes in unpadded base64url. Only SHA-256 digests of tokens and
// session ids are stored, so a copy of the database signs nobody in.
const (
	TokenPrefix = "atl_"
	secretBytes = 32
	secretChars = 43 // base64url of 32 bytes, unpadded
	// CookieName is the session cookie.
	CookieName = "atalaya_session"
	// CSRFHeader carries the session's CSRF token on unsafe requests.
	CSRFHeader = "X-CSRF-Token"
)

var b64url = base64.RawURLEncoding

func newSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return b64url.EncodeToString(b)
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// NewToken returns a new API token's text (show it once) and the digest to
// store.
func NewToken() (text, hash string) {
	text = TokenPrefix + newSecret()
	return text, digest(text)
}

// parseSecret checks the 43-character base64url form of 32 bytes.
func parseSecret(s string) bool {
	if len(s) != secretChars {
		return false
	}
	b, err := b64url.Strict().DecodeString(s)
	return err == nil && len(b) == secretBytes
}

// ParseToken checks a token's form and returns the digest to look up;
// ErrForged if it cannot be a token issued here.
func ParseToken(s string) (hash string, err error) {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok || !parseSecret(rest) {
		return "", fmt.Errorf("%w: API token: want %s followed by %d base64url characters", ErrForged, TokenPrefix, secretChars)
	}
	return digest(s), nil
}

// ParseSessionID checks a session cookie's value and returns the digest to
// look up; ErrForged if it cannot be a session id issued here.
func ParseSessionID(s string) (hash string, err error) {
	if !parseSecret(s) {
		return "", fmt.Errorf("%w: session cookie: want %d base64url characters", ErrForged, secretChars)
	}
	return digest(s), nil
}
