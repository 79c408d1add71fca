package server

import (
	"context"
	"errors"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// ErrUnauthorized is returned by an Authenticator for a wrong password, an
// unknown, expired or revoked session or token.
var ErrUnauthorized = errors.New("server: unauthorized")

// Session is a logged-in browser session.
type Session struct {
	Principal Principal
	Token     string // the cookie value
	CSRF      string // sent back in X-CSRF-Token on unsafe methods
	Expires   time.Time
}

// User is a user as listed by GET /users and returned by /login and /me.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name,omitempty"`
	AgencyID string `json:"agency_id"`
	Role     Role   `json:"role"`
	Lang     string `json:"lang,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
}

// Authenticator turns credentials into principals (internal/access).
type Authenticator interface {
	// Login checks a password and opens a session; ErrUnauthorized if wrong.
	Login(ctx context.Context, username, password string) (Session, User, error)
	// Logout ends a session.
	Logout(ctx context.Context, token string) error
	// Session returns the live session with that cookie value.
	Session(ctx context.Context, token string) (Session, error)
	// Token returns the principal of an API token ("atl_…").
	Token(ctx context.Context, token string) (Principal, error)
}

// Jurisdiction says which agency owns a site: the host agency of the
// country containing it (internal/access).
type Jurisdiction interface {
	OwnerOf(ctx context.Context, lat, lon float64) (string, error)
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Principal Principal
	Action    string // e.g. "sites.read", "sites.decide"
	Object    string // e.g. "site/01H…"
	Detail    string // JSON; may be empty
	At        time.Time
}

// Auditor appends to the audit log (internal/access's hash chain).
type Auditor interface {
	Audit(ctx context.Context, e AuditEntry) error
}

// Directory lists agencies and users (internal/access).
type Directory interface {
	Agencies(ctx context.Context) ([]Agency, error)
	// Users lists the users of an agency, or of every agency for "".
	Users(ctx context.Context, agencyID string) ([]User, error)
}

// Ingester ingests a finished upload (internal/pipeline): the archive at
// path becomes a recorded granule with its job queued.
type Ingester interface {
	IngestArchive(ctx context.Context, path, name string) (store.Granule, bool, error)
}
