package store

import (
	"context"
	"time"
)

// The records of package access: agencies, users, API tokens, sessions,
// site releases and the audit log (schema version 2). The store keeps the
// rows; package access owns their meaning (roles, hashing, the audit
// chain's hash).

// Agency is an organisation using Atalaya.
type Agency struct {
	ID      string
	Name    string
	Country string // ISO 3166-1 alpha-3
	Lang    string // es, en, pt
	Host    bool   // the host-nation agency owning sites in Country (one per country)
	Created time.Time
}

// User is a person (or a service) that signs in.
type User struct {
	ID           string
	AgencyID     string
	Username     string // unique
	Name         string
	Role         string
	Lang         string
	PasswordHash string // argon2id PHC string; empty: no password login
	Disabled     bool
	Created      time.Time
	Updated      time.Time
}

// Token is an API token, stored only as the SHA-256 of its secret.
type Token struct {
	ID      string
	UserID  string
	Name    string // what it is for
	Hash    string // hex SHA-256 of the token text; unique
	Created time.Time
	Expires time.Time // zero: never
	Revoked time.Time // zero: not revoked
}

// Session is a signed-in browser, stored only as the SHA-256 of its cookie
// value.
type Session struct {
	Hash     string // hex SHA-256 of the cookie value; the key
	UserID   string
	CSRF     string // the synchronizer token bound to this session
	Created  time.Time
	LastSeen time.Time
	Expires  time.Time // absolute expiry
}

// Release records that a site was released to an agency.
type Release struct {
	SiteID     string
	AgencyID   string
	ReleasedBy string // user id
	At         time.Time
}

// AuditEntry is one entry of the hash-chained audit log. Seq, PrevHash and
// Hash are set by AppendAudit.
type AuditEntry struct {
	Seq         int64
	At          time.Time
	ActorUser   string
	ActorAgency string
	Action      string
	ObjectType  string
	ObjectID    string
	Details     string // JSON, stored and hashed verbatim
	PrevHash    string // hex; "" for the first entry
	Hash        string // hex SHA-256
}

// AuditHead is the newest entry of the audit log (Seq 0 when empty).
type AuditHead struct {
	Seq  int64
	Hash string
}

// AuditSealer computes an entry's hash once its Seq and PrevHash are set.
type AuditSealer func(AuditEntry) string

// AgencyReader reads agencies.
type AgencyReader interface {
	Agency(ctx context.Context, id string) (Agency, error)
	Agencies(ctx context.Context) ([]Agency, error)
	// HostAgency returns the host agency of a country; ErrNotFound if none.
	HostAgency(ctx context.Context, country string) (Agency, error)
}

// AgencyWriter records agencies.
type AgencyWriter interface {
	// PutAgency creates an agency; ErrConflict if the id is taken or the
	// country already has a host agency.
	PutAgency(ctx context.Context, a Agency) (Agency, error)
}

// UserReader reads users.
type UserReader interface {
	User(ctx context.Context, id string) (User, error)
	UserByName(ctx context.Context, username string) (User, error)
	Users(ctx context.Context) ([]User, error)
	CountUsers(ctx context.Context) (int, error)
}

// UserWriter records users.
type UserWriter interface {
	// CreateUser stores a new user; ErrConflict if the username is taken,
	// ErrNotFound if the agency does not exist.
	CreateUser(ctx context.Context, u User) (User, error)
	SetPassword(ctx context.Context, userID, hash string) error
	SetUserDisabled(ctx context.Context, userID string, disabled bool) error
}

// TokenReader reads API tokens.
type TokenReader interface {
	TokenByHash(ctx context.Context, hash string) (Token, error)
	Tokens(ctx context.Context, userID string) ([]Token, error)
}

// TokenWriter records API tokens.
type TokenWriter interface {
	CreateToken(ctx context.Context, t Token) (Token, error)
	// RevokeToken marks a token revoked now; revoking it again changes
	// nothing.
	RevokeToken(ctx context.Context, id string) (Token, error)
}

// SessionReader reads sessions.
type SessionReader interface {
	SessionByHash(ctx context.Context, hash string) (Session, error)
}

// SessionWriter records sessions.
type SessionWriter interface {
	CreateSession(ctx context.Context, s Session) (Session, error)
	TouchSession(ctx context.Context, hash string, at time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	// DeleteUserSessions signs a user out everywhere.
	DeleteUserSessions(ctx context.Context, userID string) error
	// PurgeSessions deletes sessions idle since before idleBefore or past
	// their absolute expiry at now.
	PurgeSessions(ctx context.Context, idleBefore, now time.Time) (int, error)
}

// ReleaseReader reads site releases.
type ReleaseReader interface {
	// Releases returns the agencies a site was released to, oldest first.
	Releases(ctx context.Context, siteID string) ([]Release, error)
	// SitesReleasedTo returns the ids of the sites released to an agency.
	SitesReleasedTo(ctx context.Context, agencyID string) ([]string, error)
	// ReleasedTo returns, for each of the sites that has releases, the
	// agencies it was released to (by agency id): one query per 500
	// sites, for lists of sites.
	ReleasedTo(ctx context.Context, siteIDs []string) (map[string][]string, error)
}

// ReleaseWriter records site releases.
type ReleaseWriter interface {
	// ReleaseSite records a release; releasing a site to an agency again
	// changes nothing and returns the first record.
	ReleaseSite(ctx context.Context, r Release) (Release, error)
}

// AuditReader reads the audit log.
type AuditReader interface {
	// AuditEntries returns up to limit entries with seq > after, by seq.
	AuditEntries(ctx context.Context, after int64, limit int) ([]AuditEntry, error)
	AuditHead(ctx context.Context) (AuditHead, error)
}

// AuditWriter appends to the audit log.
type AuditWriter interface {
	// AppendAudit appends e after the current head: it locks the head (so
	// appends are serialised), sets e.Seq and e.PrevHash, sets e.Hash =
	// seal(e), stores the entry and moves the head. Call it in the
	// transaction of the change it records.
	AppendAudit(ctx context.Context, e AuditEntry, seal AuditSealer) (AuditEntry, error)
}

// AccessReader is every read of package access's records.
type AccessReader interface {
	AgencyReader
	UserReader
	TokenReader
	SessionReader
	ReleaseReader
	AuditReader
}

// AccessWriter is every write of package access's records.
type AccessWriter interface {
	AgencyWriter
	UserWriter
	TokenWriter
	SessionWriter
	ReleaseWriter
	AuditWriter
}
