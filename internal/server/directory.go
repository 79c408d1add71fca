package server

import (
	"context"

	"github.com/atalaya-project/atalaya/internal/store"
)

// StoreDirectory lists agencies and users from the store's access records.
type StoreDirectory struct {
	Store interface {
		Agencies(ctx context.Context) ([]store.Agency, error)
		Users(ctx context.Context) ([]store.User, error)
	}
}

// Agencies implements Directory.
func (d StoreDirectory) Agencies(ctx context.Context) ([]Agency, error) {
	as, err := d.Store.Agencies(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Agency, len(as))
	for i, a := range as {
		out[i] = Agency{ID: a.ID, Name: a.Name, Country: a.Country, Lang: a.Lang, Host: a.Host}
	}
	return out, nil
}

// Users implements Directory: enabled and disabled users, without their
// password hashes.
func (d StoreDirectory) Users(ctx context.Context, agencyID string) ([]User, error) {
	us, err := d.Store.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := []User{}
	for _, u := range us {
		if agencyID != "" && u.AgencyID != agencyID {
			continue
		}
		out = append(out, User{ID: u.ID, Username: u.Username, Name: u.Name, AgencyID: u.AgencyID,
			Role: Role(u.Role), Lang: u.Lang, Disabled: u.Disabled})
	}
	return out, nil
}
