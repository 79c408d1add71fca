package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reads and writes of package access's records (schema version 2), on a
// pool or in a transaction; the DB's writes each run in a transaction of
// their own (accessdb.go).

const agencyCols = `id, name, country, lang, host, created_us`

func scanAgency(sc interface{ Scan(...any) error }) (Agency, error) {
	var (
		a       Agency
		created int64
	)
	err := sc.Scan(&a.ID, &a.Name, &a.Country, &a.Lang, &a.Host, &created)
	a.Created = fromUS(created)
	return a, err
}

// Agency implements AgencyReader.
func (o *ops) Agency(ctx context.Context, id string) (Agency, error) {
	a, err := scanAgency(o.queryRow(ctx, `SELECT `+agencyCols+` FROM agencies WHERE id = ?`, id))
	return a, o.d.wrap(err, "agency %q", id)
}

// HostAgency implements AgencyReader.
func (o *ops) HostAgency(ctx context.Context, country string) (Agency, error) {
	a, err := scanAgency(o.queryRow(ctx, `SELECT `+agencyCols+` FROM agencies WHERE country = ? AND host`, country))
	return a, o.d.wrap(err, "host agency of %q", country)
}

// Agencies implements AgencyReader.
func (o *ops) Agencies(ctx context.Context) ([]Agency, error) {
	rows, err := o.query(ctx, `SELECT `+agencyCols+` FROM agencies ORDER BY id`)
	if err != nil {
		return nil, o.d.wrap(err, "agencies")
	}
	defer rows.Close()
	var out []Agency
	for rows.Next() {
		a, err := scanAgency(rows)
		if err != nil {
			return nil, o.d.wrap(err, "agencies")
		}
		out = append(out, a)
	}
	return out, o.d.wrap(rows.Err(), "agencies")
}

// PutAgency implements AgencyWriter.
func (o *ops) PutAgency(ctx context.Context, a Agency) (Agency, error) {
	if a.ID == "" || a.Name == "" {
		return Agency{}, fmt.Errorf("%w: agency id %q, name %q: want both", ErrInvalid, a.ID, a.Name)
	}
	a.Created = fromUS(us(o.now()))
	_, err := o.exec(ctx, `INSERT INTO agencies (`+agencyCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.Country, a.Lang, a.Host, us(a.Created))
	if err != nil {
		return Agency{}, o.d.wrap(err, "put agency %q (country %q, host %v)", a.ID, a.Country, a.Host)
	}
	return a, nil
}

const userCols = `id, agency_id, username, name, role, lang, password_hash, disabled, created_us, updated_us`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var (
		u                User
		created, updated int64
	)
	err := sc.Scan(&u.ID, &u.AgencyID, &u.Username, &u.Name, &u.Role, &u.Lang, &u.PasswordHash, &u.Disabled, &created, &updated)
	u.Created, u.Updated = fromUS(created), fromUS(updated)
	return u, err
}

