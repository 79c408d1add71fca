package storetest

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

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// PostgresURLEnv names the environment variable holding the test cluster's
// URL; scripts/test.sh starts a cluster and sets it.
const PostgresURLEnv = "ATALAYA_TEST_POSTGRES_URL"

var (
	pgOnce sync.Once
	pgErr  error
	pgSeq  atomic.Int64
)

// PostgresURL is the test cluster's URL. Tests that use it never skip:
// without a cluster they fail and say how to start one.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PostgresURLEnv)
	if u == "" {
		t.Fatal(PostgresURLEnv + " is not set: start a throwaway PostgreSQL + PostGIS with\n" +
			"\texport " + PostgresURLEnv + "=$(scripts/postgres.sh)\n" +
			"from the repository root, then run the tests again")
	}
	return u
}

// PostgresSchemaURL creates a fresh schema in the test cluster, dropped when
// the test ends, and returns a URL whose search_path is that schema (with
// PostGIS, created once in public, still in reach).
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	pgOnce.Do(func() {
		// Test processes of several packages start at once on a fresh
		// cluster: CREATE EXTENSION IF NOT EXISTS is not safe against a
		// concurrent one (a unique violation in pg_extension), so it is
		// serialised by the advisory lock the store's migrations take.
		pgErr = createPostGIS(ctx, admin)
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

// EachURL runs f once against a fresh SQLite file and once against a fresh
// PostgreSQL schema, as subtests "sqlite" and "postgres". The PostgreSQL
// variant never skips: without a cluster it fails and says how to start
// one.
func EachURL(t *testing.T, f func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, "sqlite:"+filepath.Join(t.TempDir(), "atalaya.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, PostgresSchemaURL(t))
	})
}

// createPostGIS creates the PostGIS extension once for the cluster's
// database, holding the store migrations' advisory lock ("atly").
func createPostGIS(ctx context.Context, admin *sql.DB) error {
	tx, err := admin.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(1635019897)`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS postgis`); err != nil {
		return err
	}
	return tx.Commit()
}
