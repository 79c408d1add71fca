package access

import (
	"context"
	"errors"
	"fmt"

	"github.com/atalaya-project/atalaya/internal/store"
)

// BootstrapOptions say what a first run creates. Zero fields take the
// defaults shown.
type BootstrapOptions struct {
	Country    string // host country, ISO 3166-1 alpha-3 ("COL")
	AgencyID   string // host agency id (Country + "-HOST")
	AgencyName string // ("Host agency " + Country)
	Lang       string // ("es")
	Username   string // the administrator ("admin")
	Params     Params // password hashing (DefaultParams)
}

// Bootstrapped is what Bootstrap did. Password is the administrator's
// random password: print it once, it is stored only hashed.
type Bootstrapped struct {
	Created  bool // false: users existed, nothing was done
	Agency   Agency
	User     User
	Password string
}

// Bootstrap prepares a store nobody can sign in to yet: if it has no users,
// it creates the host agency of opt.Country (unless the country has one)
// and an administrator in it with a random password, in one transaction,
// audited. With users present it does nothing (Created false), so `atalaya
// serve` may call it on every start.
func Bootstrap(ctx context.Context, st Store, opt BootstrapOptions) (Bootstrapped, error) {
	if opt.Country == "" {
		opt.Country = "COL"
	}
	if opt.AgencyID == "" {
		opt.AgencyID = opt.Country + "-HOST"
	}
	if opt.AgencyName == "" {
		opt.AgencyName = "Host agency " + opt.Country
	}
	if opt.Lang == "" {
		opt.Lang = "es"
	}
	if opt.Username == "" {
		opt.Username = "admin"
	}
	if opt.Params == (Params{}) {
		opt.Params = DefaultParams
	}
	ag := Agency{ID: opt.AgencyID, Name: opt.AgencyName, Country: opt.Country, Lang: opt.Lang, Host: true}
	if err := ag.Validate(); err != nil {
		return Bootstrapped{}, fmt.Errorf("bootstrap: %w", err)
	}
	if n, err := st.CountUsers(ctx); err != nil || n > 0 {
		return Bootstrapped{}, err
	}
	// 18 random bytes: 24 base64url characters, 144 bits.
	password := newSecret()[:24]
	hash := HashPassword(password, opt.Params)
	var out Bootstrapped
	err := st.InTx(ctx, func(tx store.Tx) error {
		if n, err := tx.CountUsers(ctx); err != nil || n > 0 {
			return err // another process bootstrapped meanwhile
		}
		actor := System("bootstrap")
		host, err := tx.HostAgency(ctx, ag.Country)
		switch {
		case err == nil:
			ag = agencyOf(host)
		case errors.Is(err, store.ErrNotFound):
			if _, err := tx.PutAgency(ctx, store.Agency{ID: ag.ID, Name: ag.Name, Country: ag.Country, Lang: ag.Lang, Host: true}); err != nil {
				return err
			}
			if _, err := Record(ctx, tx, Event{Actor: actor, Action: AuditAgencyCreate, ObjectType: "agency", ObjectID: ag.ID, Details: ag}); err != nil {
				return err
			}
		default:
			return err
		}
		u, err := tx.CreateUser(ctx, store.User{AgencyID: ag.ID, Username: opt.Username, Name: "Administrator",
			Role: string(RoleAdministrator), Lang: ag.Lang, PasswordHash: hash})
		if err != nil {
			return err
		}
		if _, err := Record(ctx, tx, Event{Actor: actor, Action: AuditBootstrap, ObjectType: "user", ObjectID: u.ID,
			Details: map[string]string{"username": u.Username, "agency": ag.ID}}); err != nil {
			return err
		}
		out = Bootstrapped{Created: true, Agency: ag, User: userOf(u), Password: password}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return Bootstrapped{}, nil // a concurrent bootstrap won
	}
	if err != nil {
		return Bootstrapped{}, fmt.Errorf("bootstrap: %w", err)
	}
	return out, nil
}
