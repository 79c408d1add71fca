package tak

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/atalaya-project/atalaya/internal/access"
	"github.com/atalaya-project/atalaya/internal/store"
)

// Revoke revokes one certificate (serial) or every certificate of a user
// and appends "tak.cert.revoke" to the audit log, in one transaction.
func Revoke(ctx context.Context, st IssuerStore, actor access.Principal, serial, user, reason string) (n int, err error) {
	err = st.InTx(ctx, func(tx store.Tx) error {
		if n, err = tx.RevokeTAKCert(ctx, serial, user, reason); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		id := serial
		if id == "" {
			id = "user:" + user
		}
		_, err := access.Record(ctx, tx, access.Event{Actor: actor, Action: "tak.cert.revoke", ObjectType: "tak_cert",
			ObjectID: id, Details: map[string]any{"serial": serial, "user": user, "reason": reason, "revoked": n}})
		return err
	})
	return n, err
}

// IssuerStore records issued certificates, each with its audit-log entry in
// one transaction. *store.DB implements it.
type IssuerStore interface {
	store.TAKCerts
	InTx(ctx context.Context, fn func(store.Tx) error) error
}

// Issuer issues client certificates from Atalaya's CA and records them, so
// that the TAK ports know whose each is and whether it was revoked, and
// appends "tak.cert.issue" to the audit log in the same transaction.
type Issuer struct {
	CA    *CA
	Certs IssuerStore
	// Validity of a client certificate (default 1 year).
	Validity time.Duration
	Now      func() time.Time // default time.Now
}

func (is *Issuer) now() time.Time {
	if is.Now != nil {
		return is.Now()
	}
	return time.Now()
}

// Issue signs csr for u (its common name must be u.ID) and records the
// certificate.
func (is *Issuer) Issue(ctx context.Context, csr *x509.CertificateRequest, u User, clientUID string) (*x509.Certificate, error) {
	if u.ID == "" || u.AgencyID == "" {
		return nil, fmt.Errorf("issue certificate: user %q of agency %q: both are needed", u.ID, u.AgencyID)
	}
	c, err := is.CA.SignClient(csr, u.ID, is.Validity, is.now())
	if err != nil {
		return nil, err
	}
	rec := store.TAKCert{
		Serial: Serial(c), UserID: u.ID, AgencyID: u.AgencyID, ClientUID: clientUID,
		Subject: c.Subject.String(), NotBefore: c.NotBefore, NotAfter: c.NotAfter,
	}
	err = is.Certs.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.PutTAKCert(ctx, rec); err != nil {
			return err
		}
		actor := access.Principal{UserID: u.StoreID, AgencyID: u.AgencyID}
		if actor.UserID == "" {
			actor.UserID = u.ID
		}
		if u.Actor != nil {
			actor = *u.Actor
		}
		_, err := access.Record(ctx, tx, access.Event{Actor: actor, Action: "tak.cert.issue", ObjectType: "tak_cert",
			ObjectID: rec.Serial, Details: map[string]string{"user": u.ID, "agency": u.AgencyID, "client_uid": clientUID,
				"subject": rec.Subject, "not_after": rec.NotAfter.UTC().Format(time.RFC3339)}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record certificate of %s: %w", u.ID, err)
	}
	return c, nil
}

// Errors of client authentication.
var (
	// ErrUnknownCert: the certificate chains to Atalaya's CA but Atalaya
	// has no record of issuing it (a CA key leak, or a store restored from
	// an older backup).
	ErrUnknownCert = errors.New("tak: certificate not issued by this Atalaya")
	// ErrRevoked: the certificate was revoked, or its user was disabled or
	// removed.
	ErrRevoked = errors.New("tak: certificate revoked")
)

// verifier checks client certificates against the store after the TLS
// library has checked the chain to the CA.
type verifier struct {
	certs store.TAKCerts
	users store.UserReader // nil: the certificate record alone decides
}

// user returns whom a verified client certificate belongs to.
func (v verifier) user(ctx context.Context, c *x509.Certificate) (User, error) {
	rec, err := v.certs.TAKCert(ctx, Serial(c))
	if errors.Is(err, store.ErrNotFound) {
		return User{}, fmt.Errorf("%w: serial %s (%s)", ErrUnknownCert, Serial(c), c.Subject)
	}
	if err != nil {
		return User{}, err
	}
	if !rec.Revoked.IsZero() {
		return User{}, fmt.Errorf("%w: serial %s of %s on %s (%s)", ErrRevoked, rec.Serial, rec.UserID,
			rec.Revoked.UTC().Format(time.RFC3339), rec.Reason)
	}
	u := User{ID: rec.UserID, AgencyID: rec.AgencyID}
	if v.users != nil {
		// The user's account decides too: disabling a user cuts their
		// devices off, and a user moved to another agency sees that
		// agency's sites.
		su, err := v.users.UserByName(ctx, rec.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return User{}, fmt.Errorf("%w: serial %s: user %s no longer exists", ErrRevoked, rec.Serial, rec.UserID)
		}
		if err != nil {
			return User{}, err
		}
		if su.Disabled {
			return User{}, fmt.Errorf("%w: serial %s: user %s is disabled", ErrRevoked, rec.Serial, rec.UserID)
		}
		u.AgencyID = su.AgencyID
	}
	return u, nil
}

// clientTLS is the TLS configuration of a port that requires client
// certificates from Atalaya's CA, not revoked.
func clientTLS(ca *CA, cert tls.Certificate, v verifier) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tak: no client certificate")
			}
			_, err := v.user(context.Background(), cs.PeerCertificates[0])
			return err
		},
	}
}
