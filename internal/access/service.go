package access

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atalaya-project/atalaya/internal/boundaries"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Options configure a Service. The zero value is the default.
type Options struct {
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Params are the argon2id parameters new hashes get (DefaultParams if
	// zero).
	Params Params
	// SessionIdle ends a session unused this long (default 30 min);
	// SessionMax ends any session this long after sign-in (default 12 h).
	// OWASP's Session Management Cheat Sheet suggests 15–30 min idle for
	// high-value applications; 12 h covers an analyst's shift.
	SessionIdle, SessionMax time.Duration
	// MaxHashing bounds concurrent password hashes (default 2: the cores
	// here), so a burst of logins cannot exhaust memory.
	MaxHashing int
}

// touchEvery is how stale a session's last-seen time may get before a
// request writes it again (so not every request writes).
const touchEvery = time.Minute

// Service is access control over a store: sign-in, authentication of
// requests, administration of agencies, users and tokens, jurisdiction,
// releases and the audit log. Safe for concurrent use.
type Service struct {
	st    Store
	opt   Options
	sem   chan struct{}
	dummy string // a hash to verify against for unknown users (equal timing)
}

// New returns a Service over st.
func New(st Store, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Params == (Params{}) {
		opt.Params = DefaultParams
	}
	if opt.SessionIdle <= 0 {
		opt.SessionIdle = 30 * time.Minute
	}
	if opt.SessionMax <= 0 {
		opt.SessionMax = 12 * time.Hour
	}
	if opt.MaxHashing <= 0 {
		opt.MaxHashing = 2
	}
	return &Service{st: st, opt: opt, sem: make(chan struct{}, opt.MaxHashing),
		dummy: HashPassword("not a password anyone has", opt.Params)}
}

func (s *Service) now() time.Time { return s.opt.Now() }

// hashing runs f while holding one of the MaxHashing slots.
func (s *Service) hashing(ctx context.Context, f func()) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()
	f()
	return nil
}

// User is a user as the API shows it (never the password hash).
type User struct {
	ID       string    `json:"id"`
	Username string    `json:"username"`
	Name     string    `json:"name"`
	AgencyID string    `json:"agency"`
	Role     Role      `json:"role"`
	Lang     string    `json:"lang"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created"`
}

func userOf(u store.User) User {
	return User{ID: u.ID, Username: u.Username, Name: u.Name, AgencyID: u.AgencyID, Role: Role(u.Role),
		Lang: u.Lang, Disabled: u.Disabled, Created: u.Created}
}

func principalOf(u store.User) Principal {
	return Principal{UserID: u.ID, AgencyID: u.AgencyID, Role: Role(u.Role), Lang: u.Lang}
}

// System is the principal of a local administrative tool (the CLI run by
// someone with access to the database): an administrator of no agency,
// recorded in the audit log as "system:NAME".
func System(name string) Principal {
	return Principal{UserID: "system:" + name, Role: RoleAdministrator, Lang: "en"}
}

// Session is a new sign-in: ID is the cookie value (secret: give it only to
// the browser, in the cookie), CSRF the token the browser sends back in
// X-CSRF-Token.
type Session struct {
	Principal Principal
	User      User
	ID        string
	CSRF      string
	Expires   time.Time
	maxAge    time.Duration // the session's whole lifetime, for Max-Age
}

// Cookie is the session cookie: HttpOnly, SameSite=Strict, Path=/, Secure
// when served over TLS, expiring with the session.
func (s Session) Cookie(secure bool) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: s.ID, Path: "/", Expires: s.Expires,
		MaxAge: int(s.maxAge.Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
}

// ClearCookie removes the session cookie from a browser.
func ClearCookie(secure bool) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteStrictMode}
}

