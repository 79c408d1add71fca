package store

import (
	"context"
	"time"
)

// The DB's writes of access records, each in a transaction of its own.

// dbTx runs f in a transaction of its own and returns its result.
func dbTx[T any](db *DB, ctx context.Context, f func(*tx) (T, error)) (out T, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		out, err = f(t)
		return err
	})
	return out, err
}

// PutAgency implements AgencyWriter.
func (db *DB) PutAgency(ctx context.Context, a Agency) (Agency, error) {
	return dbTx(db, ctx, func(t *tx) (Agency, error) { return t.PutAgency(ctx, a) })
}

// CreateUser implements UserWriter.
func (db *DB) CreateUser(ctx context.Context, u User) (User, error) {
	return dbTx(db, ctx, func(t *tx) (User, error) { return t.CreateUser(ctx, u) })
}

// SetPassword implements UserWriter.
func (db *DB) SetPassword(ctx context.Context, userID, hash string) error {
	return db.inTx(ctx, func(t *tx) error { return t.SetPassword(ctx, userID, hash) })
}

// SetUserDisabled implements UserWriter.
func (db *DB) SetUserDisabled(ctx context.Context, userID string, disabled bool) error {
	return db.inTx(ctx, func(t *tx) error { return t.SetUserDisabled(ctx, userID, disabled) })
}

// CreateToken implements TokenWriter.
func (db *DB) CreateToken(ctx context.Context, tk Token) (Token, error) {
	return dbTx(db, ctx, func(t *tx) (Token, error) { return t.CreateToken(ctx, tk) })
}

// RevokeToken implements TokenWriter.
func (db *DB) RevokeToken(ctx context.Context, id string) (Token, error) {
	return dbTx(db, ctx, func(t *tx) (Token, error) { return t.RevokeToken(ctx, id) })
}

// CreateSession implements SessionWriter.
func (db *DB) CreateSession(ctx context.Context, s Session) (Session, error) {
	return dbTx(db, ctx, func(t *tx) (Session, error) { return t.CreateSession(ctx, s) })
}

// TouchSession implements SessionWriter.
func (db *DB) TouchSession(ctx context.Context, hash string, at time.Time) error {
	return db.inTx(ctx, func(t *tx) error { return t.TouchSession(ctx, hash, at) })
}

// DeleteSession implements SessionWriter.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	return db.inTx(ctx, func(t *tx) error { return t.DeleteSession(ctx, hash) })
}

// DeleteUserSessions implements SessionWriter.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) error {
	return db.inTx(ctx, func(t *tx) error { return t.DeleteUserSessions(ctx, userID) })
}

// PurgeSessions implements SessionWriter.
func (db *DB) PurgeSessions(ctx context.Context, idleBefore, now time.Time) (int, error) {
	return dbTx(db, ctx, func(t *tx) (int, error) { return t.PurgeSessions(ctx, idleBefore, now) })
}

// ReleaseSite implements ReleaseWriter.
func (db *DB) ReleaseSite(ctx context.Context, r Release) (Release, error) {
	return dbTx(db, ctx, func(t *tx) (Release, error) { return t.ReleaseSite(ctx, r) })
}

// AppendAudit implements AuditWriter.
func (db *DB) AppendAudit(ctx context.Context, e AuditEntry, seal AuditSealer) (AuditEntry, error) {
	return dbTx(db, ctx, func(t *tx) (AuditEntry, error) { return t.AppendAudit(ctx, e, seal) })
}