// User implements UserReader.
func (o *ops) User(ctx context.Context, id string) (User, error) {
	u, err := scanUser(o.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, o.d.wrap(err, "user %q", id)
}

// UserByName implements UserReader.
func (o *ops) UserByName(ctx context.Context, username string) (User, error) {
	u, err := scanUser(o.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE username = ?`, username))
	return u, o.d.wrap(err, "user %q", username)
}

// Users implements UserReader.
func (o *ops) Users(ctx context.Context) ([]User, error) {
	rows, err := o.query(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, o.d.wrap(err, "users")
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, o.d.wrap(err, "users")
		}
		out = append(out, u)
	}
	return out, o.d.wrap(rows.Err(), "users")
}

// CountUsers implements UserReader.
func (o *ops) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := o.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, o.d.wrap(err, "count users")
}

// CreateUser implements UserWriter.
func (o *ops) CreateUser(ctx context.Context, u User) (User, error) {
	if u.Username == "" || u.AgencyID == "" {
		return User{}, fmt.Errorf("%w: user %q of agency %q: want a username and an agency", ErrInvalid, u.Username, u.AgencyID)
	}
	now := o.now()
	if u.ID == "" {
		u.ID = newID(now)
	}
	u.Created, u.Updated = fromUS(us(now)), fromUS(us(now))
	_, err := o.exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.AgencyID, u.Username, u.Name, u.Role, u.Lang, u.PasswordHash, u.Disabled, us(now), us(now))
	if err != nil {
		return User{}, o.d.wrap(err, "create user %q in agency %q", u.Username, u.AgencyID)
	}
	return u, nil
}

func (o *ops) updateUser(ctx context.Context, what, id, set string, v any) error {
	res, err := o.exec(ctx, `UPDATE users SET `+set+` = ?, updated_us = ? WHERE id = ?`, v, us(o.now()), id)
	if err != nil {
		return o.d.wrap(err, "%s of user %q", what, id)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return o.d.wrap(err, "%s of user %q", what, id)
		}
		return fmt.Errorf("%s of user %q: %w", what, id, ErrNotFound)
	}
	return nil
}

// SetPassword implements UserWriter.
func (o *ops) SetPassword(ctx context.Context, userID, hash string) error {
	return o.updateUser(ctx, "set password", userID, "password_hash", hash)
}

// SetUserDisabled implements UserWriter.
func (o *ops) SetUserDisabled(ctx context.Context, userID string, disabled bool) error {
	return o.updateUser(ctx, "disable", userID, "disabled", disabled)
}

const tokenCols = `id, user_id, name, hash, created_us, expires_us, revoked_us`

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var (
		t                         Token
		created, expires, revoked int64
	)
	err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &created, &expires, &revoked)
	t.Created, t.Expires, t.Revoked = fromUS(created), fromUS(expires), fromUS(revoked)
	return t, err
}

// TokenByHash implements TokenReader.
func (o *ops) TokenByHash(ctx context.Context, hash string) (Token, error) {
	t, err := scanToken(o.queryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`, hash))
	return t, o.d.wrap(err, "token")
}

// Tokens implements TokenReader.
func (o *ops) Tokens(ctx context.Context, userID string) ([]Token, error) {
	rows, err := o.query(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE user_id = ? ORDER BY created_us, id`, userID)
	if err != nil {
		return nil, o.d.wrap(err, "tokens of user %q", userID)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, o.d.wrap(err, "tokens of user %q", userID)
		}
		out = append(out, t)
	}
	return out, o.d.wrap(rows.Err(), "tokens of user %q", userID)
}

// CreateToken implements TokenWriter.
func (o *ops) CreateToken(ctx context.Context, t Token) (Token, error) {
	if len(t.Hash) != 64 {
		return Token{}, fmt.Errorf("%w: token hash: want 64 hex digits of SHA-256, got %d characters", ErrInvalid, len(t.Hash))
	}
	now := o.now()
	if t.ID == "" {
		t.ID = newID(now)
	}
	t.Created, t.Expires, t.Revoked = fromUS(us(now)), fromUS(us(t.Expires)), time.Time{}
	_, err := o.exec(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, 0)`,
		t.ID, t.UserID, t.Name, t.Hash, us(now), us(t.Expires))
	if err != nil {
		return Token{}, o.d.wrap(err, "create token %q for user %q", t.Name, t.UserID)
	}
	return t, nil
}

// RevokeToken implements TokenWriter.
func (o *ops) RevokeToken(ctx context.Context, id string) (Token, error) {
	if _, err := o.exec(ctx, `UPDATE api_tokens SET revoked_us = ? WHERE id = ? AND revoked_us = 0`, us(o.now()), id); err != nil {
		return Token{}, o.d.wrap(err, "revoke token %q", id)
	}
	t, err := scanToken(o.queryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = ?`, id))
	return t, o.d.wrap(err, "revoke token %q", id)
}

const sessionCols = `hash, user_id, csrf, created_us, last_seen_us, expires_us`

// SessionByHash implements SessionReader.
func (o *ops) SessionByHash(ctx context.Context, hash string) (Session, error) {
	var (
		s                      Session
		created, seen, expires int64
	)
	err := o.queryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE hash = ?`, hash).
		Scan(&s.Hash, &s.UserID, &s.CSRF, &created, &seen, &expires)
	s.Created, s.LastSeen, s.Expires = fromUS(created), fromUS(seen), fromUS(expires)
	return s, o.d.wrap(err, "session")
}