// Login checks a username and password and starts a session, recording
// "login" in the audit log in the session's transaction (or
// "login.failed"). A wrong password, an unknown or disabled user all give
// ErrUnauthorized and take the same time (an unknown user is checked
// against a dummy hash). A hash made with older parameters is replaced.
func (s *Service) Login(ctx context.Context, username, password string) (Session, error) {
	u, err := s.st.UserByName(ctx, username)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	hash := s.dummy
	if known && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	var ok, rehash bool
	var verr error
	if err := s.hashing(ctx, func() { ok, rehash, verr = VerifyPassword(password, hash, s.opt.Params) }); err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	if !known || u.PasswordHash == "" || u.Disabled || !ok || verr != nil {
		reason := "wrong password"
		switch {
		case !known:
			reason = "unknown user"
		case u.Disabled:
			reason = "disabled"
		case verr != nil:
			reason = "unreadable password hash"
		}
		actor := Principal{}
		if known {
			actor = principalOf(u)
		}
		if _, err := Record(ctx, s.st, Event{Actor: actor, Action: AuditLoginFailed, ObjectType: "user",
			ObjectID: u.ID, Details: map[string]string{"username": username, "reason": reason}}); err != nil {
			return Session{}, fmt.Errorf("login: %w", err)
		}
		return Session{}, fmt.Errorf("%w: wrong username or password", ErrUnauthorized)
	}
	var newHash string
	if rehash {
		if err := s.hashing(ctx, func() { newHash = HashPassword(password, s.opt.Params) }); err != nil {
			return Session{}, fmt.Errorf("login: %w", err)
		}
	}
	now := s.now()
	sess := Session{Principal: principalOf(u), User: userOf(u), ID: newSecret(), CSRF: newSecret(),
		Expires: now.Add(s.opt.SessionMax).UTC().Truncate(time.Microsecond), maxAge: s.opt.SessionMax}
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		if newHash != "" {
			if err := tx.SetPassword(ctx, u.ID, newHash); err != nil {
				return err
			}
		}
		if _, err := tx.CreateSession(ctx, store.Session{Hash: digest(sess.ID), UserID: u.ID, CSRF: sess.CSRF, Expires: sess.Expires}); err != nil {
			return err
		}
		_, err := Record(ctx, tx, Event{Actor: sess.Principal, Action: AuditLogin, ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"rehashed": newHash != ""}})
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("login %q: %w", username, err)
	}
	return sess, nil
}

// safeMethod: methods that change nothing (RFC 9110 section 9.2.1) need no
// CSRF token.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// Authenticate returns the principal making r: from "Authorization: Bearer
// atl_…" (an API token; no CSRF token needed) or else from the session
// cookie (unsafe methods must carry the session's CSRF token in
// X-CSRF-Token). Errors: ErrUnauthorized (no credentials, or unknown ones),
// ErrExpired (expired or revoked, or the user disabled), ErrForged
// (malformed), ErrCSRF (cookie without the right CSRF token).
func (s *Service) Authenticate(ctx context.Context, r *http.Request) (Principal, error) {
	p, _, err := s.authenticate(ctx, r)
	return p, err
}

// SessionCSRF returns the CSRF token of r's session (for GET /me after a
// page reload); ErrUnauthorized if r has no session cookie.
func (s *Service) SessionCSRF(ctx context.Context, r *http.Request) (string, error) {
	_, sess, err := s.authenticate(ctx, r)
	if err != nil {
		return "", err
	}
	if sess == nil {
		return "", fmt.Errorf("%w: no session (token requests have no CSRF token)", ErrUnauthorized)
	}
	return sess.CSRF, nil
}

func (s *Service) authenticate(ctx context.Context, r *http.Request) (Principal, *store.Session, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, nil, fmt.Errorf("%w: Authorization scheme %q: want Bearer", ErrForged, scheme)
		}
		p, err := s.authToken(ctx, strings.TrimSpace(tok))
		return p, nil, err
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return Principal{}, nil, fmt.Errorf("%w: no session cookie or bearer token", ErrUnauthorized)
	}
	return s.authSession(ctx, c.Value, r)
}

func (s *Service) authToken(ctx context.Context, text string) (Principal, error) {
	hash, err := ParseToken(text)
	if err != nil {
		return Principal{}, err
	}
	t, err := s.st.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: unknown API token", ErrUnauthorized)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	now := s.now()
	switch {
	case !t.Revoked.IsZero():
		return Principal{}, fmt.Errorf("%w: API token %s was revoked at %s", ErrExpired, t.ID, t.Revoked.Format(time.RFC3339))
	case !t.Expires.IsZero() && !now.Before(t.Expires):
		return Principal{}, fmt.Errorf("%w: API token %s expired at %s", ErrExpired, t.ID, t.Expires.Format(time.RFC3339))
	}
	return s.principalOfUser(ctx, t.UserID)
}

