package store_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// crashEnv names the store a re-executed test binary writes to, then dies in.
const crashEnv = "ATALAYA_STORE_CRASH_URL"

// TestMain lets the test binary play the crashing process.
func TestMain(m *testing.M) {
	if url := os.Getenv(crashEnv); url != "" {
		crashMidTransaction(url)
		return // not reached
	}
	os.Exit(m.Run())
}

// crashMidTransaction commits one site, then starts a transaction, writes,
// reports "ready" on stdout and waits to be killed.
func crashMidTransaction(url string) {
	ctx := context.Background()
	db, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		os.Exit(2)
	}
	if _, err := db.CreateSite(ctx, store.Site{ID: "committed", Lat: 1, Lon: 1}); err != nil {
		os.Exit(3)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		os.Exit(4)
	}
	for i := range 100 {
		s, err := tx.CreateSite(ctx, store.Site{Lat: 2, Lon: float64(i) / 100})
		if err != nil {
			os.Exit(5)
		}
		if _, err := tx.EnqueueAlert(ctx, store.Alert{SiteID: s.ID, Kind: "site.new"}); err != nil {
			os.Exit(6)
		}
	}
	if _, err := tx.CreateSite(ctx, store.Site{ID: "uncommitted", Lat: 1, Lon: 1}); err != nil {
		os.Exit(7)
	}
	os.Stdout.WriteString("ready\n")
	time.Sleep(time.Minute)
	os.Exit(8)
}

// TestCrashMidTransaction kills a process (SIGKILL) holding an open write
// transaction and checks that the store holds what was committed, nothing
// of the transaction, and is intact.
func TestCrashMidTransaction(t *testing.T) {
	both(t, func(t *testing.T, url string) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+url)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("child: %q %v (%v)", buf, err, cmd.ProcessState)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		ctx := context.Background()
		db := open(t, url)
		if _, err := db.Site(ctx, "committed"); err != nil {
			t.Fatalf("committed site: %v", err)
		}
		if _, err := db.Site(ctx, "uncommitted"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("site from the killed transaction: %v", err)
		}
		sites, err := db.SitesInBBox(ctx, store.BBox{MinLat: -90, MinLon: -180, MaxLat: 90, MaxLon: 180}, 0)
		if err != nil || len(sites) != 1 {
			t.Fatalf("sites after the crash: %d, %v; want 1", len(sites), err)
		}
		if as, err := db.ClaimOutbox(ctx, 10, time.Minute); err != nil || len(as) != 0 {
			t.Fatalf("alerts after the crash: %d, %v; want 0", len(as), err)
		}
		if db.Dialect() == "sqlite" {
			integrity(t, db)
		}
		// And it takes writes again.
		if _, err := db.CreateSite(ctx, store.Site{Lat: 3, Lon: 3}); err != nil {
			t.Fatal(err)
		}
	})
}

// integrity runs SQLite's integrity_check and foreign_key_check.
func integrity(t *testing.T, db *store.DB) {
	t.Helper()
	var res string
	if err := db.SQL().QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q %v", res, err)
	}
	rows, err := db.SQL().Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Fatal("foreign_key_check found violations")
	}
}
