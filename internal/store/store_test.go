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