func (s *Service) principalOfUser(ctx context.Context, id string) (Principal, error) {
	u, err := s.st.User(ctx, id)
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if u.Disabled {
		return Principal{}, fmt.Errorf("%w: user %q is disabled", ErrExpired, u.Username)
	}
	return principalOf(u), nil
}

func (s *Service) authSession(ctx context.Context, value string, r *http.Request) (Principal, *store.Session, error) {
	hash, err := ParseSessionID(value)
	if err != nil {
		return Principal{}, nil, err
	}
	sess, err := s.st.SessionByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, nil, fmt.Errorf("%w: unknown or ended session", ErrUnauthorized)
	}
	if err != nil {
		return Principal{}, nil, fmt.Errorf("authenticate: %w", err)
	}
	now := s.now()
	if !now.Before(sess.Expires) || now.Sub(sess.LastSeen) >= s.opt.SessionIdle {
		_ = s.st.DeleteSession(ctx, hash)
		return Principal{}, nil, fmt.Errorf("%w: session ended (idle since %s or past %s): sign in again", ErrExpired,
			sess.LastSeen.Format(time.RFC3339), sess.Expires.Format(time.RFC3339))
	}
	if !safeMethod(r.Method) {
		got := r.Header.Get(CSRFHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
			return Principal{}, nil, fmt.Errorf("%w: %s %s needs the session's %s header", ErrCSRF, r.Method, r.URL.Path, CSRFHeader)
		}
	}
	p, err := s.principalOfUser(ctx, sess.UserID)
	if err != nil {
		return Principal{}, nil, err
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		if err := s.st.TouchSession(ctx, hash, now); err != nil {
			return Principal{}, nil, fmt.Errorf("authenticate: %w", err)
		}
	}
	return p, &sess, nil
}

// Logout ends r's session (if it has one) and records it.
func (s *Service) Logout(ctx context.Context, r *http.Request) error {
	p, sess, err := s.authenticate(ctx, r)
	if err != nil {
		return err
	}
	if sess == nil {
		return nil // a token: nothing to end
	}
	return s.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteSession(ctx, sess.Hash); err != nil {
			return err
		}
		_, err := Record(ctx, tx, Event{Actor: p, Action: AuditLogout, ObjectType: "user", ObjectID: p.UserID})
		return err
	})
}

// PurgeSessions deletes ended sessions (idle or past their expiry).
func (s *Service) PurgeSessions(ctx context.Context) (int, error) {
	now := s.now()
	return s.st.PurgeSessions(ctx, now.Add(-s.opt.SessionIdle), now)
}

// checkText refuses control characters (and NUL, which PostgreSQL cannot
// store) and surrounding space in names.
func checkText(field, v string, maxLen int, required bool) error {
	if required && v == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalid, field)
	}
	if len(v) > maxLen {
		return fmt.Errorf("%w: %s: %d bytes, want at most %d", ErrInvalid, field, len(v), maxLen)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s %q: not UTF-8", ErrInvalid, field, v)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s %q: control character %U", ErrInvalid, field, v, r)
		}
	}
	if strings.TrimSpace(v) != v {
		return fmt.Errorf("%w: %s %q: surrounding space", ErrInvalid, field, v)
	}
	return nil
}

func (s *Service) allow(p Principal, a Action) error {
	if !p.Can(a) {
		return fmt.Errorf("%w: %s (%s) may not %s", ErrForbidden, p.UserID, p.Role, a)
	}
	return nil
}

