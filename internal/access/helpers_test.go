package access

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

var ctx = context.Background()

// fastParams keep the tests quick; the reference vectors show the argon2id
// wiring with real parameters.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// db is a real store (SQLite or PostgreSQL) with a raw connection to it
// for tampering.
type db struct {
	*store.DB
	url   string
	raw   *sql.DB
	clock *storetest.Clock
}

// both runs f against a fresh SQLite store and a fresh PostgreSQL one.
func both(t *testing.T, f func(t *testing.T, d *db)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "atalaya.db")
		f(t, open(t, "sqlite:"+path, "sqlite", path))
	})
	t.Run("postgres", func(t *testing.T) {
		u := storetest.PostgresSchemaURL(t)
		f(t, open(t, u, "pgx", u))
	})
}

func open(t *testing.T, url, driver, dsn string) *db {
	t.Helper()
	clock := storetest.NewClock()
	st, err := store.Open(ctx, url, store.Options{Now: clock.Now, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return &db{DB: st, url: url, raw: raw, clock: clock}
}

func (d *db) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := d.raw.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (d *db) service() *Service {
	return New(d.DB, Options{Now: d.clock.Now, Params: fastParams, SessionIdle: 30 * time.Minute, SessionMax: 8 * time.Hour})
}

// fixture: the host agency of Colombia, a partner (Peru's host agency),
// and users of each role.
type fixture struct {
	s     *Service
	users map[Role]User
	pw    string
}

func setup(t *testing.T, d *db) fixture {
	t.Helper()
	s := d.service()
	admin := System("test")
	for _, a := range []Agency{
		{ID: "COL-DIRAN", Name: "Dirección de Antinarcóticos", Country: "COL", Lang: "es", Host: true},
		{ID: "PER-DIRANDRO", Name: "Dirección Antidrogas", Country: "PER", Lang: "es", Host: true},
		{ID: "USA-DEA", Name: "Drug Enforcement Administration", Country: "USA", Lang: "en"},
	} {
		if _, err := s.AddAgency(ctx, admin, a); err != nil {
			t.Fatal(err)
		}
	}
	f := fixture{s: s, users: map[Role]User{}, pw: "correct horse battery"}
	for _, r := range Roles {
		ag := "COL-DIRAN"
		if r == RolePartner {
			ag = "PER-DIRANDRO"
		}
		u, err := s.AddUser(ctx, admin, NewUser{Username: string(r) + "1", Name: "A " + string(r), AgencyID: ag, Role: r, Password: f.pw})
		if err != nil {
			t.Fatal(err)
		}
		f.users[r] = u
	}
	return f
}
