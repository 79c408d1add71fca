package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/atalaya-project/atalaya/internal/store"
)

// TestBackupWhileWriting backs up a SQLite store while another goroutine
// keeps writing transactions of a site, its alert and a counter tile, then
// opens the copy: it passes integrity_check and holds a snapshot in which
// every transaction is whole (as many sites as alerts, and the counter
// equal to both).
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, "sqlite:"+filepath.Join(dir, "live.db"))

	write := func(i int) error {
		return db.InTx(ctx, func(tx store.Tx) error {
			s, err := tx.CreateSite(ctx, store.Site{Lat: 4.6 + 1e-4*float64(i%100), Lon: -74.1 + 1e-4*float64(i/100)})
			if err != nil {
				return err
			}
			if _, err := tx.EnqueueAlert(ctx, store.Alert{SiteID: s.ID, Kind: "site.new", Payload: s.ID}); err != nil {
				return err
			}
			tile, err := tx.Tile(ctx, "count", "all")
			if errors.Is(err, store.ErrNotFound) {
				tile = store.Tile{Gas: "count", Key: "all"}
			} else if err != nil {
				return err
			}
			tile.Data = []byte(strconv.Itoa(i + 1))
			_, err = tx.PutTile(ctx, tile)
			return err
		})
	}
	for i := range 50 { // something to copy before the writer starts
		if err := write(i); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		written = 50
		werr    error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ; ; written++ {
			select {
			case <-stop:
				return
			default:
			}
			if werr = write(written); werr != nil {
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	out := filepath.Join(dir, "copy.db")
	if err := db.Backup(ctx, out); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	if err := db.Backup(ctx, out); err == nil {
		t.Fatal("Backup over an existing file: no error")
	}

	cp := open(t, "sqlite:"+out)
	integrity(t, cp)
	var sites, alerts int
	if err := cp.SQL().QueryRow(`SELECT (SELECT COUNT(*) FROM sites), (SELECT COUNT(*) FROM outbox)`).Scan(&sites, &alerts); err != nil {
		t.Fatal(err)
	}
	tile, err := cp.Tile(ctx, "count", "all")
	if err != nil {
		t.Fatal(err)
	}
	if sites != alerts || string(tile.Data) != strconv.Itoa(sites) || int(tile.Version) != sites {
		t.Fatalf("copy is not a consistent snapshot: %d sites, %d alerts, counter %s (version %d)", sites, alerts, tile.Data, tile.Version)
	}
	if sites < 50 || sites > written {
		t.Fatalf("copy holds %d sites; %d were written", sites, written)
	}
	// The R*Tree came along: the copy answers spatial queries.
	got, err := cp.SitesInBBox(ctx, store.BBox{MinLat: -90, MinLon: -180, MaxLat: 90, MaxLon: 180}, 0)
	if err != nil || len(got) != sites {
		t.Fatalf("copy SitesInBBox: %d, %v; want %d", len(got), err, sites)
	}
	t.Logf("copied a snapshot of %d transactions while %d were written", sites, written)
}

func TestBackupPostgresUnsupported(t *testing.T) {
	db := newPostgres(t, time.Now)
	if err := db.Backup(context.Background(), filepath.Join(t.TempDir(), "x")); !errors.Is(err, store.ErrUnsupported) {
		t.Fatalf("Backup on PostgreSQL: %v, want ErrUnsupported", err)
	}
}