// AddAgency creates an agency (actor needs ManageAgencies).
func (s *Service) AddAgency(ctx context.Context, actor Principal, a Agency) (Agency, error) {
	if err := s.allow(actor, ManageAgencies); err != nil {
		return Agency{}, err
	}
	if err := a.Validate(); err != nil {
		return Agency{}, err
	}
	if err := checkText("agency name", a.Name, 200, true); err != nil {
		return Agency{}, err
	}
	if err := checkText("agency id", a.ID, 64, true); err != nil {
		return Agency{}, err
	}
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		if a.Host {
			if h, err := tx.HostAgency(ctx, a.Country); err == nil {
				return fmt.Errorf("%w: %s already has a host agency, %s", store.ErrConflict, a.Country, h.ID)
			}
		}
		if _, err := tx.PutAgency(ctx, store.Agency{ID: a.ID, Name: a.Name, Country: a.Country, Lang: a.Lang, Host: a.Host}); err != nil {
			return err
		}
		_, err := Record(ctx, tx, Event{Actor: actor, Action: AuditAgencyCreate, ObjectType: "agency", ObjectID: a.ID, Details: a})
		return err
	})
	if err != nil {
		return Agency{}, fmt.Errorf("add agency %q: %w", a.ID, err)
	}
	return a, nil
}

func agencyOf(a store.Agency) Agency {
	return Agency{ID: a.ID, Name: a.Name, Country: a.Country, Lang: a.Lang, Host: a.Host}
}

// Agencies lists the agencies by id.
func (s *Service) Agencies(ctx context.Context) ([]Agency, error) {
	as, err := s.st.Agencies(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Agency, len(as))
	for i, a := range as {
		out[i] = agencyOf(a)
	}
	return out, nil
}

// NewUser is a user to create.
type NewUser struct {
	Username string
	Name     string
	AgencyID string
	Role     Role
	Lang     string // "" : the agency's
	Password string
}

// AddUser creates a user (actor needs ManageUsers).
func (s *Service) AddUser(ctx context.Context, actor Principal, nu NewUser) (User, error) {
	if err := s.allow(actor, ManageUsers); err != nil {
		return User{}, err
	}
	if err := checkText("username", nu.Username, 64, true); err != nil {
		return User{}, err
	}
	if err := checkText("name", nu.Name, 200, false); err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(nu.Role)); err != nil {
		return User{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := CheckPassword(nu.Password); err != nil {
		return User{}, err
	}
	ag, err := s.st.Agency(ctx, nu.AgencyID)
	if err != nil {
		return User{}, fmt.Errorf("add user %q (see atalaya agency list): %w", nu.Username, err)
	}
	if nu.Lang == "" {
		nu.Lang = ag.Lang
	}
	if !validLang(nu.Lang) {
		return User{}, fmt.Errorf("%w: lang %q: want es, en or pt", ErrInvalid, nu.Lang)
	}
	var hash string
	if err := s.hashing(ctx, func() { hash = HashPassword(nu.Password, s.opt.Params) }); err != nil {
		return User{}, err
	}
	var out store.User
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		out, err = tx.CreateUser(ctx, store.User{AgencyID: nu.AgencyID, Username: nu.Username, Name: nu.Name,
			Role: string(nu.Role), Lang: nu.Lang, PasswordHash: hash})
		if err != nil {
			return err
		}
		_, err = Record(ctx, tx, Event{Actor: actor, Action: AuditUserCreate, ObjectType: "user", ObjectID: out.ID,
			Details: map[string]string{"username": nu.Username, "agency": nu.AgencyID, "role": string(nu.Role)}})
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("add user %q: %w", nu.Username, err)
	}
	return userOf(out), nil
}

// Users lists the users by username.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	us, err := s.st.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]User, len(us))
	for i, u := range us {
		out[i] = userOf(u)
	}
	return out, nil
}

// SetPassword sets a user's password and signs them out everywhere (actor
// needs ManageUsers).
func (s *Service) SetPassword(ctx context.Context, actor Principal, username, password string) error {
	if err := s.allow(actor, ManageUsers); err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	u, err := s.st.UserByName(ctx, username)
	if err != nil {
		return fmt.Errorf("set password (see atalaya user list): %w", err)
	}
	var hash string
	if err := s.hashing(ctx, func() { hash = HashPassword(password, s.opt.Params) }); err != nil {
		return err
	}
	return s.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetPassword(ctx, u.ID, hash); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		_, err := Record(ctx, tx, Event{Actor: actor, Action: AuditUserPassword, ObjectType: "user", ObjectID: u.ID})
		return err
	})
}