// CreateSession implements SessionWriter.
func (o *ops) CreateSession(ctx context.Context, s Session) (Session, error) {
	if len(s.Hash) != 64 || s.CSRF == "" {
		return Session{}, fmt.Errorf("%w: session: want a 64-hex-digit hash and a CSRF token", ErrInvalid)
	}
	now := fromUS(us(o.now()))
	s.Created, s.LastSeen, s.Expires = now, now, fromUS(us(s.Expires))
	_, err := o.exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		s.Hash, s.UserID, s.CSRF, us(now), us(now), us(s.Expires))
	if err != nil {
		return Session{}, o.d.wrap(err, "create session for user %q", s.UserID)
	}
	return s, nil
}

// TouchSession implements SessionWriter.
func (o *ops) TouchSession(ctx context.Context, hash string, at time.Time) error {
	res, err := o.exec(ctx, `UPDATE sessions SET last_seen_us = ? WHERE hash = ? AND last_seen_us < ?`, us(at), hash, us(at))
	if err != nil {
		return o.d.wrap(err, "touch session")
	}
	_, err = res.RowsAffected()
	return o.d.wrap(err, "touch session")
}

// DeleteSession implements SessionWriter.
func (o *ops) DeleteSession(ctx context.Context, hash string) error {
	_, err := o.exec(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	return o.d.wrap(err, "delete session")
}

// DeleteUserSessions implements SessionWriter.
func (o *ops) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := o.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return o.d.wrap(err, "delete sessions of user %q", userID)
}

// PurgeSessions implements SessionWriter.
func (o *ops) PurgeSessions(ctx context.Context, idleBefore, now time.Time) (int, error) {
	res, err := o.exec(ctx, `DELETE FROM sessions WHERE last_seen_us < ? OR expires_us <= ?`, us(idleBefore), us(now))
	if err != nil {
		return 0, o.d.wrap(err, "purge sessions")
	}
	n, err := res.RowsAffected()
	return int(n), o.d.wrap(err, "purge sessions")
}

// Releases implements ReleaseReader.
func (o *ops) Releases(ctx context.Context, siteID string) ([]Release, error) {
	rows, err := o.query(ctx, `SELECT site_id, agency_id, released_by, at_us FROM site_releases
		WHERE site_id = ? ORDER BY at_us, agency_id`, siteID)
	if err != nil {
		return nil, o.d.wrap(err, "releases of site %s", siteID)
	}
	defer rows.Close()
	var out []Release
	for rows.Next() {
		var (
			r  Release
			at int64
		)
		if err := rows.Scan(&r.SiteID, &r.AgencyID, &r.ReleasedBy, &at); err != nil {
			return nil, o.d.wrap(err, "releases of site %s", siteID)
		}
		r.At = fromUS(at)
		out = append(out, r)
	}
	return out, o.d.wrap(rows.Err(), "releases of site %s", siteID)
}

// SitesReleasedTo implements ReleaseReader.
func (o *ops) SitesReleasedTo(ctx context.Context, agencyID string) ([]string, error) {
	rows, err := o.query(ctx, `SELECT site_id FROM site_releases WHERE agency_id = ? ORDER BY site_id`, agencyID)
	if err != nil {
		return nil, o.d.wrap(err, "sites released to %q", agencyID)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, o.d.wrap(err, "sites released to %q", agencyID)
		}
		out = append(out, id)
	}
	return out, o.d.wrap(rows.Err(), "sites released to %q", agencyID)
}

// ReleasedTo implements ReleaseReader.
func (o *ops) ReleasedTo(ctx context.Context, siteIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	for i := 0; i < len(siteIDs); i += purgeBatch {
		batch := siteIDs[i:min(i+purgeBatch, len(siteIDs))]
		args := make([]any, len(batch))
		for j, id := range batch {
			args[j] = id
		}
		in := "(" + strings.Repeat("?, ", len(batch)-1) + "?)"
		// Unprepared (o.q): the text varies with the batch size.
		rows, err := o.q.QueryContext(ctx, o.d.expand(`SELECT site_id, agency_id FROM site_releases WHERE site_id IN `+in+
			` ORDER BY site_id, agency_id`), args...)
		if err != nil {
			return nil, o.d.wrap(err, "releases of %d sites", len(siteIDs))
		}
		for rows.Next() {
			var site, agency string
			if err := rows.Scan(&site, &agency); err != nil {
				rows.Close()
				return nil, o.d.wrap(err, "releases of %d sites", len(siteIDs))
			}
			out[site] = append(out[site], agency)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, o.d.wrap(err, "releases of %d sites", len(siteIDs))
		}
	}
	return out, nil
}

