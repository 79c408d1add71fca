package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// postgresURL is the test cluster's URL. The PostgreSQL tests never skip:
// without a cluster they fail and say how to start one.
func postgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("ATALAYA_TEST_POSTGRES_URL")
	if u == "" {
		t.Fatal("ATALAYA_TEST_POSTGRES_URL is not set: start a throwaway PostgreSQL + PostGIS with\n" +
			"\texport ATALAYA_TEST_POSTGRES_URL=$(scripts/postgres.sh)\n" +
			"from the repository root, then run the tests again")
	}
	return u
}

var (
	pgOnce sync.Once
	pgErr  error
	pgSeq  atomic.Int64
)

// newPostgres opens a store in a fresh schema of the test cluster, dropped
// when the test ends.
func newPostgres(t testing.TB, now func() time.Time) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), postgresSchemaURL(t), store.Options{Now: now, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// postgresSchemaURL creates a fresh schema in the test cluster, dropped when
// the test ends, and returns a URL whose search_path is that schema.
func postgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := postgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	// PostGIS once, in public, so every test schema finds it.
	pgOnce.Do(func() {
		_, pgErr = admin.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS postgis`)
	})
	if pgErr != nil {
		t.Fatalf("postgres at %s: %v", base, pgErr)
	}
	schema := fmt.Sprintf("t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, pgSeq.Add(1))
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema + ",public"
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store { return newSQLite(t, now) })
}

func TestPostgres(t *testing.T) {
	postgresURL(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store { return newPostgres(t, now) })
}

// both runs f against a fresh SQLite store and a fresh PostgreSQL one,
// given by URL.
func both(t *testing.T, f func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "sqlite:"+filepath.Join(t.TempDir(), "atalaya.db")) })
	t.Run("postgres", func(t *testing.T) { f(t, postgresSchemaURL(t)) })
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
		if n != store.SchemaVersion() || v != store.SchemaVersion() {
			t.Fatalf("schema_migrations: %d rows, version %d; want %d, %d", n, v, store.SchemaVersion(), store.SchemaVersion())
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