// SetDisabled disables (signing them out everywhere; their tokens stop
// working) or re-enables a user (actor needs ManageUsers).
func (s *Service) SetDisabled(ctx context.Context, actor Principal, username string, disabled bool) error {
	if err := s.allow(actor, ManageUsers); err != nil {
		return err
	}
	u, err := s.st.UserByName(ctx, username)
	if err != nil {
		return fmt.Errorf("disable user (see atalaya user list): %w", err)
	}
	action := AuditUserEnable
	if disabled {
		action = AuditUserDisable
	}
	return s.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetUserDisabled(ctx, u.ID, disabled); err != nil {
			return err
		}
		if disabled {
			if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
				return err
			}
		}
		_, err := Record(ctx, tx, Event{Actor: actor, Action: action, ObjectType: "user", ObjectID: u.ID})
		return err
	})
}

// Token is an API token as listed (never its text).
type Token struct {
	ID      string    `json:"id"`
	UserID  string    `json:"user"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	Revoked time.Time `json:"revoked,omitzero"`
}

func tokenOf(t store.Token) Token {
	return Token{ID: t.ID, UserID: t.UserID, Name: t.Name, Created: t.Created, Expires: t.Expires, Revoked: t.Revoked}
}

// CreateToken issues an API token acting as username, valid for ttl (0:
// until revoked), and returns its text — shown once, stored only as a
// digest (actor needs ManageTokens).
func (s *Service) CreateToken(ctx context.Context, actor Principal, username, name string, ttl time.Duration) (string, Token, error) {
	if err := s.allow(actor, ManageTokens); err != nil {
		return "", Token{}, err
	}
	if err := checkText("token name", name, 200, false); err != nil {
		return "", Token{}, err
	}
	if ttl < 0 {
		return "", Token{}, fmt.Errorf("%w: token lifetime %v: want ≥ 0 (0: until revoked)", ErrInvalid, ttl)
	}
	u, err := s.st.UserByName(ctx, username)
	if err != nil {
		return "", Token{}, fmt.Errorf("create token (see atalaya user list): %w", err)
	}
	text, hash := NewToken()
	var exp time.Time
	if ttl > 0 {
		exp = s.now().Add(ttl)
	}
	var out store.Token
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		out, err = tx.CreateToken(ctx, store.Token{UserID: u.ID, Name: name, Hash: hash, Expires: exp})
		if err != nil {
			return err
		}
		_, err = Record(ctx, tx, Event{Actor: actor, Action: AuditTokenCreate, ObjectType: "token", ObjectID: out.ID,
			Details: map[string]any{"user": u.ID, "name": name, "expires": exp}})
		return err
	})
	if err != nil {
		return "", Token{}, fmt.Errorf("create token for %q: %w", username, err)
	}
	return text, tokenOf(out), nil
}

// RevokeToken revokes an API token by id (actor needs ManageTokens).
func (s *Service) RevokeToken(ctx context.Context, actor Principal, id string) (Token, error) {
	if err := s.allow(actor, ManageTokens); err != nil {
		return Token{}, err
	}
	var out store.Token
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if out, err = tx.RevokeToken(ctx, id); err != nil {
			return err
		}
		_, err = Record(ctx, tx, Event{Actor: actor, Action: AuditTokenRevoke, ObjectType: "token", ObjectID: id})
		return err
	})
	if err != nil {
		return Token{}, fmt.Errorf("revoke token %q: %w", id, err)
	}
	return tokenOf(out), nil
}

// Tokens lists a user's tokens.
func (s *Service) Tokens(ctx context.Context, username string) ([]Token, error) {
	u, err := s.st.UserByName(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	ts, err := s.st.Tokens(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(ts))
	for i, t := range ts {
		out[i] = tokenOf(t)
	}
	return out, nil
}

// OwnerOf returns the agency that owns a site at the point: the host agency
// of the country (Natural Earth admin-0) containing it. ErrNoJurisdiction if
// the point is in no country or its country has no host agency.
func (s *Service) OwnerOf(ctx context.Context, lat, lon float64) (string, error) {
	return ownerOf(ctx, s.st, lat, lon)
}

func ownerOf(ctx context.Context, r store.AgencyReader, lat, lon float64) (string, error) {
	iso3, name, ok := boundaries.CountryAt(lat, lon)
	if !ok {
		return "", fmt.Errorf("%w: %.5f, %.5f is in no country", ErrNoJurisdiction, lat, lon)
	}
	a, err := r.HostAgency(ctx, iso3)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w: %s (%s) has no host agency: add one with atalaya agency add --host", ErrNoJurisdiction, name, iso3)
	}
	if err != nil {
		return "", fmt.Errorf("owner of %.5f, %.5f: %w", lat, lon, err)
	}
	return a.ID, nil
}

// Owners is a snapshot of the host agencies, for assigning owners to many
// sites without a query each.
type Owners struct {
	host map[string]string // country → agency id
}

// Owners loads the host agencies.
func (s *Service) Owners(ctx context.Context) (*Owners, error) {
	as, err := s.st.Agencies(ctx)
	if err != nil {
		return nil, err
	}
	o := &Owners{host: map[string]string{}}
	for _, a := range as {
		if a.Host {
			o.host[a.Country] = a.ID
		}
	}
	return o, nil
}

// Of returns the owner of a site at the point, "" if none.
func (o *Owners) Of(lat, lon float64) string {
	iso3, _, ok := boundaries.CountryAt(lat, lon)
	if !ok {
		return ""
	}
	return o.host[iso3]
}

// Release records, in tx (the transaction of the release decision and its
// outbox alert), that p releases site to the agencies to, and audits it.
// p must be allowed to release and its agency must own the site (the host
// agency of the country containing it); every agency in to must exist.
// Releasing to an agency again changes nothing.
func (s *Service) Release(ctx context.Context, tx store.Tx, p Principal, site store.Site, to []string) ([]store.Release, error) {
	owner, err := ownerOf(ctx, tx, site.Lat, site.Lon)
	if err != nil {
		return nil, fmt.Errorf("release site %s: %w", site.ID, err)
	}
	if !CanRelease(p, owner) {
		return nil, fmt.Errorf("%w: release site %s: %s (%s of %q) may not: only the owner, %s, releases it", ErrForbidden,
			site.ID, p.UserID, p.Role, p.AgencyID, owner)
	}
	if len(to) == 0 {
		return nil, fmt.Errorf("%w: release site %s: release_to is empty: name the agencies", ErrInvalid, site.ID)
	}
	out := make([]store.Release, 0, len(to))
	for _, a := range to {
		if a == owner {
			return nil, fmt.Errorf("%w: release site %s: release_to %q owns it already", ErrInvalid, site.ID, a)
		}
		if _, err := tx.Agency(ctx, a); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("%w: release site %s: release_to %q: no such agency", ErrInvalid, site.ID, a)
			}
			return nil, err
		}
		r, err := tx.ReleaseSite(ctx, store.Release{SiteID: site.ID, AgencyID: a, ReleasedBy: p.UserID, At: s.now()})
		if err != nil {
			return nil, fmt.Errorf("release site %s: %w", site.ID, err)
		}
		out = append(out, r)
	}
	if _, err := Record(ctx, tx, Event{Actor: p, Action: AuditSiteRelease, ObjectType: "site", ObjectID: site.ID,
		Details: map[string]any{"to": to, "owner": owner}}); err != nil {
		return nil, err
	}
	return out, nil
}

// ReleasedTo returns the agencies a site was released to.
func (s *Service) ReleasedTo(ctx context.Context, siteID string) ([]string, error) {
	rs, err := s.st.Releases(ctx, siteID)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.AgencyID
	}
	return out, nil
}

// RecordRead audits a read (the server calls it for the reads it records:
// a site's evidence, an export, the audit log itself).
func (s *Service) RecordRead(ctx context.Context, p Principal, objectType, objectID string, details any) error {
	_, err := Record(ctx, s.st, Event{Actor: p, Action: AuditRead, ObjectType: objectType, ObjectID: objectID, Details: details})
	return err
}
