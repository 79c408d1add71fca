package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
	"github.com/atalaya-project/atalaya/internal/store/storetest"
)

// newSQLite opens a store in a fresh temp file.
func newSQLite(t testing.TB, now func() time.Time) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "atalaya.db"), store.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newPostgres opens a store in a fresh schema of the test cluster, dropped
// when the test ends.
func newPostgres(t testing.TB, now func() time.Time) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), storetest.PostgresSchemaURL(t), store.Options{Now: now, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store { return newSQLite(t, now) })
}

func TestPostgres(t *testing.T) {
	storetest.PostgresURL(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store { return newPostgres(t, now) })
}

// both runs f against a fresh SQLite store and a fresh PostgreSQL one,
// given by URL.
func both(t *testing.T, f func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "sqlite:"+filepath.Join(t.TempDir(), "atalaya.db")) })
	t.Run("postgres", func(t *testing.T) { f(t, storetest.PostgresSchemaURL(t)) })
}

func open(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestMigrations(t *testing.T) {
	both(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := open(t, url)
		site, err := db.CreateSite(ctx, store.Site{Lat: 1, Lon: 2})
		if err != nil {
			t.Fatal(err)
		}
		// Opened again (as by a second process): nothing re-applied, data kept.
		db2 := open(t, url)
		var n, v int
		if err := db2.SQL().QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		if n != store.Migrations() || v != store.SchemaVersion() {
			t.Fatalf("schema_migrations: %d rows, version %d; want %d, %d", n, v, store.Migrations(), store.SchemaVersion())
		}
		if _, err := db2.Site(ctx, site.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDecisionsAppendOnly(t *testing.T) {
	both(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := open(t, url)
		site, err := db.CreateSite(ctx, store.Site{Lat: 1, Lon: 2})
		if err != nil {
			t.Fatal(err)
		}
		d, err := db.AppendDecision(ctx, store.Decision{SiteID: site.ID, Actor: "a", Action: store.ActionDismiss})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`UPDATE decisions SET action = 'confirm'`,
			`DELETE FROM decisions`,
		} {
			if _, err := db.SQL().ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("%s: %v, want an append-only error", q, err)
			}
		}
		got, err := db.Decisions(ctx, site.ID)
		if err != nil || len(got) != 1 || got[0] != d {
			t.Fatalf("after refused changes: %+v %v", got, err)
		}
	})
}

func TestAuditAndReleasesAppendOnly(t *testing.T) {
	both(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := open(t, url)
		if _, err := db.PutAgency(ctx, store.Agency{ID: "A", Name: "A", Country: "COL", Lang: "es", Host: true}); err != nil {
			t.Fatal(err)
		}
		site, err := db.CreateSite(ctx, store.Site{Lat: 1, Lon: 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ReleaseSite(ctx, store.Release{SiteID: site.ID, AgencyID: "A", ReleasedBy: "u"}); err != nil {
			t.Fatal(err)
		}
		seal := func(e store.AuditEntry) string { return "h" + e.Action }
		for _, a := range []string{"one", "two"} {
			if _, err := db.AppendAudit(ctx, store.AuditEntry{Action: a}, seal); err != nil {
				t.Fatal(err)
			}
		}
		refused := []struct{ q, want string }{
			{`UPDATE audit_log SET details = 'x' WHERE seq = 1`, "append-only"},
			{`DELETE FROM audit_log WHERE seq = 2`, "append-only"},
			{`UPDATE site_releases SET agency_id = 'B'`, "append-only"},
			{`DELETE FROM site_releases`, "append-only"},
			{`UPDATE audit_head SET seq = 1, hash = 'hone'`, "only moves forward"}, // back to an earlier entry
			{`UPDATE audit_head SET seq = 3, hash = 'x'`, "only moves forward"},    // to an entry that is not there
			{`DELETE FROM audit_head`, "only moves forward"},
		}
		if db.Dialect() == "postgres" {
			refused = append(refused,
				struct{ q, want string }{`TRUNCATE audit_log`, "append-only"},
				struct{ q, want string }{`TRUNCATE site_releases`, "append-only"},
				struct{ q, want string }{`TRUNCATE audit_head`, "only moves forward"})
		}
		for _, r := range refused {
			if _, err := db.SQL().ExecContext(ctx, r.q); err == nil || !strings.Contains(err.Error(), r.want) {
				t.Errorf("%s: %v, want an error with %q", r.q, err, r.want)
			}
		}
		es, err := db.AuditEntries(ctx, 0, 0)
		if err != nil || len(es) != 2 || es[0].Details != "" || es[1].Hash != "htwo" {
			t.Fatalf("after refused changes: %+v %v", es, err)
		}
		if h, err := db.AuditHead(ctx); err != nil || h.Seq != 2 || h.Hash != "htwo" {
			t.Fatalf("head after refused changes: %+v %v", h, err)
		}
	})
}
