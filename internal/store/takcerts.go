package store

import (
	"context"
	"fmt"
	"time"
)

// TAKCert is a client certificate Atalaya's TAK certificate authority
// issued: who it is for (user and agency), and whether it was revoked.
type TAKCert struct {
	Serial    string // the certificate's serial number, lower-case hex
	UserID    string
	AgencyID  string
	ClientUID string // the device's uid as given at enrollment; may be empty
	Subject   string // the certificate's subject, RFC 2253
	NotBefore time.Time
	NotAfter  time.Time
	Issued    time.Time
	Revoked   time.Time // zero: not revoked
	Reason    string    // why it was revoked
}

// TAKCerts records the TAK client certificates issued and revoked.
type TAKCerts interface {
	// PutTAKCert records a newly issued certificate.
	PutTAKCert(ctx context.Context, c TAKCert) (TAKCert, error)
	// TAKCert returns the certificate with that serial; ErrNotFound if
	// Atalaya did not issue it.
	TAKCert(ctx context.Context, serial string) (TAKCert, error)
	// TAKCertsOf returns a user's certificates (every certificate if userID
	// is empty), newest first.
	TAKCertsOf(ctx context.Context, userID string) ([]TAKCert, error)
	// RevokeTAKCert revokes one certificate (by serial) or, if serial is
	// empty, every unrevoked certificate of userID; it returns the number
	// revoked. Revoking is permanent; revoking again changes nothing.
	RevokeTAKCert(ctx context.Context, serial, userID, reason string) (int, error)
}

var _ TAKCerts = (*DB)(nil)

const takCertCols = `serial, user_id, agency_id, client_uid, subject, not_before_us, not_after_us, issued_us, revoked_us, revoke_reason`

func scanTAKCert(sc interface{ Scan(...any) error }) (TAKCert, error) {
	var (
		c                       TAKCert
		nb, na, issued, revoked int64
	)
	err := sc.Scan(&c.Serial, &c.UserID, &c.AgencyID, &c.ClientUID, &c.Subject, &nb, &na, &issued, &revoked, &c.Reason)
	c.NotBefore, c.NotAfter, c.Issued = fromUS(nb), fromUS(na), fromUS(issued)
	if revoked != 0 {
		c.Revoked = fromUS(revoked)
	}
	return c, err
}

// PutTAKCert implements TAKCerts.
func (o *ops) PutTAKCert(ctx context.Context, c TAKCert) (TAKCert, error) {
	if c.Serial == "" || c.UserID == "" || c.AgencyID == "" {
		return TAKCert{}, fmt.Errorf("%w: TAK certificate needs serial, user and agency (got %q, %q, %q)", ErrInvalid, c.Serial, c.UserID, c.AgencyID)
	}
	if c.Issued.IsZero() {
		c.Issued = o.now()
	}
	c.Issued, c.NotBefore, c.NotAfter = fromUS(us(c.Issued)), fromUS(us(c.NotBefore)), fromUS(us(c.NotAfter))
	var revoked int64
	if !c.Revoked.IsZero() {
		revoked = us(c.Revoked)
	}
	_, err := o.exec(ctx, `INSERT INTO tak_certs (`+takCertCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Serial, c.UserID, c.AgencyID, c.ClientUID, c.Subject, us(c.NotBefore), us(c.NotAfter), us(c.Issued), revoked, c.Reason)
	return c, o.d.wrap(err, "record TAK certificate %s", c.Serial)
}

// TAKCert implements TAKCerts.
func (o *ops) TAKCert(ctx context.Context, serial string) (TAKCert, error) {
	c, err := scanTAKCert(o.queryRow(ctx, `SELECT `+takCertCols+` FROM tak_certs WHERE serial = ?`, serial))
	return c, o.d.wrap(err, "TAK certificate %s", serial)
}

// TAKCertsOf implements TAKCerts.
func (o *ops) TAKCertsOf(ctx context.Context, userID string) ([]TAKCert, error) {
	what := "TAK certificates of " + userID
	q := `SELECT ` + takCertCols + ` FROM tak_certs WHERE user_id = ? OR ? = '' ORDER BY issued_us DESC, serial`
	rows, err := o.query(ctx, q, userID, userID)
	if err != nil {
		return nil, o.d.wrap(err, "%s", what)
	}
	defer rows.Close()
	var out []TAKCert
	for rows.Next() {
		c, err := scanTAKCert(rows)
		if err != nil {
			return nil, o.d.wrap(err, "%s", what)
		}
		out = append(out, c)
	}
	return out, o.d.wrap(rows.Err(), "%s", what)
}

// RevokeTAKCert implements TAKCerts.
func (o *ops) RevokeTAKCert(ctx context.Context, serial, userID, reason string) (int, error) {
	if serial == "" && userID == "" {
		return 0, fmt.Errorf("%w: revoke TAK certificate: give a serial or a user", ErrInvalid)
	}
	now := us(o.now())
	var (
		q    string
		args []any
		what string
	)
	if serial != "" {
		q, args, what = `UPDATE tak_certs SET revoked_us = ?, revoke_reason = ? WHERE serial = ? AND revoked_us = 0`, []any{now, reason, serial}, "revoke TAK certificate "+serial
	} else {
		q, args, what = `UPDATE tak_certs SET revoked_us = ?, revoke_reason = ? WHERE user_id = ? AND revoked_us = 0`, []any{now, reason, userID}, "revoke TAK certificates of "+userID
	}
	res, err := o.exec(ctx, q, args...)
	if err != nil {
		return 0, o.d.wrap(err, "%s", what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, o.d.wrap(err, "%s", what)
	}
	if n == 0 && serial != "" {
		if _, err := o.TAKCert(ctx, serial); err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
	}
	return int(n), nil
}

// PutTAKCert implements TAKCerts, in a transaction of its own.
func (db *DB) PutTAKCert(ctx context.Context, c TAKCert) (out TAKCert, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		out, err = t.PutTAKCert(ctx, c)
		return err
	})
	return out, err
}

// RevokeTAKCert implements TAKCerts, in a transaction of its own.
func (db *DB) RevokeTAKCert(ctx context.Context, serial, userID, reason string) (n int, err error) {
	err = db.inTx(ctx, func(t *tx) error {
		n, err = t.RevokeTAKCert(ctx, serial, userID, reason)
		return err
	})
	return n, err
}
