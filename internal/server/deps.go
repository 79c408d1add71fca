package server

import (
	"context"
	"net/http"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"

	"github.com/atalaya-project/atalaya/internal/store"
)

// User is a user as GET /users, /login and /me show it.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name,omitempty"`
	AgencyID string `json:"agency_id"`
	Role     Role   `json:"role"`
	Lang     string `json:"lang,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
}

func userJSON(u access.User) User {
	return User{ID: u.ID, Username: u.Username, Name: u.Name, AgencyID: u.AgencyID, Role: u.Role, Lang: u.Lang, Disabled: u.Disabled}
}

// Authenticator turns requests into principals (*access.Service).
type Authenticator interface {
	// Authenticate returns the principal making r: a bearer token, else
	// the session cookie, whose unsafe requests must carry the session's
	// X-CSRF-Token. Errors: access.ErrUnauthorized, ErrExpired, ErrForged
	// (401) and ErrCSRF (403).
	Authenticate(ctx context.Context, r *http.Request) (Principal, error)
	// SessionCSRF is the CSRF token of r's session.
	SessionCSRF(ctx context.Context, r *http.Request) (string, error)
	// Login checks a password and opens a session (and audits it).
	Login(ctx context.Context, username, password string) (access.Session, error)
	// Logout ends r's session (and audits it).
	Logout(ctx context.Context, r *http.Request) error
}

// Jurisdiction owns and releases sites (*access.Service).
type Jurisdiction interface {
	// Owners is a snapshot of the host agencies: Of(lat, lon) is the
	// agency owning a site there ("" if none).
	Owners(ctx context.Context) (*access.Owners, error)
	// Release records in tx that p releases the site to the agencies, and
	// audits it; it refuses a caller whose agency does not own the site
	// and agencies that do not exist.
	Release(ctx context.Context, tx store.Tx, p Principal, site store.Site, to []string) ([]store.Release, error)
}

// Directory lists agencies and users (*access.Service).
type Directory interface {
	Agencies(ctx context.Context) ([]access.Agency, error)
	Users(ctx context.Context) ([]access.User, error)
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

// Ingester ingests a finished upload (internal/pipeline): the archive at
// path becomes a recorded granule with its job queued.
type Ingester interface {
	IngestArchive(ctx context.Context, path, name string) (store.Granule, bool, error)
}