// ReleaseSite implements ReleaseWriter.
func (o *ops) ReleaseSite(ctx context.Context, r Release) (Release, error) {
	if r.SiteID == "" || r.AgencyID == "" || r.ReleasedBy == "" {
		return Release{}, fmt.Errorf("%w: release of site %q to %q by %q: want all three", ErrInvalid, r.SiteID, r.AgencyID, r.ReleasedBy)
	}
	if r.At.IsZero() {
		r.At = o.now()
	}
	r.At = fromUS(us(r.At))
	if _, err := o.exec(ctx, `INSERT INTO site_releases (site_id, agency_id, released_by, at_us) VALUES (?, ?, ?, ?)
		ON CONFLICT (site_id, agency_id) DO NOTHING`, r.SiteID, r.AgencyID, r.ReleasedBy, us(r.At)); err != nil {
		return Release{}, o.d.wrap(err, "release site %s to %q", r.SiteID, r.AgencyID)
	}
	var at int64
	err := o.queryRow(ctx, `SELECT released_by, at_us FROM site_releases WHERE site_id = ? AND agency_id = ?`,
		r.SiteID, r.AgencyID).Scan(&r.ReleasedBy, &at)
	r.At = fromUS(at)
	return r, o.d.wrap(err, "release site %s to %q", r.SiteID, r.AgencyID)
}

const auditCols = `seq, at_us, actor_user, actor_agency, action, object_type, object_id, details, prev_hash, hash`

// AuditEntries implements AuditReader.
func (o *ops) AuditEntries(ctx context.Context, after int64, limit int) ([]AuditEntry, error) {
	rows, err := o.query(ctx, `SELECT `+auditCols+` FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, after, limitOf(limit))
	if err != nil {
		return nil, o.d.wrap(err, "audit entries after %d", after)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var (
			e  AuditEntry
			at int64
		)
		if err := rows.Scan(&e.Seq, &at, &e.ActorUser, &e.ActorAgency, &e.Action, &e.ObjectType, &e.ObjectID,
			&e.Details, &e.PrevHash, &e.Hash); err != nil {
			return nil, o.d.wrap(err, "audit entries after %d", after)
		}
		e.At = fromUS(at)
		out = append(out, e)
	}
	return out, o.d.wrap(rows.Err(), "audit entries after %d", after)
}

// AuditHead implements AuditReader.
func (o *ops) AuditHead(ctx context.Context) (AuditHead, error) {
	var h AuditHead
	err := o.queryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&h.Seq, &h.Hash)
	return h, o.d.wrap(err, "audit head")
}

// AppendAudit implements AuditWriter. The head row is locked first
// (PostgreSQL: FOR UPDATE; SQLite: the write lock taken at BEGIN), so
// concurrent appends queue and the chain never forks; seq comes from the
// head, not a sequence, so a rolled-back append leaves no gap.
func (o *ops) AppendAudit(ctx context.Context, e AuditEntry, seal AuditSealer) (AuditEntry, error) {
	if !o.inTx {
		return AuditEntry{}, errors.New("append audit: call it in a transaction")
	}
	if e.Action == "" {
		return AuditEntry{}, fmt.Errorf("%w: audit entry action is empty", ErrInvalid)
	}
	var h AuditHead
	if err := o.queryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1 {for_update}`).Scan(&h.Seq, &h.Hash); err != nil {
		return AuditEntry{}, o.d.wrap(err, "append audit: head")
	}
	if e.At.IsZero() {
		e.At = o.now()
	}
	e.At = fromUS(us(e.At))
	e.Seq, e.PrevHash = h.Seq+1, h.Hash
	e.Hash = seal(e)
	if _, err := o.exec(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, us(e.At), e.ActorUser, e.ActorAgency, e.Action, e.ObjectType, e.ObjectID, e.Details, e.PrevHash, e.Hash); err != nil {
		return AuditEntry{}, o.d.wrap(err, "append audit %d", e.Seq)
	}
	if _, err := o.exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, e.Seq, e.Hash); err != nil {
		return AuditEntry{}, o.d.wrap(err, "append audit %d: move head", e.Seq)
	}
	return e, nil
}
